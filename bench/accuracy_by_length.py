"""Word accuracy of models on labelled image files, by label length and by kind of word, at several
input-width rules and decoders.

    python -m bench.accuracy_by_length labels.txt --model weights/crnn.pth --widths 100 128 160 100-256
    python -m bench.accuracy_by_length labels.txt --decoders greedy beam     # the LM's gain, word by word

Labels: `path<TAB>label` lines (IIIT5K-style, paths relative to the file).
A width is `W` (fixed W x 32, the recipe's preprocessing) or `MIN-MAX[/STEP]`
(each word at its own width, see datasets/transforms.Width). Reading goes
through inference.Recognizer (batched by width, fp32), scored by the benchmark
protocol (case-insensitive alphanumerics); length buckets by the normalised
label, and three kinds of word: in the word list of the LM (--lm), not in it,
and holding a digit. `first/last` counts the misreads that drop the first or
the last character of the label (and are right otherwise). Prints one
markdown row per model x width x decoder.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m bench.accuracy_by_length "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import argparse
import os

from datasets.transforms import OWN_STEP, Width
from decoding.char_lm import CharLM
from decoding.ctc_decoder import SHIPPED_LM
from inference.recognizer import Recognizer
from utils.cli import Parser, existing_file, int_range, run_cli
from utils.errors import UserError
from utils.files import read_text
from utils.label_converter import normalize_for_eval
from utils.metrics import score

BUCKETS = [(1, 2), (3, 4), (5, 6), (7, 9), (10, 10 ** 6)]


def width_rule(text):
    try:
        if "-" not in text:
            return Width.fixed(int_range(16, 4096)(text))
        span, _, step = text.partition("/")
        lo, hi = (int_range(16, 4096)(v) for v in span.split("-"))
        rule = Width(lo, hi, int_range(1, 256)(step) if step else OWN_STEP)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected W or MIN-MAX[/STEP] with widths in 16..4096, got {text!r}") from None
    if lo > hi:
        raise argparse.ArgumentTypeError(f"{text}: MIN is above MAX")
    return rule


width_rule.doc = "W (fixed) or MIN-MAX[/STEP], widths in 16..4096"


def get_args_parser():
    p = Parser(description=__doc__.splitlines()[0], examples=__doc__)
    p.add_argument("labels", type=existing_file, help="`path<TAB>label` file")
    p.add_argument("--model", type=existing_file, nargs="+", default=["weights/crnn.pth"], help=".pth or .onnx")
    p.add_argument("--widths", type=width_rule, nargs="+", default=[Width.fixed(100), Width()],
                   help="width rules to compare (default: 100 100-256)")
    p.add_argument("--batch_size", type=int_range(1, 4096), default=64)
    p.add_argument("--decoders", nargs="+", choices=["greedy", "beam"], default=["greedy"],
                   help="greedy, and/or beam search with the LM at its defaults (decoding/ctc_decoder.py)")
    p.add_argument("--lm", type=existing_file, default=SHIPPED_LM, help="the LM of 'beam' and of the word list")
    return p


def read_labels(path):
    base, pairs = os.path.dirname(path), []
    for n, line in enumerate(read_text(path, "labels file").splitlines(), 1):
        if line.strip():
            name, sep, label = line.partition("\t")
            if not sep:
                raise UserError(f"{path}, line {n}: expected `path<TAB>label`, got {line[:60]!r}")
            pairs.append((os.path.join(base, name.strip()), label.strip()))
    if not pairs:
        raise UserError(f"{path} holds no labelled images")
    return pairs


KINDS = ("in list", "not in list", "digit")


def kind(label, words):
    return KINDS[2] if any(c.isdigit() for c in label) else KINDS[0] if label in words else KINDS[1]


def row(results, labels, words):
    """-> ([overall %, per-bucket %, per-kind %], counts of each, first/last-character drops)."""
    groups = [[] for _ in BUCKETS + list(KINDS)]
    drops = 0
    for r in results:
        gt = normalize_for_eval(labels[r["file"]])
        ok = score(r["text"], gt)[0]
        drops += not ok and normalize_for_eval(r["text"]) in (gt[1:], gt[:-1])
        for b, (lo, hi) in enumerate(BUCKETS):
            if lo <= len(gt) <= hi:
                groups[b].append(ok)
        groups[len(BUCKETS) + KINDS.index(kind(gt, words))].append(ok)
    every = [h for bucket in groups[:len(BUCKETS)] for h in bucket]
    return [100 * sum(every) / max(len(every), 1)] + [100 * sum(h) / max(len(h), 1) for h in groups], \
        [len(every)] + [len(h) for h in groups], drops


def main(args):
    pairs = read_labels(args.labels)
    labels = dict(pairs)
    words = CharLM.load(args.lm).words
    paths = [p for p, _ in pairs]
    print("| model | width | decoder | all | " + " | ".join(
        [f"{lo}-{hi}" if hi < 10 ** 6 else f"{lo}+" for lo, hi in BUCKETS] + list(KINDS)) + " | first/last dropped |")
    print("|---|---|---|" + "---:|" * (len(BUCKETS) + len(KINDS) + 2))
    table = []
    for model in args.model:
        for width in args.widths:
            rule = {"img_w": width.min_w} if width.is_fixed else {"min_w": width.min_w, "max_w": width.max_w,
                                                                  "width_step": width.step}
            for dec_name in args.decoders:
                reader = Recognizer(model, decoder=dec_name, lm=args.lm if dec_name == "beam" else None, device="cpu",
                                    precision="fp32", batch_size=args.batch_size, **rule)
                results = [{"file": p, "text": r.text} for p, r in zip(paths, reader.read_many(paths))]
                accs, counts, drops = row(results, labels, words)
                name = f"{width.min_w}" if width.is_fixed else f"{width.min_w}-{width.max_w}/{width.step}"
                print(f"| {model} | {name} | {dec_name} | " + " | ".join(f"{a:.2f}" for a in accs) + f" | {drops} |",
                      flush=True)
                table.append((model, name, dec_name, accs, counts, drops))
    print("words per column: " + ", ".join(str(c) for c in table[0][4]))
    return table


if __name__ == "__main__":
    run_cli(main, get_args_parser())
