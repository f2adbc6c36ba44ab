"""The generator's assets folder: font order, a missing or empty folder, unreadable fonts, the manifest."""
import os
import shutil

import pytest

from datasets.synth.assets import MANIFEST, assets_dir, find_fonts, font_candidates, font_files, usable_fonts
from tools.pack_synth_assets import get_args_parser, main as pack
from utils.errors import UserError


def trdg_font(name):
    return os.path.join(os.path.dirname(__import__("trdg").__file__), "fonts", "latin", name)


def font_folder(root):
    """An assets folder whose path order differs from its file-name order: latin/z/a.ttf, latin/B.ttf."""
    latin = os.path.join(root, "fonts", "latin")
    os.makedirs(os.path.join(latin, "z"))
    shutil.copyfile(trdg_font("Lato-Regular.ttf"), os.path.join(latin, "z", "a.ttf"))
    shutil.copyfile(trdg_font("Roboto-Bold.ttf"), os.path.join(latin, "B.ttf"))
    shutil.copyfile(trdg_font("Pacifico.ttf"), os.path.join(latin, "c.otf"))
    return str(root)


def test_font_order_does_not_depend_on_the_install_path(tmp_path):
    first = font_folder(tmp_path / "zzz" / "site-packages" / "trdg")
    second = font_folder(tmp_path / "aaa" / "copy")
    names = [os.path.basename(p) for p in font_files(os.path.join(first, "fonts", "latin"))]
    assert names == ["a.ttf", "B.ttf", "c.otf"]          # by file name, not by path (".../B.ttf" < ".../z/a.ttf")
    assert [os.path.basename(p) for p in font_files(os.path.join(second, "fonts", "latin"))] == names
    ours = [os.path.basename(p) for p in font_candidates(first)]
    assert ours == [os.path.basename(p) for p in font_candidates(second)]
    assert [n for n in ours if n in names] == names and ours == sorted(ours, key=lambda n: (n.lower(), n))


def test_missing_or_empty_assets_folder_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "empty" / "fonts").mkdir(parents=True)  # folders but no file: empty too
    for folder, what in ((tmp_path / "nope", "not found"), (tmp_path / "empty", "is empty")):
        with pytest.raises(UserError) as e:
            assets_dir(str(folder))
        message = str(e.value)
        assert what in message and str(folder) in message and "tools.pack_synth_assets" in message
        assert "\n" not in message
    monkeypatch.setenv("CRNN_SYNTH_ASSETS", str(tmp_path / "empty"))
    with pytest.raises(UserError, match="is empty"):
        find_fonts()


def test_unreadable_font_is_skipped_and_counted(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copyfile(trdg_font("Lato-Regular.ttf"), src / "Lato-Regular.ttf")
    shutil.copyfile(trdg_font("Lato-Regular.ttf"), src / "Lato-Copy.ttf")  # the same family and style
    shutil.copyfile(trdg_font("Roboto-Bold.ttf"), src / "symbol.ttf")  # draws a-z, but as Greek letters
    (src / "x.ttf").write_bytes(os.urandom(4096))
    (src / "y.woff").write_bytes(b"wOFF" + os.urandom(300))
    fonts, skipped = usable_fonts(sorted(str(p) for p in src.iterdir()))
    assert skipped == 2 and [os.path.basename(p) for p in fonts] == ["Lato-Copy.ttf", "Lato-Regular.ttf", "symbol.ttf"]
    out = tmp_path / "assets"
    counts = pack(get_args_parser().parse_args([str(out), "--no_trdg", "--packages", str(src)]))
    assert counts["fonts"] == 1 and counts["unreadable or missing a-z/A-Z/0-9"] == 2
    assert counts["same family and style twice"] == 1 and counts["not a text face"] == 1
    assert "2 unreadable or missing a-z/A-Z/0-9" in capsys.readouterr().out
    # The manifest lists the checked font: the folder's fonts and no system font, without a re-check.
    assert [os.path.basename(p) for p in find_fonts(str(out))] == ["Lato-Copy.ttf"]
    licences = (out / "LICENSES.tsv").read_text().splitlines()
    assert licences[1].split("\t")[:4] == ["font", "fonts/latin/Lato-Copy.ttf", "Lato", "src"]
    with open(out / "fonts" / "latin" / "Lato-Copy.ttf", "ab") as f:
        f.write(b"changed")
    with pytest.raises(UserError, match=f"{MANIFEST}: Lato-Copy.ttf is missing or changed"):
        find_fonts(str(out))


def test_package_list_lines_are_checked(tmp_path):
    listed = tmp_path / "list.txt"
    listed.write_text("# fonts\napt fonts-dejavu-core\npip fonts\n")
    args = get_args_parser().parse_args([str(tmp_path / "out"), "--no_trdg", "--from_list", str(listed)])
    with pytest.raises(UserError, match=r"list.txt line 3: expected 'apt NAME' or 'npm NAME', got 'pip fonts'"):
        pack(args)


def test_packing_for_an_alphabet_keeps_its_fonts_and_names_what_none_draws(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copyfile(trdg_font("Lato-Regular.ttf"), src / "Lato-Regular.ttf")
    cjk = os.path.join(os.path.dirname(trdg_font("x")), "..", "ja", "TakaoMincho.ttf")
    shutil.copyfile(cjk, src / "TakaoMincho.ttf")
    counts = pack(get_args_parser().parse_args([str(tmp_path / "out"), "--no_trdg", "--packages", str(src),
                                                "--alphabet", "ab\u65e5\u672c\U00013000"]))
    assert counts["fonts"] == 2 and counts["uncovered"] == "\U00013000"
    out = capsys.readouterr().out
    assert "no packed font draws 1: \U00013000" in out
    # both draw Latin, so both are in the manifest; the Japanese face draws the two CJK characters
    assert sorted(os.path.basename(p) for p in find_fonts(str(tmp_path / "out"))) == ["Lato-Regular.ttf",
                                                                                      "TakaoMincho.ttf"]
