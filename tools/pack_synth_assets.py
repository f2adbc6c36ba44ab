"""Copy the synthetic generator's assets out of the trdg wheel into a folder (~26 MB).

    python tools/pack_synth_assets.py ../crnn_assets
    python main.py --synth_stream --synth_assets ../crnn_assets     # on a machine without trdg
    CRNN_SYNTH_ASSETS=../crnn_assets python main.py                 # the same, by environment

The folder has trdg's own layout (fonts/latin/*.ttf, dicts/en.txt,
images/*.jpg): a generator reading it draws from the same fonts, words and
photos as one reading the installed wheel. (Which font a given sample uses
depends on the sorted paths of all fonts found, so two installs in different
places draw the same distribution, not always the same image.)
"""
import glob
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets.synth_assets import _package_dir  # noqa: E402
from utils.cli import Parser, path_text, run_cli  # noqa: E402
from utils.errors import UserError  # noqa: E402
from utils.files import prepare_output_dir  # noqa: E402

PARTS = [("fonts/latin", "*.ttf"), ("fonts/latin", "*.otf"), ("dicts", "en.txt"), ("images", "*.jpg")]


def get_args_parser():
    p = Parser(description="Copy the synthetic generator's assets (fonts, English words, photos) out of trdg")
    p.add_argument("output", type=path_text, help="folder to create (or an empty one)")
    return p


def main(args):
    trdg = _package_dir("trdg")
    if trdg is None:
        raise UserError("trdg is not installed here: pip install --no-deps trdg==1.8.0, then run this again")
    if os.path.isdir(args.output) and os.listdir(args.output):
        raise UserError(f"{args.output} is not empty: give a new folder")
    prepare_output_dir(args.output, "output folder")
    total = 0
    for sub, pattern in PARTS:
        os.makedirs(os.path.join(args.output, sub), exist_ok=True)
        for path in sorted(glob.glob(os.path.join(trdg, sub, pattern))):
            shutil.copy2(path, os.path.join(args.output, sub))
            total += os.path.getsize(path)
    print(f"Copied {total / 1e6:.1f} MB of fonts, words and photos from {trdg} to {args.output}")
    return total


if __name__ == "__main__":
    run_cli(main, get_args_parser())
