"""Build an LMDB in the data_lmdb_release layout from image files and their labels.

    # ground-truth file with "<image path relative to --input_dir><TAB><label>" lines
    python tools/create_lmdb_dataset.py --input_dir iiit5k --gt_file iiit5k/labels.txt --output IIIT5K_lmdb
    # MJSynth: the label is in the file name (.../123_Label_456.jpg); list the files in --gt_file
    python tools/create_lmdb_dataset.py --input_dir mjsynth --gt_file mjsynth/annotation_train.txt --output MJ_LMDB
    python tools/create_lmdb_dataset.py --input_dir mjsynth --output MJ_LMDB      # or scan the folder

Images are stored as they are (encoded bytes) after a decode check; entries
are skipped, counted and reported by reason.
"""
import argparse
import collections
import io
import os
import sys

from PIL import Image
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets.lmdb_format import LmdbWriter  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from utils.errors import UserError  # noqa: E402

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def mjsynth_label(path):
    """MJSynth names its files <index>_<Label>_<lexicon id>.jpg."""
    parts = os.path.splitext(os.path.basename(path))[0].split("_")
    return "_".join(parts[1:-1]) if len(parts) >= 3 else None


def parse_gt_line(line):
    """-> (relative path, label or None). `path<TAB>label`, else an MJSynth path (label in the name)."""
    line = line.rstrip("\r\n")
    if "\t" in line:
        path, label = line.split("\t", 1)
        return path, label
    path = line.split(" ")[0]  # MJSynth's annotation files add the lexicon index after a space
    return path, mjsynth_label(path)


def read_entries(input_dir, gt_file):
    if gt_file:
        if not os.path.isfile(gt_file):
            raise UserError(f"ground-truth file not found: {gt_file}")
        with open(gt_file, encoding="utf-8") as f:
            return [parse_gt_line(line) for line in f if line.strip()]
    found = []
    for root, _, files in os.walk(input_dir):
        for name in sorted(files):
            if name.lower().endswith(IMAGE_EXTS):
                rel = os.path.relpath(os.path.join(root, name), input_dir)
                found.append((rel, mjsynth_label(rel)))
    return sorted(found)


def check_image(data):
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            w, h = image.size
        return w > 0 and h > 0
    except Exception:  # PIL raises many types for broken files
        return False


def create_dataset(input_dir, gt_file, output, progress=True):
    """-> (written, Counter of skip reasons)."""
    if not os.path.isdir(input_dir):
        raise UserError(f"--input_dir not found: {input_dir}")
    entries = read_entries(input_dir, gt_file)
    if not entries:
        raise UserError(f"no entries: {gt_file or input_dir} lists no images")
    skipped = collections.Counter()
    with LmdbWriter(output) as writer:
        for rel, label in tqdm(entries, desc="create lmdb", unit="img", disable=not progress, mininterval=2):
            path = os.path.join(input_dir, rel)
            if label is None:
                skipped["no label (expected path<TAB>label or MJSynth N_Label_N.jpg)"] += 1
            elif not label.strip():
                skipped["empty label"] += 1
            elif not os.path.isfile(path):
                skipped["image file missing"] += 1
            else:
                with open(path, "rb") as f:
                    data = f.read()
                if not check_image(data):
                    skipped["image not decodable"] += 1
                else:
                    writer.add(data, label)
        written = writer.count
    return written, skipped


def get_args_parser():
    p = argparse.ArgumentParser(description="Create an LMDB (data_lmdb_release layout) from images + labels")
    p.add_argument("--input_dir", required=True, help="folder the image paths are relative to")
    p.add_argument("--gt_file", default=None, help="'path<TAB>label' lines or MJSynth paths; omit to scan --input_dir")
    p.add_argument("--output", required=True, help="new LMDB folder")
    return p


def main(args):
    written, skipped = create_dataset(args.input_dir, args.gt_file, args.output)
    print(f"Wrote {written} samples to {args.output}")
    for reason, n in skipped.most_common():
        print(f"Skipped {n}: {reason}")
    if not written:
        raise UserError("no sample was written")
    return written


if __name__ == "__main__":
    run_cli(main, get_args_parser())
