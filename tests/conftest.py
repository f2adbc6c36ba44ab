import contextlib
import fcntl
import functools
import io
import json
import os
import shutil

# OpenMP threads that wait for work sleep instead of spinning (read when torch loads; subprocesses inherit it):
# two processes spinning on 2 cores slowed each other more than 10-fold (a test beside other work on the machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from datasets.lmdb_format import LmdbWriter
from datasets.synth.assets import find_fonts

TINY_MODEL = ["--cnn_width", "8", "--hidden_size", "32", "--device", "cpu", "--workers", "0"]
# 4,000 steps at batch 16 in fp32: the tiny model leaves the CTC plateau after ~1,000 and reads all
# 64 words by the end (2,000 and 3,000 steps left it at 62 and 63 of 64).
OVERFIT = ["--epochs", "40", "--batch_size", "16", "--opt_level", "O0", "--warmup_steps", "0", "--print_freq", "1000"]


@functools.lru_cache(maxsize=None)
def test_font():
    fonts = find_fonts()
    plain = [f for f in fonts if f.endswith("DejaVuSans.ttf") or f.endswith("Roboto-Regular.ttf")]
    return ImageFont.truetype((plain or fonts)[0], 26)


def word_image(text, size=(120, 40)):
    """A clean dark-on-light rendering of `text`, PNG bytes."""
    font = test_font()
    image = Image.new("L", size, 230)
    ImageDraw.Draw(image).text((4, 4), text, font=font, fill=20)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def write_lmdb(path, samples):
    """samples: (image bytes, label) pairs -> LMDB at path."""
    with LmdbWriter(str(path)) as w:
        for image, label in samples:
            w.add(image, label)
    return str(path)


def random_words(n, seed=0, min_len=2, max_len=5):
    rng = np.random.default_rng(seed)
    letters = list("abcdefghjkmnpqrstuvwxyz23456789")  # no look-alikes (0/o, 1/l/i) in a tiny test set
    return ["".join(rng.choice(letters, rng.integers(min_len, max_len + 1))) for _ in range(n)]


class InfiniteGrad(torch.autograd.Function):
    """Identity forward, infinite gradient backward: a finite loss whose gradient is not."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """<dir>/MJ_LMDB: 64 clean word images, each 25 times (an epoch of 100 steps at batch 16);
    <dir>/IIIT5K_lmdb: the same 64 once."""
    root = tmp_path_factory.mktemp("tiny_data")
    samples = [(word_image(w), w) for w in random_words(64)]
    write_lmdb(root / "MJ_LMDB", samples * 25)
    write_lmdb(root / "IIIT5K_lmdb", samples)
    # Unseen words, one undecodable image and one label too long to read: an imperfect evaluation.
    other = [(word_image(w), w) for w in random_words(46, seed=1)]
    write_lmdb(root / "OTHER_lmdb", other + [(b"broken", "abc"), (word_image("toolong"), "x" * 30)])
    return str(root)


@pytest.fixture(scope="session")
def overfit_run(tiny_data, tmp_path_factory):
    """Trains the tiny model on tiny_data once per test run -> (output dir, stdout, best accuracy).

    The pytest-xdist workers share one run (a lock in the folder above their own): the first to need it
    trains, the other waits, and each works on a copy of it."""
    import main
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    out_dir, result = shared / "overfit", shared / "overfit.json"
    with open(shared / "overfit.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                acc = main.main(main.get_args_parser().parse_args(
                    ["--data_path", tiny_data, "--output_dir", str(out_dir), *OVERFIT, *TINY_MODEL]))
            result.write_text(json.dumps([buf.getvalue(), acc]))
    stdout, acc = json.loads(result.read_text())
    own = tmp_path_factory.getbasetemp() / "overfit"
    if own != out_dir:  # a copy per worker: tests evaluate its checkpoint, which writes tables beside it
        shutil.copytree(out_dir, own)
    return str(own), stdout, acc


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Synthetic sets built by tests never touch the user's cache.
    monkeypatch.setenv("CRNN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "synth_cache"))


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (bench/device_check.sh runs them with -m cuda)")


def pytest_collection_modifyitems(config, items):
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU: run bench/device_check.sh on a machine that has one")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
