"""Fonts, words and background photos for the synthetic generator, found on this machine.

Nothing is downloaded. The assets folder is `--synth_assets DIR`, else
$CRNN_SYNTH_ASSETS, else the installed trdg wheel (`pip install --no-deps
trdg==1.8.0`); it has trdg's layout: fonts/latin/*.ttf (about 100 Latin
families), dicts/en.txt and images/*.jpg (tools/pack_synth_assets.py copies
them out of the wheel, ~26 MB, for machines where it cannot be installed).
matplotlib's bundled DejaVu family and the system font folders add fonts.
Without an assets folder the generator still runs: system fonts, a built-in
list of common words and random letter strings, flat/gradient/noise
backgrounds.
"""
import glob
import importlib.util
import os
import string

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from datasets.synth_render import SynthRenderer
from utils.errors import UserError

ASSETS_ENV = "CRNN_SYNTH_ASSETS"
SYSTEM_FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"),
                    "/Library/Fonts", "/System/Library/Fonts", "C:/Windows/Fonts"]
REQUIRED_GLYPHS = string.ascii_letters + string.digits


def _package_dir(name):
    spec = importlib.util.find_spec(name)
    return os.path.dirname(spec.origin) if spec and spec.origin else None


def assets_dir(explicit=None):
    """--synth_assets, else $CRNN_SYNTH_ASSETS, else the trdg package folder; None when there is none."""
    path = explicit or os.environ.get(ASSETS_ENV)
    if not path:
        return _package_dir("trdg")
    if not os.path.isdir(path):
        raise UserError(f"synthetic assets folder not found: {path} (--synth_assets or ${ASSETS_ENV}: a folder with "
                        "fonts/latin/, dicts/en.txt and images/, made by tools/pack_synth_assets.py)")
    return path


def font_candidates(assets=None):
    dirs = []
    root = assets_dir(assets)
    if root:
        dirs.append(os.path.join(root, "fonts", "latin"))
    mpl = _package_dir("matplotlib")
    if mpl:
        dirs.append(os.path.join(mpl, "mpl-data", "fonts", "ttf"))
    dirs += SYSTEM_FONT_DIRS
    paths = []
    for d in dirs:
        for ext in ("ttf", "otf", "TTF", "OTF"):
            paths += glob.glob(os.path.join(d, "**", f"*.{ext}"), recursive=True)
    # The same file can be reached twice (e.g. DejaVu in matplotlib and /usr/share).
    unique = {}
    for p in sorted(paths):
        unique.setdefault(os.path.basename(p).lower(), p)
    return sorted(unique.values())


def _glyph(font, ch):
    image = Image.new("L", (64, 64))
    ImageDraw.Draw(image).text((8, 8), ch, font=font, fill=255)
    return np.asarray(image)


def font_covers_alphanumerics(path):
    """True when the font draws every letter and digit (not its 'missing glyph' box)."""
    try:
        font = ImageFont.truetype(path, 28)
    except OSError:
        return False
    missing = _glyph(font, "\uffff")
    for ch in REQUIRED_GLYPHS:
        g = _glyph(font, ch)
        if not g.any() or np.array_equal(g, missing):
            return False
    return True


def find_fonts(assets=None):
    fonts = [p for p in font_candidates(assets) if font_covers_alphanumerics(p)]
    if not fonts:
        raise UserError("no usable .ttf/.otf font for the synthetic data: pip install --no-deps trdg==1.8.0, "
                        "give --synth_assets, or install any Latin font (e.g. apt-get install fonts-dejavu-core)")
    return fonts


def find_words(assets=None, max_len=16):
    root = assets_dir(assets)
    path = os.path.join(root, "dicts", "en.txt") if root else None
    if not path or not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        words = {w.strip() for w in f}
    return sorted(w for w in words if w.isascii() and w.isalpha() and 1 <= len(w) <= max_len)


def find_backgrounds(assets=None, max_side=480):
    """Grayscale photos (uint8 arrays) to crop backgrounds from; empty list if none ship."""
    root = assets_dir(assets)
    photos = []
    for p in sorted(glob.glob(os.path.join(root, "images", "*.jpg"))) if root else []:
        image = Image.open(p).convert("L")
        image.thumbnail((max_side, max_side))
        photos.append(np.asarray(image))
    return photos


def load_renderer(assets=None):
    """A SynthRenderer with every asset this machine has (fonts are checked glyph by glyph, ~1 s)."""
    return SynthRenderer(find_fonts(assets), find_words(assets), find_backgrounds(assets))
