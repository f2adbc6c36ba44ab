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
native bf16, fp16 on GPUs); `--precision fp32 --decoder greedy --edge_pad 0`
reads exactly what `main.py --eval_only` reads.
"""
import json
import os
import sys

from tqdm import tqdm

from inference.reader_args import add_reader_args, reader_options
from utils.cli import Parser, existing_file, path_text, plural, run_cli
from utils.errors import NotFoundError, UserError
from utils.files import read_text

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def get_args_parser():
    p = Parser(description="CRNN word recognition on image files", examples=__doc__)
    p.add_argument("inputs", type=path_text, nargs="+",
                   help="image files, folders of images, or .txt files listing image paths (a relative path in a "
                        "list is taken in the list's folder, else in the current folder)")
    p.add_argument("--json", action="store_true", help="print one JSON list instead of TAB-separated lines")
    p.add_argument("--lexicon", type=existing_file, default=None,
                   help="file of allowed words (one per line): return the closest by edit distance")
    add_reader_args(p)
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
            raise NotFoundError(f"input not found: {item}")
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
        raise NotFoundError(f"{len(missing)} of the {len(found) + len(missing)} images listed in {path} not found; "
                        f"line {n}: not at {places} (a relative path is taken in the list's folder, then in the "
                        "current folder)")
    return found


def read_all(reader, paths):
    """-> a dict {file, text, confidence} per readable image, in input order (the others: a warning). Images are
    read a window at a time, so that a folder of any size fits in memory; a read that lasts more than 2 s shows a
    progress bar on a terminal's stderr."""
    results, window = [], 8 * reader.batch_size
    with tqdm(total=len(paths), desc="predict", unit="img", file=sys.stderr, delay=2, disable=None) as bar:
        for start in range(0, len(paths), window):
            chunk = paths[start:start + window]
            for path, r in zip(chunk, reader.read_many(chunk, skip_unreadable=True)):
                if r is not None:
                    results.append({"file": path, "text": r.text, "confidence": r.confidence})
            bar.update(len(chunk))
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
    # Threads that wait for work sleep instead of spinning: on a busy machine spinning OpenMP threads made the
    # two-sample read 2.5x slower. Read when torch loads, so before the imports below.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Imported here, not at the top: the reader loads torch (1-3 s), which `--help` and a bad flag do not need.
    from decoding.lexicon import closest_word, read_lexicon
    from inference.recognizer import SHIPPED_MODEL, Recognizer
    if args.model is None and not os.path.isfile(SHIPPED_MODEL):
        raise NotFoundError(f"no --model given and the shipped model {SHIPPED_MODEL} is missing (restore weights/ from git)")
    paths = list_images(args.inputs)
    if not paths:
        raise UserError("no images to read: the inputs list none")
    lexicon = read_lexicon(args.lexicon) if args.lexicon else None
    reader = Recognizer(**reader_options(args))
    print(f"Reading {plural(len(paths), 'image')} with {reader.describe()}", file=sys.stderr, flush=True)
    results = read_all(reader, paths)
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
