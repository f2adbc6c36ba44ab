"""Image preprocessing of the recipe, shared by training, parse_testdata and predict.

Grayscale, bicubic resize to img_w x img_h (aspect ratio not kept), scale to
[0, 1], then (x - 0.5) / 0.5 -> float32 [1, img_h, img_w] in [-1, 1].
"""
import io

import numpy as np
from PIL import Image

MAX_SIDE = 10000  # larger "images" are corrupt entries, not word crops


def preprocess(image, img_h=32, img_w=100):
    """PIL image of any mode and size -> float32 array [1, img_h, img_w]."""
    image = image.convert("L").resize((img_w, img_h), Image.BICUBIC)
    x = np.asarray(image, dtype=np.float32) / 255.0
    return ((x - 0.5) / 0.5)[None]


def decode_image(buf, img_h=32, img_w=100):
    """Encoded image bytes -> preprocessed array; ValueError for empty, undecodable or absurd images."""
    if not buf:
        raise ValueError("empty image")
    try:
        image = Image.open(io.BytesIO(buf))
        w, h = image.size
        if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
            raise ValueError(f"absurd image size {w}x{h}")
        return preprocess(image, img_h, img_w)
    except (OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"undecodable image: {e}") from None
