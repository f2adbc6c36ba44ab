"""Accuracy of offline inference results, decoded exactly as main.py evaluates.

    python3 postpossess_CRNN_pytorch.py ./result ./label.txt

label.txt has `test_<i>.bin:<label>` lines (parse_testdata.py); the result for
test_<i>.bin is <result_dir>/test_<i>_0.bin, float32 [T, 1, C] (T = 26, C = 37
at the defaults; with --dynamic_width T = W/4+1 follows each file's size). Prints each miss, then rightNum, totalNum, accuracy_rate and
the `Accuracy:` line.
"""
import os

import numpy as np

from decoding.flags import add_decoder_args, decoder_from_args
from datasets.transforms import RECIPE_IMG_W
from models.crnn import output_length
from utils.cli import Parser, existing_dir, existing_file, int_range, path_text, run_cli
from utils.errors import NotFoundError, UserError
from utils.files import natural_key, read_text
from utils.label_converter import DEFAULT_ALPHABET, LabelConverter, load_alphabet
from utils.metrics import score

SHOW = 5


def read_labels(path):
    entries = []
    for n, line in enumerate(read_text(path, "label file").splitlines(), 1):
        name, sep, label = line.partition(":")
        if not sep or not name.endswith(".bin"):
            raise UserError(f"{path}:{n}: expected '<name>.bin:<label>', got {line[:60]!r}")
        entries.append((name, label))
    if not entries:
        raise UserError(f"label file is empty: {path}")
    return entries


def first(items):
    return ", ".join(items[:SHOW]) + (f" (and {len(items) - SHOW} more)" if len(items) > SHOW else "")


def get_args_parser():
    p = Parser(description="Decode offline results and print the accuracy", examples=__doc__)
    p.add_argument("result_dir", type=existing_dir)
    p.add_argument("label_file", type=existing_file)
    p.add_argument("--alphabet", type=path_text, default=DEFAULT_ALPHABET, help="characters, or a file holding them")
    p.add_argument("--img_w", type=int_range(16, 4096), default=RECIPE_IMG_W, help="the model's input width")
    p.add_argument("--dynamic_width", action="store_true",
                   help="results of a --dynamic_width model: the steps of each file follow from its size")
    add_decoder_args(p.add_argument_group("decoding (default: greedy, as main.py reports)"), default="greedy")
    return p


def main(args):
    converter = LabelConverter(load_alphabet(args.alphabet))
    decoder = decoder_from_args(args, converter.alphabet)
    entries = read_labels(args.label_file)
    expected = {os.path.splitext(name)[0] + "_0.bin": (name, label) for name, label in entries}
    present = {f for f in os.listdir(args.result_dir) if f.endswith(".bin")}
    missing = sorted(set(expected) - present, key=natural_key)
    if missing:
        raise NotFoundError(f"{len(missing)} result files missing in {args.result_dir}: {first(missing)}")
    extra = sorted(present - set(expected), key=natural_key)
    if extra:
        raise UserError(f"{len(extra)} result files in {args.result_dir} have no label in {args.label_file}: {first(extra)}")
    steps, classes = output_length(args.img_w), converter.num_classes
    bad_shape, right = [], 0
    for result, (_, label) in expected.items():
        path = os.path.join(args.result_dir, result)
        nbytes = os.path.getsize(path)
        t = max(nbytes // (classes * 4), output_length(16)) if args.dynamic_width else steps
        if nbytes != t * classes * 4:
            bad_shape.append(f"{result} ({nbytes} bytes, expected " + (
                f"Tx1x{classes} float32, T >= {output_length(16)})" if args.dynamic_width else
                f"{steps}x1x{classes} float32 = {steps * classes * 4})"))
            continue
        out = np.fromfile(path, dtype=np.float32)
        pred = decoder.decode(out.reshape(t, 1, classes))[0][0]
        ok, _ = score(pred, label)
        right += ok
        if not ok:
            print(f"label:{label}  pred:{pred}")
    if bad_shape:
        raise UserError(f"{len(bad_shape)} result files have the wrong size: {first(bad_shape)}")
    total = len(expected)
    print(f"rightNum: {right}")
    print(f"totalNum: {total}")
    print(f"accuracy_rate {right / total:.6f}")
    print(f"Accuracy: {right / total:.4f}")
    return right / total


if __name__ == "__main__":
    run_cli(main, get_args_parser())
