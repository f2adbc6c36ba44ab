"""Read the words in image files with the shipped model, a checkpoint (.pth) or an ONNX model.

    python predict.py word.png                              # the shipped model, weights/crnn.pth
    python predict.py --model crnn.onnx crops/ --json       # fp32 or int8 ONNX, on ONNX Runtime
    python predict.py --model model_best.pth labels.txt --lexicon words.txt
    python predict.py --decoder greedy crops/               # the benchmarks' decoding (no language model)

Inputs are image files (any size, colour or grayscale), folders of them, or
.txt lists of paths (one per line; a `path<TAB>label` line uses the path, so an
IIIT5K-style labels.txt works as is; a relative path is taken in the list's folder,
else in the current folder). Prints `file<TAB>text<TAB>confidence`
per image, or one JSON list with --json. Reading is inference.Recognizer's
(the same in Python); the preprocessing is that of evaluation in main.py.
Words are decoded by a beam search with the shipped character language model
(weights/char_lm_en.npz), which reads real words better; `--decoder greedy`
is the benchmarks' protocol, what `main.py --eval_only` reports. A .pth runs
in the fastest precision the device has (bf16 + channels_last on CPUs with
native bf16, fp16 on GPUs); `--precision fp32 --decoder greedy` reads exactly
what `main.py --eval_only` reads.
"""
import json
import os
import sys

from tqdm import tqdm

from decoding.flags import add_decoder_args, decoder_options
from inference.orientation import add_edge_pad_arg, add_orientation_arg
from inference.recognizer import SHIPPED_MODEL, Recognizer
from datasets.width_flags import add_width_args, width_flags
from utils.cli import Parser, existing_file, int_range, path_text, run_cli
from utils.errors import UserError
from utils.files import read_text
from utils.label_converter import normalize_for_eval
from utils.metrics import edit_distance

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def get_args_parser():
    p = Parser(description="CRNN word recognition on image files", examples=__doc__)
    p.add_argument("inputs", type=path_text, nargs="+",
                   help="image files, folders of images, or .txt files listing image paths (a relative path in a "
                        "list is taken in the list's folder, else in the current folder)")
    p.add_argument("--model", type=existing_file, default=None,
                   help="checkpoint (.pth) or ONNX model (.onnx, fp32 or int8); default: the shipped weights/crnn.pth")
    p.add_argument("--batch_size", type=int_range(1, 4096), default=64, help="images per forward pass")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32"],
                   help=".pth models: auto = bf16 + channels_last on CPUs with native bf16, fp16 on GPUs, else fp32")
    p.add_argument("--json", action="store_true", help="print one JSON list instead of TAB-separated lines")
    p.add_argument("--lexicon", type=existing_file, default=None,
                   help="file of allowed words (one per line): return the closest by edit distance")
    p.add_argument("--alphabet", type=path_text, default=None,
                   help="only for an ONNX model exported without its alphabet (checkpoints carry theirs)")
    p.add_argument("--device", default="auto", choices=["auto", "npu", "cuda", "cpu"], help=".pth models only")
    add_width_args(p.add_argument_group("input width (default: the model's own rule)"))
    decoding = p.add_argument_group("decoding")
    add_decoder_args(decoding, default="beam")
    add_orientation_arg(decoding, "read")
    add_edge_pad_arg(decoding)
    return p


def list_images(inputs):
    """-> image paths in the order given (folders sorted by name)."""
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            names = sorted(n for n in os.listdir(item) if os.path.splitext(n)[1].lower() in IMAGE_EXTS)
            if not names:
                raise UserError(f"no image files ({', '.join(sorted(IMAGE_EXTS))}) in folder {item}")
            paths += [os.path.join(item, n) for n in names]
        elif item.lower().endswith(".txt"):
            paths += read_list(item)
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise UserError(f"input not found: {item}")
    return paths


def read_list(path):
    """The image paths of a .txt list: a relative one is taken in the list's folder, else in the current folder;
    an entry found in neither is an error naming both places."""
    base, found, missing = os.path.dirname(path), [], []
    for n, line in enumerate(read_text(path, "list file").splitlines(), 1):
        entry = line.split("\t")[0].strip()
        if not entry:
            continue
        tried = [entry] if os.path.isabs(entry) else [os.path.join(base, entry), entry]
        hit = next((p for p in tried if os.path.isfile(p)), None)
        found += [hit] if hit else []
        missing += [] if hit else [(n, tried)]
    if missing:
        n, tried = missing[0]
        places = " nor ".join(os.path.abspath(p) for p in dict.fromkeys(tried))
        raise UserError(f"{len(missing)} of the {len(found) + len(missing)} images listed in {path} not found; "
                        f"line {n}: not at {places} (a relative path is taken in the list's folder, then in the "
                        "current folder)")
    return found


def closest_word(text, lexicon):
    """Lexicon word nearest to `text` (benchmark normalisation); ties go to the earlier word."""
    query = normalize_for_eval(text)
    best, best_d = lexicon[0], None
    for word in lexicon:
        norm = normalize_for_eval(word)
        if best_d is not None and abs(len(norm) - len(query)) >= best_d:
            continue  # cannot beat the best distance so far
        d = edit_distance(query, norm)
        if best_d is None or d < best_d:
            best, best_d = word, d
    return best


def read_lexicon(path):
    words = [line.split("\t")[0].strip() for line in read_text(path, "lexicon").splitlines()]
    words = [w for w in words if w]
    if not words:
        raise UserError(f"--lexicon {path} holds no words")
    return words


def read_all(reader, paths, progress):
    """-> a dict {file, text, confidence} per readable image, in input order (the others: a warning). Images are
    read a window at a time, so that a folder of any size fits in memory."""
    results, window = [], 16 * reader.batch_size
    for start in tqdm(range(0, len(paths), window), desc="predict", disable=None if progress else True,
                      file=sys.stderr, mininterval=2):
        chunk = paths[start:start + window]
        for path, r in zip(chunk, reader.read_many(chunk, skip_unreadable=True)):
            if r is not None:
                results.append({"file": path, "text": r.text, "confidence": r.confidence})
    return results


def unreadable_error(paths, reader, shown=3):
    """The error when no input could be read: the first files and why (the warnings list every one)."""
    reasons = []
    for path in paths[:shown]:
        try:
            reader.load(path)
        except (OSError, ValueError) as e:
            reasons.append(str(e))
    more = f"; {len(paths) - shown} more" if len(paths) > shown else ""
    return f"none of the {len(paths)} input images could be read ({'; '.join(reasons)}{more})"


def main(args):
    if args.model is None and not os.path.isfile(SHIPPED_MODEL):
        raise UserError(f"no --model given and the shipped model {SHIPPED_MODEL} is missing (restore weights/ from git)")
    paths = list_images(args.inputs)
    if not paths:
        raise UserError("no images to read: the inputs list none")
    lexicon = read_lexicon(args.lexicon) if args.lexicon else None
    reader = Recognizer(args.model, device=args.device, precision=args.precision, batch_size=args.batch_size,
                        alphabet=args.alphabet, orientation=args.orientation, edge_pad=args.edge_pad,
                        **width_flags(args), **decoder_options(args))
    print(f"Reading {len(paths)} images with {reader.describe()}", file=sys.stderr, flush=True)
    results = read_all(reader, paths, len(paths) > 1000)
    if not results:
        raise UserError(unreadable_error(paths, reader))
    if lexicon:
        for r in results:
            r["raw_text"], r["text"] = r["text"], closest_word(r["text"], lexicon)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            print(f"{r['file']}\t{r['text']}\t{r['confidence']:.4f}")
    return results


if __name__ == "__main__":
    run_cli(main, get_args_parser())
