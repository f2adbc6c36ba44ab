"""Augmentation of real training crops (main.py --real_dir): the generator's degradations that apply to an image
that already exists, each a named probability in one table, as the generator's features are.

A few thousand real crops repeat many times in a run; each draw of one is changed a little: its box moved (a
detector's crop is never the same twice), turned and put in mild perspective, its contrast and light changed,
resolution lost, blurred, noisy, JPEG'd. The crop is first scaled to 32 px high (its aspect kept), the height the
generator's effects are drawn for; training then reads it at its own width as any other crop. Every draw is a
pure function of the run's seed, the source and the draw's position, so a resumed run sees the same images.

    CRNN_AUGMENT="rotate=0,jpeg=0.5" python main.py ...   # an ablation without editing code
"""
import os

import numpy as np
from PIL import Image, ImageOps

from datasets.synth import camera
from datasets.synth.scene import glare, motion_blur, shadow, uneven_light
from datasets.synth.shape import homography
from utils.errors import UserError

AUGMENT_ENV = "CRNN_AUGMENT"
AUGMENT = {
    "crop_jitter": 0.5,   # each side of the box moved by -8%..+15% of the height (a cut into, or room around, the word)
    "rotate": 0.3,        # turned by up to 5 degrees
    "perspective": 0.2,   # sheared and one end up to 15% shorter (seen at an angle)
    "contrast": 0.3,      # contrast 0.5-1.2 times, brightness +-30 grey levels
    "invert": 0.1,        # light letters on dark made dark on light, and the other way
    "uneven_light": 0.1,  # light falling off across the word
    "shadow": 0.05,       # a soft shadow across part of it
    "glare": 0.03,        # a bright highlight over part of it
    "low_res": 0.2,       # drawn 10-20 px high and scaled back
    "blur": 0.15,
    "motion_blur": 0.05,
    "noise": 0.2,
    "jpeg": 0.2,
}
HEIGHT = 32


def parse_overrides(text):
    """'rotate=0,jpeg=0.5' -> {name: probability}."""
    out = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, value = item.partition("=")
        try:
            p = float(value)
        except ValueError:
            p = -1.0
        if name.strip() not in AUGMENT or not 0 <= p <= 1:
            raise UserError(f"${AUGMENT_ENV}: {item!r} is not NAME=PROBABILITY with NAME one of {', '.join(AUGMENT)} "
                            "and a probability in [0, 1]")
        out[name.strip()] = p
    return out


def augment_table():
    """AUGMENT with $CRNN_AUGMENT's overrides."""
    return {**AUGMENT, **parse_overrides(os.environ.get(AUGMENT_ENV))}


def _edge_padded(grey, pad):
    return Image.fromarray(np.pad(np.asarray(grey), pad, mode="edge"))


def crop_jitter(image, rng):
    """Each side moved by -8%..+15% of the height: inwards cuts the word, outwards repeats the edge pixels."""
    w, h = image.size
    left, top, right, bottom = (rng.uniform(-0.08, 0.15, 4) * h).round().astype(int)
    pad = int(max(left, top, right, bottom, 0))
    padded = _edge_padded(image, pad) if pad else image
    box = (pad - left, pad - top, pad + w + right, pad + h + bottom)
    if box[2] - box[0] < 4 or box[3] - box[1] < 4:
        return image
    return padded.crop(box)


def geometry(image, rng, perspective, rotate):
    """A mild perspective and/or a small rotation: the corners moved, the crop resampled once; what falls outside
    the image is its edge pixels repeated."""
    w, h = image.size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    pts = corners - (w / 2, h / 2)
    if perspective:
        pts[:, 0] += rng.uniform(-0.25, 0.25) * pts[:, 1]
        t = (pts[:, 0] - pts[:, 0].min()) / max(np.ptp(pts[:, 0]), 1e-6)
        if rng.random() < 0.5:
            t = 1 - t
        pts[:, 1] *= 1 - rng.uniform(0, 0.15) * t
    if rotate:
        a = np.deg2rad(rng.uniform(-5, 5))
        pts = pts @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    pts -= pts.min(axis=0)
    size = np.ceil(pts.max(axis=0)).astype(int) + 1
    pad = int(max(size - (w, h)) // 2 + 2)
    # the source padded by its own edges, so that the corners of the output hold the crop's surroundings
    src = corners + pad
    padded = _edge_padded(image, pad)
    return padded.transform(tuple(size), Image.PERSPECTIVE, homography(pts, src), Image.BICUBIC)


def light(image, rng, f):
    """Contrast, brightness and polarity, then light and shadow across the word."""
    grey = np.asarray(image, np.float32)
    if rng.random() < f["contrast"]:
        mean = grey.mean()
        grey = mean + (grey - mean) * rng.uniform(0.5, 1.2) + rng.uniform(-30, 30)
    if rng.random() < f["invert"]:
        grey = 255 - grey
    for name, effect in (("uneven_light", uneven_light), ("shadow", shadow), ("glare", glare)):
        if rng.random() < f[name]:
            grey = effect(grey, rng)
    return Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), "L")


def augment(image, rng, f):
    """A grey PIL crop of any size -> a changed crop HEIGHT px high (aspect kept, then changed by the geometry)."""
    if rng.random() < f["crop_jitter"]:
        image = crop_jitter(image, rng)
    w, h = image.size
    image = image.resize((max(4, round(w * HEIGHT / h)), HEIGHT), Image.BICUBIC)
    perspective, rotate = rng.random() < f["perspective"], rng.random() < f["rotate"]
    if perspective or rotate:
        image = geometry(image, rng, perspective, rotate)
    image = light(image, rng, f)
    w, h = image.size
    low_h = int(rng.integers(10, 21)) if rng.random() < f["low_res"] else None
    image = camera.rescale(image, rng, low_h, max(4, round(w * HEIGHT / h)), HEIGHT)
    if rng.random() < f["blur"]:
        image = camera.blur(image, rng)
    if rng.random() < f["motion_blur"]:
        image = motion_blur(image, rng)
    for name in ("noise", "jpeg"):
        if rng.random() < f[name]:
            image = getattr(camera, name)(image, rng)
    return ImageOps.grayscale(image) if image.mode != "L" else image
