"""What the letters look like: colours, backgrounds, fills, outlines, shadows, extrusion -> a grey image.

Everything is painted in RGB and turned grey by PIL's convert("L"), the ITU-R BT.601 luma a camera's
grey conversion uses. A sample in colour picks its background and ink as a sign maker would, far
apart in colour, not in grey: red on green or blue on black can be strong contrast in colour and
weak in grey, as in real photos. A grey sample picks the ink's grey level for contrast (v3).
Outline, extrusion, shadow and pattern colours are a grey level plus, in colour, a chromatic offset
with zero luma.
"""
import numpy as np
from PIL import Image, ImageFilter

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def tint(grey, rng, colour):
    """An RGB colour of luma `grey`: a random hue and saturation when the sample is in colour."""
    grey = float(np.clip(grey, 0, 255))
    if not colour:
        return np.full(3, grey, np.float32)
    offset = rng.normal(0, rng.uniform(10, 90), 3).astype(np.float32)
    return np.clip(grey + offset - offset @ LUMA, 0, 255)


def contrasting(bg, rng, min_distance=150, min_luma=35):
    """A random RGB colour far from `bg` in colour (>= min_distance) and readable in grey (luma
    >= min_luma apart); of 8 tries the first that is, else the one farthest in grey."""
    tries = rng.uniform(0, 255, (8, 3)).astype(np.float32)
    luma = np.abs((tries - bg) @ LUMA)
    ok = np.flatnonzero((np.linalg.norm(tries - bg, axis=1) >= min_distance) & (luma >= min_luma))
    return tries[ok[0]] if ok.size else tries[np.argmax(luma)]


def ink_grey(bg_mean, rng, f):
    """A grey level for the letters with enough contrast to read (or little, for `low_contrast`)."""
    contrast = rng.uniform(45, 80) if rng.random() < f["low_contrast"] else rng.uniform(80, 220)
    sign = -1 if bg_mean > 127 else 1
    if rng.random() < f["invert"]:
        sign = -sign
    ink = bg_mean + sign * contrast
    if not 0 <= ink <= 255:
        ink = bg_mean - sign * contrast
    return float(np.clip(ink, 0, 255))


def photo_crop(photos, w, h, rng):
    """A random crop of a random photo, resized to (w, h): float32 [h, w, 3]."""
    photo = photos[rng.integers(len(photos))]
    ph, pw = photo.shape[:2]
    ch, cw = min(ph, int(h * rng.uniform(1, 3))), min(pw, int(w * rng.uniform(1, 3)))
    y, x = rng.integers(0, ph - ch + 1), rng.integers(0, pw - cw + 1)
    return np.asarray(Image.fromarray(photo[y:y + ch, x:x + cw]).resize((w, h), Image.BILINEAR), np.float32)


def background(w, h, photos, rng, f, colour):
    """Flat, gradient, faded photo or smooth noise texture, RGB float32 [h, w, 3]."""
    kind = rng.random()
    flat, grad, photo = f["flat_background"], f["gradient_background"], f["photo_background"]
    if kind < flat or (kind < flat + grad + photo and kind >= flat + grad and not photos):
        bg = np.broadcast_to(tint(rng.uniform(0, 255), rng, colour), (h, w, 3))
    elif kind < flat + grad:
        lo, hi = tint(rng.uniform(0, 255), rng, colour), tint(rng.uniform(0, 255), rng, colour)
        along_x = rng.random() < 0.5
        t = np.linspace(0, 1, w if along_x else h, dtype=np.float32)
        ramp = lo + t[:, None] * (hi - lo)
        bg = np.broadcast_to(ramp[None, :, :] if along_x else ramp[:, None, :], (h, w, 3))
    elif kind < flat + grad + photo:
        crop = photo_crop(photos, w, h, rng)
        if not colour:
            crop = np.repeat((crop @ LUMA)[:, :, None], 3, axis=2)
        fade = rng.uniform(0.1, 0.55)  # towards a flat tone, so the text usually stays legible
        bg = crop * fade + (1 - fade) * tint(rng.uniform(0, 255), rng, colour)
    else:
        small = rng.uniform(0, 255, (int(rng.integers(2, 6)), int(rng.integers(2, 12)))).astype(np.uint8)
        grey = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), np.float32)
        bg = grey[:, :, None] + (tint(128, rng, colour) - 128)
    if rng.random() < f["background_noise"]:
        bg = bg + rng.normal(0, rng.uniform(2, 12), (h, w, 1)).astype(np.float32)
    return np.asarray(bg, np.float32)


def pattern(w, h, photos, rng):
    """A fill pattern in [0, 1], [h, w]: dots, stripes or a photo's texture."""
    kind = rng.integers(3) if photos else rng.integers(2)
    if kind == 0:  # dots on a grid, as on LED and halftone signs
        step = rng.uniform(2.5, 5)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        dy, dx = (yy % step) - step / 2, (xx % step) - step / 2
        return (dx * dx + dy * dy < (step * rng.uniform(0.2, 0.4)) ** 2).astype(np.float32)
    if kind == 1:  # stripes, horizontal or slanted
        step, slant = rng.uniform(2.5, 6), rng.choice([0.0, 1.0, -1.0])
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        return (((yy + slant * xx) % step) < step / 2).astype(np.float32)
    grey = photo_crop(photos, w, h, rng) @ LUMA
    return (grey - grey.min()) / max(float(np.ptp(grey)), 1.0)


def dilate(mask, radius):
    """The mask grown by `radius` px (a square max filter)."""
    return mask.filter(ImageFilter.MaxFilter(2 * radius + 1)) if radius > 0 else mask


def shifted(alpha, dx, dy):
    out = np.zeros_like(alpha)
    h, w = alpha.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        alpha[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def paint(mask, photos, rng, f, size):
    """The letters of `mask` (L, 255 = ink) on a background, with the sample's effects -> grey image."""
    colour = rng.random() < f["colour"]
    hollow, outline = rng.random() < f["hollow"], rng.random() < f["outline"]
    extrude, drop = rng.random() < f["extrude"], rng.random() < f["drop_shadow"]
    hard, textured = rng.random() < f["hard_shadow"], rng.random() < f["texture_fill"]
    ring = max(1, int(round(size * rng.uniform(0.03, 0.08))))
    depth = int(rng.integers(2, max(3, size // 6))) if extrude else 0
    shadow_d = int(rng.integers(1, 4)) if hard else int(rng.integers(2, 6)) if drop else 0
    pad = ring * (hollow or outline) + depth + shadow_d + (3 if drop else 0)
    if pad:  # room for what the effects add around the letters
        grown = Image.new("L", (mask.size[0] + 2 * pad, mask.size[1] + 2 * pad))
        grown.paste(mask, (pad, pad))
        mask = grown
    w, h = mask.size
    alpha = np.asarray(mask, np.float32) / 255.0
    bg = background(w, h, photos, rng, f, colour)
    bg_rgb = bg.mean(axis=(0, 1))
    bg_grey = float(bg_rgb @ LUMA)
    if colour:
        ink = contrasting(bg_rgb, rng)
        grey = float(ink @ LUMA)
    else:
        grey = ink_grey(bg_grey, rng, f)
        ink = np.full(3, grey, np.float32)
    image = bg
    if drop or hard:  # v3's hard shadow: half-way between background and ink; v4's soft one: dark or light
        direction = rng.choice([-1, 1], 2)
        dx, dy = int(direction[0] * shadow_d), int(abs(direction[1]) * shadow_d)
        shade = shifted(alpha, dx, dy)
        if drop:
            blurred = Image.fromarray((shade * 255).astype(np.uint8)).filter(
                ImageFilter.GaussianBlur(rng.uniform(0.6, 2.5)))
            shade = np.asarray(blurred, np.float32) / 255.0 * rng.uniform(0.5, 0.9)
            tone = tint(rng.uniform(0, 60) if grey > 60 else rng.uniform(160, 255), rng, colour)
        else:
            tone = tint(bg_grey + 0.5 * (grey - bg_grey), rng, colour)
        image = image * (1 - shade[:, :, None]) + tone * shade[:, :, None]
    if extrude:  # the letter's side, stacked towards the bottom right (or left)
        side = np.zeros_like(alpha)
        sx = int(rng.choice([-1, 1]))
        for k in range(1, depth + 1):
            side = np.maximum(side, shifted(alpha, sx * k, k))
        tone = tint(grey - 70 if grey > 110 else grey + 70, rng, colour)
        image = image * (1 - side[:, :, None]) + tone * side[:, :, None]
    if hollow or outline:
        around = np.asarray(dilate(mask, ring), np.float32) / 255.0
        if outline:  # a second colour, usually far from the fill's grey
            tone = tint(255 - grey if abs(255 - 2 * grey) > 60 else (grey + 128) % 256, rng, colour)
            image = image * (1 - around[:, :, None]) + tone * around[:, :, None]
        else:  # outline only: the ring in the ink's colour, the background showing inside
            alpha = np.clip(around - alpha, 0, 1)
    fill = np.broadcast_to(ink, (h, w, 3))
    if textured and not hollow:
        second = tint(grey + 0.4 * (bg_grey - grey), rng, colour)
        p = pattern(w, h, photos, rng)[:, :, None]
        fill = ink * (1 - p) + second * p
    image = image * (1 - alpha[:, :, None]) + fill * alpha[:, :, None]
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB").convert("L")
