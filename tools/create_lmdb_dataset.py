"""Build an LMDB in the data_lmdb_release layout from image files and their labels.

    # ground-truth file with "<image path relative to --input_dir><TAB><label>" lines
    python -m tools.create_lmdb_dataset --input_dir iiit5k --gt_file iiit5k/labels.txt --output IIIT5K_lmdb
    # MJSynth: the label is in the file name (.../123_Label_456.jpg); list the files in --gt_file
    python -m tools.create_lmdb_dataset --input_dir mjsynth --gt_file mjsynth/annotation_train.txt --output MJ_LMDB
    python -m tools.create_lmdb_dataset --input_dir mjsynth --output MJ_LMDB      # or scan the folder

Images are stored as they are (encoded bytes) after a decode check; entries
are skipped, counted and reported by reason.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m tools.create_lmdb_dataset "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import collections
import io
import os
import shutil

from PIL import Image
from tqdm import tqdm

from datasets.lmdb_format import LmdbWriter
from utils.cli import Parser, existing_dir, existing_file, path_text, run_cli
from utils.errors import UserError
from utils.files import check_creatable_dir, make_dirs, read_text, remove_empty_dirs

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
        return [parse_gt_line(line) for line in read_text(gt_file, "ground-truth file").splitlines() if line.strip()]
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
    """-> (written, Counter of skip reasons). Written to a temporary folder, renamed when complete: an
    interrupted or empty conversion leaves nothing behind."""
    entries = read_entries(input_dir, gt_file)
    if not entries:
        raise UserError(f"no entries: {gt_file or input_dir} lists no images")
    skipped = collections.Counter()
    tmp = f"{output.rstrip(os.sep)}.tmp{os.getpid()}"
    created = make_dirs(os.path.dirname(os.path.abspath(output)), "--output's folder")
    written = 0
    try:
        with LmdbWriter(tmp) as writer:
            for rel, label in tqdm(entries, desc="create lmdb", unit="img", disable=not progress, mininterval=2):
                reason = add_entry(writer, input_dir, rel, label)
                if reason:
                    skipped[reason] += 1
            written = writer.count
        if written:
            os.replace(tmp, output)  # POSIX rename also replaces an existing empty folder
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not written:  # the folders made for an output that was never written
            remove_empty_dirs(created)
    return written, skipped


def add_entry(writer, input_dir, rel, label):
    """Add one image; -> the reason it was skipped, or None."""
    path = os.path.join(input_dir, rel)
    if label is None:
        return "no label (expected path<TAB>label or MJSynth N_Label_N.jpg)"
    if not label.strip():
        return "empty label"
    if not os.path.isfile(path):
        return "image file missing"
    with open(path, "rb") as f:
        data = f.read()
    if not check_image(data):
        return "image not decodable"
    writer.add(data, label)
    return None


def check_output(output):
    check_creatable_dir(output, "--output")
    if os.path.isdir(output) and os.listdir(output):
        raise UserError(f"--output {output} exists and is not empty (an existing LMDB is never overwritten): "
                        "remove it or pick another folder")


def get_args_parser():
    p = Parser(description="Create an LMDB (data_lmdb_release layout) from images + labels", examples=__doc__)
    p.add_argument("--input_dir", type=existing_dir, required=True, help="folder the image paths are relative to")
    p.add_argument("--gt_file", type=existing_file, default=None,
                   help="'path<TAB>label' lines or MJSynth paths; omit to scan --input_dir")
    p.add_argument("--output", type=path_text, required=True, help="new LMDB folder")
    return p


def main(args):
    check_output(args.output)
    written, skipped = create_dataset(args.input_dir, args.gt_file, args.output)
    for reason, n in skipped.most_common():
        print(f"Skipped {n}: {reason}")
    if not written:
        raise UserError(f"no sample was written (all {sum(skipped.values())} entries skipped): nothing created "
                        f"at {args.output}")
    print(f"Wrote {written} samples to {args.output}")
    return written


if __name__ == "__main__":
    run_cli(main, get_args_parser())
