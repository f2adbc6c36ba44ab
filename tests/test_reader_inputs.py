"""The Python reader takes what Python users pass: every usual dtype and shape of array reads the word the
file reads; anything else is refused by name (inference/inputs.py holds the rule)."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT
from inference import Recognizer
from utils.errors import UserError

SAMPLE = os.path.join(ROOT, "weights", "sample_welcome.png")
GRAY = np.asarray(Image.open(SAMPLE).convert("L"))                        # uint8 H x W, dark text on light


def rgba_dark_text_on_transparent():
    out = np.zeros(GRAY.shape + (4,), np.uint8)
    out[..., 3] = 255 - GRAY                                               # ink opaque, paper transparent
    return out


READS = {  # what a user passes -> it reads "welcome" as the file does
    "uint8 H x W": GRAY,
    "uint8 H x W x 1": GRAY[:, :, None],
    "uint8 H x W x 3": np.repeat(GRAY[:, :, None], 3, 2),
    "uint8 H x W x 4, opaque": np.dstack([np.repeat(GRAY[:, :, None], 3, 2), np.full_like(GRAY, 255)]),
    "uint8 H x W x 4, text on transparent": rgba_dark_text_on_transparent(),
    "bool H x W": GRAY > 128,
    "float32 in [0, 1]": GRAY.astype(np.float32) / 255,
    "float64 in [0, 1], H x W x 3": np.repeat(GRAY[:, :, None], 3, 2) / 255.0,
    "float16 in [0, 1]": (GRAY / 255).astype(np.float16),
    "float32 in [0, 255]": GRAY.astype(np.float32),
    "uint16 (16-bit)": GRAY.astype(np.uint16) * 257,
    "int64 in 0..255": GRAY.astype(np.int64),
    "a non-contiguous view": np.repeat(GRAY[:, :, None], 3, 2)[:, :, ::-1],
    "a PIL image": Image.open(SAMPLE),
    "a PIL RGBA image": Image.fromarray(rgba_dark_text_on_transparent(), "RGBA"),
    "a path": SAMPLE,
}

REFUSED = {  # what a user passes -> (exception type, the message names ...)
    "an empty array": (np.zeros((0, 0), np.uint8), ValueError, "empty array of shape (0, 0) and dtype uint8"),
    "a 4-D batch": (GRAY[None, :, :, None], ValueError, f"shape {(1, *GRAY.shape, 1)} and dtype uint8"),
    "H x W x 2": (np.zeros((32, 90, 2), np.uint8), ValueError, "shape (32, 90, 2)"),
    "a complex array": (GRAY.astype(np.complex64), ValueError, "dtype complex64: pixels must be bool, integers"),
    "an object array": (GRAY.astype(object), ValueError, "dtype object"),
    "a string array": (np.full((32, 90), "a"), ValueError, "dtype <U1"),
    "NaN in a float array": (np.full((32, 90), np.nan, np.float32), ValueError, "holding NaN or inf"),
    "negative integers": (GRAY.astype(np.int32) - 300, ValueError, "integer pixels are 0..255"),
    "floats above 255": (GRAY.astype(np.float32) * 2, ValueError, "float pixels are in [0, 1] (or 0..255)"),
    "a torch tensor": (torch.zeros(1, 32, 90), TypeError, "got Tensor: pass tensor.permute(1, 2, 0).numpy()"),
    "a list": ([[0, 1]], TypeError, "got list"),
    "a missing file": (os.path.join(ROOT, "nope.png"), OSError, f"cannot read image file {ROOT}/nope.png"),
    "a folder": (ROOT, OSError, f"cannot read image file {ROOT}"),
}


@pytest.fixture(scope="module")
def reader():
    return Recognizer(decoder="greedy", device="cpu", precision="fp32")


@pytest.mark.parametrize("name", list(READS))
def test_each_usual_image_reads_the_word(reader, name):
    result = reader.read(READS[name])
    assert result.text == "welcome" and result.confidence > 0.3, (name, result)


@pytest.mark.parametrize("name", list(REFUSED))
def test_anything_else_is_refused_by_name(reader, name):
    image, error, fragment = REFUSED[name]
    with pytest.raises(error) as caught:
        reader.read(image)
    assert fragment in str(caught.value), str(caught.value)


def test_an_undecodable_file_is_named(reader, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match=f"{bad}: undecodable image"):
        reader.read(str(bad))
    assert reader.read_many([str(bad), GRAY], skip_unreadable=True)[0] is None


def test_decoder_names_and_options_are_checked(reader):
    with pytest.raises(UserError, match="unknown decoder 'beem': choose one of greedy, beam"):
        Recognizer(decoder="beem")
    with pytest.raises(UserError, match="lm_weight applies to the beam decoder only"):
        Recognizer(decoder="greedy", lm_weight=0.5)
    with pytest.raises(TypeError):
        Recognizer(None, "greedy")                                        # options by name only
    assert Recognizer(beam_width=2, device="cpu").read(GRAY).text == "welcome"


@pytest.mark.parametrize("keyword, value, message", [
    ("width_scale", 0, "width_scale must be a number from 0.5 to 4, got 0"),
    ("width_scale", "1.3", "width_scale must be a number from 0.5 to 4, got '1.3'"),
    ("min_w", -5, "min_w must be an integer from 16 to 4096, got -5"),
    ("max_w", 100.5, "max_w must be an integer from 16 to 4096, got 100.5"),
    ("img_w", 3, "img_w must be an integer from 16 to 4096, got 3"),
    ("width_step", 0, "width_step must be an integer from 1 to 256, got 0"),
    ("batch_size", True, "batch_size must be an integer from 1 to 4096, got True"),
    ("edge_pad", float("nan"), "edge_pad must be a number from 0 to 1"),
])
def test_numeric_keywords_are_range_checked_as_their_flags(keyword, value, message):
    with pytest.raises(UserError) as error:
        Recognizer(device="cpu", **{keyword: value})
    assert str(error.value).startswith(message)
    assert Recognizer(device="cpu", width_scale=np.float64(1.2), batch_size=np.int64(8)).width.scale == 1.2


ONE_LINE_REFUSALS = [  # keywords a reader on this machine cannot honour -> (the built-in type, the message)
    ({"device": "gpu"}, ValueError, "device 'gpu' is not a device name: use auto, cpu, cuda, cuda:N, npu or npu:N"),
    ({"device": "mps"}, ValueError, "device 'mps': this reader runs on auto, cpu, cuda, cuda:N, npu or npu:N"),
    ({"device": "npu:1"}, ValueError, "device 'npu:1': no NPU is visible here"),
    ({"device": 0}, TypeError, "device must be one of auto, cpu, cuda, cuda:N, npu or npu:N, got 0 (int)"),
    ({"precision": "fp61"}, ValueError, "precision 'fp61' is not one of auto, fp32, bf16, fp16"),
    ({"precision": "fp16", "device": "cpu"}, ValueError, "precision 'fp16' needs a GPU or an NPU"),
    ({"model": "missing.pth"}, FileNotFoundError, "model not found: missing.pth"),
    ({"model": 3}, TypeError, "model must be the path of a .pth or .onnx file, got 3 (int)"),
    ({"batch_size": "64"}, TypeError, "batch_size must be an integer from 1 to 4096, got '64'"),
    ({"model": "x.onnx", "precision": "bf16"}, ValueError, "precision 'bf16'" if not torch.ops.mkldnn._is_mkldnn_bf16_supported()
     else "x.onnx runs on ONNX Runtime's CPU provider"),
] + ([({"device": "cuda:0"}, ValueError, "device 'cuda:0': no CUDA device is visible here"),
      ({"device": torch.device("cuda")}, ValueError, "device 'cuda': no CUDA device is visible here")]
     if not torch.cuda.is_available() else [])


@pytest.mark.parametrize("options, error, message", ONE_LINE_REFUSALS, ids=lambda v: repr(v)[:40])
def test_a_device_or_precision_the_machine_lacks_is_refused_by_name(options, error, message):
    with pytest.raises(error) as caught:
        Recognizer(**options)
    assert isinstance(caught.value, UserError) and str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_every_spelling_of_a_device_the_machine_has_is_honoured():
    for device in ("cpu", "cpu:0", torch.device("cpu")):
        assert "on cpu" in Recognizer(device=device, precision="fp32").describe()
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():   # bf16 where the CPU computes in it, refused where not
        assert "PyTorch bfloat16 on cpu" in Recognizer(device="cpu", precision="bf16").describe()
    else:
        with pytest.raises(ValueError, match="precision 'bf16': this CPU has no native bf16"):
            Recognizer(device="cpu", precision="bf16")
