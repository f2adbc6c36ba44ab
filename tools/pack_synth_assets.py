"""Gather the synthetic generator's assets into one folder: fonts, English words, photos, licences.

    python -m tools.pack_synth_assets ../crnn_assets                     # trdg's ~100 fonts, words, 4 photos
    python -m tools.pack_synth_assets ../crnn_assets_v4 --from_list tools/synth_assets_v4.txt   # v4
    python -m tools.pack_synth_assets ../crnn_assets_zh --apt fonts-wqy-zenhei fonts-arphic-uming --alphabet zh.txt
    python main.py --synth_stream --synth_assets ../crnn_assets_v4
    CRNN_SYNTH_ASSETS=../crnn_assets_v4 python main.py                # the same, by environment

Sources: the installed trdg wheel (its fonts, dicts/en.txt and photos; --no_trdg leaves it out),
packages fetched here with --apt (apt-get download: Debian's fonts-* and wallpaper packages) and
--npm (npm pack: @fontsource/* Google Fonts) or named in --from_list, and --packages: .deb or npm .tgz files already
fetched, or folders (an installed package). Nothing is installed on the system. Every font is opened
and checked to draw a-z, A-Z and 0-9; one FreeType cannot open or that lacks a glyph is skipped and
counted, and so is a second file of the same family and style; with --alphabet, a font that lacks
Latin but draws characters of that alphabet (a CJK face) goes to fonts/other/ instead, and the tool
names the characters of the alphabet that no packed font draws. The Latin fonts are listed in
fonts/latin/MANIFEST.tsv, so a loader worker starts without checking them again. Photos are
de-duplicated (the same picture at several sizes counts once) and stored at most 400 px on a side.
LICENSES.tsv names each file's package and licence. Fonts are named by file name (a clash gets the
package's name in front), which is also the order the generator draws them in. The folder is built
as OUTPUT.part and renamed when complete.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m tools.pack_synth_assets "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import os
import re
import shutil
import subprocess
import tempfile

from PIL import ImageFont

from datasets.synth.assets import MANIFEST, _package_dir, font_covers_alphanumerics, font_order
from datasets.synth.coverage import font_coverage
from tools.synth_asset_sources import load_photo, open_source, photo_key, photos_in
from utils.cli import Parser, existing_file, int_range, path_text, run_cli
from utils.errors import NotFoundError, UserError
from utils.files import prepare_output_dir, read_text
from utils.label_converter import load_alphabet


def get_args_parser():
    p = Parser(description="Gather the synthetic generator's fonts, words and photos into a folder", examples=__doc__)
    p.add_argument("output", type=path_text, help="folder to create (or an empty one)")
    p.add_argument("--apt", nargs="+", default=[], metavar="PKG", help="Debian packages to fetch (apt-get download)")
    p.add_argument("--npm", nargs="+", default=[], metavar="PKG", help="npm packages to fetch (npm pack)")
    p.add_argument("--from_list", type=existing_file, default=None,
                   help="a file of packages to fetch, one 'apt NAME' or 'npm NAME' a line (# comments)")
    p.add_argument("--packages", nargs="+", default=[], metavar="PATH",
                   help=".deb / npm .tgz files already fetched, folders of them, or installed package folders")
    p.add_argument("--download_dir", type=path_text, default=None,
                   help="where --apt / --npm packages are fetched and unpacked (default: OUTPUT.src; kept: "
                        "give its apt/ and npm/ folders to --packages to build again without fetching)")
    p.add_argument("--alphabet", type=path_text, default=None,
                   help="also keep fonts without Latin that draw characters of this alphabet (a name such as dtrb94, "
                        "the characters, or a file of them), in fonts/other/; report the characters no font draws")
    p.add_argument("--no_trdg", action="store_true", help="leave out the trdg wheel's fonts, words and photos")
    p.add_argument("--max_fonts_per_package", type=int_range(1, 100000), default=120,
                   help="a package with more font files gives about this many, spread over its files by name (one "
                        "foundry's 460 display faces would otherwise draw 1 sample in 6)")
    p.add_argument("--max_font_bytes", type=int_range(1000, 10 ** 9), default=None,
                   help="skip font files larger than this (default: no limit; 80000 keeps ~65%% of the files "
                        "and ~75%% of the families in a sixth of the bytes: a folder small enough to carry to "
                        "another machine)")
    p.add_argument("--max_side", type=int_range(64, 4096), default=400,
                   help="longest side of a stored photo, px (the generator crops at most ~3x a word's size)")
    return p


def fetch(command, packages, folder, what):
    """Run apt-get download / npm pack for the packages not already in `folder`."""
    if not packages:
        return
    os.makedirs(folder, exist_ok=True)
    r = subprocess.run(command + packages, cwd=folder, capture_output=True, text=True)
    if r.returncode:
        last = (r.stderr.strip().splitlines() or ["failed"])[-1]
        raise UserError(f"fetching {what} failed ({' '.join(command)}): {last}")


def read_list(path):
    """--from_list -> (apt names, npm names)."""
    wanted = {"apt": [], "npm": []}
    for n, line in enumerate(read_text(path, "--from_list").splitlines(), 1):
        kind, _, name = line.split("#")[0].strip().partition(" ")
        if kind and (kind not in wanted or not name.strip()):
            raise UserError(f"{path} line {n}: expected 'apt NAME' or 'npm NAME', got {line.strip()!r}")
        if kind:
            wanted[kind].append(name.strip())
    return wanted["apt"], wanted["npm"]


def source_paths(args, apt, npm, download):
    """Every package or folder to take from, in a fixed order: by file name."""
    fetch(["apt-get", "download"], apt, os.path.join(download, "apt"), "Debian packages")
    fetch(["npm", "pack", "--silent"], npm, os.path.join(download, "npm"), "npm packages")
    paths = []
    for path in args.packages + [os.path.join(download, kind) for kind, names in (("apt", apt), ("npm", npm))
                                 if names]:
        if not os.path.exists(path):
            raise NotFoundError(f"--packages {path} does not exist")
        inside = sorted(os.listdir(path)) if os.path.isdir(path) else []
        packed = [os.path.join(path, n) for n in inside if n.endswith((".deb", ".tgz"))]
        paths += packed if packed else [path]
    return sorted(set(paths), key=lambda p: os.path.basename(os.path.normpath(p)))


# Faces that pass the glyph check but do not draw letters one can read as the label: barcodes,
# scribble placeholders, Greek-on-Latin symbol fonts, 7-segment digits (no m, w, x, ...).
NOT_TEXT = re.compile(r"redacted|barcode|^symbol\.ttf$|standardsymbols|dseg7|flow-(block|circular|rounded)|"
                      r"wavefont|linefont", re.I)


def keep_font(path, extra):
    """-> the fonts/ subfolder a font goes to: latin (draws a-z, A-Z, 0-9), other (draws some of `extra`, the
    characters of --alphabet beyond those), or None."""
    if font_covers_alphanumerics(path):
        return "latin"
    return "other" if extra and font_coverage(path, extra)[0] else None


def gather(sources, out, max_side, max_fonts, max_bytes, extra=""):
    """Copy every usable font and distinct photo into `out`; -> (font rows, photo rows, skipped counts)."""
    fonts, photos, seen_styles, seen_photos = [], [], set(), set()
    skipped = {"unreadable or missing a-z/A-Z/0-9": 0, "same family and style twice": 0,
               "over the per-package cap": 0, "larger than --max_font_bytes": 0, "not a text face": 0,
               "photo repeated": 0}
    image_dir = os.path.join(out, "images")
    for src in sources:
        step = max(1, -(-len(src.fonts) // max_fonts))  # ceil: every step-th file by name
        skipped["over the per-package cap"] += len(src.fonts) - len(src.fonts[::step])
        for path in src.fonts[::step]:
            if max_bytes is not None and os.path.getsize(path) > max_bytes:
                skipped["larger than --max_font_bytes"] += 1
                continue
            if NOT_TEXT.search(os.path.basename(path)):
                skipped["not a text face"] += 1
                continue
            script = keep_font(path, extra)
            if script is None:
                skipped["unreadable or missing a-z/A-Z/0-9"] += 1
                continue
            family, style = _font_name(path)
            if (family.lower(), style.lower()) in seen_styles:
                skipped["same family and style twice"] += 1
                continue
            seen_styles.add((family.lower(), style.lower()))
            font_dir, name = os.path.join(out, "fonts", script), os.path.basename(path)
            if os.path.exists(os.path.join(font_dir, name)):
                name = f"{src.name.replace('/', '_').lstrip('@')}__{name}"
            os.makedirs(font_dir, exist_ok=True)
            shutil.copyfile(path, os.path.join(font_dir, name))
            fonts.append((f"{script}/{name}", os.path.getsize(path), family, style, src.name, src.licence))
        for path in src.photos:
            image = load_photo(path, max_side)
            if image is None:
                continue
            key = photo_key(image)
            if key in seen_photos:
                skipped["photo repeated"] += 1
                continue
            seen_photos.add(key)
            stem = os.path.splitext(os.path.basename(path))[0]
            name = f"{src.name.replace('/', '_').lstrip('@')}__{len(photos):04d}_{stem}.jpg"
            image.save(os.path.join(image_dir, name), "JPEG", quality=90)
            photos.append((name, src.name, src.licence))
    return fonts, photos, skipped


def _font_name(path):
    family, style = ImageFont.truetype(path, 12).getname()
    return family or os.path.basename(path), style or ""


def write_tables(out, fonts, photos):
    with open(os.path.join(out, "fonts", "latin", MANIFEST), "w", encoding="utf-8") as f:
        f.write("file\tbytes\tfamily\tstyle\n")
        for name, size, family, style, _, _ in sorted(fonts, key=lambda r: font_order(r[0])):
            if name.startswith("latin/"):
                f.write(f"{name[len('latin/'):]}\t{size}\t{family}\t{style}\n")
    with open(os.path.join(out, "LICENSES.tsv"), "w", encoding="utf-8") as f:
        f.write("kind\tfile\tfamily\tpackage\tlicence\n")
        for name, _, family, _, package, licence in sorted(fonts, key=lambda r: font_order(r[0])):
            f.write(f"font\tfonts/{name}\t{family}\t{package}\t{licence}\n")
        for name, package, licence in photos:
            f.write(f"photo\timages/{name}\t\t{package}\t{licence}\n")


def uncovered(folder, fonts, alphabet):
    """The characters of `alphabet` that none of the packed fonts draws, in alphabet order."""
    drawn = set()
    for name, *_ in fonts:
        drawn |= font_coverage(os.path.join(folder, "fonts", name), alphabet)[0]
    return "".join(c for c in alphabet if c not in drawn)


def main(args):
    trdg = None if args.no_trdg else _package_dir("trdg")
    if not args.no_trdg and trdg is None:
        raise UserError("trdg is not installed here: pip install --no-deps trdg==1.8.0, or give --no_trdg")
    if os.path.isdir(args.output) and os.listdir(args.output):
        raise UserError(f"{args.output} is not empty: give a new folder")
    alphabet = load_alphabet(args.alphabet) if args.alphabet else ""
    extra = "".join(c for c in alphabet if not (c.isascii() and c.isalnum()))
    apt, npm = read_list(args.from_list) if args.from_list else ([], [])
    apt, npm = args.apt + apt, args.npm + npm
    output = args.output.rstrip("/")
    part = prepare_output_dir(output + ".part", "output folder")  # renamed to OUTPUT when complete
    shutil.rmtree(part)
    for sub in ("fonts/latin", "dicts", "images"):
        os.makedirs(os.path.join(part, sub))
    download = args.download_dir or output + ".src"
    with tempfile.TemporaryDirectory() as work:
        sources = []
        if trdg:
            shutil.copy2(os.path.join(trdg, "dicts", "en.txt"), os.path.join(part, "dicts"))
            trdg_src = open_source(trdg, work)
            trdg_src.name, trdg_src.licence = "trdg (PyPI)", "fonts: see each font's name table; trdg: MIT"
            # its cn/ and ja/ (CJK) faces: only for an --alphabet with characters beyond a-z, A-Z, 0-9
            trdg_src.fonts = [p for p in trdg_src.fonts if extra or os.sep + "latin" + os.sep in p]
            trdg_src.photos = photos_in(os.path.join(trdg, "images"), re.compile("."))
            sources.append(trdg_src)
        sources += [open_source(p, os.path.join(download, "unpacked")) for p in source_paths(args, apt, npm, download)]
        fonts, photos, skipped = gather(sources, part, args.max_side, args.max_fonts_per_package, args.max_font_bytes,
                                        extra)
    write_tables(part, fonts, photos)
    if os.path.isdir(output):
        os.rmdir(output)  # the empty folder the user named
    os.rename(part, output)
    # read where the generator will read them: its coverage cache (keyed by path) is then already filled
    missing = uncovered(output, fonts, alphabet) if alphabet else ""
    families = len({row[2].lower() for row in fonts})
    print(f"{len(fonts)} fonts ({families} families) and {len(photos)} photos from {len(sources)} sources in {output}")
    print("skipped: " + ", ".join(f"{n} {why}" for why, n in skipped.items()))
    if alphabet:
        others = sum(row[0].startswith("other/") for row in fonts)
        print(f"--alphabet: {len(alphabet)} characters, {others} fonts without Latin kept in fonts/other/; "
              + (f"no packed font draws {len(missing)}: {missing[:40]}{'...' if len(missing) > 40 else ''}"
                 if missing else "every character is drawn by at least one packed font"))
    return {"fonts": len(fonts), "families": families, "photos": len(photos), "uncovered": missing, **skipped}


if __name__ == "__main__":
    run_cli(main, get_args_parser())
