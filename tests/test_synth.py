import io

import numpy as np
from PIL import Image

from datasets.lmdb_format import open_lmdb
from datasets.synth_assets import find_backgrounds, find_fonts, find_words
from datasets.synth_build import ensure_synthetic
from datasets.synth_render import MAX_LABEL, SynthRenderer, alnum


def renderer():
    return SynthRenderer(find_fonts(), find_words(), find_backgrounds())


def test_generator_is_deterministic_per_seed():
    a, b = renderer(), renderer()
    first = [a.sample(7, 0, i) for i in range(20)]
    assert first == [b.sample(7, 0, i) for i in range(20)]
    assert first != [a.sample(8, 0, i) for i in range(20)]
    assert a.sample(7, 0, 3) != a.sample(7, 1, 3)  # train and val are different samples
    for data, label in first:
        image = Image.open(io.BytesIO(data))
        assert image.mode == "L" and image.size[1] == 32
        assert label.isalnum() and 1 <= len(label) <= MAX_LABEL


def test_punctuation_is_drawn_but_not_labelled():
    r = renderer()
    pairs = [r.sample_text(np.random.default_rng((0, 0, i))) for i in range(2000)]
    assert all(label == alnum(text) and label for text, label in pairs)
    with_punct = [text for text, label in pairs if text != label]
    assert 0.15 < len(with_punct) / len(pairs) < 0.4, len(with_punct)
    assert {c for t in with_punct for c in t} >= set(".,:?-'\"")
    # Natural word lengths: short words dominate, as on signs (a dictionary alone peaks at 8-9 letters).
    lengths = np.array([len(label) for _, label in pairs])
    assert np.mean(lengths <= 4) > 0.45 and np.median(lengths) <= 5


def test_several_fonts_are_found():
    assert len(find_fonts()) >= 3


def test_cache_is_built_once_in_release_layout(tmp_path):
    logs = []
    out = ensure_synthetic(40, 8, seed=0, root=str(tmp_path), workers=1, log=logs.append)
    for name, n in (("MJ_LMDB", 40), ("IIIT5K_lmdb", 8)):
        env, num = open_lmdb(f"{out}/{name}")
        with env.begin() as txn:
            assert num == n and txn.get(b"label-%09d" % n) and txn.get(b"image-%09d" % n)
    assert ensure_synthetic(40, 8, seed=0, root=str(tmp_path), log=logs.append) == out
    assert logs[-1].startswith("Using cached synthetic data")
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
