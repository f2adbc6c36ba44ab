"""The rule for crops taller than wide: a word turned a quarter turn, or stacked letters.

In real scene text most such crops hold a whole word turned about 90 degrees, more often reading bottom to
top than top to bottom, some a steep slant; stacked upright letters are rare. With orientation "auto" a crop
narrower than TALL x its height is read three ways: as given, turned a quarter turn clockwise (a word that
reads bottom to top comes upright) and anticlockwise (top to bottom; stacked letters come out in order, lying
on their side, as the generator draws them). Plain confidence is a poor judge of which read is right: the
upright read of a turned word is often one confident character. The rule keeps the read with the highest

    score = log(confidence) + LENGTH_BONUS * min(len(text), MAX_BONUS_CHARS)

so that a read that finds a word beats one that finds a letter or two; an empty read never wins. Chosen on
the development crops turned by hand, synthetic turned words and the development crops that are tall as they
are (bench/orientation.py; docs/reading.md, "Crops taller than wide"), with the shipped model's reads: a bonus
per character closed more than half of the gap between the most confident read and the best of the three,
and a prior for the clockwise turn (the more common one) did not pay, the model's confidence already telling
an upright word from one upside down.


The read loop that applies it is inference/read.py.
"""
import math

import numpy as np
from PIL import Image

from utils.cli import float_range

ORIENTATIONS = ("auto", "upright")
TALL = 0.8  # a crop narrower than this times its height is read three ways
TURNS = (None, Image.Transpose.ROTATE_270, Image.Transpose.ROTATE_90)  # as given, clockwise, anticlockwise
TURN_NAMES = ("as given", "clockwise", "anticlockwise")
LENGTH_BONUS, MAX_BONUS_CHARS = 0.75, 8
EDGE_PAD = 0.25  # the reader's second read: edges extended by this x the height (0: read once)


def add_orientation_arg(group, what):
    """--orientation, shared by predict.py and main.py (--eval_only)."""
    group.add_argument("--orientation", default="auto", choices=ORIENTATIONS,
                       help=f"auto: {what} a crop narrower than {TALL} x its height three ways (as given, turned a "
                            "quarter turn clockwise and anticlockwise) and keep the read the rule picks "
                            "(inference/orientation.py); upright: as given only")


def add_edge_pad_arg(group):
    """--edge_pad, shared by predict.py and the accuracy bench."""
    group.add_argument("--edge_pad", type=float_range(0, 1, zero="read each crop once"), default=EDGE_PAD,
                       help="also read each crop with its left and right edges extended by this x its height (the "
                            "edge columns repeated) and keep the more confident read")


def is_tall(image):
    width, height = image.size
    return width < TALL * height


def choose(texts, confidences):
    """The index of the read the rule keeps among one crop's reads in TURNS order."""
    scores = [math.log(max(conf, 1e-30)) + LENGTH_BONUS * min(len(text), MAX_BONUS_CHARS)
              if text else -math.inf for text, conf in zip(texts, confidences)]
    return int(np.argmax(scores)) if max(scores) > -math.inf else 0
