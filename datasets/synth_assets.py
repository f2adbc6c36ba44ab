"""Fonts, words and background photos for the synthetic generator, found on this machine.

Nothing is downloaded: fonts come from the trdg wheel (about 100 Latin
families, `pip install --no-deps trdg==1.8.0`), matplotlib's bundled DejaVu
family when installed, and the system font folders; words from trdg's English
dictionary when present, else from random letter strings.
"""
import glob
import importlib.util
import os
import string

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SYSTEM_FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"),
                    "/Library/Fonts", "/System/Library/Fonts", "C:/Windows/Fonts"]
REQUIRED_GLYPHS = string.ascii_letters + string.digits


def _package_dir(name):
    spec = importlib.util.find_spec(name)
    return os.path.dirname(spec.origin) if spec and spec.origin else None


def font_candidates():
    dirs = []
    trdg = _package_dir("trdg")
    if trdg:
        dirs.append(os.path.join(trdg, "fonts", "latin"))
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


def find_fonts():
    fonts = [p for p in font_candidates() if font_covers_alphanumerics(p)]
    if not fonts:
        raise RuntimeError("no usable .ttf/.otf font found: pip install --no-deps trdg==1.8.0 "
                           "(or install any Latin font, e.g. apt-get install fonts-dejavu-core)")
    return fonts


def find_words(max_len=16):
    trdg = _package_dir("trdg")
    path = os.path.join(trdg, "dicts", "en.txt") if trdg else None
    if not path or not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        words = {w.strip() for w in f}
    return sorted(w for w in words if w.isascii() and w.isalpha() and 1 <= len(w) <= max_len)


def find_backgrounds(max_side=480):
    """Grayscale photos (uint8 arrays) to crop backgrounds from; empty list if none ship."""
    trdg = _package_dir("trdg")
    photos = []
    for p in sorted(glob.glob(os.path.join(trdg, "images", "*.jpg"))) if trdg else []:
        image = Image.open(p).convert("L")
        image.thumbnail((max_side, max_side))
        photos.append(np.asarray(image))
    return photos
