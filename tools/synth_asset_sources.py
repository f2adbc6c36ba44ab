"""What tools/pack_synth_assets.py takes from each source: font files, photos and their licence.

A source is a Debian package (.deb), an npm package (.tgz, e.g. one of @fontsource's Google Fonts
packages) or a folder (an installed package, the trdg wheel). Each is opened into a Source: its
name, its licence text as the package states it, its font files and its photos.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m tools.synth_asset_sources "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import glob
import json
import os
import re
import subprocess
import tarfile
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from datasets.synth.assets import font_files
from utils.errors import UserError

PHOTO_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".pat")
NOT_PHOTOS = re.compile(r"screenshot|thumb|preview|icon|logo|splash|symbolic|emblem|cursor|button", re.I)
# Where packages keep pictures meant to be looked at as a whole surface (not icons or UI art).
PHOTO_PLACES = re.compile(r"background|wallpaper|pattern|texture|paper", re.I)
RESOLUTION_NAME = re.compile(r"^(\d+)x(\d+)\.[a-z]+$")  # KDE's one-picture-many-sizes folders
MIN_PHOTO_SIDE = 64  # GIMP's texture patterns are 64-256 px; wallpapers are thousands
# fontsource packages hold every subset and weight; the Latin subset's regular, bold and italic do.
NPM_FONT = re.compile(r"-latin-(400-normal|700-normal|400-italic)\.woff$")


@dataclass
class Source:
    name: str
    licence: str
    fonts: list = field(default_factory=list)
    photos: list = field(default_factory=list)


def _debian_licence(root, package):
    path = os.path.join(root, "usr", "share", "doc", package, "copyright")
    if not os.path.isfile(path):
        return "unknown (no copyright file)"
    with open(path, encoding="utf-8", errors="replace") as f:
        found = re.findall(r"^License:\s*(\S.*)$", f.read(), re.M)
    names = list(dict.fromkeys(n.strip() for n in found))
    return " / ".join(names[:4]) if names else f"see /usr/share/doc/{package}/copyright"


def _folder_licence(root):
    for name in ("package.json",):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return str(json.load(f).get("license", "unknown"))
    for pattern in ("LICENSE*", "OFL*", "COPYING*", "*/copyright"):
        hits = sorted(glob.glob(os.path.join(glob.escape(root), pattern)))
        if hits:
            return f"see {os.path.relpath(hits[0], root)}"
    return "unknown"


def photos_in(root, places=PHOTO_PLACES):
    """Pictures under `root` worth cropping backgrounds from (in a folder or file named like a
    background); of a folder of one picture at many resolutions (KDE's contents/images/1920x1080.jpg
    ...), the largest only."""
    found, by_size = [], {}
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(folder, name), root)
            if not name.lower().endswith(PHOTO_EXTS) or NOT_PHOTOS.search(name) or not places.search(rel):
                continue
            match = RESOLUTION_NAME.match(name)
            path = os.path.join(folder, name)
            if match:
                pixels = int(match.group(1)) * int(match.group(2))
                if pixels > by_size.get(folder, (0, ""))[0]:
                    by_size[folder] = (pixels, path)
            else:
                found.append(path)
    return sorted(found + [p for _, p in by_size.values()])


def open_source(path, work):
    """A .deb, an npm .tgz or a folder -> Source (packages are unpacked under `work`)."""
    base = os.path.basename(os.path.normpath(path))
    if path.endswith(".deb"):
        package = base.split("_")[0]
        root = os.path.join(work, package)
        if not os.path.isdir(root):  # unpacked once, renamed into place when whole
            os.makedirs(root + ".part", exist_ok=True)
            r = subprocess.run(["dpkg-deb", "-x", path, root + ".part"], capture_output=True, text=True)
            if r.returncode:
                raise UserError(f"cannot unpack {path}: {r.stderr.strip() or 'dpkg-deb failed'}")
            os.rename(root + ".part", root)
        return Source(package, _debian_licence(root, package), font_files(root), photos_in(root))
    if path.endswith(".tgz"):
        root = os.path.join(work, base[:-4])
        if not os.path.isdir(root):
            with tarfile.open(path) as tar:
                tar.extractall(root + ".part", filter="data")
            os.rename(root + ".part", root)
        root = os.path.join(root, "package")
        with open(os.path.join(root, "package.json"), encoding="utf-8") as f:
            meta = json.load(f)
        fonts = [p for p in font_files(root) if NPM_FONT.search(p)]
        return Source(meta.get("name", base), str(meta.get("license", "unknown")), fonts, [])
    if os.path.isdir(path):
        return Source(base, _folder_licence(path), font_files(path), photos_in(path))
    raise UserError(f"{path}: expected a .deb, an npm .tgz or a folder")


def read_pattern(path):
    """A GIMP pattern (.pat: a big-endian header, a name, raw pixels) -> RGB image."""
    with open(path, "rb") as f:
        data = f.read()
    size, _, width, height, depth = np.frombuffer(data[:20], ">u4")
    if data[20:24] != b"GPAT" or depth not in (1, 2, 3, 4):
        raise OSError("not a GIMP pattern")
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[int(depth)]
    return Image.frombytes(mode, (int(width), int(height)), data[size:size + width * height * depth]).convert("RGB")


def load_photo(path, max_side):
    """The picture as RGB, at most `max_side` px on its long side; None if it is too small or unreadable."""
    try:
        image = read_pattern(path) if path.lower().endswith(".pat") else Image.open(path)
        image.draft("RGB", (max_side, max_side))
        image = image.convert("RGB")
    except (OSError, ValueError, SyntaxError):
        return None
    if min(image.size) < MIN_PHOTO_SIDE:
        return None
    image.thumbnail((max_side, max_side))
    return image


def photo_key(image):
    """Equal for the same picture at another size or quality: a coarse 16 x 16 grey thumbnail."""
    small = np.asarray(image.convert("L").resize((16, 16), Image.BILINEAR), np.uint8)
    return (small // 32).tobytes() + bytes(str(round(image.size[0] / image.size[1], 1)), "ascii")
