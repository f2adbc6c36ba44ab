"""Words at their own width: the rule, width batches, resumable and sharded training windows, the
dynamic-width ONNX chain."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, random_words, word_image, write_lmdb
from datasets.lmdb_dataset import LmdbDataset
from datasets.lmdb_format import image_key
from datasets.mixing import MixedWindows, SourceOrder
from datasets.transforms import Width, choose_width, decode_image, preprocess
from datasets.width_batches import EvalCollate, TrainCollate, by_width, pad_stack, window_group
from inference.recognizer import Recognizer
from models import CRNN
from utils.errors import UserError
from utils.label_converter import DEFAULT_ALPHABET, LabelConverter


def png(size, value=128):
    buf = io.BytesIO()
    Image.new("L", size, value).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("size, expected", [
    ((10000, 32), 256),     # very wide: clamped to max_w
    ((20, 32), 100),        # very narrow: clamped to min_w
    ((1, 1), 100),          # one pixel
    ((30, 400), 100),       # a tall, rotated-looking crop
    ((150, 32), 152),       # aspect x 32 = 150 -> the nearest multiple of 4
    ((300, 60), 160),       # 5:1 at any height
])
def test_width_rule_bounds(size, expected):
    assert Width().of(*size) == expected
    assert decode_image(png(size), Width()).shape == (1, 32, expected)
    assert Width.fixed(100).of(*size) == 100
    assert Width(100, 256, 32).of(*size) in (100, 128, 160, 192, 224, 256)


def test_choose_width_flags_and_models():
    assert choose_width() == Width(100, 256, 4)
    assert choose_width(model_scale=1.3) == Width(100, 256, 4, 1.3)               # a model that reads wider
    assert choose_width(width_scale=1.1, model_scale=1.3) == Width(100, 256, 4, 1.1)  # --width_scale wins
    assert choose_width(img_w=100) == Width.fixed(100)              # --img_w 100: the seed's
    assert choose_width(fixed_width=True, model_img_w=64, model_range=[64, 200]) == Width.fixed(64)  # --fixed_width
    assert choose_width(model_img_w=64, model_range=[64, 64]) == Width.fixed(64)  # trained fixed
    assert choose_width(width_step=32, model_img_w=100, model_range=[80, 200]) == Width(80, 200, 32)
    assert choose_width(model_img_w=100, model_range=None) == Width(100, 256, 4)   # an older checkpoint
    assert choose_width(min_w=120, model_img_w=100, model_range=None) == Width(120, 256, 4)
    assert Width(scale=1.3).of(150, 32) == 196 and Width().of(150, 32) == 152        # 150 x 1.3 -> 195 -> 196
    with pytest.raises(UserError, match="one or the other"):
        choose_width(img_w=100, min_w=80)
    with pytest.raises(UserError, match="--min_w 300 is above --max_w 256"):
        choose_width(min_w=300)


def test_training_padding_repeats_the_last_column():
    a = np.arange(32 * 3, dtype=np.float32).reshape(1, 32, 3)
    b = np.zeros((1, 32, 5), np.float32)
    out = pad_stack([a, b])
    assert out.shape == (2, 1, 32, 5)
    assert np.array_equal(out[0, :, :, :3], a) and np.array_equal(out[0, :, :, 3], a[:, :, 2])
    assert np.array_equal(out[0, :, :, 4], a[:, :, 2]) and np.array_equal(out[1], b)


def mixed_images(n=23):
    """Word images of many widths (and a tall one, a 1-pixel one)."""
    words = random_words(n, seed=3, min_len=1, max_len=12)
    sizes = [(40 + 25 * i, 34 + i % 7) for i in range(n - 2)] + [(30, 200), (1, 1)]
    return [preprocess(Image.open(io.BytesIO(word_image(w, size=s))), Width()) for w, s in zip(words, sizes)]


def test_mixed_widths_read_the_same_as_alone(tmp_path):
    """predict.py and evaluation batch by exact width: reading a word in a batch of mixed widths gives the
    logits of reading it alone."""
    torch.manual_seed(0)
    model = CRNN(num_classes=37, hidden_size=16, cnn_width=4).eval()
    images = mixed_images()
    assert len({x.shape[-1] for x in images}) > 5
    seen = []

    @torch.no_grad()
    def run(x):
        seen.append(x.shape)
        return model(torch.from_numpy(x))

    groups = by_width([x.shape[-1] for x in images], 5)
    assert sorted(i for g in groups for i in g) == list(range(len(images)))
    for g in groups:
        assert len(g) <= 5 and len({images[i].shape[-1] for i in g}) == 1
    batch_logits = {}
    for g in groups:
        for i, lg in zip(g, run(np.stack([images[i] for i in g])).unbind(1)):
            batch_logits[i] = lg
    for i, x in enumerate(images):
        assert torch.allclose(batch_logits[i], run(x[None])[:, 0], atol=1e-5), i
    # The same through the Python reader (predict.py's), in input order.
    folder = []
    for i, x in enumerate(images):
        path = f"{tmp_path}/w{i}.png"
        Image.fromarray(((x[0] * 0.5 + 0.5) * 255).round().astype(np.uint8)).save(path)
        folder.append(path)
    ckpt = f"{tmp_path}/tiny.pth"
    torch.save({"model": model.state_dict(), "model_args": dict(num_classes=37, hidden_size=16, cnn_width=4),
                "alphabet": DEFAULT_ALPHABET, "width_range": [Width().min_w, Width().max_w]}, ckpt)
    reader = Recognizer(ckpt, decoder="greedy", device="cpu", precision="fp32", batch_size=7)
    together = reader.read_many(folder)
    reader.batch_size = 1
    assert together == [reader.read(p) for p in folder] and all(r is not None for r in together)


def test_eval_collate_one_width_per_batch():
    samples = [(torch.from_numpy(x), "w", i + 1) for i, x in enumerate(mixed_images())] + [(None, "x", 99)]
    batches = EvalCollate(4)(samples)
    assert sum(len(b[1]) for b in batches) == len(samples) - 1 and batches[0][3] == 1
    for images, labels, keys, _ in batches:
        assert images.shape[0] == len(labels) <= 4
        widths = [samples[k - 1][0].shape[-1] for k in keys]
        assert set(widths) == {images.shape[-1]}


@pytest.fixture(scope="module")
def varied_lmdb(tmp_path_factory):
    """120 words rendered at many aspect ratios."""
    words = random_words(120, seed=4, min_len=1, max_len=10)
    root = tmp_path_factory.mktemp("varied")
    samples = [(word_image(w, size=(30 + 15 * len(w) + 3 * (i % 9), 36)), w) for i, w in enumerate(words)]
    return write_lmdb(root / "MJ_LMDB", samples)


def epoch_batches(ds, world, rank, batch, epoch, skip=0):
    from datasets.width_batches import TrainWindows

    class Loader:  # the DataLoader's part: the windows of the batch sampler, collated
        pin_memory = False

        def __iter__(self):
            for window in windows:
                yield TrainCollate(batch)([ds[key] for _, key, _ in window])

    group = 3
    windows = MixedWindows([SourceOrder(len(ds), world, rank, seed=3)], [batch], group)
    loader = TrainWindows(Loader(), windows, group)
    loader.sampler.set_epoch(epoch, skip_batches=skip)
    return [(b[0].shape[-1], tuple(b[2])) for b in loader], len(loader)


def test_train_windows_sort_resume_and_shard(varied_lmdb):
    ds = LmdbDataset(varied_lmdb, LabelConverter(), 65, width=Width(), train=True)
    full, n = epoch_batches(ds, 1, 0, 8, epoch=1)
    assert n == len(full) == 120 // 8
    # Batches of neighbouring widths, padded to their widest word, visited out of width order within a
    # window; nothing repeated.
    keys = [k for _, ks in full for k in ks]
    assert len(keys) == len(set(keys)) == 120

    def own(k):
        return ds.width.of(*Image.open(io.BytesIO(ds._txn_get(image_key(k)))).size)

    assert len({own(k) for k in keys}) > 5
    windows = [full[s:s + 3] for s in range(0, len(full), 3)]
    for window in windows:
        for width, ks in window:
            assert width == max(own(k) for k in ks)
        bands = sorted([own(k) for k in ks] for _, ks in window)
        assert all(max(a) <= min(b) for a, b in zip(bands, bands[1:]))
    assert any([w for w, _ in window] != sorted(w for w, _ in window) for window in windows)
    # Resuming after k batches replays exactly the rest of the epoch, inside a window or at its edge.
    for k in (1, 3, 4, 14):
        assert epoch_batches(ds, 1, 0, 8, epoch=1, skip=k)[0] == full[k:]
    assert epoch_batches(ds, 1, 0, 8, epoch=2)[0] != full          # another epoch, another order
    # Two ranks: disjoint samples, the same number of steps.
    r0, n0 = epoch_batches(ds, 2, 0, 8, epoch=1)
    r1, n1 = epoch_batches(ds, 2, 1, 8, epoch=1)
    k0, k1 = ({k for _, ks in r for k in ks} for r in (r0, r1))
    assert not k0 & k1 and len(r0) == len(r1) == n0 == n1 == 7
    assert window_group(64, fixed_width=True) == 1 and window_group(64, fixed_width=False) == 64


def test_training_at_own_width_runs_and_records_the_rule(varied_lmdb, tmp_path):
    """main.py trains on width batches and writes the rule into the checkpoint; predict/eval read it back."""
    import main
    from training.checkpoint import load_training_checkpoint
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(varied_lmdb, data / "MJ_LMDB")
    os.symlink(varied_lmdb, data / "IIIT5K_lmdb")
    args = main.get_args_parser().parse_args(
        ["--data_path", str(data), "--output_dir", str(tmp_path / "out"), "--batch_size", "8", "--epochs", "1",
         "--stop_step", "6", "--max_w", "200", "--cnn_width", "4", "--hidden_size", "16", "--device", "cpu",
         "--workers", "0", "--print_freq", "3"])
    main.main(args)
    ckpt = load_training_checkpoint(str(tmp_path / "out" / "checkpoint.pth"))
    assert ckpt["width_range"] == [100, 200] and ckpt["img_w"] == 100 and ckpt["global_step"] == 6


def test_dynamic_width_onnx_chain_equals_pytorch(overfit_run, tmp_path):
    """pth2onnx --dynamic_width: ORT == PyTorch at three widths; parse_testdata / runner / postpossess with
    --dynamic_width read every word at its own width, exactly as main.py --eval_only does."""
    env = dict(os.environ, PYTHONPATH=ROOT)

    def run(*cmd):
        r = subprocess.run([sys.executable, *cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stdout

    ckpt = os.path.join(overfit_run[0], "model_best.pth")
    # The words the tiny model learnt (at 120x40), drawn wider: 100..136 px at their own width (it reads
    # about a third of them there).
    lmdb = write_lmdb(tmp_path / "VARIED", [(word_image(w, size=(110 + 6 * (i % 8), 40)), w)
                                            for i, w in enumerate(random_words(64))])
    out = run(f"{ROOT}/pth2onnx.py", ckpt, "dw.onnx", "--dynamic_width")
    assert "at widths 100/178/256" in out and float(out.split("max abs diff ")[1].split("(")[1].split()[0]) < 1e-4
    import onnxruntime as ort
    session = ort.InferenceSession(str(tmp_path / "dw.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["width_range"] == "100,256"
    from inference.model_file import load_model
    model = load_model(ckpt)[1]
    for w in (100, 150, 256):
        x = torch.randn(3, 1, 32, w)
        got = session.run(["output1"], {"actual_input_1": x.numpy()})[0]
        assert got.shape == (w // 4 + 1, 3, 37)
        assert np.abs(got - model(x).detach().numpy()).max() < 1e-4
    run(f"{ROOT}/parse_testdata.py", lmdb, "bins", "--dynamic_width")
    sizes = {os.path.getsize(tmp_path / "bins" / f) for f in os.listdir(tmp_path / "bins")}
    assert len(sizes) > 4 and all(s % (32 * 4) == 0 for s in sizes)
    run("-m", "tools.ais_bench_runner", "--model", "dw.onnx", "--input", "bins", "--output", ".",
        "--output_dirname", "res", "--batchsize", "4", "--output_batchsize_axis", "1")
    post = run(f"{ROOT}/postpossess_CRNN_pytorch.py", "res", "label.txt", "--dynamic_width")
    right = int(post.split("rightNum: ")[1].split()[0])
    online = subprocess.run([sys.executable, "main.py", "--data_path", str(tmp_path), "--val_dir", "VARIED", "--eval_only",
                             "--resume", ckpt, "--device", "cpu", "--workers", "0", "--output_dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True)
    assert online.returncode == 0, online.stderr
    assert f"Accuracy: {right / 64:.4f}" in online.stdout and right >= 8
