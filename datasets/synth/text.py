"""What a synthetic sample says: a word, number or code, maybe with punctuation the label leaves out.

Real crops show what the benchmark protocol does not read: punctuation next to the word ("remain?",
"Ltd.", "1-800-BUY", "9:00am"). Some samples draw it; the label is always the alphanumeric
characters only, which is what the model must output.
"""
import string

from datasets.synth.features import LENGTH_WEIGHTS

UPPER_DIGITS = list(string.ascii_uppercase + string.digits)
LOWER = list(string.ascii_lowercase)
PREFIXES = ['"', "'", "(", "#", "$", "*", "-", "\u201c", "\u2018"]
SUFFIXES = [".", ",", ":", ";", "!", "?", "'", '"', ")", "%", "-", "...", '."', '?"', "!!", "'s", "\u201d", "\u2019"]
SEPARATORS = [".", "-", ":", "/", "&", "'", ","]
COMMON_WORDS = """the of and to in is you that it he was for on are as with his they at be this have from or one
had by word but not what all were we when your can said there use an each which she do how their if will up other
about out many then them these so some her would make like him into time has look two more write go see number no
way could people my than first water been call who its now find long down day did get come made may part new sale
open free exit stop push pull only city road street hotel bar cafe club shop store bank park centre center service
police taxi bus parking entrance way lane house home world news life love best good great big old high little just
man woman men back over after know year work people also well here even want because any give most us""".split()
MAX_LABEL = 22  # a model read at width 256 has 65 time steps; 22 leaves room for blanks between repeats


def alnum(text):
    return "".join(c for c in text if c.isascii() and c.isalnum())


class TextSampler:
    def __init__(self, words, features):
        self.words, self.f = words, features
        self.by_length = [[] for _ in LENGTH_WEIGHTS]  # the last list holds every longer word too
        for w in words:
            self.by_length[min(len(w), len(LENGTH_WEIGHTS)) - 1].append(w)

    @staticmethod
    def _length_bin(rng):
        return rng.choice(len(LENGTH_WEIGHTS), p=LENGTH_WEIGHTS)

    def _word(self, rng):
        if rng.random() < self.f["common_word"]:
            return COMMON_WORDS[rng.integers(len(COMMON_WORDS))]
        if self.words:
            pool = self.by_length[self._length_bin(rng)] or self.words
            return pool[rng.integers(len(pool))]
        return "".join(rng.choice(LOWER, self._length_bin(rng) + 1))  # no word list: random letters

    def _core_text(self, rng):
        r, f = rng.random(), self.f
        if r < f["digits"]:
            return "".join(rng.choice(list(string.digits), rng.integers(1, 7)))
        if r < f["digits"] + f["code"]:
            return "".join(rng.choice(UPPER_DIGITS, rng.integers(2, 8)))
        if r < f["digits"] + f["code"] + f["random_letters"]:
            letters = "".join(rng.choice(LOWER, self._length_bin(rng) + 1))
            return letters.upper() if rng.random() < 0.5 else letters
        word, case = self._word(rng), rng.random()
        return word.upper() if case < 0.42 else word.capitalize() if case < 0.70 else word.lower()

    def sample_text(self, rng):
        """-> (text drawn in the image, label = its alphanumeric characters)."""
        text = self._core_text(rng)
        if rng.random() < self.f["compound"]:
            text = text + SEPARATORS[rng.integers(len(SEPARATORS))] + self._core_text(rng)
        if rng.random() < self.f["punctuation"]:
            if rng.random() < 0.3:
                text = PREFIXES[rng.integers(len(PREFIXES))] + text
            if rng.random() < 0.85:
                text = text + SUFFIXES[rng.integers(len(SUFFIXES))]
        label = alnum(text)
        if len(label) > MAX_LABEL or not label:
            text = label = alnum(self._core_text(rng))[:MAX_LABEL] or "a"
        return text, label

    def small_print(self, rng, chars):
        """A line of small print (about `chars` characters of words), never labelled."""
        parts = []
        while sum(len(p) + 1 for p in parts) < chars:
            parts.append(self._word(rng))
        line = " ".join(parts)[:chars]
        return line.upper() if rng.random() < 0.4 else line
