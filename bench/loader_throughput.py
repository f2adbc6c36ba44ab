"""Data-loading throughput per loader worker: LMDB reading vs synthetic images rendered on the fly.

    python -m bench.loader_throughput [--workers 1 2] [--batch_size 64] [--seconds 10]

Each row runs the training DataLoader alone (no model): LMDB = read, decode,
preprocess and collate cached word images (the default data path); stream =
render, encode, decode, preprocess and collate (--synth_stream); each at the
recipe's fixed 100 px and at each word's own width (sorted into width
batches, datasets/width_batches.py). img/s per
worker says how many --workers a device needs: a GPU training at 12,000 img/s
needs 12,000 / (that number) workers, and as many free cores.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m bench.loader_throughput "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import itertools
import os
import tempfile
import time

import torch

from datasets.loaders import LoaderConfig, stream_loader, train_loader
from datasets.synth.build import ensure_synthetic
from datasets.transforms import Width
from models.crnn import output_length
from utils.cli import Parser, float_range, int_range, run_cli
from utils.label_converter import LabelConverter


def get_args_parser():
    p = Parser(description=__doc__.splitlines()[0], examples=__doc__)
    p.add_argument("--workers", type=int_range(0, 64, zero="load in this process"), nargs="+", default=[1, 2])
    p.add_argument("--batch_size", type=int_range(1, 4096), default=64)
    p.add_argument("--seconds", type=float_range(1, 600), default=10.0, help="timed per row, after a warm-up")
    p.add_argument("--lmdb_size", type=int_range(1000, 10 ** 7), default=20000, help="images in the cached LMDB")
    return p


def measure(loader, seconds):
    """img/s over `seconds` of iteration, after the first batches (worker start-up, font scan) are done."""
    it = iter(loader)
    for _ in range(3):
        next(it)
    images, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = next(it, None)
        if batch is None:  # the end of the LMDB: the next epoch (persistent workers keep running)
            it = iter(loader)
            continue
        images += len(batch[1])
    return images / (time.perf_counter() - start)


def main(args):
    torch.set_num_threads(1)
    converter, quiet = LabelConverter(), (lambda *a: None)
    data = ensure_synthetic(args.lmdb_size, 64, seed=0, root=os.path.join(tempfile.gettempdir(), "crnn_bench"))
    rows = []
    for workers, width in itertools.product(args.workers, (Width.fixed(100), Width())):
        cfg = LoaderConfig(converter, width, max_label_len=output_length(width.max_w), batch_size=args.batch_size,
                           workers=workers)
        for name, make in (("LMDB (cached synthetic)", lambda: train_loader(f"{data}/MJ_LMDB", cfg, quiet)),
                           ("stream (rendered on the fly)", lambda: stream_loader(10 ** 9, cfg, quiet))):
            loader = make()
            loader.sampler.set_epoch(0)
            rate = measure(loader, args.seconds)
            rows.append((name, "fixed 100" if width.is_fixed else "own", workers, rate, rate / max(workers, 1)))
            del loader
    print(f"\nLoader throughput, batch {args.batch_size}, {os.cpu_count()} CPU cores, {args.seconds:g} s per row")
    print("| data path | width | workers | img/s | img/s per worker |")
    print("|---|---|---:|---:|---:|")
    for name, width, workers, rate, per in rows:
        print(f"| {name} | {width} | {workers} | {rate:.0f} | {per:.0f} |")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
