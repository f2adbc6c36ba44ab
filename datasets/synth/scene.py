"""What the scene does to a painted word (v7): uneven light, glare, a shadow across it, something in front of
it, and a camera that moves. Each is a named probability in features.py; each works on the grey crop
(float32, 0-255) and keeps the word readable: light and shadow change the contrast, never erase it, and an
occluder covers at most about a third of one letter's height or a narrow strip of its width.
"""
import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def _smooth_field(h, w, rng, cells=(2, 4)):
    """A smooth random field in [0, 1], [h, w]: a few random values upsampled bicubically."""
    small = rng.uniform(0, 1, (int(rng.integers(*cells)), int(rng.integers(*cells)))).astype(np.float32)
    field = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC), np.float32)
    return field / 255.0


def _soft_half_plane(h, w, rng, softness):
    """1 on one side of a random line through the crop, 0 on the other, with a soft edge `softness` px wide."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    distance = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    return np.clip(0.5 + distance / max(softness, 1.0), 0, 1)


def uneven_light(grey, rng):
    """Light falling off across the word: a gain of 0.35-1.3 varying smoothly over the crop."""
    h, w = grey.shape
    lo, hi = rng.uniform(0.35, 0.8), rng.uniform(0.95, 1.3)
    return grey * (lo + (hi - lo) * _smooth_field(h, w, rng))


def glare(grey, rng):
    """A bright soft highlight (a lamp or the sun on a glossy sign) over part of the letters."""
    h, w = grey.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    rx, ry = rng.uniform(0.1, 0.4) * w + 2, rng.uniform(0.3, 1.0) * h + 2
    spot = np.exp(-(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2))
    return grey + spot * rng.uniform(80, 220) * (1 - grey / 320)


def shadow(grey, rng):
    """A soft-edged shadow across part of the word (a pole, an awning, the photographer)."""
    h, w = grey.shape
    dark = _soft_half_plane(h, w, rng, rng.uniform(1, 0.3 * h + 2))
    return grey * (1 - dark * rng.uniform(0.3, 0.65))


def occlusion(grey, rng):
    """Something in front of the word: a thin pole or wire across it, or a blob over an edge of the letters."""
    h, w = grey.shape
    cover = Image.new("L", (w, h))
    draw = ImageDraw.Draw(cover)
    kind = rng.integers(3)
    if kind == 0:  # a pole: a narrow upright bar, a little tilted
        x, bar, tilt = rng.uniform(0.1, 0.9) * w, rng.uniform(0.02, 0.06) * w + 1, rng.uniform(-0.2, 0.2) * h
        draw.polygon([(x - tilt, 0), (x - tilt + bar, 0), (x + tilt + bar, h), (x + tilt, h)], fill=255)
    elif kind == 1:  # a wire: a 1-2 px line across the word
        draw.line([(0, rng.uniform(0, h)), (w, rng.uniform(0, h))], fill=255, width=int(rng.integers(1, 3)))
    else:  # a blob (leaves, a head, a sticker) over the top or bottom third of part of the word
        x, bw, bh = rng.uniform(0, w), rng.uniform(0.1, 0.3) * w, rng.uniform(0.3, 0.45) * h
        y = -0.2 * h if rng.random() < 0.5 else 0.75 * h
        draw.ellipse([x - bw / 2, y, x + bw / 2, y + bh], fill=255)
    alpha = np.asarray(cover.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0))), np.float32) / 255.0
    return grey * (1 - alpha) + rng.uniform(0, 255) * alpha


def motion_blur(image, rng):
    """The camera moving during the shot (the mean of the crop shifted 2-6 px along a direction), or a defocus."""
    if rng.random() < 0.4:
        return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 1.6)))
    grey = np.asarray(image, np.float32)
    h, w = grey.shape
    steps = int(rng.integers(3, 7))
    angle = np.deg2rad(rng.uniform(-30, 30) if rng.random() < 0.7 else rng.uniform(60, 120))
    pad = steps
    padded = np.pad(grey, pad, mode="edge")
    out = np.zeros_like(grey)
    for k in range(steps):
        dx, dy = int(round(k * np.cos(angle))), int(round(k * np.sin(angle)))
        out += padded[pad + dy:pad + dy + h, pad + dx:pad + dx + w]
    return Image.fromarray(np.clip(out / steps, 0, 255).astype(np.uint8), "L")


SCENE = (("uneven_light", uneven_light), ("shadow", shadow), ("glare", glare), ("occlusion", occlusion))


def scene(image, rng, f):
    """The painted grey crop with the sample's light, shadow, glare and occluders (each its own probability)."""
    grey = np.asarray(image, np.float32)
    touched = False
    for name, effect in SCENE:
        if rng.random() < f[name]:
            grey, touched = effect(grey, rng), True
    return Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), "L") if touched else image
