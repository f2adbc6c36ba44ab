"""--profiling: a trace of steps start_step..stop_step (torch_npu's profiler on NPU, torch's elsewhere).

CANN and GE are the recipe's names for the NPU profiler levels; on other
devices any value other than NONE gives a torch.profiler trace. Traces go to
<output_dir>/profiling, viewable in TensorBoard or chrome://tracing.
"""
import contextlib
import os


class Profiler(contextlib.AbstractContextManager):
    def __init__(self, mode, device, start_step, stop_step, output_dir):
        self.prof = None
        if mode == "NONE":
            return
        if device.type == "npu":
            import torch_npu.profiler as profiler
        else:
            import torch.profiler as profiler
        active = max(1, (stop_step or start_step + 10) - start_step)
        self.prof = profiler.profile(
            schedule=profiler.schedule(wait=max(0, start_step - 1), warmup=1, active=active, repeat=1),
            on_trace_ready=profiler.tensorboard_trace_handler(os.path.join(output_dir, "profiling")))

    def __enter__(self):
        if self.prof:
            self.prof.__enter__()
        return self

    def step(self):
        if self.prof:
            self.prof.step()

    def __exit__(self, *exc):
        if self.prof:
            self.prof.__exit__(*exc)
        return False
