"""Training throughput: bare fp32 step vs bare default-AMP step vs the full loop; or, with --ceiling, what
the step reaches on this device in each precision, and where one seed step's time goes.

    python -m bench.train_throughput [--rounds 3] [--steps 10] [--batch_size 64]
    python -m bench.train_throughput --device cuda --ceiling            # batch 2560 and 256, 8192^3 bf16 matmul
    python -m bench.train_throughput --device cpu --ceiling --batch_sizes 8 --steps 2 --matmul_n 256 \
        --cnn_width 8 --hidden_size 32 --compile_backend aot_eager     # the CPU rehearsal (seconds)

The variants are interleaved (round-robin, `--rounds` times) so that a noisy,
shared machine slows them alike; the table gives the median img/s per variant
and the ratios. "full loop" is the step fed by the training loader over an LMDB
of synthetic word images, with the default loader workers, decoding and batching.

The last columns put each variant against the hardware: training FLOPs per
image (convolutions and linears counted by torch's FlopCounterMode, the LSTMs'
gate matmuls added by hand because it does not see the fused kernel) times
img/s, as a share of the peak a large matmul reaches in the same dtype on the
same machine, measured in the same run.

--ceiling: the project's TrainStep on random 32x100 images and random 1-10 character labels, no loader
(cudnn.benchmark and TF32 on, as in training). Rows: the seed preset (fp16 + GradScaler 128, Adadelta lr
1.0), bf16 autocast, fp32 (TF32), and bf16 with torch.compile, at each --batch_sizes; columns img/s, TFLOP/s
and the share of a bf16 --matmul_n^3 matmul timed in the same process. Before it, a torch.profiler table of
one seed-preset step at the first batch size: the top kernels by device time, and the step's wall time.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m bench.train_throughput "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import os
import statistics
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from datasets.loaders import LoaderConfig, train_loader
from datasets.synth.build import ensure_synthetic
from datasets.transforms import Width
from models import CRNN
from models.crnn import output_length
from utils.cli import Parser, int_range, run_cli
from training.optim import build_optimizer, build_scheduler
from training.recipes import default_workers
from training.step import TrainStep
from utils.device import Placement, make_scaler, select_device, use_channels_last
from utils.label_converter import LabelConverter


def train_flops_per_image(model, img_w=100):
    """Forward + backward FLOPs for one image (backward = 2x forward for the LSTMs)."""
    x = torch.randn(2, 1, 32, img_w)
    with FlopCounterMode(display=False) as counter:
        model(x).float().sum().backward()
    model.zero_grad(set_to_none=True)
    lstm = sum(2 * 4 * m.hidden_size * (m.input_size + m.hidden_size) * output_length(img_w) * 2 * m.num_layers
               for m in model.modules() if isinstance(m, torch.nn.LSTM))
    return counter.get_total_flops() / 2 + 3 * lstm


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(dtype, n=2048, reps=10, device=torch.device("cpu")):
    """FLOP/s of an n x n matmul: what this machine's cores reach in `dtype` at best."""
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    for _ in range(2):
        a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    synchronize(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - start)


def make_runner(placement, converter, *, optimizer="adam", lr=1e-3, loss_scale=None, model_args=None,
                compile_backend=None):
    torch.manual_seed(0)
    model = placement.put(CRNN(num_classes=converter.num_classes, **(model_args or {})))
    step_model = torch.compile(model, backend=compile_backend) if compile_backend else model
    opt = build_optimizer(optimizer, model.parameters(), lr, 0.0, placement.device)
    return TrainStep(step_model, opt, build_scheduler(opt, "constant", 1, 0),
                     make_scaler(placement.device, placement.dtype, loss_scale), converter, placement,
                     grad_clip=5.0 if optimizer == "adam" else 0.0, max_bad_steps=10 ** 9)


def random_batch(batch_size, device, seed=0):
    """Random 32x100 images (pinned on a GPU host) and random 1-10 character labels."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, 1, 32, 100, generator=g)
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    lengths = torch.randint(1, 11, (batch_size,), generator=g).tolist()
    labels = ["".join(chars[i] for i in torch.randint(0, 36, (n,), generator=g).tolist()) for n in lengths]
    return (images.pin_memory() if device.type == "cuda" else images), labels


def timed_steps(runner, batch, steps, warmup=3):
    """img/s of `steps` steps after `warmup` (cuDNN autotuning, compilation), the GPU drained at both ends."""
    for _ in range(warmup):
        runner(*batch)
    runner.sync()
    synchronize(runner.placement.device)
    start = time.perf_counter()
    for _ in range(steps):
        runner(*batch)
    runner.sync()
    synchronize(runner.placement.device)
    return len(batch[1]) * steps / (time.perf_counter() - start)


CEILING_VARIANTS = [  # (name, autocast dtype, optimizer, lr, static loss scale, compiled)
    ("seed preset: fp16 + GradScaler 128, Adadelta", torch.float16, "adadelta", 1.0, 128.0, False),
    ("bf16 autocast, Adadelta", torch.bfloat16, "adadelta", 1.0, None, False),
    ("fp32 (TF32 on CUDA), Adadelta", None, "adadelta", 1.0, None, False),
    ("bf16 autocast, Adadelta, torch.compile", torch.bfloat16, "adadelta", 1.0, None, True),
]


def ceiling(args, device, converter):
    """The ceiling table and the profile of one seed step (see the module docstring)."""
    if device.type == "cuda":
        # fp32 rows on TF32 tensor cores, as in the 2026-11-30 table (cuDNN's convs and LSTMs use TF32 by default)
        torch.backends.cuda.matmul.allow_tf32 = True
    model_args = {"cnn_width": args.cnn_width, "hidden_size": args.hidden_size}
    flops = train_flops_per_image(CRNN(num_classes=converter.num_classes, **model_args))
    peak = matmul_peak(torch.bfloat16, args.matmul_n, device=device)
    variants = [v for v in CEILING_VARIANTS if not v[5] or args.compile_backend != "none"]
    profile_seed_step(args, device, converter, model_args)  # first: compiling the last rows may hit a timeout
    print(f"\nCRNN train step ceiling, device {torch.cuda.get_device_name() if device.type == 'cuda' else device}, "
          f"torch {torch.__version__}, {args.steps} steps after 3 warm-up; {flops / 1e9:.3f} GFLOP per training "
          f"image; bf16 {args.matmul_n}^3 matmul: {peak / 1e12:.1f} TFLOP/s")
    print("| batch | variant | img/s | TFLOP/s | share of bf16 matmul |")
    print("|---:|---|---:|---:|---:|")
    for bs in args.batch_sizes:
        batch = random_batch(bs, device)
        for name, dtype, opt, lr, scale, compiled in variants:
            runner = make_runner(Placement(device, dtype, use_channels_last(device, False)), converter, optimizer=opt,
                                 lr=lr, loss_scale=scale, model_args=model_args,
                                 compile_backend=args.compile_backend if compiled else None)
            fps = timed_steps(runner, batch, args.steps)
            print(f"| {bs} | {name}{f' ({args.compile_backend})' if compiled else ''} | {fps:,.0f} | "
                  f"{fps * flops / 1e12:.2f} | {100 * fps * flops / peak:.1f}% |", flush=True)
            del runner


def profile_seed_step(args, device, converter, model_args):
    """torch.profiler over one seed-preset step: the kernels that take its time."""
    name, dtype, opt, lr, scale, _ = CEILING_VARIANTS[0]
    runner = make_runner(Placement(device, dtype, use_channels_last(device, False)), converter, optimizer=opt, lr=lr,
                         loss_scale=scale, model_args=model_args)
    batch = random_batch(args.batch_sizes[0], device)
    timed_steps(runner, batch, 1)
    activities = [torch.profiler.ProfilerActivity.CPU] + (
        [torch.profiler.ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch.profiler.profile(activities=activities) as prof:
        start = time.perf_counter()
        runner(*batch)
        runner.sync()
        synchronize(device)
        wall = time.perf_counter() - start
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"\nProfile of one step, {name}, batch {args.batch_sizes[0]}: {1000 * wall:.1f} ms wall "
          f"(under the profiler), top {args.profile_rows} by {key}")
    print(prof.key_averages().table(sort_by=key, row_limit=args.profile_rows, max_name_column_width=60))


def get_args_parser():
    p = Parser(description=__doc__.splitlines()[0], examples=__doc__)
    p.add_argument("--rounds", type=int_range(1, 100), default=3)
    p.add_argument("--steps", type=int_range(1, 10000), default=10)
    p.add_argument("--batch_size", type=int_range(1, 65536), default=64)
    p.add_argument("--device", default="auto", choices=["auto", "npu", "cuda", "cpu"])
    p.add_argument("--workers", type=int_range(0, 64, zero="load in the training process"), default=None)
    c = p.add_argument_group("--ceiling: the step against the device (random data, no loader)")
    c.add_argument("--ceiling", action="store_true", help="print the ceiling table and one seed step's profile")
    c.add_argument("--batch_sizes", type=int_range(1, 65536), nargs="+", default=[2560, 256])
    c.add_argument("--matmul_n", type=int_range(16, 32768), default=8192, help="side of the bf16 reference matmul")
    c.add_argument("--compile_backend", default="inductor", choices=["inductor", "aot_eager", "none"],
                   help="torch.compile backend of the compiled row (none: leave that row out)")
    c.add_argument("--cnn_width", type=int_range(1, 512), default=64, help="the model's size (tiny for a rehearsal)")
    c.add_argument("--hidden_size", type=int_range(1, 4096), default=256)
    c.add_argument("--profile_rows", type=int_range(1, 100), default=15)
    return p


def main(args):
    device = select_device(args.device, 0)
    converter = LabelConverter()
    if args.ceiling:
        return ceiling(args, device, converter)
    bs, steps = args.batch_size, args.steps
    cache = os.path.join(tempfile.gettempdir(), "crnn_bench")
    data = ensure_synthetic(bs * steps * 2, 64, seed=0, root=cache)
    workers = args.workers if args.workers is not None else default_workers(device.type, os.cpu_count() or 1, 1)
    cfg = LoaderConfig(converter, Width.fixed(100), max_label_len=26, batch_size=bs, workers=workers)
    loader = train_loader(f"{data}/MJ_LMDB", cfg, lambda *a: None)
    batch = next(iter(loader))
    default = Placement.choose(device, amp=True)
    amp, cl = default.dtype, default.channels_last
    runners = {"bare step fp32": make_runner(Placement(device), converter),
               f"bare step default ({amp or torch.float32}, channels_last={cl})": make_runner(default, converter),
               "full loop default": make_runner(default, converter)}

    def bare(runner):
        return timed_steps(runner, (batch[0], batch[1]), steps, warmup=2)

    def full(runner):
        """The loader's batches (reading, decoding, batching in the workers) through the step, as training runs
        them; the first 2 batches are warm-up."""
        batches = iter(loader)
        for _ in range(2):
            images, labels, _, _ = next(batches)
            runner(images, labels)
        runner.sync()
        synchronize(runner.placement.device)
        start, seen = time.perf_counter(), 0
        for _ in range(steps):
            images, labels, _, _ = next(batches)
            runner(images, labels)
            seen += len(labels)
        runner.sync()
        synchronize(runner.placement.device)
        return seen / (time.perf_counter() - start)

    flops = train_flops_per_image(CRNN(num_classes=converter.num_classes))
    dtypes = {name: torch.float32 if name.endswith("fp32") else amp or torch.float32 for name in runners}
    results = {name: [] for name in runners}
    peaks = {dt: [] for dt in set(dtypes.values())}
    for _ in range(args.rounds):
        for name, runner in runners.items():
            results[name].append(full(runner) if name.startswith("full") else bare(runner))
        if device.type == "cpu":
            for dt in peaks:
                peaks[dt].append(matmul_peak(dt))
    med = {k: statistics.median(v) for k, v in results.items()}
    peak = {dt: max(v) if v else None for dt, v in peaks.items()}
    names = list(med)
    print(f"\nCRNN train throughput, batch {bs}, device {device}, {torch.get_num_threads()} threads, "
          f"median of {args.rounds} interleaved rounds x {steps} steps; {flops / 1e9:.2f} GFLOP per training image")
    print(f"| {'variant':<55} | {'img/s':>8} | {'vs fp32':>7} | {'vs bare default':>15} | {'TFLOP/s':>7} | "
          f"{'% of matmul peak':>16} |")
    print(f"|{'-' * 57}|{'-' * 10}|{'-' * 9}|{'-' * 17}|{'-' * 9}|{'-' * 18}|")
    for name in names:
        achieved = med[name] * flops
        share = f"{100 * achieved / peak[dtypes[name]]:.0f}%" if peak[dtypes[name]] else "-"
        print(f"| {name:<55} | {med[name]:>8.1f} | {med[name] / med[names[0]]:>6.2f}x | "
              f"{med[name] / med[names[1]]:>14.2f}x | {achieved / 1e12:>7.3f} | {share:>16} |")
    for dt, value in peak.items():
        if value:
            print(f"matmul peak {str(dt).replace('torch.', '')} (2048 x 2048, best of {args.rounds}): "
                  f"{value / 1e12:.3f} TFLOP/s")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
