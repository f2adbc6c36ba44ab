"""Inference throughput of the CRNN: PyTorch fp32, PyTorch's fast CPU path and ONNX Runtime.

    python bench/infer_throughput.py [--batch_sizes 1 16 64] [--rounds 3] [--seconds 2]

Variants are interleaved round-robin so that a noisy machine slows them alike;
the table gives the median img/s. "fast path" is bf16 autocast + channels_last
where the CPU has native bf16 (else fp32 + channels_last). ONNX Runtime runs the
model exported by pth2onnx.py's export(), as the runner does.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from models import CRNN  # noqa: E402
from pth2onnx import export  # noqa: E402
from tools.ais_bench_runner import make_session  # noqa: E402
from utils.device import cpu_has_bf16  # noqa: E402
from utils.label_converter import DEFAULT_ALPHABET  # noqa: E402


def timed(fn, seconds):
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 16, 64])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0)
    args = p.parse_args()
    torch.manual_seed(0)
    model = CRNN().eval()
    fast = CRNN().eval()
    fast.load_state_dict(model.state_dict())
    fast = fast.to(memory_format=torch.channels_last)
    bf16 = cpu_has_bf16()
    onnx_path = os.path.join(tempfile.mkdtemp(), "crnn.onnx")
    export(model, 100, onnx_path, DEFAULT_ALPHABET)
    session = make_session(onnx_path)

    def variants(x):
        xn, xcl = x.numpy(), x.contiguous(memory_format=torch.channels_last)

        def eager():
            with torch.no_grad():
                model(x)

        def fast_path():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                fast(xcl)

        return {"PyTorch eager fp32": eager,
                f"PyTorch {'bf16 + ' if bf16 else ''}channels_last": fast_path,
                "ONNX Runtime fp32 (the runner)": lambda: session.run(None, {"actual_input_1": xn})}

    table = {}
    for bs in args.batch_sizes:
        fns = variants(torch.randn(bs, 1, 32, 100))
        runs = {name: [] for name in fns}
        for _ in range(args.rounds):
            for name, fn in fns.items():
                runs[name].append(bs * timed(fn, args.seconds))
        for name, r in runs.items():
            table.setdefault(name, {})[bs] = statistics.median(r)
    print(f"\nCRNN inference img/s, CPU, {torch.get_num_threads()} threads, median of {args.rounds} interleaved rounds")
    print("| variant | " + " | ".join(f"bs {b}" for b in args.batch_sizes) + " |")
    print("|---|" + "---:|" * len(args.batch_sizes))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[b]:.1f}" for b in args.batch_sizes) + " |")


if __name__ == "__main__":
    main()
