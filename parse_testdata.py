"""Evaluation LMDB -> one float32 .bin per sample + label.txt, for offline inference.

    python3 parse_testdata.py ./IIIT5K_lmdb input_bin

Writes <out_dir>/test_<i>.bin (float32 1x1x32x100, already normalised, i = the
LMDB index) and ./label.txt with lines `test_<i>.bin:<label>`. With
--dynamic_width each image is 1x1x32xW at its own width (datasets/transforms.Width),
for a model exported with pth2onnx.py --dynamic_width. Uses the same
reader, filtering and preprocessing as evaluation in main.py, so the offline
accuracy is comparable sample for sample.
"""
import os
import shutil

from tqdm import tqdm

from datasets.lmdb_dataset import LmdbDataset
from datasets.lmdb_format import image_key, open_lmdb
from datasets.transforms import RECIPE_IMG_W, SCALE_LIMITS, WIDTH_LIMITS, Width, decode_image
from models.crnn import output_length
from utils.cli import Parser, float_range, int_range, path_text, run_cli
from utils.errors import UserError
from utils.files import check_creatable_dir, check_output_file, make_dirs, remove_empty_dirs
from utils.label_converter import DEFAULT_ALPHABET, LabelConverter, load_alphabet


def get_args_parser():
    p = Parser(description="LMDB -> .bin inputs + label.txt", examples=__doc__)
    p.add_argument("lmdb", type=path_text, help="evaluation LMDB folder")
    p.add_argument("out_dir", type=path_text, help="folder for the .bin files (must be new or empty, unless --force)")
    p.add_argument("--label_file", type=path_text, default="label.txt")
    p.add_argument("--img_w", type=int_range(*WIDTH_LIMITS), default=RECIPE_IMG_W, help="the model's input width")
    p.add_argument("--dynamic_width", action="store_true",
                   help=f"each image at its own width ({Width().describe()}) instead of --img_w")
    p.add_argument("--width_scale", type=float_range(*SCALE_LIMITS), default=1.0,
                   help="with --dynamic_width: each image this much wider than its aspect ratio x 32, the model's "
                        "width_scale (weights/README.md)")
    p.add_argument("--alphabet", type=path_text, default=DEFAULT_ALPHABET, help="characters, or a file holding them")
    p.add_argument("--force", action="store_true", help="replace a non-empty out_dir")
    return p


def check_out_dir(path, force):
    """Before the LMDB is read: out_dir is a folder (or can be one) that is empty or may be replaced."""
    check_creatable_dir(path, "out_dir")
    if os.path.isdir(path) and os.listdir(path) and not force:
        raise UserError(f"{path} exists and is not empty: pick a new folder or pass --force")


def nothing_written(lmdb, dataset, first_bad, width):
    """The error for an LMDB with no sample to write: which samples and why."""
    s = dataset.stats
    if first_bad is None:
        return (f"{lmdb}: none of its {s['total']} samples has a usable label ({s['empty']} empty, {s['missing']} "
                "missing): nothing written")
    env, _ = open_lmdb(lmdb)
    with env.begin() as txn:
        buf = txn.get(image_key(first_bad))
    try:
        decode_image(buf, width)
        reason = "unreadable"
    except ValueError as e:
        reason = str(e)
    return (f"{lmdb}: none of its {len(dataset)} labelled images could be decoded (the first, "
            f"image-{first_bad:09d}: {reason}): nothing written")


def main(args):
    check_out_dir(args.out_dir, args.force)
    check_output_file(args.label_file, "--label_file")
    width = Width(scale=args.width_scale) if args.dynamic_width else Width.fixed(args.img_w)
    dataset = LmdbDataset(args.lmdb, LabelConverter(load_alphabet(args.alphabet)), output_length(width.max_w),
                          width=width, train=False)
    print(dataset.describe())
    if os.path.isdir(args.out_dir):
        shutil.rmtree(args.out_dir)
    created = make_dirs(args.out_dir, "out_dir")  # with its parents, all removed again if nothing is written
    written, first_bad = 0, None
    tmp_label = f"{args.label_file}.tmp{os.getpid()}"
    try:
        with open(tmp_label, "w", encoding="utf-8") as labels:
            for idx in tqdm(range(len(dataset)), desc="parse_testdata", unit="img", mininterval=2):
                image, label, key = dataset[idx]
                if image is None:
                    first_bad = first_bad or key
                    continue
                name = f"test_{key}.bin"
                image.numpy().astype("float32").tofile(os.path.join(args.out_dir, name))
                labels.write(f"{name}:{label}\n")
                written += 1
        if not written:
            raise UserError(nothing_written(args.lmdb, dataset, first_bad, width))
        os.replace(tmp_label, args.label_file)
    except BaseException:
        shutil.rmtree(args.out_dir, ignore_errors=True)
        remove_empty_dirs(created)
        raise
    finally:
        if os.path.exists(tmp_label):
            os.remove(tmp_label)
    print(f"Wrote {written} .bin files to {args.out_dir} and {args.label_file}; "
          f"skipped {dataset.bad_images} undecodable images and {dataset.stats['empty']} empty labels")
    return written


if __name__ == "__main__":
    run_cli(main, get_args_parser())
