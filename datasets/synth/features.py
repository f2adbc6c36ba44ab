"""Every feature of the synthetic generator as one named probability, in one table.

An ablation is a one-line change: set a name (or the group `lettering`) to 0 here, or, for
one run without editing code,

    CRNN_SYNTH_FEATURES="lettering=0" python main.py --synth_stream --synth_train 200000

The cached data set's folder name carries the override (synth_build.synth_dir), so two ablations
never share a cache. Each value is the probability that one sample draws the feature.
"""
import os
import re

import numpy as np

from utils.errors import UserError

FEATURES_ENV = "CRNN_SYNTH_FEATURES"

FEATURES = {
    # ---- text: what is written --------------------------------------------------------------
    "common_word": 0.2,      # a word from the built-in list of common sign/caption words
    "digits": 0.10,          # a digit string instead of a word
    "code": 0.06,            # an upper-case letter/digit code
    "random_letters": 0.12,  # random letters (no word list: every word is random letters)
    "compound": 0.07,        # two parts joined: www.name.nl, 1-800-BUY, 9:00am
    "punctuation": 0.22,     # quotes, brackets, "!!", "'s" drawn around the word, not labelled
    # ---- v4 lettering: what real misreads show and v3 never drew ------------------------------
    "colour": 0.5,           # coloured ink, outline, shadow and background, then grey as a camera does
    "hollow": 0.04,          # outline-only letters
    "texture_fill": 0.06,    # letters filled with dots, stripes or a photo texture
    "outline": 0.08,         # filled letters with an outline of another colour
    "italic": 0.08,          # a synthetic oblique (any face)
    "script": 0.05,          # a script / handwriting face, where the font set has one
    "arc": 0.05,             # the word set on an arc
    "small_print": 0.06,     # a line of small print just above or below the word
    "strong_perspective": 0.06,  # one end of the word much nearer the camera than the other
    "extrude": 0.04,         # extruded 3-D letters
    "drop_shadow": 0.06,     # a soft shadow cast behind the letters
    # ---- v3 geometry, backgrounds and camera -------------------------------------------------
    "wide_spacing": 0.15,    # letter spacing of 5-35% of the size (else +-4%)
    "stroke": 0.18,          # letters made bolder by a 1-2 px stroke
    "warp": 0.65,            # a small rotation (and maybe shear / mild perspective)
    "shear": 0.3,            # shear, given a warp
    "perspective": 0.2,      # mild perspective, given a warp
    "edge_clutter": 0.2,     # cut-off letters of a neighbouring word, or a sign border, at the edges
    # ---- v6: the crops real benchmarks cut ----------------------------------------------------
    "edge_cut": 0.15,        # the crop cuts into the first and/or last letter (it stays in the label)
    "tight_crop": 0.12,      # the crop cuts the tops and bottoms of the letters a little
    "hard_shadow": 0.1,      # a sharp 1-3 px offset shadow
    "invert": 0.15,          # the ink on the same side of grey as the background (then pushed to the other)
    "low_contrast": 0.08,    # ink only 45-80 grey levels from the background
    "flat_background": 0.3,
    "gradient_background": 0.2,
    "photo_background": 0.25,  # a crop of a photo (falls back to flat without photos); the rest: smooth noise
    "background_noise": 0.5,
    # ---- v7: words turned about, and scene text seen close up (the scene part at half the probabilities first
    # tried: at 51,200 images it showed no gain on the development crops; docs/experiments/2026-12-04-generator-v7.md)
    "upside_down": 0.04,     # the word turned 180 degrees, labelled in reading order (a turned word read the
                             # wrong way round, and real upside-down text)
    "stacked": 0.02,         # upright letters stacked top to bottom, as the reader sees them once it turns the
                             # tall crop a quarter turn anticlockwise: letters lying on their side, in order
    "steep_slant": 0.06,     # turned 15-45 degrees (a turned word at 50-75 degrees, once read a quarter off)
    "pose_3d": 0.06,         # the word on a plane turned in 3-D (yaw up to 55, pitch up to 35 degrees), seen
                             # through a pinhole camera: perspective from a pose, not a 2-D warp
    "uneven_light": 0.1,     # light falling off across the word (a smooth gain field of 0.35-1.3)
    "glare": 0.03,           # a bright, soft highlight over part of the letters
    "shadow": 0.05,          # a soft-edged shadow across part of the word
    "occlusion": 0.03,       # something in front: a pole, a wire, a branch or a blob over part of the letters
    "motion_blur": 0.04,     # a camera moving (or out of focus) during the shot
    "tiny_res": 0.1,         # v6: drawn at 8-12 px high, then upscaled to 32 (small, far-away words)
    "low_res": 0.25,         # drawn at 16-25 px high, then upscaled to 32 (when not tiny)
    "blur": 0.2,
    "noise": 0.3,
    "jpeg": 0.3,
}

GROUPS = {
    "lettering": ("colour", "hollow", "texture_fill", "outline", "italic", "script", "arc", "small_print",
                  "strong_perspective", "extrude", "drop_shadow"),
    "turns": ("upside_down", "stacked", "steep_slant"),
    "scene": ("pose_3d", "uneven_light", "glare", "shadow", "occlusion", "motion_blur"),
}

# Word length weights, 1..16 letters: running English text, so no word of 13+ letters is drawn (the zeros keep
# v5 the distribution the ablation measured); 10+ letters in ~7% of labels with codes and compounds. v4 drew a
# long tail instead (~15%); the ablation (README, "Ablation") found it does not pay once words are read at
# their own width, so v5 dropped it.
RUNNING_TEXT = np.array([3, 17, 20, 16, 11, 9, 8, 6, 4, 3, 2, 1, 0, 0, 0, 0], np.float64)
LENGTH_WEIGHTS = RUNNING_TEXT / RUNNING_TEXT.sum()


def parse_overrides(text):
    """'lettering=0,arc=0.5' -> {name: probability}, every name in FEATURES or GROUPS."""
    out = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, value = item.partition("=")
        name = name.strip()
        try:
            p = float(value)
        except ValueError:
            p = -1.0
        if not 0 <= p <= 1:
            raise UserError(f"${FEATURES_ENV}: {item!r} needs NAME=PROBABILITY with a probability in [0, 1]")
        if name not in FEATURES and name not in GROUPS:
            raise UserError(f"${FEATURES_ENV}: unknown feature {name!r}; known: "
                            f"{', '.join(list(GROUPS) + list(FEATURES))}")
        for member in GROUPS.get(name, (name,)):
            out[member] = p
    return out


def features(overrides=None):
    """The table with `overrides` applied (None: those of $CRNN_SYNTH_FEATURES)."""
    if overrides is None:
        overrides = parse_overrides(os.environ.get(FEATURES_ENV))
    return {**FEATURES, **overrides}


def override_tag():
    """A folder-name-safe text of $CRNN_SYNTH_FEATURES ('' when unset), for the cache's name."""
    text = os.environ.get(FEATURES_ENV, "")
    parse_overrides(text)  # a bad override fails here, before anything is built
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text.replace(",", "-").replace(" ", "")).strip("-")
