"""Which characters of an alphabet each font really draws, read once per font and alphabet and cached.

A character is drawn when FreeType renders ink for it that is not the font's "missing glyph" box. A
Unicode block is probed first (16 characters spread over it): a font that draws none of them is taken
not to draw that block, so a Latin face is not asked about 3,000 CJK characters one by one. A font
whose lower-case letters are its capitals (all-caps display faces) is marked `caps_only`: the
generator then writes its words in capitals, so that the label says what the image shows. Results go
to <cache root>/font_coverage/, keyed by the font's path, size, modification time and the alphabet.
"""
import hashlib
import json
import os
import unicodedata

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from utils.errors import UserError

PROBE = 16
CASE_PAIRS = "aegmr"


def cache_root():
    return os.environ.get("CRNN_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "crnn_pytorch")


def glyph(font, ch):
    """The character drawn in white on a 64x64 black square (uint8)."""
    image = Image.new("L", (64, 64))
    ImageDraw.Draw(image).text((8, 8), ch, font=font, fill=255)
    return np.asarray(image)


def _block(ch):
    """A coarse Unicode block: the 256-codepoint page, split by script for the common Latin range."""
    name = unicodedata.name(ch, "")
    return (ord(ch) >> 8, name.split(" ")[0] if ord(ch) < 0x300 else "")


def drawn(font, chars):
    """The characters of `chars` the font draws (ink that is not its missing-glyph box), probed block by block."""
    missing = glyph(font, "\uffff")
    by_block = {}
    for ch in chars:
        by_block.setdefault(_block(ch), []).append(ch)

    seen = {}

    def draws(ch):
        if ch not in seen:
            g = glyph(font, ch)
            seen[ch] = bool(g.any()) and not np.array_equal(g, missing)
        return seen[ch]
    covered = set()
    for members in by_block.values():
        probe = members if len(members) <= PROBE else [members[i * len(members) // PROBE] for i in range(PROBE)]
        if any(draws(ch) for ch in probe):
            covered.update(ch for ch in members if draws(ch))
    return covered


def _shape(font, ch):
    g = glyph(font, ch)
    box = Image.fromarray(g).getbbox()
    if box is None:
        return None
    return np.asarray(Image.fromarray(g).crop(box).resize((16, 16), Image.BILINEAR), np.float32) / 255


def _caps_only(font, covered):
    """True when most lower-case letters have the shape of their capitals (small caps count too)."""
    pairs = [(c, c.upper()) for c in CASE_PAIRS if c in covered and c.upper() in covered]
    if len(pairs) < 3:
        return False
    same = 0
    for lower, upper in pairs:
        a, b = _shape(font, lower), _shape(font, upper)
        same += a is not None and b is not None and float(np.abs(a - b).mean()) < 0.08
    return same >= len(pairs) - 1


def font_coverage(path, alphabet):
    """-> (the characters of `alphabet` the font draws, caps_only); (empty, False) for a font FreeType cannot
    open. Cached on disk."""
    stat = os.stat(path)
    key = hashlib.sha256(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{alphabet}".encode()).hexdigest()
    cache = os.path.join(cache_root(), "font_coverage", f"{key[:24]}.json")
    try:
        with open(cache, encoding="utf-8") as f:
            entry = json.load(f)
        return frozenset(entry["covered"]), entry["caps_only"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        font = ImageFont.truetype(path, 28)
        covered = drawn(font, alphabet)
        caps_only = _caps_only(font, covered)
    except (OSError, ValueError):  # not a font FreeType can read, or a broken one
        covered, caps_only = set(), False
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    tmp = f"{cache}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"covered": "".join(sorted(covered)), "caps_only": caps_only}, f, ensure_ascii=False)
    os.replace(tmp, cache)
    return frozenset(covered), caps_only


def fonts_for(fonts, alphabet):
    """-> (the fonts that draw some of `alphabet`, {font: (characters it draws, caps_only)}); a UserError naming
    the characters no font draws."""
    coverage = {p: font_coverage(p, alphabet) for p in fonts}
    usable = [p for p in fonts if coverage[p][0]]
    covered = set().union(*(coverage[p][0] for p in usable)) if usable else set()
    missing = [c for c in alphabet if c not in covered and not c.isspace()]
    if missing:
        shown = "".join(missing[:40]) + (f" ... ({len(missing)} in all)" if len(missing) > 40 else "")
        raise UserError(f"no font of the synthetic generator draws {shown!r} of --alphabet (of {len(fonts)} fonts "
                        f"checked): add fonts that do, e.g. python -m tools.pack_synth_assets DIR --apt "
                        "fonts-noto-cjk --alphabet FILE, then --synth_assets DIR")
    return usable, coverage
