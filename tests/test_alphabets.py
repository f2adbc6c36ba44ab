"""Any alphabet from the synthetic default: the generator draws it (case, punctuation, CJK), in fonts that draw
every character, and a model trains on it and reads its own alphabet back."""
import csv
import io
import os
from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageFont

import main
from conftest import write_lmdb
from datasets.synth.assets import assets_dir, check_generator, find_words, load_renderer
from datasets.synth.build import ensure_synthetic, synth_dir
from datasets.synth.coverage import drawn
from inference import Recognizer
from training.checkpoint import load_training_checkpoint
from utils.errors import UserError
from utils.label_converter import DEFAULT_ALPHABET, NAMED_ALPHABETS, load_alphabet

DTRB94 = NAMED_ALPHABETS["dtrb94"]
TRDG = assets_dir()
needs_cjk = pytest.mark.skipif(not TRDG or not os.path.isdir(os.path.join(TRDG, "fonts", "cn")),
                               reason="trdg's Chinese font is not installed (pip install --no-deps trdg==1.8.0)")


def common_chinese(n):
    """The n most frequent CJK characters of trdg's Chinese word list."""
    with open(os.path.join(TRDG, "dicts", "cn.txt"), encoding="utf-8") as f:
        counts = Counter(c for c in f.read() if "\u4e00" <= c <= "\u9fff")
    return "".join(c for c, _ in counts.most_common(n))


def draws(path, ch):
    return ch in drawn(ImageFont.truetype(path, 28), ch)


def texts_and_fonts(renderer, n):
    """(text, label, font) of the first n training samples, drawn as SynthRenderer.sample draws them."""
    out = []
    for i in range(n):
        rng = np.random.default_rng((0, 0, i))
        path = renderer._pick_font(rng)
        text, label = renderer.alphabet_text.sample_text(rng, *renderer.coverage[path])
        assert renderer.sample(0, 0, i)[1] == label
        out.append((text, label, path))
    return out


def test_named_alphabets():
    assert load_alphabet("0-9a-z") == DEFAULT_ALPHABET
    assert len(DTRB94) == 94 and len(set(DTRB94)) == 94 and load_alphabet("dtrb94") == DTRB94


def test_case_and_punctuation_are_drawn_and_labelled():
    renderer = load_renderer(alphabet=DTRB94)
    samples = texts_and_fonts(renderer, 120)
    labels = [label for _, label, _ in samples]
    assert all(set(label) <= set(DTRB94) and label for label in labels)
    assert sum(any(c.isupper() for c in lab) for lab in labels) > 30
    assert sum(any(c.islower() for c in lab) for lab in labels) > 30
    assert sum(any(c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" for c in lab) for lab in labels) > 10
    for text, label, path in samples[:40]:  # every character is drawn by its sample's font
        assert text == label and all(draws(path, c) for c in set(text)), (text, path)
    # a face that draws only capitals gets its words in capitals
    assert all(label == label.upper() for _, label, path in samples if renderer.coverage[path][1])


@needs_cjk
def test_chinese_is_drawn_in_fonts_that_have_it():
    alphabet = common_chinese(200)
    renderer = load_renderer(alphabet=alphabet, words="cn")
    assert renderer.skipped_fonts > 50 and any("SourceHan" in p for p in renderer.fonts)
    samples = texts_and_fonts(renderer, 40)
    assert all(set(label) <= set(alphabet) and label for _, label, _ in samples)
    for text, _, path in samples[:15]:
        assert all(draws(path, c) for c in set(text)), (text, path)


def test_the_alphabet_names_the_cache(tmp_path):
    names = {synth_dir(0, 8, 0, root=str(tmp_path)), synth_dir(0, 8, 0, root=str(tmp_path), alphabet=DEFAULT_ALPHABET),
             synth_dir(0, 8, 0, root=str(tmp_path), alphabet=DTRB94), synth_dir(0, 8, 0, root=str(tmp_path), alphabet="abc"),
             synth_dir(0, 8, 0, root=str(tmp_path), alphabet="abc", words="cn")}
    assert len(names) == 4  # the default given or not is one set
    assert any("alphabet94" in n for n in names)


def test_a_character_no_font_draws_is_one_error(tmp_path):
    with pytest.raises(UserError, match="no font of the synthetic generator draws '\U00013000' of --alphabet"):
        load_renderer(alphabet="ab\U00013000")
    with pytest.raises(UserError, match="no font of the synthetic generator draws"):  # before any set is built
        ensure_synthetic(64, 8, seed=0, root=str(tmp_path), alphabet="ab\U00013000", log=None)
    assert not [name for name in os.listdir(tmp_path) if name.startswith("synth_")]


def test_a_word_list_is_checked_and_its_words_counted(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("cab\nabba\nhello\nbad word\nABC\n" + "a" * 17 + "\n", encoding="utf-8")
    logs = []
    check_generator(alphabet="abc", words=str(words), log=logs.append)
    assert logs == [f"warning: 3 of 6 words of --synth_words {words} can be written in --alphabet (3 characters); "
                    "the generator leaves the others out"]
    assert find_words(words=str(words), alphabet="abc") == ["ABC", "abba", "cab"]  # a one-case alphabet: any case
    assert find_words(words=str(words)) == ["ABC", "abba", "cab", "hello"]         # the default 0-9a-z
    with pytest.raises(UserError, match="none of the 6 words of --synth_words .* can be written in --alphabet"):
        check_generator(alphabet="xyz", words=str(words))


def first_sample(renderer, wanted):
    """(index, image, label) of the first training sample whose label `wanted` accepts."""
    for i in range(200):
        image, label = renderer.sample(0, 0, i)
        if wanted(label):
            return i, image, label
    raise AssertionError("no sample of 200 has the label wanted")


@pytest.mark.parametrize("kind", ["case-sensitive", pytest.param("chinese", marks=needs_cjk)])
def test_a_fine_tune_for_another_alphabet_reads_a_label_of_it(tmp_path, kind, capsys):
    """The shipped model fine-tuned with a new output layer on 8 copies of one sample reads it back exactly
    (a tiny model from scratch sits on the CTC plateau for ~1,000 steps; the shipped features need 30)."""
    alphabet, words = (DTRB94, None) if kind == "case-sensitive" else (common_chinese(30), "cn")
    alphabet_file = tmp_path / "alphabet.txt"
    alphabet_file.write_text("\n".join(alphabet), encoding="utf-8")
    mixed_case = (lambda lab: lab.lower() != lab != lab.upper()) if kind == "case-sensitive" else bool
    _, image, label = first_sample(load_renderer(alphabet=alphabet, words=words), mixed_case)
    assert set(label) <= set(alphabet), label
    for split in ("MJ_LMDB", "IIIT5K_lmdb"):
        write_lmdb(tmp_path / "data" / split, [(image, label)] * 8)
    acc = main.main(main.get_args_parser().parse_args(
        ["--data_path", str(tmp_path / "data"), "--alphabet", str(alphabet_file), "--finetune", "weights/crnn.pth",
         "--epochs", "30", "--batch_size", "8", "--lr", "1e-3", "--warmup_steps", "0", "--opt_level", "O0",
         "--workers", "0", "--device", "cpu", "--print_freq", "1000", "--val_freq", "0",
         "--output_dir", str(tmp_path / "run")]))
    out = capsys.readouterr().out
    ckpt = load_training_checkpoint(str(tmp_path / "run" / "model_best.pth"))
    assert ckpt["alphabet"] == alphabet and ckpt["model_args"]["num_classes"] == len(alphabet) + 1
    assert acc == 1.0, out[-1500:]
    if kind == "case-sensitive":  # the label read exactly, capitals and punctuation included
        with open(tmp_path / "run" / "eval_results.csv") as f:
            row = next(csv.DictReader(f))
        assert "exact %" in out and float(row["accuracy_exact"]) == 1.0
    # the last weights, which the exact column measured (model_best.pth is the first epoch right case-insensitively)
    reader = Recognizer(str(tmp_path / "run" / "checkpoint.pth"), decoder="greedy", precision="fp32")
    assert reader.read(Image.open(io.BytesIO(image))).text == label
