import functools
import io
import os
import re

import numpy as np
import pytest
from PIL import Image

from datasets.lmdb_format import open_lmdb
from datasets.synth.assets import find_backgrounds, find_fonts, find_words
from datasets.synth.build import ensure_synthetic, synth_dir
from datasets.synth.features import FEATURES, GROUPS, features, parse_overrides
from datasets.synth.render import SCRIPT_NAMES, SynthRenderer
from datasets.synth.text import MAX_LABEL, alnum
from datasets.synth.text import TextSampler
from utils.errors import UserError


@functools.lru_cache(maxsize=None)
def assets():
    """The trdg wheel's fonts, words and photos, found once for the whole module (~2 s)."""
    return find_fonts(), find_words(), find_backgrounds()


def renderer():
    return SynthRenderer(*assets())


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


def test_word_lengths_follow_running_text():
    """v5's lengths: running text, short words most common and 10+ character labels ~7% (v4's long tail drew
    ~15%; the ablation found it did not pay at the own width), compounds and codes included."""
    text = TextSampler(assets()[1], features())
    n = np.array([len(text.sample_text(np.random.default_rng((0, 0, i)))[1]) for i in range(3000)])
    assert 0.03 < np.mean(n >= 10) < 0.09 and np.mean(n <= 4) > 0.45, (np.mean(n >= 10), np.mean(n <= 4))


# Features that act only together with another one.
NEEDS = {"shear": "warp", "perspective": "warp"}


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_each_feature_changes_a_seeded_sample(name):
    """Every named probability is live: forced on (1) it changes the image of the same (seed, split,
    index) against forced off (0), everything else off."""
    fonts, words, photos = assets()
    script = [p for p in fonts if SCRIPT_NAMES.search(p)][:1]
    assert script, "the test needs a script face (trdg ships Pacifico)"
    fonts = sorted(set(fonts[:3] + script))
    base = {n: 0.0 for n in FEATURES}
    if name in NEEDS:
        base[NEEDS[name]] = 1.0
    off = SynthRenderer(fonts, words, photos, {**base, name: 0.0})
    on = SynthRenderer(fonts, words, photos, {**base, name: 1.0})
    changed = [off.sample(0, 0, i) != on.sample(0, 0, i) for i in range(4)]
    assert sum(changed) >= 3, (name, changed)


def test_feature_overrides_are_checked_and_name_the_cache(monkeypatch, tmp_path):
    assert parse_overrides("lettering=0, arc=0.5") == {**{n: 0.0 for n in GROUPS["lettering"]}, "arc": 0.5}
    for bad, message in (("arc=2", "probability in [0, 1]"), ("bogus=0", "unknown feature 'bogus'"),
                         ("arc", "NAME=PROBABILITY")):
        with pytest.raises(UserError, match=re.escape(message)):
            parse_overrides(bad)
    plain = synth_dir(0, 8, 0, root=str(tmp_path))
    monkeypatch.setenv("CRNN_SYNTH_FEATURES", "lettering=0")
    assert re.search(r"/synth_v7-lettering=0-[0-9a-f]{10}_train0_val8_seed0$", synth_dir(0, 8, 0, root=str(tmp_path)))
    assert synth_dir(0, 8, 0, root=str(tmp_path), assets="/x/crnn_assets_v4/") != plain
    assert SynthRenderer(assets()[0][:2], [], []).f["arc"] == 0.0


def test_any_edit_of_the_generator_names_a_new_cache(monkeypatch, tmp_path):
    """The cache's digest covers the feature table, the length weights, the code and the assets."""
    import datasets.synth.build as build
    import datasets.synth.features as feats
    names = {synth_dir(0, 8, 0, root=str(tmp_path))}
    monkeypatch.setitem(feats.FEATURES, "edge_cut", 0.5)          # a probability edited in features.py
    names.add(synth_dir(0, 8, 0, root=str(tmp_path)))
    monkeypatch.setattr(build, "LENGTH_WEIGHTS", feats.LENGTH_WEIGHTS[::-1].copy())
    names.add(synth_dir(0, 8, 0, root=str(tmp_path)))
    code = tmp_path / "code"
    code.mkdir()
    for name in os.listdir(build.CODE):
        if name.endswith(".py"):
            (code / name).write_bytes((open(os.path.join(build.CODE, name), "rb").read()))
    monkeypatch.setattr(build, "CODE", str(code))
    names.add(synth_dir(0, 8, 0, root=str(tmp_path)))                   # the same code elsewhere: the same name
    (code / "render.py").write_text((code / "render.py").read_text() + "\n# an edit\n")
    names.add(synth_dir(0, 8, 0, root=str(tmp_path)))
    photos = tmp_path / "assets" / "images"
    photos.mkdir(parents=True)
    (photos / "a.jpg").write_bytes(b"x")
    names.add(synth_dir(0, 8, 0, root=str(tmp_path), assets=str(tmp_path / "assets")))
    assert len(names) == 5, names


def test_several_fonts_are_found():
    assert len(assets()[0]) >= 3


def test_cache_is_built_once_in_release_layout(tmp_path):
    logs = []
    out = ensure_synthetic(40, 8, seed=0, root=str(tmp_path), workers=1, log=logs.append)
    assert re.search(r"/synth_v7-[0-9a-f]{10}_train40_val8_seed0$", out)
    for name, n in (("MJ_LMDB", 40), ("IIIT5K_lmdb", 8)):
        env, num = open_lmdb(f"{out}/{name}")
        with env.begin() as txn:
            assert num == n and txn.get(b"label-%09d" % n) and txn.get(b"image-%09d" % n)
    assert ensure_synthetic(40, 8, seed=0, root=str(tmp_path), log=logs.append) == out
    assert logs[-1].startswith("Using cached synthetic data")
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def v7_pair(name, index):
    """The same sample with feature `name` off and on, every other feature off: (off image, on image, labels)."""
    fonts, words, photos = assets()
    base = {n: 0.0 for n in FEATURES}
    off = SynthRenderer(fonts[:3], words, photos, {**base, name: 0.0}).sample(0, 0, index)
    on = SynthRenderer(fonts[:3], words, photos, {**base, name: 1.0}).sample(0, 0, index)
    image = lambda data: np.asarray(Image.open(io.BytesIO(data)), np.float32)  # noqa: E731
    return image(off[0]), image(on[0]), (off[1], on[1])


def test_an_upside_down_word_is_the_word_turned_and_keeps_its_label():
    for index in range(4):
        off, on, (label_off, label_on) = v7_pair("upside_down", index)
        assert label_on == label_off                                        # reading order, not reversed
        assert on.shape == off.shape and np.abs(on - off[::-1, ::-1]).mean() < 6   # JPEG aside, turned 180
        assert np.abs(on - off).mean() > 10


def test_stacked_letters_come_in_reading_order_lying_in_a_row():
    """Stacked upright letters as the reader sees them after a quarter turn anticlockwise: a row of letters on
    their side, the first on the left, labelled in reading order."""
    fonts, words, photos = assets()
    renderer = SynthRenderer(fonts[:3], words, photos, {**{n: 0.0 for n in FEATURES}, "stacked": 1.0})
    mask, _, (font, size) = renderer._text_mask("HOTEL", np.random.default_rng(0))
    assert mask.size[0] > 3 * mask.size[1]                                # a row of five letters
    sign = np.asarray(mask.transpose(Image.Transpose.ROTATE_270)) > 96    # turned back: the vertical sign
    rows = np.flatnonzero(sign.any(1))
    top = sign[rows[0]:rows[0] + (rows[-1] - rows[0]) // 5]                # its top fifth: the first letter
    h_columns = (np.asarray(renderer._glyph(font, size, "H")[0]) > 96).any(0).sum()
    assert abs(int(top.any(0).sum()) - int(h_columns)) <= 3               # as wide as an upright H
    for index in range(3):
        _, _, (label_off, label_on) = v7_pair("stacked", index)
        assert label_on == label_off
