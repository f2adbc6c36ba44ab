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

ORIENTATIONS = ("auto", "upright")
TALL = 0.8  # a crop narrower than this times its height is read three ways
TURNS = (None, Image.Transpose.ROTATE_270, Image.Transpose.ROTATE_90)  # as given, clockwise, anticlockwise
TURN_NAMES = ("as given", "clockwise", "anticlockwise")
# The bonus is a model's reading setting (inference/model_file.py): this is the default of a model whose file
# names none; the shipped model's file holds the one tuned for it.
LENGTH_BONUS, MAX_BONUS_CHARS = 0.75, 8


def is_tall(image):
    width, height = image.size
    return width < TALL * height


def choose(texts, confidences, length_bonus=LENGTH_BONUS):
    """The index of the read the rule keeps among one crop's reads in TURNS order (`length_bonus`: the model's,
    inference/model_file.py)."""
    scores = [math.log(max(conf, 1e-30)) + length_bonus * min(len(text), MAX_BONUS_CHARS)
              if text else -math.inf for text, conf in zip(texts, confidences)]
    return int(np.argmax(scores)) if max(scores) > -math.inf else 0
