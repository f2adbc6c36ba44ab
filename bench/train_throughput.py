"""Training throughput at batch 64: bare fp32 step vs bare default-AMP step vs the full loop.

    python bench/train_throughput.py [--rounds 3] [--steps 10] [--batch_size 64]

The variants are interleaved (round-robin, `--rounds` times) so that a noisy,
shared machine slows them alike; the table gives the median img/s per variant
and the ratios. "full loop" is train_one_epoch over an LMDB of synthetic word
images with the default loader workers, decoding, batching and log lines.

The last columns put each variant against the hardware: training FLOPs per
image (convolutions and linears counted by torch's FlopCounterMode, the LSTMs'
gate matmuls added by hand because it does not see the fused kernel) times
img/s, as a share of the peak a large matmul reaches in the same dtype on the
same machine, measured in the same run.
"""
import os
import statistics
import sys
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets.loaders import train_loader  # noqa: E402
from datasets.synth_build import ensure_synthetic  # noqa: E402
from models import CRNN  # noqa: E402
from models.crnn import output_length  # noqa: E402
from utils.cli import Parser, int_range, run_cli  # noqa: E402
from utils.device import amp_dtype, make_scaler, select_device, use_channels_last  # noqa: E402
from utils.engine import StepRunner, Throughput, train_one_epoch  # noqa: E402
from utils.label_converter import LabelConverter  # noqa: E402
from utils.optim import build_optimizer, build_scheduler  # noqa: E402
from utils.recipes import default_workers  # noqa: E402


def train_flops_per_image(model, img_w=100):
    """Forward + backward FLOPs for one image (backward = 2x forward for the LSTMs)."""
    x = torch.randn(2, 1, 32, img_w)
    with FlopCounterMode(display=False) as counter:
        model(x).float().sum().backward()
    model.zero_grad(set_to_none=True)
    lstm = sum(2 * 4 * m.hidden_size * (m.input_size + m.hidden_size) * output_length(img_w) * 2 * m.num_layers
               for m in model.modules() if isinstance(m, torch.nn.LSTM))
    return counter.get_total_flops() / 2 + 3 * lstm


def matmul_peak(dtype, n=2048, reps=10):
    """FLOP/s of an n x n matmul: what this machine's cores reach in `dtype` at best."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - start)


def make_runner(device, dtype, channels_last, converter):
    torch.manual_seed(0)
    model = CRNN(num_classes=converter.num_classes).to(
        device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    opt = build_optimizer("adam", model.parameters(), 1e-3, 0.0)
    return StepRunner(model, torch.nn.CTCLoss(zero_infinity=True), opt, build_scheduler(opt, "constant", 1, 0),
                      make_scaler(device, dtype, None), converter, device, dtype, channels_last, 5.0, 10 ** 9)


def get_args_parser():
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int_range(1, 100), default=3)
    p.add_argument("--steps", type=int_range(1, 10000), default=10)
    p.add_argument("--batch_size", type=int_range(1, 65536), default=64)
    p.add_argument("--device", default="auto", choices=["auto", "npu", "cuda", "cpu"])
    p.add_argument("--workers", type=int_range(0, 64, zero="load in the training process"), default=None)
    return p


def main(args):
    device = select_device(args.device, 0)
    converter = LabelConverter()
    bs, steps = args.batch_size, args.steps
    cache = os.path.join(tempfile.gettempdir(), "crnn_bench")
    data = ensure_synthetic(bs * steps * 2, 64, seed=0, root=cache)
    workers = args.workers if args.workers is not None else default_workers(device.type, os.cpu_count() or 1, 1)
    loader = train_loader(f"{data}/MJ_LMDB", converter, 26, 100, bs, workers, 1, 0, 0, lambda *a: None)
    batch = next(iter(loader))
    cl = use_channels_last(device, False)
    amp = amp_dtype(device, True)
    runners = {"bare step fp32": make_runner(device, None, False, converter),
               f"bare step default ({amp or torch.float32}, channels_last={cl})": make_runner(device, amp, cl, converter),
               "full loop default": make_runner(device, amp, cl, converter)}

    def bare(runner):
        for _ in range(2):
            runner(batch[0], batch[1])
        start = time.perf_counter()
        for _ in range(steps):
            runner(batch[0], batch[1])
        return bs * steps / (time.perf_counter() - start)

    def full(runner):
        tp = Throughput(bs, warmup=2)
        train_one_epoch(runner, loader, 0, 0, steps + 2, tp, 10 ** 6, lambda s: False, lambda *a: None, steps + 2)
        return tp.fps

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
