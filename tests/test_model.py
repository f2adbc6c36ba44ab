import os
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, TINY_MODEL, word_image
from models import CRNN
from models.crnn import output_length


def test_paper_model_shapes_and_size():
    model = CRNN()
    assert 8.2e6 < sum(p.numel() for p in model.parameters()) < 8.4e6
    with torch.no_grad():
        assert model(torch.zeros(3, 1, 32, 100)).shape == (26, 3, 37)
        assert model(torch.zeros(2, 1, 32, 160)).shape == (41, 2, 37)


@pytest.mark.parametrize("width", [64, 99, 100, 101, 128, 160, 257])
def test_output_length_formula(width):
    model = CRNN(cnn_width=4, hidden_size=8)
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 32, width)).shape[0] == output_length(width) == width // 4 + 1


def test_reference_state_dict_names():
    keys = set(CRNN().state_dict())
    assert {"cnn.conv0.weight", "cnn.batchnorm2.running_mean", "cnn.batchnorm6.weight",
            "rnn.0.rnn.weight_ih_l0_reverse", "rnn.1.embedding.weight"} <= keys
    assert not any("batchnorm0" in k or "batchnorm1" in k for k in keys)


def test_height_must_be_32():
    with pytest.raises(ValueError, match="img_h=32"):
        CRNN(img_h=48)


def test_a_new_constructor_argument_is_a_one_file_change(tmp_path, tiny_data):
    """A copy of the repo whose only edit is models/crnn.py (a new argument, and its SETTINGS entry) trains with
    the new flag, records it in the checkpoint, and exports and reads that checkpoint back: no other file
    knows the model's arguments."""
    repo = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if name.endswith(".py") or name == "pytest.ini":
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(os.path.join(ROOT, name), repo / name)
    model_py = repo / "models" / "crnn.py"
    text = model_py.read_text()
    text = text.replace("hidden_size=256, cnn_width=64):", "hidden_size=256, cnn_width=64, extra_units=0):")
    text = text.replace('SETTINGS = {', 'SETTINGS = {"extra_units": (0, 8, "units of a new layer"), ')
    text = text.replace("        self._init_weights()", "        self.extra = nn.Linear(1, extra_units) if extra_units else None\n"
                                                       "        self._init_weights()")
    assert text.count("extra_units") == 4  # the signature, SETTINGS and the layer
    model_py.write_text(text)

    def run(*cmd):
        r = subprocess.run([sys.executable, *cmd], cwd=repo, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        return r.stdout
    run("main.py", "--data_path", tiny_data, "--epochs", "1", "--max_step", "2", "--batch_size", "8",
        "--extra_units", "3", *TINY_MODEL, "--output_dir", str(tmp_path / "run"))
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pth", weights_only=True)
    assert ckpt["model_args"]["extra_units"] == 3 and ckpt["model"]["extra.weight"].shape == (3, 1)
    assert ckpt["run"]["args"]["extra_units"] == 3
    run("pth2onnx.py", str(tmp_path / "run" / "checkpoint.pth"), str(tmp_path / "m.onnx"))
    (tmp_path / "a.png").write_bytes(word_image("ab"))
    out = run("predict.py", "--model", str(tmp_path / "run" / "checkpoint.pth"), "--decoder", "greedy",
              str(tmp_path / "a.png"))
    assert out.startswith(str(tmp_path / "a.png") + "\t")
