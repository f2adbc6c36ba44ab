"""Labels -> CTC targets, shared by training, evaluation and post-processing (decoding, the way
back: decoding/ctc_decoder.py).

Index 0 is the CTC blank; character i of the alphabet is class i + 1, so the
default alphabet `0-9a-z` gives 37 classes.
"""
import os
import string

import torch

from utils.errors import NotFoundError, UserError
from utils.files import read_text

DEFAULT_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
# --alphabet by name: the seed's (the benchmarks'), and clovaai's deep-text-recognition-benchmark "sensitive" set
NAMED_ALPHABETS = {"0-9a-z": DEFAULT_ALPHABET,
                   "dtrb94": DEFAULT_ALPHABET + string.ascii_uppercase + string.punctuation}
BLANK = 0


def load_alphabet(value):
    """`value` is a name of NAMED_ALPHABETS, the alphabet itself, or the path of a file holding it (newlines
    ignored)."""
    if value in NAMED_ALPHABETS:
        return NAMED_ALPHABETS[value]
    if value and os.path.isdir(value):
        raise UserError(f"--alphabet {value} is a folder: give the characters or a text file holding them")
    if value and os.path.isfile(value):
        value = "".join(read_text(value, "alphabet file").splitlines())
    elif value and value.endswith(".txt"):
        raise NotFoundError(f"--alphabet file not found: {value}")
    if not value:
        raise UserError("--alphabet is empty: give the characters (e.g. 0123456789abcdefghijklmnopqrstuvwxyz) or a file")
    if len(set(value)) != len(value):
        raise UserError(f"--alphabet has repeated characters: {value!r}")
    return value


def normalize_for_eval(text):
    """The benchmark protocol: case-insensitive, alphanumeric characters only."""
    return "".join(c for c in text.lower() if c.isalnum())


class LabelConverter:
    def __init__(self, alphabet=DEFAULT_ALPHABET):
        self.alphabet = alphabet
        # Labels are lower-cased; an alphabet with upper-case letters keeps case.
        self.lower = alphabet == alphabet.lower()
        self.index = {c: i + 1 for i, c in enumerate(alphabet)}

    @property
    def num_classes(self):
        return len(self.alphabet) + 1

    def clean(self, label):
        return label.lower() if self.lower else label

    def is_encodable(self, label):
        return all(c in self.index for c in self.clean(label))

    def strip(self, label):
        """The cleaned label without the characters the alphabet lacks."""
        return "".join(c for c in self.clean(label) if c in self.index)

    def encode(self, labels):
        """list of str -> (targets [sum(len)], lengths [B]) as int32 tensors for CTCLoss."""
        cleaned = [self.clean(t) for t in labels]
        targets = [self.index[c] for t in cleaned for c in t]
        lengths = [len(t) for t in cleaned]
        return torch.tensor(targets, dtype=torch.int32), torch.tensor(lengths, dtype=torch.int32)
