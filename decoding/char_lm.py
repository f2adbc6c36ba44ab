"""The character language model of beam-search decoding (built by tools/build_char_lm.py).

A character n-gram over the letters a-z of words: P(next letter or the word's end | the word's
previous order-1 letters, or its start). The file (.npz) holds the kept contexts as integers
(`encode_context`), each context's distribution quantised to QUANT nat steps, the word list the
LM was counted over (for the decoder's whole-word bonus) and a JSON record of its source, licence
and build command. Loading builds the transition table (context, letter) -> the longest kept
suffix of context + letter, as an Aho-Corasick automaton does, so a decoder moves from state to
state by one table read.

    lm = CharLM.load("weights/char_lm_en.npz")
    lm.word_logprob("station") > lm.word_logprob("stadon")   # True
"""
import json
import os
import zipfile

import numpy as np

from utils.errors import NotFoundError, UserError

LETTERS = "abcdefghijklmnopqrstuvwxyz"
BOS, EOS = "^", "$"
QUANT = 0.1  # nats per quantisation step (255 steps: down to P = e^-25.5)
_BASE = len(LETTERS) + 2  # digit 0 unused, so that "a" and "aa" differ; BOS is the last digit
_CODE = {**{c: i + 1 for i, c in enumerate(LETTERS)}, BOS: len(LETTERS) + 1}
KEYS = ("contexts", "logp", "words", "meta")


def encode_context(text):
    """A context ("", "^", "^ab", "tio", ...) -> int; sorting the codes sorts contexts by length, then text."""
    code = 0
    for c in text:
        code = code * _BASE + _CODE[c]
    return code


class CharLM:
    def __init__(self, contexts, logp, words, meta, path="<memory>"):
        self.path, self.meta = path, meta
        self.order, self.letters = int(meta["order"]), meta["letters"]
        self.logp = logp                                   # [S, letters + end]
        self.end = len(self.letters)
        # the decoder's two lookups, contiguous: P(letter | state) and P(end | state)
        self.letter_logp, self.end_logp = np.ascontiguousarray(logp[:, :-1]), np.ascontiguousarray(logp[:, -1])
        self.words = words
        self.next = _transitions(contexts, self.order, len(self.letters))  # [S, letters]
        self.start = int(np.searchsorted(contexts, encode_context(BOS)))

    @classmethod
    def load(cls, path):
        """-> CharLM; a missing, unreadable or foreign file is one UserError naming it."""
        if not os.path.isfile(path):
            raise NotFoundError(f"language model not found: {path} (build one with tools/build_char_lm.py, or "
                            "decode with --decoder greedy)")
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in KEYS if k not in z.files]
                if missing:
                    raise UserError(f"{path} is not a language model of tools/build_char_lm.py (missing "
                                    f"{', '.join(missing)})")
                contexts, quantised = z["contexts"].astype(np.int64), z["logp"]
                words = frozenset(z["words"].tobytes().decode().split("\n"))
                meta = json.loads(str(z["meta"]))
        except UserError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, UnicodeDecodeError, KeyError) as e:
            raise UserError(f"cannot read language model {path}: corrupt or not an .npz file "
                            f"({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})") from None
        letters = meta.get("letters")
        if (letters != LETTERS or quantised.ndim != 2 or quantised.shape != (len(contexts), len(LETTERS) + 1)
                or not 2 <= int(meta.get("order", 0)) <= 6 or len(contexts) == 0 or contexts[0] != 0
                or encode_context(BOS) not in set(contexts[:_BASE].tolist())):
            raise UserError(f"{path}: an inconsistent language model (tables of shape {quantised.shape} for "
                            f"{len(contexts)} contexts, letters {str(letters)[:40]!r}): rebuild it")
        logp = -quantised.astype(np.float64) * QUANT
        logp -= np.log(np.exp(logp).sum(1, keepdims=True))  # undo the rounding: each row sums to 1 again
        return cls(contexts, logp.astype(np.float32), words, meta, path)

    def state(self, prefix):
        """The state after the letters of `prefix` at the start of a word."""
        s = self.start
        for c in prefix:
            s = self.next[s, self.letters.index(c)]
        return s

    def word_logprob(self, word):
        """log P(word) under the LM: its letters and its end, from the word's start."""
        s, total = self.start, 0.0
        for c in word:
            i = self.letters.index(c)
            total += float(self.logp[s, i])
            s = self.next[s, i]
        return total + float(self.logp[s, self.end])

    def describe(self):
        return f"{os.path.basename(self.path)} ({self.order}-gram, {self.meta['words']} words of {self.meta['source']})"


def _transitions(contexts, order, num_letters):
    """next[i, x]: the longest kept suffix of context i + letter x (at most order - 1 symbols). Kept contexts
    are closed under suffixes, so the fallback is the transition of context i without its first symbol."""
    lengths = np.zeros(len(contexts), np.int64)
    code = contexts.copy()
    while code.any():
        lengths += code > 0
        code //= _BASE
    nxt = np.zeros((len(contexts), num_letters), np.int32)
    letters = np.arange(1, num_letters + 1)
    for length in range(order):
        ids = np.nonzero(lengths == length)[0]
        if not len(ids):
            continue
        fallback = nxt[_find(contexts, contexts[ids] % _BASE ** max(length - 1, 0))] if length else None
        if length < order - 1:
            child = contexts[ids, None] * _BASE + letters
            pos = _find(contexts, child)
            found = contexts[pos] == child
            nxt[ids] = np.where(found, pos, fallback if fallback is not None else 0)
        else:
            nxt[ids] = fallback
    return nxt


def _find(sorted_codes, codes):
    return np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
