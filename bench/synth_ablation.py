"""Generator ablation: one model per feature set at one training budget, read on real crops by word length.

    python -m bench.synth_ablation crops/labels.txt --synth_assets ../crnn_assets_v4 --finetune weights/crnn.pth \
        --images 51200 --output_dir runs/ablation_v7 -- --lr 5e-4 --ema 0.995
    python -m bench.synth_ablation LABELS --synth_assets A --rows v6 all -- --device cuda --workers 12  # main.py flags

Each row trains `main.py --synth_stream --synth_train IMAGES --epochs 1 --ema 0.999 --val_freq 0
--synth_assets A` (then the flags after `--`) with the same seed, from scratch or, with --finetune, every row
from the same weights (a fresh optimizer and schedule; cheaper on a CPU, where a short run from scratch spends
most of its budget on the CTC plateau), with its own $CRNN_SYNTH_FEATURES, in OUTPUT_DIR/<row>. All rows
validate on one set: the synthetic validation set of the whole generator (--synth_val images). A finished row
is not trained again and an unfinished one continues (`--resume auto`), so the script can be stopped and run
again. Then each row's model (its averaged weights at the end of the schedule) reads the labelled crops at each
word's own width (100..256), by label length (bench/accuracy_by_length.py). Prints one markdown row per
feature set.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m bench.synth_ablation "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import csv
import os

from bench import runs
from bench.accuracy_by_length import BUCKETS, read_labels, row
from datasets.synth.build import ensure_synthetic
from datasets.synth.features import FEATURES_ENV
from datasets.transforms import Width
from inference.recognizer import Recognizer
from bench.runs import PassThroughParser
from utils.cli import existing_dir, existing_file, int_range, path_text, run_cli
from utils.errors import UserError

# name: $CRNN_SYNTH_FEATURES. v7's two new parts, its turned words and its scenes, each on its own over v6's
# distribution, and all of v7; with two parts, all but one part is the other part's row. Earlier ablations
# (docs/experiments/) measured v4's rows at commit 8f64366.
ROWS = {"v6": "turns=0,scene=0", "turns": "scene=0", "scene": "turns=0", "all": ""}


def get_args_parser():
    p = PassThroughParser(description=__doc__.splitlines()[0])
    p.add_argument("labels", type=existing_file, help="`path<TAB>label` file of real crops (read, never trained on)")
    p.add_argument("--synth_assets", type=existing_dir, required=True,
                   help="the generator's assets folder (tools/pack_synth_assets.py), the same for every row")
    p.add_argument("--images", type=int_range(64), default=200000, help="training images per row")
    p.add_argument("--synth_val", type=int_range(1, 10 ** 7), default=2000, help="images of the common validation set")
    p.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS), help="feature sets to train")
    p.add_argument("--finetune", type=existing_file, default=None,
                   help="start every row from this checkpoint's weights instead of from scratch")
    p.add_argument("--output_dir", type=path_text, default="runs/ablation")
    return p


def train_row(name, args, val_dir):
    """Train one row's model (or finish it) -> its folder."""
    features = ROWS[name]
    # main.py also builds a synthetic validation set of its own, unused here: --synth_val 64 keeps it small.
    flags = ["--synth_stream", "--synth_train", str(args.images), "--epochs", "1", "--ema", "0.999", "--val_freq", "0",
             "--val_dir", val_dir, "--synth_val", "64", "--save_every_steps", "500", "--synth_assets",
             args.synth_assets, *args.main_args]
    env = {**os.environ, FEATURES_ENV: features} if features else os.environ
    return runs.train_row(name, os.path.join(args.output_dir, name), flags, args.finetune, env,
                          note=f"{FEATURES_ENV}={features!r} ")


def synthetic_accuracy(out):
    """The averaged weights' accuracy on the common validation set at the end (the run's eval_results.csv)."""
    with open(os.path.join(out, "eval_results.csv"), newline="") as f:
        return 100 * float(next(csv.DictReader(f))["accuracy"])


def main(args):
    if os.environ.get(FEATURES_ENV):
        raise UserError(f"unset ${FEATURES_ENV}: this script sets it for each row")
    pairs = read_labels(args.labels)
    labels = dict(pairs)
    val_dir = os.path.join(ensure_synthetic(0, args.synth_val, seed=0, assets=args.synth_assets), "IIIT5K_lmdb")
    folders = {name: train_row(name, args, val_dir) for name in args.rows}
    buckets = " | ".join(f"{lo}-{hi}" if hi < 10 ** 6 else f"{lo}+" for lo, hi in BUCKETS)
    print(f"\n{args.images} training images per row; real crops: {args.labels}, each word at its own width\n")
    print(f"| row | {FEATURES_ENV} | real: all | {buckets} | synthetic val |")
    print("|---|---|" + "---:|" * (len(BUCKETS) + 2))
    table = {}
    for name, out in folders.items():
        reader = Recognizer(os.path.join(out, "checkpoint.pth"), decoder="greedy", device="cpu", precision="fp32",
                            min_w=Width().min_w, max_w=Width().max_w)
        paths = [p for p, _ in pairs]
        results = [{"file": p, "text": r.text} for p, r in zip(paths, reader.read_many(paths))]
        accs = row(results, labels, frozenset())[0][:len(BUCKETS) + 1]  # all and by length
        table[name] = accs + [synthetic_accuracy(out)]
        print(f"| {name} | `{ROWS[name]}` | " + " | ".join(f"{a:.2f}" for a in table[name]) + " |", flush=True)
    return table


if __name__ == "__main__":
    run_cli(main, get_args_parser())
