"""Word accuracy of models on labelled image files, by label length, by kind of word and by the crop's
shape, at several input-width rules and decoders.

    python -m bench.accuracy_by_length labels.txt --model weights/crnn.pth --widths 100 128 160 100-256
    python -m bench.accuracy_by_length labels.txt --decoders greedy beam     # the LM's gain, word by word
    python -m bench.accuracy_by_length iiit5k/labels.txt ic15/dev.txt --widths 100-256   # both dev sets

Labels: `path<TAB>label` lines (IIIT5K-style, paths relative to the file).
A width is `W` (fixed W x 32, the recipe's preprocessing) or `MIN-MAX[/STEP][xSCALE]`
(each word at its own width x SCALE, default the model's width_scale: datasets/transforms.Width). Reading goes
through inference.Recognizer (batched by width, fp32), scored by the benchmark
protocol (case-insensitive alphanumerics); length buckets by the normalised
label, and three kinds of word: in the word list of the LM (--lm), not in it,
and holding a digit; three shapes of crop, by width / height: narrower than
0.8 (turned words, stacked letters, single characters), 0.8-1.5 and wider.
`first/last` counts the misreads that drop the first or the last character of
the label (and are right otherwise). Tall crops are read by the reader's
orientation rule unless --orientation upright. Prints one markdown row per
model x width x decoder.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m bench.accuracy_by_length "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import argparse
import os

from PIL import Image

from datasets.transforms import OWN_STEP, SCALE_LIMITS, STEP_LIMITS, WIDTH_LIMITS, Width
from decoding.char_lm import CharLM
from decoding.ctc_decoder import SHIPPED_LM
from inference.orientation import TALL
from inference.reader_args import add_edge_pad_arg, add_orientation_arg
from inference.recognizer import Recognizer
from utils.cli import Parser, existing_file, float_range, int_range, run_cli
from utils.errors import UserError
from utils.files import read_text
from utils.label_converter import normalize_for_eval
from utils.metrics import score

BUCKETS = [(1, 2), (3, 4), (5, 6), (7, 9), (10, 10 ** 6)]
RANGES = "..".join(map(str, WIDTH_LIMITS))
SHAPES = [(f"w/h < {TALL:g}", 0.0, TALL), (f"{TALL:g}-1.5", TALL, 1.5), ("> 1.5", 1.5, float("inf"))]


def width_rule(text):
    """W (fixed) or MIN-MAX[/STEP][xSCALE] -> (Width, the scale given or None: the model's width_scale)."""
    try:
        if "-" not in text:
            return Width.fixed(int_range(*WIDTH_LIMITS)(text)), None
        text_rule, _, scale = text.partition("x")
        span, _, step = text_rule.partition("/")
        lo, hi = (int_range(*WIDTH_LIMITS)(v) for v in span.split("-"))
        rule = (Width(lo, hi, int_range(*STEP_LIMITS)(step) if step else OWN_STEP),
                float_range(*SCALE_LIMITS)(scale) if scale else None)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected W or MIN-MAX[/STEP][xSCALE] with widths in {RANGES}, got "
                                         f"{text!r}") from None
    if lo > hi:
        raise argparse.ArgumentTypeError(f"{text}: MIN is above MAX")
    return rule


width_rule.doc = f"W (fixed) or MIN-MAX[/STEP][xSCALE], widths in {RANGES}, SCALE in {'..'.join(map(str, SCALE_LIMITS))}"


def get_args_parser():
    p = Parser(description=__doc__.splitlines()[0], examples=__doc__)
    p.add_argument("labels", type=existing_file, nargs="+",
                   help="`path<TAB>label` file(s): each a set of its own (e.g. the IIIT5K and the ICDAR 2015 dev crops)")
    p.add_argument("--model", type=existing_file, nargs="+", default=["weights/crnn.pth"], help=".pth or .onnx")
    p.add_argument("--widths", type=width_rule, nargs="+", default=[(Width.fixed(100), None), (Width(), None)],
                   help="width rules to compare (default: 100 100-256, at the model's width_scale)")
    p.add_argument("--batch_size", type=int_range(1, 4096), default=64)
    p.add_argument("--decoders", nargs="+", choices=["greedy", "beam"], default=["greedy"],
                   help="greedy, and/or beam search with the LM at its defaults (decoding/ctc_decoder.py)")
    p.add_argument("--lm", type=existing_file, default=SHIPPED_LM, help="the LM of 'beam' and of the word list")
    p.add_argument("--lm_weights", type=float_range(0, 10), nargs="+", default=[None],
                   help="beam: the LM weights to compare, one row each (default: the model's own)")
    add_orientation_arg(p)
    add_edge_pad_arg(p)
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


def row(results, labels, words, shapes=None):
    """-> ([overall %, per-bucket %, per-kind %, per-shape % (with `shapes`: {file: width / height})], counts of
    each, first/last-character drops)."""
    groups = [[] for _ in BUCKETS + list(KINDS) + (SHAPES if shapes else [])]
    drops = 0
    for r in results:
        gt = normalize_for_eval(labels[r["file"]])
        ok = score(r["text"], gt)[0]
        drops += not ok and normalize_for_eval(r["text"]) in (gt[1:], gt[:-1])
        for b, (lo, hi) in enumerate(BUCKETS):
            if lo <= len(gt) <= hi:
                groups[b].append(ok)
        groups[len(BUCKETS) + KINDS.index(kind(gt, words))].append(ok)
        for s, (_, lo, hi) in enumerate(SHAPES if shapes else []):
            if lo <= shapes[r["file"]] < hi:
                groups[len(BUCKETS) + len(KINDS) + s].append(ok)
    every = [h for bucket in groups[:len(BUCKETS)] for h in bucket]
    return [100 * sum(every) / max(len(every), 1)] + [100 * sum(h) / max(len(h), 1) for h in groups], \
        [len(every)] + [len(h) for h in groups], drops


def labelled_set(path):
    """A labels file -> (its name, {image path: label}, {image path: width / height})."""
    labels = dict(read_labels(path))
    shapes = {}
    for image_path in labels:
        with Image.open(image_path) as image:
            shapes[image_path] = image.size[0] / image.size[1]
    return os.path.basename(os.path.dirname(os.path.abspath(path))) + "/" + os.path.basename(path), labels, shapes


def main(args):
    sets = [labelled_set(path) for path in args.labels]
    words = CharLM.load(args.lm).words
    print("| set | model | width | decoder | all | " + " | ".join(
        [f"{lo}-{hi}" if hi < 10 ** 6 else f"{lo}+" for lo, hi in BUCKETS] + list(KINDS) + [s[0] for s in SHAPES])
        + " | first/last dropped |")
    print("|---|---|---|---|" + "---:|" * (len(BUCKETS) + len(KINDS) + len(SHAPES) + 2))
    table = []
    for model in args.model:
        for width, scale in args.widths:
            rule = {"img_w": width.min_w} if width.is_fixed else {"min_w": width.min_w, "max_w": width.max_w,
                                                                  "width_step": width.step, "width_scale": scale}
            for dec_name, lm_weight in [(d, w) for d in args.decoders for w in (args.lm_weights if d == "beam"
                                                                                else [None])]:
                reader = Recognizer(model, decoder=dec_name, lm=args.lm if dec_name == "beam" else None, device="cpu",
                                    precision="fp32", batch_size=args.batch_size, orientation=args.orientation,
                                    edge_pad=args.edge_pad, lm_weight=lm_weight, **rule)
                name = f"{width.min_w}" if width.is_fixed else \
                    f"{width.min_w}-{width.max_w}/{width.step}x{reader.width.scale:g}"
                decoder = dec_name + (f" (LM weight {lm_weight:g})" if lm_weight is not None else "")
                for set_name, labels, shapes in sets:
                    paths = list(labels)
                    results = [{"file": p, "text": r.text} for p, r in zip(paths, reader.read_many(paths))]
                    accs, counts, drops = row(results, labels, words, shapes)
                    print(f"| {set_name} | {model} | {name} | {decoder} | " + " | ".join(f"{a:.2f}" for a in accs)
                          + f" | {drops} |", flush=True)
                    table.append((set_name, model, name, decoder, accs, counts, drops))
    for set_name in dict.fromkeys(t[0] for t in table):
        print(f"words per column, {set_name}: " + ", ".join(str(c) for c in next(t for t in table if t[0] == set_name)[5]))
    return table


if __name__ == "__main__":
    run_cli(main, get_args_parser())
