"""The synthetic stream: the cached set's samples, deterministic, any length, resumable; the generator
without trdg; a failed build leaves nothing in the cache."""
import os

import pytest
import torch

import datasets.synth.assets as synth_assets
import datasets.synth.build as synth_build
from datasets.lmdb_dataset import LmdbDataset
from datasets.loaders import LoaderConfig, stream_loader
from datasets.synth.assets import find_words, load_renderer
from datasets.transforms import Width
from datasets.synth.build import ensure_synthetic
from datasets.mixing import SourceOrder
from datasets.synth.stream import SynthStream
from utils.label_converter import LabelConverter


def batches(loader, epoch, skip=0, count=3):
    loader.sampler.set_epoch(epoch, skip_batches=skip)
    out = []
    for images, labels, keys, _ in loader:
        out.append((images, labels, keys))
        if len(out) == count:
            break
    return out


def test_stream_item_is_the_cached_lmdb_sample(tmp_path):
    data = ensure_synthetic(12, 4, seed=0, root=str(tmp_path), workers=1, log=None)
    conv = LabelConverter()
    cached = LmdbDataset(f"{data}/MJ_LMDB", conv, 26, train=True)
    stream = SynthStream(0, conv, 26)
    for i in range(12):
        image, label, _ = cached[i]
        s_image, s_label, index = stream[i]
        assert index == i and s_label == label
        torch.testing.assert_close(s_image, image, rtol=0, atol=0)


def test_stream_is_deterministic_resumable_and_endless():
    conv = LabelConverter()
    loader = stream_loader(96, LoaderConfig(conv, Width.fixed(100), max_label_len=26, batch_size=8), lambda *a: None)
    assert len(loader) == 12                                  # 96 images per epoch at batch 8
    first = batches(loader, epoch=0, count=4)
    again = batches(loader, epoch=0, count=4)
    for (a, la, ka), (b, lb, kb) in zip(first, again):
        assert la == lb and ka == kb
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # Resuming after 2 batches gives batches 3 and 4 of the uninterrupted epoch.
    resumed = batches(loader, epoch=0, skip=2, count=2)
    assert [r[2] for r in resumed] == [f[2] for f in first[2:]]
    # Every epoch is new data: epoch 1 starts at sample 96; far indices render as well.
    assert batches(loader, epoch=1, count=1)[0][2] == list(range(96, 104))
    image, label, _ = SynthStream(0, conv, 26)[10 ** 12]
    assert image.shape == (1, 32, 100) and label.isalnum()


def test_stream_order_splits_ranks_without_overlap():
    seen = []
    for rank in range(3):
        order = SourceOrder(100, 3, rank, seed=0, stream=True)
        seen.append(order.keys(2 * order.per_rank, order.per_rank))   # the stream's pass 2: samples 200..299
        assert order.per_rank == 33
    flat = sorted(i for part in seen for i in part)
    assert flat == list(range(200, 299)) and len(set(flat)) == 99


def test_generator_without_trdg_falls_back(tmp_path, monkeypatch):
    """A machine without trdg and no assets folder: system fonts, built-in common words and random
    letters, no photo backgrounds; every sample renders."""
    package_dir = synth_assets._package_dir
    monkeypatch.setattr(synth_assets, "_package_dir", lambda name: None if name == "trdg" else package_dir(name))
    assert find_words() == []
    renderer = load_renderer()
    assert renderer.backgrounds == [] and renderer.words == []
    labels = [renderer.sample(0, 0, i)[1] for i in range(300)]   # the photo branch is ~20% of images
    assert all(label.isalnum() for label in labels)
    assert sum(label.isalpha() for label in labels) > 150          # words and letters, not only digits
    out = ensure_synthetic(6, 3, seed=0, root=str(tmp_path / "cache"), workers=1, log=None)
    assert os.path.isfile(os.path.join(out, "READY"))


def test_failed_build_removes_its_temporary_folder(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(synth_build, "write_split", broken)
    with pytest.raises(RuntimeError):
        ensure_synthetic(6, 3, seed=0, root=str(tmp_path), workers=1, log=None)
    assert os.listdir(tmp_path) == []


def test_assets_folder_matches_the_wheel(tmp_path):
    """tools/pack_synth_assets.py's folder holds the same fonts, words and photos as the trdg wheel."""
    import subprocess
    import sys
    from conftest import ROOT
    r = subprocess.run([sys.executable, "-m", "tools.pack_synth_assets", str(tmp_path / "a")], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wheel, packed = load_renderer(), load_renderer(str(tmp_path / "a"))
    in_wheel = [os.path.basename(p) for p in wheel.fonts if f"{os.sep}trdg{os.sep}" in p]
    assert in_wheel == list(map(os.path.basename, packed.fonts))  # the packed folder: its own fonts only
    assert wheel.words == packed.words and len(packed.words) > 100000
    assert len(packed.backgrounds) == len(wheel.backgrounds) > 0  # photos are stored re-encoded, <= 400 px
    assert [a.shape[2] for a in packed.backgrounds] == [3] * len(wheel.backgrounds)
