"""CTC decoding (decoding/ctc_decoder.py) and the character language model (decoding/char_lm.py)."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from decoding.char_lm import CharLM
from decoding.ctc_decoder import SHIPPED_LM, BeamSearchDecoder, greedy_decode, make_decoder
from utils.errors import UserError
from utils.label_converter import DEFAULT_ALPHABET

A = DEFAULT_ALPHABET


def one_hot_logits(ids, num_classes=37):
    """[T] class ids -> [T, 1, C] scores whose argmax is `ids`."""
    logits = torch.full((len(ids), 1, num_classes), -10.0)
    for t, i in enumerate(ids):
        logits[t, 0, i] = 10.0
    return logits


def spelled(word, alternatives=None, sure=8.0):
    """Scores [T, 1, 37] that spell `word` with a blank after each letter; alternatives {position: letter}
    get the same score as the letter there (an optical tie)."""
    steps = []
    for i, ch in enumerate(word):
        row = np.full(37, -sure, np.float32)
        row[A.index(ch) + 1] = sure
        if alternatives and i in alternatives:
            row[A.index(alternatives[i]) + 1] = sure
        blank = np.full(37, -sure, np.float32)
        blank[0] = sure
        steps += [row, blank]
    return np.stack(steps)[:, None]


@pytest.fixture(scope="module")
def lm():
    return CharLM.load(SHIPPED_LM)


def test_greedy_collapses_repeats_and_drops_blanks():
    for path, text in (([0, 0, 11, 11, 0, 11, 12, 12, 0], "aab"), ([0, 0, 0], ""), ([1, 1, 1, 2], "01")):
        assert greedy_decode(one_hot_logits(path), A)[0] == [text]


@pytest.mark.parametrize("shape", [(26, 16, 37), (65, 5, 37), (12, 9, 4), (30, 3, 400), (1, 2, 37)])
def test_beam_1_without_lm_is_greedy(shape):
    """Texts and confidences, on random scores both flat and peaked (as trained models give)."""
    rng = np.random.default_rng(sum(shape))
    for scale in (1.0, 6.0):
        scores = rng.normal(0, scale, shape).astype(np.float32)
        alphabet = A if shape[2] == 37 else "".join(chr(0x4E00 + i) for i in range(shape[2] - 1))
        texts, confs = greedy_decode(scores, alphabet)
        b_texts, b_confs = BeamSearchDecoder(alphabet, None, beam_width=1).decode(scores)
        assert b_texts == texts
        np.testing.assert_allclose(np.log(b_confs), np.log(confs), atol=1e-4)  # float32 sums, in other orders
        assert any(texts) and all(0 < c <= 1 for c in confs)


def test_wider_beam_without_lm_keeps_the_best_alignment():
    """Without an LM a wider beam ranks best alignments only: never a worse one than greedy's path."""
    rng = np.random.default_rng(3)
    scores = rng.normal(0, 3, (30, 8, 37)).astype(np.float32)
    _, g_conf = greedy_decode(scores, A)
    texts, confs = BeamSearchDecoder(A, None, beam_width=8).decode(scores)
    assert texts == greedy_decode(scores, A)[0]  # the best path is the best alignment of its own text
    np.testing.assert_allclose(np.log(confs), np.log(g_conf), atol=1e-4)


def test_lm_rows_are_distributions(lm):
    assert lm.order == 6 and lm.letters == "abcdefghijklmnopqrstuvwxyz"
    for prefix in ("", "th", "statio", "qzxv"):
        probs = np.exp(lm.logp[lm.state(prefix)].astype(np.float64))
        assert probs.shape == (27,) and abs(probs.sum() - 1) < 1e-5 and (probs > 0).all()
    start = np.exp(lm.logp[lm.start].astype(np.float64))  # a word's first letter: counted, not smoothed away
    assert start[lm.letters.index("s")] > 5 * start[lm.letters.index("x")] and start[lm.end] < 1e-3
    assert lm.word_logprob("station") > lm.word_logprob("stadon") + 3
    assert "station" in lm.words and len(lm.words) == lm.meta["words"] == 200000
    assert "CC BY-SA" in lm.meta["licence"] and "python -m tools.build_char_lm" in lm.meta["command"]


@pytest.mark.parametrize("word, position, other", [("design", 5, "a"), ("america", 5, "g"), ("station", 3, "d")])
def test_known_word_beats_one_letter_off(lm, word, position, other):
    """At equal optical scores greedy takes whichever class comes first; the LM takes the word."""
    scores = spelled(word, {position: other})
    wrong = word[:position] + min(other, word[position]) + word[position + 1:]
    assert greedy_decode(scores, A)[0] == [wrong if wrong != word else word]
    texts, confs = BeamSearchDecoder(A, lm).decode(scores)
    assert texts == [word] and 0 < confs[0] <= 0.51  # the tied letter had probability 1/2


def test_numbers_and_codes_read_as_seen(lm):
    """Digits are LM-neutral: a confident number or code is not turned into letters or dropped."""
    for text in ("2024", "a38", "exit24", "0", "x7k2"):
        assert BeamSearchDecoder(A, lm).decode(spelled(text))[0] == [text], text


def test_batch_equals_one_by_one(lm):
    rng = np.random.default_rng(5)
    scores = rng.normal(0, 4, (26, 12, 37)).astype(np.float32)
    dec = BeamSearchDecoder(A, lm)
    texts, confs = dec.decode(scores)
    for b in range(12):
        t, c = dec.decode(scores[:, b:b + 1])
        assert t == [texts[b]] and abs(c[0] - confs[b]) < 1e-6


def test_case_sensitive_alphabet_reads_upper_case_through_the_lm(lm):
    alphabet = A + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    scores = spelled("design", {5: "a"})
    scores = np.concatenate([scores, np.full((len(scores), 1, 26), -8.0, np.float32)], 2)
    upper = scores.copy()
    upper[:, :, 11:37], upper[:, :, 37:] = scores[:, :, 37:], scores[:, :, 11:37]  # the same word in capitals
    assert BeamSearchDecoder(alphabet, lm).decode(upper)[0] == ["DESIGN"]


def test_lm_errors(tmp_path, lm):
    with pytest.raises(UserError, match="language model not found: .*none.npz"):
        CharLM.load(str(tmp_path / "none.npz"))
    (tmp_path / "bad.npz").write_bytes(open(SHIPPED_LM, "rb").read()[:5000])
    with pytest.raises(UserError, match="cannot read language model .*bad.npz"):
        CharLM.load(str(tmp_path / "bad.npz"))
    with pytest.raises(UserError, match="knows the letters abcdefghijklmnopqrstuvwxyz, not '一是的'"):
        BeamSearchDecoder("的一是", lm)
    assert make_decoder("greedy", "的一是").decode(one_hot_logits([1, 0, 2], 4))[0] == ["的一"]


def test_build_tool_writes_a_loadable_lm(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("cat\ncar\ncart\ndon't\nnaïve\ncat\nDog\n")
    out = tmp_path / "lm.npz"
    r = subprocess.run([sys.executable, "-m", "tools.build_char_lm", str(out), "--words", str(words), "--order", "3",
                        "--min_count", "1", "--licence", "mine"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "5 words from words.txt (1 left out" in r.stdout
    small = CharLM.load(str(out))
    assert small.words == {"cat", "car", "cart", "dont", "dog"} and small.meta["licence"] == "mine"
    assert small.word_logprob("cat") > small.word_logprob("cta")
    assert abs(np.exp(small.logp.astype(np.float64)).sum(1) - 1).max() < 1e-5
