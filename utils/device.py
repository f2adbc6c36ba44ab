"""Device choice (once, in main) and the single mixed-precision path.

auto picks an Ascend NPU when torch_npu imports and sees a device, then CUDA,
then the CPU. AMP is torch.amp autocast: fp16 with a GradScaler on NPU/CUDA,
bf16 without one on CPUs with native bf16 (AVX512-BF16 / AMX); elsewhere the
same code runs with autocast disabled (fp32). `Placement` carries the three
choices (device, autocast dtype, memory layout) to everything that runs the
model: the training step, evaluation and the reader.
"""
import importlib
from dataclasses import dataclass

import torch

from utils.errors import UserError


def npu_available():
    try:
        importlib.import_module("torch_npu")
    except ImportError:
        return False
    return torch.npu.is_available()


def select_device(name, index):
    """name: auto | npu | cuda | cpu; index: the device id (LOCAL_RANK under torchrun, else --npu)."""
    if name == "auto":
        name = "npu" if npu_available() else "cuda" if torch.cuda.is_available() else "cpu"
    if name == "npu":
        if not npu_available():
            raise UserError("--device npu: torch_npu is not installed or sees no NPU (pip install -r 1.8_requirements.txt on an Ascend host)")
        torch.npu.set_device(index)
        return torch.device("npu", index)
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device is visible (use --device cpu or auto)")
        torch.cuda.set_device(index)
        # Batches come in a few shapes (main.py rounds widths on accelerators): cuDNN times its algorithms
        # once per shape and keeps the fastest.
        torch.backends.cudnn.benchmark = True
        return torch.device("cuda", index)
    return torch.device("cpu")


def cpu_has_bf16():
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def amp_dtype(device, enabled):
    """The autocast dtype for this device, or None for fp32."""
    if not enabled:
        return None
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_bf16() else None
    return torch.float16


def make_scaler(device, dtype, loss_scale):
    """GradScaler, active for fp16 only. loss_scale: None (dynamic) or a float (start value that
    only backs off on overflow, the closest match of apex's static scale that never grows)."""
    kwargs = {"enabled": dtype == torch.float16}
    if loss_scale is not None:
        kwargs.update(init_scale=loss_scale, growth_interval=2 ** 31 - 1)
    if device.type == "npu":
        return torch.npu.amp.GradScaler(**kwargs)
    return torch.amp.GradScaler(device.type, **kwargs)


def use_channels_last(device, distributed):
    # NHWC convs are the fast layout of oneDNN and cuDNN; torch_npu does not support it. Under DDP on
    # the CPU (gloo) channels_last parameters gave wrong averaged gradients in tests/test_distributed.py
    # (1e-3 off after 3 steps, 6e-8 without it), so distributed CPU runs keep the default layout.
    return device.type == "cuda" or (device.type == "cpu" and not distributed)


def flatten_lstms(model):
    """Put each LSTM's weights back into one contiguous cuDNN chunk (after a deep copy, or weights loaded
    by assignment); without it cuDNN copies them on every call and warns."""
    for m in model.modules():
        if isinstance(m, torch.nn.LSTM):
            m.flatten_parameters()


@dataclass(frozen=True)
class Placement:
    """Where and how the model runs: the device, the autocast dtype (None: fp32) and whether inputs and
    weights are channels_last."""
    device: torch.device
    dtype: torch.dtype = None
    channels_last: bool = False

    @classmethod
    def choose(cls, device, amp, distributed=False):
        """The fastest placement `device` has (amp False: fp32)."""
        return cls(device, amp_dtype(device, amp), use_channels_last(device, distributed))

    def put(self, model):
        """The model on the device, in the placement's memory layout."""
        return model.to(self.device, memory_format=torch.channels_last if self.channels_last else torch.preserve_format)

    def inputs(self, images):
        """A batch of images [B, 1, 32, W] on the device, in the model's layout (asynchronous from pinned memory)."""
        images = images.to(self.device, non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None)

    def describe(self):
        return f"precision {self.dtype or torch.float32}, channels_last {self.channels_last}"


def use_pinned_memory(device):
    """Page-locked loader batches let the host-to-device copy run asynchronously (non_blocking=True)."""
    return device.type in ("cuda", "npu")
