"""What the Python reader accepts as an image, and the one rule for arrays.

- a path (str or os.PathLike) of an image file Pillow reads; an error names the file;
- a PIL image of any mode (with an alpha channel: laid over white, datasets/transforms.preprocess);
- a numpy array H x W (gray), H x W x 1, H x W x 3 (RGB) or H x W x 4 (RGBA), of
  - bool: True is white;
  - an integer type: values 0-255 as they are; uint16 (0-65535, 16-bit files) scaled to 0-255;
  - a float type: values in [0, 1], as torchvision and scikit-image make images, are scaled by 255; an
    array with values above 1 (but none above 255) is taken as 0-255, as np.asarray(pil_image, float)
    gives.
Anything else (an empty or 4-D array, complex, object or string dtypes, NaN, negative values, values above
the range) is a ValueError naming the array's shape and dtype; another type is a TypeError naming it.
"""
import os

import numpy as np
from PIL import Image

CHANNELS = {1: "L", 3: "RGB", 4: "RGBA"}


def array_to_image(array):
    """A numpy array by the rule above -> PIL image."""
    what = f"array of shape {tuple(array.shape)} and dtype {array.dtype}"
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in CHANNELS):
        raise ValueError(f"cannot read an {what}: expected H x W, H x W x 1, H x W x 3 (RGB) or H x W x 4 (RGBA)")
    if array.size == 0:
        raise ValueError(f"cannot read an empty {what}")
    kind = array.dtype.kind
    if kind == "b":
        pixels = array.astype(np.uint8) * 255
    elif kind in "ui":
        lo, hi = int(array.min()), int(array.max())
        if array.dtype == np.uint16:
            pixels = (array.astype(np.uint32) * 255 + 32767) // 65535
        elif lo < 0 or hi > 255:
            raise ValueError(f"cannot read an {what} with values {lo}..{hi}: integer pixels are 0..255 "
                             "(uint16: 0..65535)")
        else:
            pixels = array
    elif kind == "f":
        if not np.isfinite(array).all():
            raise ValueError(f"cannot read an {what} holding NaN or inf")
        lo, hi = float(array.min()), float(array.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"cannot read an {what} with values {lo:g}..{hi:g}: float pixels are in [0, 1] "
                             "(or 0..255)")
        pixels = np.rint(array * 255 if hi <= 1 else array)
    else:
        raise ValueError(f"cannot read an {what}: pixels must be bool, integers or floats")
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    return Image.fromarray(pixels, CHANNELS[1 if pixels.ndim == 2 else pixels.shape[2]])


def read_file(path):
    """The bytes of an image file; an OSError naming it."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:  # the same type (FileNotFoundError, IsADirectoryError, ...), naming the file
        raise type(e)(f"cannot read image file {os.fspath(path)}: {e.strerror or e}") from None


def check_image_type(image):
    if not isinstance(image, (str, os.PathLike, Image.Image, np.ndarray)):
        hint = ": pass tensor.permute(1, 2, 0).numpy() for a C x H x W tensor" if hasattr(image, "detach") else ""
        raise TypeError(f"expected an image path, a PIL image or a numpy array, got {type(image).__name__}{hint}")
