"""Evaluation LMDB -> one float32 .bin per sample + label.txt, for offline inference.

    python3 parse_testdata.py ./IIIT5K_lmdb input_bin

Writes <out_dir>/test_<i>.bin (float32 1x1x32x100, already normalised, i = the
LMDB index) and ./label.txt with lines `test_<i>.bin:<label>`. Uses the same
reader, filtering and preprocessing as evaluation in main.py, so the offline
accuracy is comparable sample for sample.
"""
import argparse
import os
import shutil

from tqdm import tqdm

from datasets.lmdb_dataset import LmdbDataset
from models.crnn import output_length
from utils.cli import run_cli
from utils.errors import UserError
from utils.label_converter import DEFAULT_ALPHABET, LabelConverter, load_alphabet


def get_args_parser():
    p = argparse.ArgumentParser(description="LMDB -> .bin inputs + label.txt")
    p.add_argument("lmdb", help="evaluation LMDB folder")
    p.add_argument("out_dir", help="folder for the .bin files (must be new or empty, unless --force)")
    p.add_argument("--label_file", default="label.txt")
    p.add_argument("--img_w", type=int, default=100)
    p.add_argument("--alphabet", default=DEFAULT_ALPHABET)
    p.add_argument("--force", action="store_true", help="replace a non-empty out_dir")
    return p


def main(args):
    dataset = LmdbDataset(args.lmdb, LabelConverter(load_alphabet(args.alphabet)), output_length(args.img_w),
                          img_w=args.img_w, train=False)
    print(dataset.describe())
    if os.path.isdir(args.out_dir) and os.listdir(args.out_dir):
        if not args.force:
            raise UserError(f"{args.out_dir} exists and is not empty: pick a new folder or pass --force")
        shutil.rmtree(args.out_dir)
    os.makedirs(args.out_dir, exist_ok=True)
    written = 0
    tmp_label = f"{args.label_file}.tmp{os.getpid()}"
    with open(tmp_label, "w", encoding="utf-8") as labels:
        for idx in tqdm(range(len(dataset)), desc="parse_testdata", unit="img", mininterval=2):
            image, label, key = dataset[idx]
            if image is None:
                continue
            name = f"test_{key}.bin"
            image.numpy().astype("float32").tofile(os.path.join(args.out_dir, name))
            labels.write(f"{name}:{label}\n")
            written += 1
    os.replace(tmp_label, args.label_file)
    print(f"Wrote {written} .bin files to {args.out_dir} and {args.label_file}; "
          f"skipped {dataset.bad_images} undecodable images and {dataset.stats['empty']} empty labels")
    return written


if __name__ == "__main__":
    run_cli(main, get_args_parser())
