"""Real training crops beside the synthetic stream: one fine-tune per row at one budget of images, read on the
development sets by the benchmarks' greedy decoding and by the default reader.

    python -m bench.real_mix data/IIIT5K_dev data/IC15_dev --real_dir data/IC15_train data/SVT_train \
        --synth_assets ../crnn_assets_v4 --finetune weights/crnn.pth --images 64000 --rows 0 0.25 0.5 \
        --output_dir runs/real_mix -- --lr 2e-4
    python -m bench.real_mix DEV... --real_dir R... --rows 0.25/noaug 0.25/skip --seeds 1234 7 ...

A row is the real crops' share of each batch, optionally with `/noaug` (--augment off) and `/skip` (--label_rule
skip): `0` trains on the stream alone, `0.25` draws 25% of every batch from the --real_dir sets, split between
them by their sizes; every row trains on IMAGES images in all (the stream's part of them is its --synth_train).
Every row trains `main.py --synth_stream --synth_train N --epochs 1 --ema 0.999
--val_freq 0 --width_scale S` (S: --finetune's, so that validation reads as the model does; then the flags after
`--`) from the same weights, once per seed, in OUTPUT_DIR/<row>_seed<seed>; a finished row is not trained again,
an unfinished one continues (bench/runs.py). The development sets are LMDBs (tools/create_lmdb_dataset.py), read,
never trained on. Prints one markdown row per row and seed.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m bench.real_mix "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import argparse
import os

from bench import runs
from bench.runs import PassThroughParser
from datasets.lmdb_dataset import LmdbDataset
from datasets.lmdb_format import open_lmdb
from datasets.mixing import batch_counts
from inference.model_file import read_model_file
from inference.recognizer import Recognizer
from training.recipes import RECIPES
from utils.cli import existing_dir, existing_file, int_range, path_text, run_cli
from utils.label_converter import LabelConverter
from utils.metrics import score


def row_spec(text):
    """SHARE[/noaug][/skip] -> (share, augment, label rule)."""
    share, *options = text.split("/")
    try:
        value = float(share)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1 or any(o not in ("noaug", "skip") for o in options):
        raise argparse.ArgumentTypeError(f"expected SHARE[/noaug][/skip] with a share in [0, 1), got {text!r}")
    return value, "off" if "noaug" in options else "on", "skip" if "skip" in options else "strip"


row_spec.doc = "SHARE[/noaug][/skip], SHARE in [0, 1)"


def get_args_parser():
    p = PassThroughParser(description=__doc__.splitlines()[0])
    p.add_argument("dev", type=existing_dir, nargs="+", help="development LMDBs (read, never trained on)")
    p.add_argument("--real_dir", type=existing_dir, nargs="+", required=True, help="real training LMDBs")
    p.add_argument("--synth_assets", type=existing_dir, required=True, help="the generator's assets folder")
    p.add_argument("--finetune", type=existing_file, required=True, help="the weights every row starts from")
    p.add_argument("--images", type=int_range(64), default=64000, help="training images per row")
    p.add_argument("--rows", type=row_spec, nargs="+", default=[row_spec("0"), row_spec("0.25"), row_spec("0.5")],
                   help="rows to train: real share of each batch [/noaug] [/skip]")
    p.add_argument("--seeds", type=int_range(0, 2 ** 32 - 1), nargs="+", default=[1234], help="one run per seed")
    p.add_argument("--output_dir", type=path_text, default="runs/real_mix")
    return p


def row_name(share, augment, rule):
    return f"{share:g}" + ("/noaug" if augment == "off" else "") + ("/skip" if rule == "skip" else "")


def train_row(spec, seed, args, width_scale, batch_size):
    share, augment, rule = spec
    sizes = [open_lmdb(path)[1] for path in args.real_dir]
    shares = [1 - share, *(share * n / sum(sizes) for n in sizes)] if share else [1.0]
    real = ["--real_dir", *args.real_dir, "--batch_ratio", *(f"{s:.6g}" for s in shares)] if share else []
    # an epoch is a pass over the stream: --synth_train is the stream's part of the row's images, so that every
    # row trains on the same number of images in the same number of steps
    names = ["stream"] + args.real_dir if share else ["stream"]
    synth_train = args.images // batch_size * batch_counts(shares, batch_size, names)[0]
    flags = ["--synth_stream", "--synth_train", str(synth_train), "--epochs", "1", "--ema", "0.999", "--val_freq", "0",
             "--val_dir", *map(os.path.abspath, args.dev), "--synth_val", "64", "--save_every_steps", "250",
             "--synth_assets", args.synth_assets, "--seed", str(seed), "--width_scale", f"{width_scale:g}",
             "--augment", augment, "--label_rule", rule, *real, *args.main_args]
    name = f"{row_name(*spec)}_seed{seed}"
    return runs.train_row(name, os.path.join(args.output_dir, name.replace("/", "-")), flags, args.finetune)


def batch_size_of(main_args):
    """The batch of the rows' runs: main.py's --batch_size after `--`, else the CPU preset's."""
    for i, arg in enumerate(main_args):
        if arg == "--batch_size" or arg.startswith("--batch_size="):
            return int(arg.split("=", 1)[1] if "=" in arg else main_args[i + 1])
    return RECIPES["cpu"]["batch_size"]


def read_dev(model, path, **options):
    """The share of the LMDB's words the reader reads right (the benchmark protocol)."""
    dataset = LmdbDataset(path, LabelConverter(), 10 ** 6, train=False)
    images = [dataset.pil_image(key) for key in dataset.indices]
    readings = Recognizer(model, device="cpu", precision="fp32", **options).read_many(images)
    return 100 * sum(score(r.text, gt)[0] for r, gt in zip(readings, dataset.labels)) / len(images)


def main(args):
    width_scale = read_model_file(args.finetune)[0].width_scale
    batch_size = batch_size_of(args.main_args)
    runs_done = {(spec, seed): train_row(spec, seed, args, width_scale, batch_size) for spec in args.rows
                 for seed in args.seeds}
    names = [os.path.basename(os.path.normpath(d)) for d in args.dev]
    print(f"\n{args.images} training images per row, from {args.finetune}; real crops: {', '.join(args.real_dir)}\n")
    print("| real share | seed | " + " | ".join(f"{n} greedy | {n} default reader" for n in names) + " |")
    print("|---|---:|" + "---:|" * 2 * len(names))
    table = {}
    for (spec, seed), out in runs_done.items():
        model = os.path.join(out, "checkpoint.pth")
        accs = [acc for d in args.dev for acc in (read_dev(model, d, decoder="greedy", orientation="upright",
                                                           edge_pad=0), read_dev(model, d))]
        table[(row_name(*spec), seed)] = accs
        print(f"| {row_name(*spec)} | {seed} | " + " | ".join(f"{a:.2f}" for a in accs) + " |", flush=True)
    return table


if __name__ == "__main__":
    run_cli(main, get_args_parser())
