"""Read the words in image files with the shipped model, a checkpoint (.pth) or an ONNX model.

    python predict.py word.png                              # the shipped model, weights/crnn.pth
    python predict.py --model crnn.onnx crops/ --json       # fp32 or int8 ONNX, on ONNX Runtime
    python predict.py --model model_best.pth labels.txt --lexicon words.txt

Inputs are image files (any size, colour or grayscale), folders of them, or
.txt lists of paths (one per line; a `path<TAB>label` line uses the path, so an
IIIT5K-style labels.txt works as is). Prints `file<TAB>text<TAB>confidence`
per image, or one JSON list with --json. The preprocessing is that of evaluation
in main.py. Words are decoded by a beam search with the shipped character
language model (weights/char_lm_en.npz), which reads real words better;
`--decoder greedy` is the benchmarks' protocol, what `main.py --eval_only`
reports. A .pth runs in the fastest precision the device has (bf16 +
channels_last on CPUs with native bf16, fp16 on GPUs); `--precision fp32
--decoder greedy` reads exactly what `main.py --eval_only` reads.
"""
import json
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

from datasets.transforms import Width, choose_width, decode_image
from datasets.width_batches import by_width
from inference.decoder_flags import add_decoder_args, decoder_from_args
from utils.cli import Parser, add_width_args, existing_file, int_range, path_text, run_cli
from utils.device import amp_dtype, select_device, use_channels_last
from utils.errors import UserError
from utils.files import read_text
from utils.label_converter import DEFAULT_ALPHABET, load_alphabet, normalize_for_eval
from utils.metrics import edit_distance
from utils.model_io import load_crnn

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
SHIPPED_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "crnn.pth")


def get_args_parser():
    p = Parser(description="CRNN word recognition on image files")
    p.add_argument("inputs", type=path_text, nargs="+",
                   help="image files, folders of images, or .txt files listing image paths")
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
    add_decoder_args(p.add_argument_group("decoding"), default="beam")
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
    base = os.path.dirname(path)
    entries = [line.split("\t")[0].strip() for line in read_text(path, "list file").splitlines()]
    return [e if os.path.isabs(e) else os.path.join(base, e) for e in entries if e]


def load_recognizer(path, device, precision):
    """-> (fn: float32 array [B, 1, 32, W] -> logits [T, B, C], alphabet or None,
    (img_w, width_range or None, the width of an ONNX input that has a fixed one, else None), engine description)."""
    if path.lower().endswith(".onnx"):
        from tools.ais_bench_runner import make_session, onnx_width
        session = make_session(path)
        meta = session.get_modelmeta().custom_metadata_map
        kind = "int8" if "quantization" in meta else "fp32"
        width_range = [int(v) for v in meta["width_range"].split(",")] if "width_range" in meta else None
        return (lambda x: torch.from_numpy(session.run(["output1"], {"actual_input_1": x})[0]), meta.get("alphabet"),
                (int(meta.get("img_w", 100)), width_range, onnx_width(session)), f"ONNX Runtime {kind}")
    model, alphabet, img_w, width_range = load_crnn(path)
    dtype = amp_dtype(device, precision == "auto")
    channels_last = use_channels_last(device, False)
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)

    @torch.no_grad()
    def run(x):
        x = torch.from_numpy(x).to(device)
        x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            return model(x).float().cpu()
    engine = f"PyTorch {str(dtype or torch.float32).replace('torch.', '')} on {device}"
    return run, alphabet, (img_w, width_range, None), engine


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


def read_image(path, width):
    """-> the preprocessed image; OSError / ValueError for a file that cannot be read or decoded."""
    with open(path, "rb") as f:
        return decode_image(f.read(), width)


def recognise(paths, recognizer, decoder, width, batch_size, progress):
    """-> list of dicts {file, text, confidence} in input order (unreadable images: a warning, no entry).
    Images are read a window at a time and batched by width (datasets/width_batches.py)."""
    results, window = [], 16 * batch_size
    for start in tqdm(range(0, len(paths), window), desc="predict", disable=None if progress else True,
                      file=sys.stderr, mininterval=2):
        images, names = [], []
        for path in paths[start:start + window]:
            try:
                images.append(read_image(path, width))
                names.append(path)
            except (OSError, ValueError) as e:
                print(f"warning: skipping {path}: {e}", file=sys.stderr, flush=True)
        read = [None] * len(images)
        for group in by_width([x.shape[-1] for x in images], batch_size):
            texts, confs = decoder.decode(recognizer(np.stack([images[i] for i in group])))
            for i, text, conf in zip(group, texts, confs):
                read[i] = {"file": names[i], "text": text, "confidence": round(conf, 4)}
        results += read
    return results


def unreadable_error(paths, width, shown=3):
    """The error when no input could be read: the first files and why (the warnings list every one)."""
    reasons = []
    for path in paths[:shown]:
        try:
            read_image(path, width)
        except (OSError, ValueError) as e:
            reasons.append(f"{path}: {e}")
    more = f"; {len(paths) - shown} more" if len(paths) > shown else ""
    return f"none of the {len(paths)} input images could be read ({'; '.join(reasons)}{more})"


def main(args):
    model_path = args.model or SHIPPED_MODEL
    if not os.path.isfile(model_path):
        raise UserError(f"no --model given and the shipped model {model_path} is missing (restore weights/ from git)")
    paths = list_images(args.inputs)
    if not paths:
        raise UserError("no images to read: the inputs list none")
    lexicon = read_lexicon(args.lexicon) if args.lexicon else None
    recognizer, alphabet, (img_w, width_range, onnx_w), engine = load_recognizer(
        model_path, select_device(args.device, 0), args.precision)
    own_flags = (args.min_w, args.max_w, args.width_step)
    if onnx_w is not None and (any(v is not None for v in own_flags) or args.img_w not in (None, onnx_w)):
        raise UserError(f"{model_path} takes a fixed width of {onnx_w} px: the width flags do not apply (export it "
                        "with pth2onnx.py --dynamic_width to read words at their own width)")
    width = Width.fixed(onnx_w) if onnx_w is not None else choose_width(
        args.img_w, args.fixed_width, args.min_w, args.max_w, args.width_step, img_w, width_range)
    if alphabet is None:  # an ONNX model exported elsewhere: the recipe's alphabet unless told
        alphabet = load_alphabet(args.alphabet or DEFAULT_ALPHABET)
    elif args.alphabet and load_alphabet(args.alphabet) != alphabet:
        raise UserError(f"--alphabet differs from the one {model_path} was trained with ({alphabet!r}): omit it")
    decoder = decoder_from_args(args, alphabet)
    print(f"Reading {len(paths)} images with {model_path} ({engine}; {width.describe()}; {decoder.describe()})",
          file=sys.stderr, flush=True)
    results = recognise(paths, recognizer, decoder, width, args.batch_size, len(paths) > 1000)
    if not results:
        raise UserError(unreadable_error(paths, width))
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
