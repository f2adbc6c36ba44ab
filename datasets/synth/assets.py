"""Fonts, words and background photos for the synthetic generator, found on this machine.

Nothing is downloaded. The assets folder is `--synth_assets DIR`, else $CRNN_SYNTH_ASSETS, else the
installed trdg wheel (`pip install --no-deps trdg==1.8.0`). It has trdg's layout: fonts/latin/
(font files), dicts/en.txt and images/*.jpg. A folder made by tools/pack_synth_assets.py also holds
fonts/latin/MANIFEST.tsv, the fonts already checked to draw every letter and digit: those fonts
alone are used, and a worker starts in well under a second instead of checking 1,000 fonts glyph by
glyph. Without a manifest (the trdg wheel) the folder's fonts, matplotlib's DejaVu family and the
system font folders are checked at start-up. Without an assets folder the generator still runs:
system fonts, a built-in list of common words and random letter strings, no photo backgrounds.

Fonts are ordered by file name, never by install path, so the same fonts installed elsewhere give
the same font for the same sample.
"""
import glob
import importlib.util
import os
import string

import numpy as np
from PIL import Image, ImageFont

from datasets.synth.coverage import drawn, fonts_for
from datasets.synth.render import SynthRenderer
from utils.errors import NotFoundError, UserError
from utils.files import read_text
from utils.label_converter import DEFAULT_ALPHABET

ASSETS_ENV = "CRNN_SYNTH_ASSETS"
SYSTEM_FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"),
                    "/Library/Fonts", "/System/Library/Fonts", "C:/Windows/Fonts"]
FONT_EXTS = ("ttf", "otf", "ttc", "woff", "woff2")  # .ttc: a collection, its first face is drawn
MANIFEST = "MANIFEST.tsv"
REQUIRED_GLYPHS = string.ascii_letters + string.digits
MAX_WORD = 16  # the longest list word the generator writes (a label holds at most text.MAX_LABEL characters)
PACK_HINT = "make one with: python -m tools.pack_synth_assets DIR (see its --help)"


def _package_dir(name):
    spec = importlib.util.find_spec(name)
    return os.path.dirname(spec.origin) if spec and spec.origin else None


def _has_files(path):
    return any(files for _, _, files in os.walk(path))


def assets_dir(explicit=None):
    """--synth_assets, else $CRNN_SYNTH_ASSETS, else the trdg package folder; None when there is none."""
    path = explicit or os.environ.get(ASSETS_ENV)
    if not path:
        return _package_dir("trdg")
    if not os.path.isdir(path):
        raise NotFoundError(f"synthetic assets folder not found: {path} (--synth_assets or ${ASSETS_ENV}): {PACK_HINT}")
    if not _has_files(path):
        raise UserError(f"synthetic assets folder {path} is empty (--synth_assets or ${ASSETS_ENV}): {PACK_HINT}")
    return path


def font_order(path):
    """Sort key: the file name (case-folded first), never the folder it was installed in."""
    name = os.path.basename(path)
    return name.lower(), name


def font_files(folder):
    """Font files under `folder` (recursively), ordered by file name."""
    paths = []
    for ext in FONT_EXTS:
        for case in (ext, ext.upper()):
            paths += glob.glob(os.path.join(glob.escape(folder), "**", f"*.{case}"), recursive=True)
    return sorted({p for p in paths if os.path.isfile(p)}, key=font_order)  # not a dangling link


def font_candidates(assets=None, scripts="latin"):
    """Fonts of the assets folder (its fonts/latin/, or with scripts="all" every fonts/ subfolder: trdg's
    cn/ and ja/ too), matplotlib and the system folders; one file per name, the first folder in that order
    winning (DejaVu can be in matplotlib and /usr/share both), by file name."""
    dirs = []
    root = assets_dir(assets)
    if root:
        dirs.append(os.path.join(root, "fonts", "latin" if scripts == "latin" else ""))
    mpl = _package_dir("matplotlib")
    if mpl:
        dirs.append(os.path.join(mpl, "mpl-data", "fonts", "ttf"))
    unique = {}
    for d in dirs + SYSTEM_FONT_DIRS:
        for p in font_files(d):
            unique.setdefault(os.path.basename(p).lower(), p)
    return sorted(unique.values(), key=font_order)


def font_covers_alphanumerics(path):
    """True when FreeType opens the font and it draws every letter and digit (not its 'missing' box)."""
    try:
        return drawn(ImageFont.truetype(path, 28), REQUIRED_GLYPHS) == set(REQUIRED_GLYPHS)
    except (OSError, ValueError):  # not a font FreeType can read, or a broken one
        return False


def usable_fonts(paths):
    """-> (the fonts that draw every letter and digit, how many were skipped)."""
    fonts = [p for p in paths if font_covers_alphanumerics(p)]
    return fonts, len(paths) - len(fonts)


def read_manifest(root):
    """The fonts listed in root/fonts/latin/MANIFEST.tsv (name, bytes, family), each checked to exist
    with its size; None when the folder has no manifest."""
    folder = os.path.join(root, "fonts", "latin")
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return None
    fonts = []
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines()[1:]:
            name, size = line.split("\t")[:2]
            font = os.path.join(folder, name)
            if not os.path.isfile(font) or os.path.getsize(font) != int(size):
                raise UserError(f"{path}: {name} is missing or changed since it was packed: {PACK_HINT}")
            fonts.append(font)
    return sorted(fonts, key=font_order)


def find_fonts(assets=None, alphabet=None):
    """The fonts the generator draws from: for the default alphabet those that draw every letter and digit
    (the manifest's, when the folder has one); for another alphabet every font of the folder and the system,
    each used for the characters it draws (coverage.py)."""
    if alphabet is not None:
        return font_candidates(assets, scripts="all")
    root = assets_dir(assets)
    fonts = read_manifest(root) if root else None
    if fonts is None:
        fonts, _ = usable_fonts(font_candidates(assets))
    if not fonts:
        raise UserError("no usable .ttf/.otf font for the synthetic data: pip install --no-deps trdg==1.8.0, "
                        "give --synth_assets, or install any Latin font (e.g. apt-get install fonts-dejavu-core)")
    return fonts


def read_words(assets=None, words=None):
    """-> (the word list's path or None, its distinct entries in file order): `words` (a file, or the name of one
    of the assets folder's dicts/, e.g. cn), else the folder's English list; ([], None) without one."""
    root = assets_dir(assets)
    path = os.path.join(root, "dicts", f"{words or 'en'}.txt") if root else None
    if words and os.path.isfile(words):
        path = words
    elif words and (not path or not os.path.isfile(path)):
        lists = glob.glob(os.path.join(root, "dicts", "*.txt")) if root else []
        known = sorted(os.path.basename(p)[:-4] for p in lists)
        raise NotFoundError(f"--synth_words {words}: no such file, nor a word list of the assets folder "
                        f"({', '.join(known) or 'none: install trdg or give --synth_assets'})")
    if not path or not os.path.isfile(path):
        return None, []
    entries = (line.split("\t")[0].strip() for line in read_text(path, "word list").splitlines())
    return path, list(dict.fromkeys(e for e in entries if e))


def word_fits(word, alphabet=None, max_len=MAX_WORD):
    """Whether the generator can write `word` and label it: at most max_len characters, no space; for the default
    alphabet (None) printable ASCII holding a letter or digit (punctuation is drawn, not labelled), for another
    alphabet every character in it (case folded for a one-case alphabet)."""
    if not word or len(word) > max_len or any(c.isspace() for c in word):
        return False
    if alphabet is None:
        return word.isascii() and word.isprintable() and any(c.isalnum() for c in word)
    if not (any(c.isupper() for c in alphabet) and any(c.islower() for c in alphabet)):
        word = word.upper() if alphabet == alphabet.upper() else word.lower()
    return set(word) <= set(alphabet)


def find_words(assets=None, words=None, alphabet=None):
    """The words of the list (read_words) that the generator can write in `alphabet` (word_fits); the default
    English list gives its plain ASCII words."""
    _, entries = read_words(assets, words)
    plain = words is None  # the assets' English list: its plain words, not its abbreviations and codes
    return sorted(w for w in entries if word_fits(w, alphabet) and (not plain or w.isascii() and w.isalpha()))


def check_generator(assets=None, alphabet=None, words=None, log=print):
    """Every input of the generator, checked once in the process that starts the run, before any data is built
    or any worker starts (a worker that met the problem would fail in its own process, where a pool starts it
    again and again): the assets folder, fonts that draw the alphabet, and a word list (--synth_words) that is
    UTF-8 text holding words the alphabet can write. A list of which only some words fit is a warning that
    counts them."""
    alphabet = None if alphabet in (None, DEFAULT_ALPHABET) else alphabet
    fonts = find_fonts(assets, alphabet)
    if alphabet is not None:
        fonts_for(fonts, alphabet)
    if words is None:
        return
    path, entries = read_words(assets, words)
    if not entries:
        raise UserError(f"--synth_words {path} holds no words: give a UTF-8 text file with one word a line")
    kept = [w for w in entries if word_fits(w, alphabet)]
    which = "the default alphabet 0-9a-z" if alphabet is None else f"--alphabet ({len(alphabet)} characters)"
    if not kept:
        shown = ", ".join(repr(w[:20]) for w in entries[:3])
        raise UserError(f"none of the {len(entries)} words of --synth_words {path} can be written in {which} "
                        f"(e.g. {shown}; a word must be at most {MAX_WORD} characters, without spaces, each one "
                        "in the alphabet): give a word list in the alphabet's characters, or the --alphabet of its "
                        "language")
    if len(kept) < len(entries):
        log(f"warning: {len(kept)} of {len(entries)} words of --synth_words {path} can be written in {which}; "
            "the generator leaves the others out")


def find_backgrounds(assets=None, max_side=400):
    """RGB photos (uint8 [H, W, 3] arrays) to crop backgrounds from; empty list if none ship."""
    root = assets_dir(assets)
    photos = []
    for p in sorted(glob.glob(os.path.join(glob.escape(root), "images", "*.jpg"))) if root else []:
        image = Image.open(p)
        image.draft("RGB", (max_side, max_side))  # decode a big JPEG at a fraction of its size: fast
        image = image.convert("RGB")
        image.thumbnail((max_side, max_side))
        photos.append(np.asarray(image))
    return photos


def load_renderer(assets=None, features=None, alphabet=None, words=None):
    """A SynthRenderer with every asset this machine has; `features` overrides the probability table
    (None: $CRNN_SYNTH_FEATURES); `alphabet` (None: the default 0-9a-z) is what it writes, `words` its word
    list (find_words)."""
    alphabet = None if alphabet in (None, DEFAULT_ALPHABET) else alphabet
    return SynthRenderer(find_fonts(assets, alphabet), find_words(assets, words, alphabet), find_backgrounds(assets),
                         features, alphabet)
