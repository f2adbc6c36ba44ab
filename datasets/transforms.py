"""Image preprocessing, shared by training, evaluation, parse_testdata and predict.

Grayscale, bicubic resize to 32 px high and the width of the `Width` rule,
scale to [0, 1], then (x - 0.5) / 0.5 -> float32 [1, 32, W] in [-1, 1].

The rule reads a word at its own width (its aspect ratio x 32, rounded to a
multiple of `step`, clamped to min_w..max_w): a 12-letter word is no longer
squeezed into the 100 px a 3-letter word gets. min_w == max_w is the recipe's
fixed width (aspect ratio not kept), what the seed's 32x100 ATC chain takes.
"""
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from utils.errors import UserError, check_number

IMG_H = 32
RECIPE_IMG_W = 100  # the recipe's fixed input width (32 x 100): its ONNX/.om chain and older checkpoints
MAX_SIDE = 10000  # larger "images" are corrupt entries, not word crops
# Measured best for reading (docs/own-width.md): the shipped model on the 2,000 real crops.
OWN_MIN_W, OWN_MAX_W, OWN_STEP = 100, 256, 4
# What any width flag or keyword may be: widths, the own-width step, the reading scale (checkpoints too)
WIDTH_LIMITS, STEP_LIMITS, SCALE_LIMITS = (16, 4096), (1, 256), (0.5, 4)


@dataclass(frozen=True)
class Width:
    """Input width of a word image of size w x h: its aspect ratio x 32 x `scale`, rounded to a multiple of
    `step`, clamped to min_w..max_w (min_w == max_w: a fixed width). Training draws its batches at scale 1; a
    model may read wider (its checkpoint's width_scale: models trained on synthetic words read real crops
    better a little stretched, docs/own-width.md)."""
    min_w: int = OWN_MIN_W
    max_w: int = OWN_MAX_W
    step: int = OWN_STEP
    scale: float = 1.0

    @classmethod
    def fixed(cls, img_w):
        return cls(img_w, img_w)

    @property
    def is_fixed(self):
        return self.min_w == self.max_w

    def of(self, w, h):
        """The width to read a w x h image at (any positive sizes; a 1x1 image gets min_w)."""
        if self.is_fixed:
            return self.min_w
        own = round(w * IMG_H / h * self.scale / self.step) * self.step
        return min(max(own, self.min_w), self.max_w)

    def describe(self):
        scale = f" x {self.scale:g}" if self.scale != 1 else ""
        return (f"fixed width {self.min_w} (aspect ratio not kept)" if self.is_fixed else
                f"each word at its own width: aspect x 32{scale}, multiple of {self.step}, {self.min_w}..{self.max_w} px")


def choose_width(*, img_w=None, fixed_width=False, min_w=None, max_w=None, width_step=None, width_scale=None,
                 model_img_w=RECIPE_IMG_W, model_range=None, model_scale=1.0):
    """The Width from the width flags of those names (None = not given) over the model's own: `model_img_w`
    (its fixed / export width), `model_range` ((min_w, max_w) it was trained with; None for a fixed-width
    model) and `model_scale` (its width_scale). Given values are range-checked as their flags are
    (datasets/width_flags.py), so that the reader's keywords fail as clearly as the flags."""
    for name, value, limits in (("img_w", img_w, WIDTH_LIMITS), ("min_w", min_w, WIDTH_LIMITS),
                                ("max_w", max_w, WIDTH_LIMITS), ("width_step", width_step, STEP_LIMITS)):
        if value is not None:
            check_number(name, value, *limits, integer=True)
    if width_scale is not None:
        check_number("width_scale", width_scale, *SCALE_LIMITS)
    if img_w is not None or fixed_width:
        if min_w is not None or max_w is not None:
            raise UserError("--min_w / --max_w set the own-width rule, --img_w / --fixed_width turn it off: give one "
                            "or the other")
        return Width.fixed(img_w or model_img_w)
    # A checkpoint from before the rule was trained at the fixed model_img_w: it reads from that width up.
    lo, hi = model_range if model_range is not None else (model_img_w, max(model_img_w, OWN_MAX_W))
    if lo == hi and min_w is None and max_w is None:
        return Width.fixed(lo)  # a model trained at a fixed width reads at it unless told otherwise
    lo, hi = min_w if min_w is not None else lo, max_w if max_w is not None else hi
    if lo > hi:
        raise UserError(f"--min_w {lo} is above --max_w {hi}: the own-width range is empty")
    return Width(lo, hi, width_step or OWN_STEP, model_scale if width_scale is None else width_scale)


def gray(image):
    """PIL image of any mode -> mode L. An image with an alpha channel is laid over white first (as a viewer
    shows it): converting it straight to gray would drop the alpha and turn dark text on a transparent
    background into a black image."""
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image.convert("RGBA"))
    return image.convert("L")


def extend_edges(image, share):
    """The image in gray, wider by `share` x its height on the left and on the right, its first and last
    columns repeated: room around a word cropped tight against its first or last letter."""
    pad = round(share * image.size[1])
    return Image.fromarray(np.pad(np.asarray(gray(image)), ((0, 0), (pad, pad)), mode="edge"))


def preprocess(image, width):
    """PIL image of any mode and size -> float32 array [1, 32, width.of(image size)], in gray (`gray`)."""
    image = gray(image)
    image = image.resize((width.of(*image.size), IMG_H), Image.BICUBIC)
    x = np.asarray(image, dtype=np.float32) / 255.0
    return ((x - 0.5) / 0.5)[None]


def open_image(buf, decode=True):
    """Encoded image bytes -> PIL image; ValueError for empty, undecodable or absurd images. decode=False reads
    the header only (size and mode; the pixels are decoded on first use): for images known to decode."""
    if not buf:
        raise ValueError("empty image")
    try:
        image = Image.open(io.BytesIO(buf))
        w, h = image.size
        if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
            raise ValueError(f"absurd image size {w}x{h}")
        if decode:
            image.load()
        return image
    except UnidentifiedImageError:
        raise ValueError("undecodable image: not an image format Pillow can read") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"undecodable image: {e}") from None


def decode_image(buf, width):
    """Encoded image bytes -> preprocessed array; ValueError for empty, undecodable or absurd images."""
    return preprocess(open_image(buf), width)
