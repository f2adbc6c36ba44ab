"""Crops taller than wide: read three ways, the rule keeps the turned read of a turned word and leaves short
upright words upright; the same in predict.py, the Python reader (PyTorch and ONNX) and main.py --eval_only's
last column."""
import contextlib
import csv
import io
import os
import subprocess
import sys

import pytest
from PIL import Image

import main
from conftest import ROOT, word_image, write_lmdb
from inference import Recognizer
from inference.orientation import TURN_NAMES, choose, is_tall
from utils.errors import UserError

SAMPLE = os.path.join(ROOT, "weights", "sample_welcome.png")
ANTICLOCKWISE, CLOCKWISE = Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270


def turned(image, turn):
    buf = io.BytesIO()
    image.transpose(turn).save(buf, "PNG")
    return buf.getvalue()


def test_the_rule_prefers_a_word_to_a_letter_and_never_an_empty_read():
    assert TURN_NAMES == ("as given", "clockwise", "anticlockwise")
    # the upright read of a turned word: one confident letter; the turned read: the word, less sure
    assert choose(["1", "exit", "tixe"], [0.97, 0.6, 0.3]) == 1
    assert choose(["", "", "ab"], [1.0, 1.0, 0.01]) == 2                  # an empty read never wins
    assert choose(["A", "", ""], [0.9, 1.0, 1.0]) == 0                    # a single upright letter stays
    assert choose(["I", "H", "H"], [0.95, 0.5, 0.5]) == 0
    assert is_tall(Image.new("L", (30, 40))) and not is_tall(Image.new("L", (40, 40)))


@pytest.fixture(scope="module")
def reader():
    return Recognizer(device="cpu", precision="fp32")


@pytest.mark.parametrize("turn", [ANTICLOCKWISE, CLOCKWISE], ids=["reads bottom to top", "reads top to bottom"])
def test_a_turned_word_reads_turned_back(reader, turn):
    image = Image.open(SAMPLE).transpose(turn)
    assert reader.read(image).text == "welcome"
    upright = Recognizer(device="cpu", precision="fp32", orientation="upright").read(image)
    assert upright.text != "welcome"                                      # as given, it is not read


def test_the_orientation_keyword_and_flag_are_checked():
    with pytest.raises(UserError, match="unknown orientation 'sideways': choose one of auto, upright"):
        Recognizer(orientation="sideways")
    with pytest.raises(SystemExit) as stop:
        main.get_args_parser().parse_args(["--orientation", "sideways"])
    assert stop.value.code == 2


def test_eval_only_reads_tall_crops_turned_in_its_last_column(tmp_path):
    sample = Image.open(SAMPLE)
    words = [(turned(sample, ANTICLOCKWISE), "welcome"), (turned(sample, CLOCKWISE), "welcome"),
             (word_image("exit", size=(90, 40)), "exit"), (word_image("open", size=(100, 40)), "open")]
    write_lmdb(tmp_path / "data" / "TURNED_lmdb", words)
    ckpt = tmp_path / "crnn.pth"
    ckpt.write_bytes(open(os.path.join(ROOT, "weights", "crnn.pth"), "rb").read())
    with contextlib.redirect_stdout(io.StringIO()):
        main.main(main.get_args_parser().parse_args(["--data_path", str(tmp_path / "data"), "--val_dir",
                                                     "TURNED_lmdb", "--eval_only", "--resume", str(ckpt),
                                                     "--device", "cpu", "--workers", "0"]))
    with open(tmp_path / "eval_results.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert float(row["accuracy_beam_lm"]) <= 0.5                         # the turned two are misread as given
    assert float(row["accuracy_beam_lm_turned"]) == 1.0                  # and read when turned back


def test_the_onnx_reader_turns_tall_crops_too(tmp_path):
    """The dynamic-width ONNX export carries the model's width scale; the reader runs it through the same rule."""
    r = subprocess.run([sys.executable, "pth2onnx.py", os.path.join(ROOT, "weights", "crnn.pth"),
                        str(tmp_path / "dw.onnx"), "--dynamic_width"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    image = Image.open(SAMPLE).transpose(ANTICLOCKWISE)
    onnx_reader = Recognizer(str(tmp_path / "dw.onnx"))
    assert "x 1.3" in onnx_reader.describe()
    assert onnx_reader.read(image).text == "welcome"
    assert Recognizer(str(tmp_path / "dw.onnx"), orientation="upright").read(image).text != "welcome"
