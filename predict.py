"""Read the words in image files with a checkpoint (.pth) or an exported ONNX model.

    python predict.py --model model_best.pth word.png
    python predict.py --model crnn.onnx crops/ --json
    python predict.py --model model_best.pth labels.txt --lexicon words.txt

Inputs are image files (any size, colour or grayscale), folders of them, or
.txt lists of paths (one per line; a `path<TAB>label` line uses the path, so an
IIIT5K-style labels.txt works as is). Prints `file<TAB>text<TAB>confidence`
per image, or one JSON list with --json. The preprocessing and greedy decoding
are those of evaluation in main.py, in fp32, so the text equals what
`main.py --eval_only` decodes for the same image in an LMDB.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

from datasets.transforms import decode_image
from utils.cli import run_cli
from utils.device import select_device
from utils.errors import UserError
from utils.label_converter import DEFAULT_ALPHABET, LabelConverter, load_alphabet, normalize_for_eval
from utils.metrics import edit_distance
from utils.model_io import load_crnn

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def get_args_parser():
    p = argparse.ArgumentParser(description="CRNN word recognition on image files")
    p.add_argument("inputs", nargs="+", help="image files, folders of images, or .txt files listing image paths")
    p.add_argument("--model", required=True, help="checkpoint (.pth) or ONNX model (.onnx) from pth2onnx.py")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--json", action="store_true", help="print one JSON list instead of TAB-separated lines")
    p.add_argument("--lexicon", default=None,
                   help="file of allowed words (one per line): return the closest by edit distance")
    p.add_argument("--alphabet", default=None, help="only for an ONNX model exported without its alphabet")
    p.add_argument("--device", default="auto", choices=["auto", "npu", "cuda", "cpu"], help=".pth models only")
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
    if not os.path.isfile(path):
        raise UserError(f"list file not found: {path}")
    base = os.path.dirname(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        entries = [line.rstrip("\n").split("\t")[0].strip() for line in f]
    return [e if os.path.isabs(e) else os.path.join(base, e) for e in entries if e]


def load_recognizer(path, device):
    """-> (fn: float32 array [B, 1, 32, W] -> logits [T, B, C], alphabet, img_w)."""
    if not os.path.isfile(path):
        raise UserError(f"--model not found: {path}")
    if path.lower().endswith(".onnx"):
        from tools.ais_bench_runner import make_session
        session = make_session(path)
        meta = session.get_modelmeta().custom_metadata_map
        return (lambda x: torch.from_numpy(session.run(["output1"], {"actual_input_1": x})[0]),
                meta.get("alphabet"), int(meta.get("img_w", 100)))
    model, alphabet, img_w = load_crnn(path)
    model.to(device)

    @torch.no_grad()
    def run(x):
        return model(torch.from_numpy(x).to(device)).cpu()
    return run, alphabet, img_w


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
    if not os.path.isfile(path):
        raise UserError(f"--lexicon not found: {path}")
    with open(path, encoding="utf-8", errors="replace") as f:
        words = [line.split("\t")[0].strip() for line in f]
    words = [w for w in words if w]
    if not words:
        raise UserError(f"--lexicon {path} holds no words")
    return words


def recognise(paths, recognizer, converter, img_w, batch_size, progress):
    """-> list of dicts {file, text, confidence} (unreadable images: a warning, no entry)."""
    results = []
    for start in tqdm(range(0, len(paths), batch_size), desc="predict", disable=None if progress else True,
                      file=sys.stderr, mininterval=2):
        batch, names = [], []
        for path in paths[start:start + batch_size]:
            try:
                with open(path, "rb") as f:
                    batch.append(decode_image(f.read(), 32, img_w))
                names.append(path)
            except (OSError, ValueError) as e:
                print(f"warning: skipping {path}: {e}", file=sys.stderr, flush=True)
        if batch:
            texts, confs = converter.decode(recognizer(np.stack(batch)))
            results += [{"file": n, "text": t, "confidence": round(c, 4)} for n, t, c in zip(names, texts, confs)]
    return results


def main(args):
    paths = list_images(args.inputs)
    if not paths:
        raise UserError("no images to read")
    lexicon = read_lexicon(args.lexicon) if args.lexicon else None
    recognizer, alphabet, img_w = load_recognizer(args.model, select_device(args.device, 0))
    if args.alphabet or alphabet is None:
        alphabet = load_alphabet(args.alphabet or DEFAULT_ALPHABET)
    results = recognise(paths, recognizer, LabelConverter(alphabet), img_w, args.batch_size, len(paths) > 1000)
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
