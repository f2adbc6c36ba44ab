"""What a synthetic sample says when the model's alphabet is not the default 0-9a-z: text drawn from the
alphabet's own characters, every one of them in the label.

The renderer picks the font first; the text then uses only characters that font draws (its coverage,
coverage.py), so no sample holds a character its font lacks. Words come from a word list for the
alphabet's language (--synth_words: a file, or a word list of the assets folder such as trdg's
dicts/cn.txt) when it has words the font can draw, else random strings of the alphabet. Case is kept
in the label when the alphabet has both cases (a face that draws only capitals gets its words in
capitals); punctuation of the alphabet is drawn around and inside words and labelled. The same
features as the default text (features.py) decide digits, codes, random strings, compounds and
punctuation.
"""
import string

from datasets.synth.features import LENGTH_WEIGHTS
from datasets.synth.text import COMMON_WORDS, MAX_LABEL, PREFIXES, SEPARATORS, SUFFIXES


class AlphabetText:
    def __init__(self, alphabet, words, features):
        self.alphabet, self.f = alphabet, features
        self.cased = any(c.isupper() for c in alphabet) and any(c.islower() for c in alphabet)
        # a word list in any case fits a one-case alphabet once in its case
        self.words = [w for w in (words if self.cased else map(self._one_case, words)) if w and set(w) <= set(alphabet)]
        self.punct = [c for c in alphabet if not c.isalnum() and not c.isspace()]
        affixes = [a for a in PREFIXES + SUFFIXES + SEPARATORS if set(a) <= set(self.punct)]
        self.prefixes = [a for a in affixes if a in PREFIXES] or self.punct
        self.suffixes = [a for a in affixes if a in SUFFIXES] or self.punct
        self.separators = [a for a in affixes if a in SEPARATORS] or self.punct
        self._by_font = {}

    def _pools(self, covered):
        """Per font coverage: (its words by length, digits, upper-case letters, letters or other characters)."""
        if covered not in self._by_font:
            chars = [c for c in self.alphabet if c in covered]
            by_length = [[] for _ in LENGTH_WEIGHTS]  # the last list holds every longer word too
            for w in self.words:
                if set(w) <= covered:
                    by_length[min(len(w), len(LENGTH_WEIGHTS)) - 1].append(w)
            common = [w for w in (COMMON_WORDS if self.cased else [self._one_case(w) for w in COMMON_WORDS])
                      if set(w) <= covered]
            self._by_font[covered] = ((by_length, common),
                                  [c for c in chars if c in string.digits],
                                  [c for c in chars if c.isupper()],
                                  [c for c in chars if c.isalpha()] or [c for c in chars if not c.isspace()])
        return self._by_font[covered]

    def _one_case(self, word):
        return word.upper() if self.alphabet == self.alphabet.upper() else word.lower()

    def _word(self, rng, words, letters):
        """A word of a length drawn as running text's (LENGTH_WEIGHTS), a common one now and then, or random
        letters when the font draws no listed word."""
        by_length, common = words
        if common and rng.random() < self.f["common_word"]:
            return common[rng.integers(len(common))]
        pool = by_length[int(rng.choice(len(LENGTH_WEIGHTS), p=LENGTH_WEIGHTS))] or [w for b in by_length for w in b]
        return pool[rng.integers(len(pool))] if pool else "".join(rng.choice(letters, self._length(rng)))

    def _case(self, word, caps_only):
        return word.upper() if caps_only and self.cased else word

    def _length(self, rng):
        return int(rng.choice(len(LENGTH_WEIGHTS), p=LENGTH_WEIGHTS)) + 1

    def _core(self, rng, pools, caps_only):
        words, digits, upper, letters = pools
        r, f = rng.random(), self.f
        if r < f["digits"] and digits:
            return "".join(rng.choice(digits, rng.integers(1, 7)))
        if r < f["digits"] + f["code"] and upper and digits:
            return "".join(rng.choice(upper + digits, rng.integers(2, 8)))
        if r < f["digits"] + f["code"] + f["random_letters"] and letters:
            return "".join(rng.choice(letters, self._length(rng)))
        word = self._word(rng, words, letters or digits)
        if self.cased and not caps_only:
            case = rng.random()
            word = word.upper() if case < 0.42 else word.capitalize() if case < 0.70 else word.lower()
        return self._case(word, caps_only)

    def sample_text(self, rng, covered, caps_only=False):
        """-> (text, label): the same string, every character in the alphabet and drawn by the font."""
        pools = self._pools(covered)
        text = self._core(rng, pools, caps_only)
        if self.punct and rng.random() < self.f["compound"]:
            text += self.separators[rng.integers(len(self.separators))] + self._core(rng, pools, caps_only)
        if self.punct and rng.random() < self.f["punctuation"]:
            if rng.random() < 0.3:
                text = self.prefixes[rng.integers(len(self.prefixes))] + text
            if rng.random() < 0.85:
                text += self.suffixes[rng.integers(len(self.suffixes))]
        text = "".join(c for c in text if c in covered)[:MAX_LABEL]
        if not text:
            chars = [c for c in self.alphabet if c in covered and not c.isspace()]
            text = chars[rng.integers(len(chars))]
        return text, text

    def small_print(self, rng, chars, covered):
        """A line of small print in the alphabet (never labelled)."""
        pools = self._pools(covered)
        parts = []
        while sum(len(p) + 1 for p in parts) < chars:
            parts.append(self._core(rng, pools, False))
        return " ".join(parts)[:chars]
