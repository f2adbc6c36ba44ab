"""How well the reader picks the orientation of crops taller than wide, against the best of its three reads.

    python -m bench.orientation crops/labels.txt                          # the shipped model, beam + LM
    python -m bench.orientation iiit5k/labels.txt ic15/dev.txt --length_bonus 0.5 0.75 1   # tune the bonus
    python -m bench.orientation crops/labels.txt --model runs/x/model_best.pth --decoders greedy beam \
        --synthetic 1000 --synth_assets ../crnn_assets_v4

Sets of tall crops: each labels file's crops turned by hand a quarter turn (--bottom_to_top of them
anticlockwise, so that they read bottom to top as most real turned words do, the rest clockwise),
synthetic words turned the same way (--synthetic of them, the generator's validation split), and the
labelled crops as they are that are already tall (short words: the rule must leave them upright). Each
crop is read as given and turned a quarter turn either way; the table gives the share read right as
given, by the most confident read, by the rule (inference/orientation.py) at the model's bonus per
character or at each --length_bonus, and by the best of the three (an oracle that knows the label).
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m bench.orientation "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import io
import os

import numpy as np
from PIL import Image

from bench.accuracy_by_length import read_labels
from datasets.synth.assets import load_renderer
from datasets.synth.build import VAL_SPLIT
from decoding.ctc_decoder import DECODERS
from inference.orientation import TALL, TURNS, choose, is_tall
from inference.reader_args import add_edge_pad_arg
from inference.recognizer import Recognizer
from utils.cli import Parser, existing_dir, existing_file, float_range, int_range, run_cli
from utils.label_converter import normalize_for_eval


def get_args_parser():
    p = Parser(description=__doc__.splitlines()[0], examples=__doc__)
    p.add_argument("labels", type=existing_file, nargs="+",
                   help="`path<TAB>label` file(s) of real crops (relative to its folder): each a set of its own")
    p.add_argument("--model", type=existing_file, default=None, help="default: the shipped weights/crnn.pth")
    p.add_argument("--decoders", nargs="+", choices=DECODERS, default=["beam"])
    p.add_argument("--bottom_to_top", type=float_range(0, 1), default=0.7,
                   help="share of the turned crops that read bottom to top")
    p.add_argument("--synthetic", type=int_range(0, 100000, zero="none"), default=0,
                   help="synthetic words turned by hand, from the generator's validation split")
    p.add_argument("--synth_assets", type=existing_dir, default=None, help="the generator's assets (--synthetic)")
    p.add_argument("--limit", type=int_range(1), default=None, help="read only the first N labelled crops")
    p.add_argument("--length_bonus", type=float_range(0, 10), nargs="+", default=None,
                   help="the rule's bonus per character, one column each (default: the model's own)")
    add_edge_pad_arg(p)
    return p


def turned_by_hand(images, share, seed=0):
    """Each image turned a quarter turn: anticlockwise (it then reads bottom to top) for `share` of them."""
    rng = np.random.default_rng(seed)
    return [image.transpose(Image.Transpose.ROTATE_90 if rng.random() < share else Image.Transpose.ROTATE_270)
            for image in images]


def three_reads(reader, images):
    """-> [(texts, confidences)] for each turn of TURNS, over all images."""
    reads = []
    for turn in TURNS:
        views = [image if turn is None else image.transpose(turn) for image in images]
        readings = reader.read_many(views)
        reads.append(([r.text for r in readings], [r.confidence for r in readings]))
    return reads


def scores(reads, labels, bonuses):
    """Shares (%) right: as given, most confident, the rule at each bonus, the best of three."""
    right = [[normalize_for_eval(t) == normalize_for_eval(label) for t, label in zip(texts, labels)]
             for texts, _ in reads]
    given, confident, oracle, rule = [], [], [], [[] for _ in bonuses]
    for i in range(len(labels)):
        texts, confs = [r[0][i] for r in reads], [r[1][i] for r in reads]
        given.append(right[0][i])
        confident.append(right[int(np.argmax([c if t else -1 for t, c in zip(texts, confs)]))][i])
        for column, bonus in zip(rule, bonuses):
            column.append(right[choose(texts, confs, bonus)][i])
        oracle.append(any(r[i] for r in right))
    return [100 * float(np.mean(v)) if v else float("nan") for v in (given, confident, *rule, oracle)]


def main(args):
    sets = {}
    tall = []
    for path in args.labels:
        pairs = read_labels(path)[:args.limit]
        crops = [Image.open(p).convert("RGB") for p, _ in pairs]
        labels = [label for _, label in pairs]
        name = os.path.basename(os.path.dirname(os.path.abspath(path)))
        sets[f"{name}: turned by hand"] = (turned_by_hand(crops, args.bottom_to_top), labels)
        tall += [(image, label) for image, label in zip(crops, labels) if is_tall(image)]
    if args.synthetic:
        renderer = load_renderer(args.synth_assets, features={"upside_down": 0.0, "stacked": 0.0})
        samples = [renderer.sample(0, VAL_SPLIT, i) for i in range(args.synthetic)]
        words = [Image.open(io.BytesIO(data)) for data, _ in samples]
        sets["synthetic words turned"] = (turned_by_hand(words, args.bottom_to_top, seed=1), [s[1] for s in samples])
    sets["tall crops as they are"] = ([t[0] for t in tall], [t[1] for t in tall])
    table = {}
    for decoder in args.decoders:
        reader = Recognizer(args.model, decoder=decoder, orientation="upright", edge_pad=args.edge_pad)
        bonuses = args.length_bonus or [reader.length_bonus]
        if decoder == args.decoders[0]:
            print(f"\n{args.model or 'weights/crnn.pth'}; tall: narrower than {TALL:g} x the height; "
                  f"{args.bottom_to_top:.0%} of the turned crops read bottom to top\n")
            print("| set | crops | decoder | as given | most confident | "
                  + " | ".join(f"the rule, bonus {b:g}" for b in bonuses) + " | best of three |")
            print("|---|---:|---|" + "---:|" * (len(bonuses) + 3))
        for name, (images, truth) in sets.items():
            table[name, decoder] = scores(three_reads(reader, images), truth, bonuses) if images else \
                [float("nan")] * (len(bonuses) + 3)
            print(f"| {name} | {len(images)} | {decoder} | " + " | ".join(f"{v:.2f}" for v in table[name, decoder])
                  + " |", flush=True)
    return table


if __name__ == "__main__":
    run_cli(main, get_args_parser())
