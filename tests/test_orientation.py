"""Crops taller than wide: read three ways, the rule keeps the turned read of a turned word and leaves short
upright words upright; the same in predict.py and the Python reader (PyTorch and ONNX), while main.py --eval_only
reads crops as given (the benchmarks' protocol). The second read with room around the word."""
import contextlib
import csv
import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import main
import predict
from conftest import ROOT, word_image, write_lmdb
from inference import Recognizer
from datasets.transforms import Width, extend_edges
from inference.orientation import TURN_NAMES, choose, is_tall
from inference.read import read_images
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
        predict.get_args_parser().parse_args(["x.png", "--orientation", "sideways"])
    assert stop.value.code == 2


def test_eval_only_reads_the_crops_as_given_and_the_reader_turns_them(tmp_path):
    """--eval_only is the benchmarks' one read of each crop as given; the default reader turns tall crops."""
    sample = Image.open(SAMPLE)
    words = [(turned(sample, ANTICLOCKWISE), "welcome"), (turned(sample, CLOCKWISE), "welcome"),
             (word_image("exit", size=(90, 40)), "exit"), (word_image("open", size=(100, 40)), "open")]
    write_lmdb(tmp_path / "data" / "TURNED_lmdb", words)
    words = [(Image.open(io.BytesIO(image)), label) for image, label in words]
    ckpt = tmp_path / "crnn.pth"
    ckpt.write_bytes(open(os.path.join(ROOT, "weights", "crnn.pth"), "rb").read())
    with contextlib.redirect_stdout(io.StringIO()):
        main.main(main.get_args_parser().parse_args(["--data_path", str(tmp_path / "data"), "--val_dir",
                                                     "TURNED_lmdb", "--eval_only", "--resume", str(ckpt),
                                                     "--device", "cpu", "--workers", "0"]))
    with open(tmp_path / "eval_results.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert float(row["accuracy_beam_lm"]) <= 0.5 and "accuracy_beam_lm_turned" not in row   # misread as given
    readings = Recognizer(str(ckpt), device="cpu").read_many([image for image, _ in words])
    assert [r.text for r in readings] == [label for _, label in words]                     # read when turned back


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


def test_extend_edges_repeats_the_edge_columns():
    image = Image.fromarray(np.array([[10, 20, 30], [40, 50, 60]], dtype=np.uint8).repeat(4, axis=0))  # 8 x 3
    wide = np.asarray(extend_edges(image, 0.25))                                  # 2 columns each side
    assert wide.shape == (8, 7)
    assert (wide[:, :3] == wide[:, 2:3]).all() and (wide[:, -3:] == wide[:, -1:]).all()
    assert (wide[:, 2:5] == np.asarray(image)).all()
    assert extend_edges(Image.new("RGBA", (3, 8)), 0.25).getpixel((0, 0)) == 255   # transparent: over white


class WidthDecoder:
    """Reads a batch by its width: the crop with extended edges (wider) reads `padded`, the other `plain`."""

    def __init__(self, plain, padded):
        self.plain, self.padded = plain, padded

    def decode(self, widths):
        read = self.padded if widths[0] > 100 else self.plain
        return [read[0]] * len(widths), [read[1]] * len(widths)


@pytest.mark.parametrize("plain, padded, kept", [(("hous", 0.4), ("house", 0.9), "house"),
                                                 (("house", 0.9), ("hous", 0.4), "house"),
                                                 (("same", 0.5), ("tie", 0.5), "same")],  # a tie keeps the crop
                         ids=["padded more confident", "plain more confident", "tie"])
def test_the_second_read_keeps_the_more_confident(plain, padded, kept):
    image = Image.new("L", (100, 32), 255)                                        # read at 100, padded at 116
    run = lambda x: np.full(len(x), x.shape[-1])                                  # noqa: E731  (scores = widths)
    width = Width(100, 256)
    texts, confs, _ = read_images([image], run, WidthDecoder(plain, padded), width, edge_pad=0.25)
    assert texts == [kept] and confs == [max(plain[1], padded[1])]
    assert read_images([image], run, WidthDecoder(plain, padded), width)[0] == [plain[0]]   # edge_pad 0: once


def test_the_edge_pad_keyword_and_flag_are_checked():
    for bad in (-0.1, 1.5, "0.25", True):
        with pytest.raises(UserError, match="edge_pad must be a number from 0 to 1"):
            Recognizer(edge_pad=bad)
    assert "second read" not in Recognizer(device="cpu").describe()   # the shipped model's own: edge_pad 0
    assert "a second read with edges extended by 0.25" in Recognizer(device="cpu", edge_pad=0.25).describe()
