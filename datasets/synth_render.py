"""Renders one synthetic word image: text -> grayscale crop, 32 px high, natural width.

Every sample is a pure function of (seed, split, index), so a data set is
reproducible whatever the number of worker processes. The variation aims at
real photographed words: ~100 font families and weights, mixed case, letter
spacing, stroke weight, rotation, shear, perspective, flat / gradient / noise
texture / photo backgrounds, shadows, low resolution, blur, noise, JPEG
artefacts and either polarity (dark on light or light on dark).

Real crops also show what the benchmark protocol does not read: punctuation
next to the word ("remain?", "Ltd.", "1-800-BUY", "9:00am") and cut-off
letters of neighbouring words or sign borders at the crop's edges. Some
samples carry those in the image; the label is always the alphanumeric
characters only, which is what the model must output.
"""
import io
import string

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT_H = 32
FONT_SIZES = (22, 26, 30, 34)
UPPER_DIGITS = string.ascii_uppercase + string.digits
LOWER = list(string.ascii_lowercase)
PREFIXES = ['"', "'", "(", "#", "$", "*", "-", "\u201c", "\u2018"]
SUFFIXES = [".", ",", ":", ";", "!", "?", "'", '"', ")", "%", "-", "...", '."', '?"', "!!", "'s", "\u201d", "\u2019"]
SEPARATORS = [".", "-", ":", "/", "&", "'", ","]
CLUTTER = string.ascii_letters + string.digits + "|()[]-.!"
# Word lengths of running English text (1..12+ letters); a dictionary alone peaks at 8-9 letters,
# while signs and captions are mostly short words.
LENGTH_WEIGHTS = np.array([3, 17, 20, 16, 11, 9, 8, 6, 4, 3, 2, 1], np.float64)
LENGTH_WEIGHTS /= LENGTH_WEIGHTS.sum()
COMMON_WORDS = """the of and to in is you that it he was for on are as with his they at be this have from or one
had by word but not what all were we when your can said there use an each which she do how their if will up other
about out many then them these so some her would make like him into time has look two more write go see number no
way could people my than first water been call who its now find long down day did get come made may part new sale
open free exit stop push pull only city road street hotel bar cafe club shop store bank park centre center service
police taxi bus parking entrance way lane house home world news life love best good great big old high little just
man woman men back over after know year work people also well here even want because any give most us""".split()
MAX_LABEL = 22  # leaves room for CTC blanks between repeats in the 26 time steps


def alnum(text):
    return "".join(c for c in text if c.isascii() and c.isalnum())


class SynthRenderer:
    def __init__(self, fonts, words, backgrounds):
        self.fonts, self.words, self.backgrounds = fonts, words, backgrounds
        self.by_length = [[] for _ in LENGTH_WEIGHTS]  # the last list holds every longer word too
        for w in words:
            self.by_length[min(len(w), len(LENGTH_WEIGHTS)) - 1].append(w)
        self._font_cache, self._glyph_cache = {}, {}

    def _glyph(self, path, size, stroke, ch):
        """Cached (mask, advance) of one character; composing cached glyphs is ~10x faster
        than FreeType drawing the word every time (kerning is lost, spacing varies anyway)."""
        key = (path, size, stroke, ch)
        if key not in self._glyph_cache:
            font = self._font_cache.get((path, size)) or ImageFont.truetype(path, size)
            self._font_cache[(path, size)] = font
            mask = Image.new("L", (int(1.6 * size) + 2 * stroke, 2 * size))
            ImageDraw.Draw(mask).text((stroke, size // 2), ch, font=font, fill=255,
                                      stroke_width=stroke, stroke_fill=255)
            self._glyph_cache[key] = (mask, font.getlength(ch))
        return self._glyph_cache[key]

    # ---- text ---------------------------------------------------------------
    def _core_text(self, rng):
        r = rng.random()
        if r < 0.72:
            if rng.random() < 0.2:
                word = COMMON_WORDS[rng.integers(len(COMMON_WORDS))]
            elif self.words:
                pool = self.by_length[rng.choice(len(LENGTH_WEIGHTS), p=LENGTH_WEIGHTS)] or self.words
                word = pool[rng.integers(len(pool))]
            else:  # no word list installed: random letters with the same lengths
                word = "".join(rng.choice(LOWER, rng.choice(len(LENGTH_WEIGHTS), p=LENGTH_WEIGHTS) + 1))
            case = rng.random()
            return word.upper() if case < 0.42 else word.capitalize() if case < 0.70 else word.lower()
        if r < 0.82:
            return "".join(rng.choice(list(string.digits), rng.integers(1, 7)))
        if r < 0.88:
            return "".join(rng.choice(list(UPPER_DIGITS), rng.integers(2, 8)))
        letters = "".join(rng.choice(LOWER, rng.integers(1, 11)))
        return letters.upper() if rng.random() < 0.5 else letters

    def sample_text(self, rng):
        """-> (text drawn in the image, label = its alphanumeric characters)."""
        text = self._core_text(rng)
        if rng.random() < 0.07:  # compounds: www.name.nl, 1-800-BUY, 9:00am, rock&roll
            sep = SEPARATORS[rng.integers(len(SEPARATORS))]
            text = text + sep + self._core_text(rng)
        if rng.random() < 0.22:
            if rng.random() < 0.3:
                text = PREFIXES[rng.integers(len(PREFIXES))] + text
            if rng.random() < 0.85:
                text = text + SUFFIXES[rng.integers(len(SUFFIXES))]
        label = alnum(text)
        if len(label) > MAX_LABEL or not label:
            text = label = alnum(self._core_text(rng))[:MAX_LABEL] or "a"
        return text, label

    # ---- rendering ----------------------------------------------------------
    def _text_mask(self, text, rng):
        """White-on-black mask of the text, cropped to its ink with room for the warp."""
        path = self.fonts[rng.integers(len(self.fonts))]
        size = int(rng.choice(FONT_SIZES))
        spacing = rng.uniform(0.05, 0.35) * size if rng.random() < 0.15 else rng.uniform(-0.04, 0.04) * size
        stroke = int(rng.integers(1, 3)) if rng.random() < 0.18 else 0
        glyphs = [self._glyph(path, size, stroke, c) for c in text]
        width = sum(adv + spacing for _, adv in glyphs) + 2 * size
        mask = Image.new("L", (int(width), 2 * size))
        x = size / 2
        for glyph, adv in glyphs:
            mask.paste(255, (int(x), 0), glyph)
            x += adv + spacing
        box = mask.getbbox() or (0, 0, 1, 1)
        pad = size // 2
        mask = mask.crop((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad))
        return mask, box[3] - box[1], (path, size, stroke)

    def _warp(self, mask, rng):
        """Rotation, shear and a mild perspective, as one projective map about the centre."""
        if rng.random() < 0.35:
            return mask  # straight, axis-aligned text is common in photos too
        w, h = mask.size
        angle = np.deg2rad(np.clip(rng.normal(0, 3.5), -12, 12))
        shear = rng.uniform(-0.35, 0.35) if rng.random() < 0.3 else 0.0
        persp = rng.uniform(-0.002, 0.002) if rng.random() < 0.2 else 0.0
        c, s = np.cos(angle), np.sin(angle)
        cx, cy = w / 2, h / 2
        # output -> input coordinates (PIL's PERSPECTIVE convention)
        a = np.array([[c, s + shear, 0], [-s, c, 0], [persp, 0, 1]])
        t_in = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]])
        t_out = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
        m = t_in @ a @ t_out
        m = m / m[2, 2]
        return mask.transform((w, h), Image.PERSPECTIVE, tuple(m.flatten()[:8]), Image.BILINEAR)

    def _crop(self, mask, text_h, rng):
        box = mask.getbbox()
        if box is None:
            return mask
        l, t, r, b = box
        mh = max(text_h, b - t)
        margins = rng.uniform(-0.04, 0.3, 2) * mh
        vert = rng.uniform(-0.04, 0.22, 2) * mh
        return mask.crop((int(l - margins[0]), int(t - vert[0]), int(r + margins[1]) + 1, int(b + vert[1]) + 1))

    def _edge_clutter(self, mask, font, rng):
        """Cut-off glyphs of a neighbouring word, or a sign border, at the left and/or right edge.

        A clutter glyph shows at most 60% of its ink and keeps a word gap from the text, so the
        model learns that partial shapes at the edges are not characters to read."""
        box = mask.getbbox()
        if box is None:
            return mask
        path, size, stroke = font
        w, h = mask.size
        which = ("left", "right", "both")[rng.integers(3)]
        for side in ("left", "right"):
            if which not in (side, "both"):
                continue
            if rng.random() < 0.25:  # a border line of the sign instead of a letter
                x = 1 if side == "left" else w - 2
                ImageDraw.Draw(mask).line((x, 0, x, h), fill=255, width=int(rng.integers(1, 3)))
                continue
            glyph, _ = self._glyph(path, size, stroke, CLUTTER[rng.integers(len(CLUTTER))])
            gbox = glyph.getbbox()
            if gbox is None:
                continue
            glyph = glyph.crop(gbox)
            gw = glyph.size[0]
            shown = max(1, int(gw * rng.uniform(0.15, 0.6)))
            gap = int(size * rng.uniform(0.25, 0.6))
            ink_edge = box[0] if side == "left" else w - box[2]
            grow = max(0, gap + shown - ink_edge)
            grown = Image.new("L", (w + grow, h))
            grown.paste(mask, (grow if side == "left" else 0, 0))
            mask, w = grown, w + grow
            if side == "left":
                box = (box[0] + grow, box[1], box[2] + grow, box[3])
            y = box[3] - glyph.size[1] + int(rng.integers(-2, 3))
            mask.paste(255, (shown - gw if side == "left" else w - shown, y), glyph)
        return mask

    def _background(self, w, h, rng):
        kind = rng.random()
        if kind < 0.3 or (kind < 0.55 and not self.backgrounds):
            bg = np.full((h, w), rng.uniform(0, 255), np.float32)
        elif kind < 0.5:
            lo, hi = rng.uniform(0, 255, 2)
            ramp = np.linspace(lo, hi, w if rng.random() < 0.5 else h, dtype=np.float32)
            bg = np.broadcast_to(ramp[None, :] if ramp.size == w else ramp[:, None], (h, w)).copy()
        elif kind < 0.75 and self.backgrounds:
            photo = self.backgrounds[rng.integers(len(self.backgrounds))]
            ph, pw = photo.shape
            ch, cw = min(ph, int(h * rng.uniform(1, 3))), min(pw, int(w * rng.uniform(1, 3)))
            y, x = rng.integers(0, ph - ch + 1), rng.integers(0, pw - cw + 1)
            crop = Image.fromarray(photo[y:y + ch, x:x + cw]).resize((w, h), Image.BILINEAR)
            # Fade the photo towards a flat tone so the text usually stays legible.
            fade = rng.uniform(0.1, 0.7)
            bg = np.asarray(crop, np.float32) * fade + (1 - fade) * rng.uniform(0, 255)
        else:
            small = rng.uniform(0, 255, (int(rng.integers(2, 6)), int(rng.integers(2, 12)))).astype(np.uint8)
            bg = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), np.float32)
        if rng.random() < 0.5:
            bg = bg + rng.normal(0, rng.uniform(2, 12), bg.shape).astype(np.float32)
        return bg

    def _ink(self, bg_mean, rng):
        contrast = rng.uniform(45, 80) if rng.random() < 0.08 else rng.uniform(80, 220)
        sign = -1 if bg_mean > 127 else 1
        if rng.random() < 0.15:
            sign = -sign
        ink = bg_mean + sign * contrast
        if not 0 <= ink <= 255:
            ink = bg_mean - sign * contrast
        return float(np.clip(ink, 0, 255))

    def render(self, text, rng):
        mask, text_h, font = self._text_mask(text, rng)
        mask = self._crop(self._warp(mask, rng), text_h, rng)
        if rng.random() < 0.2:
            mask = self._edge_clutter(mask, font, rng)
        w, h = mask.size
        alpha = np.asarray(mask, np.float32) / 255.0
        bg = self._background(w, h, rng)
        image = bg
        if rng.random() < 0.1:
            dx, dy = rng.integers(1, 4, 2)
            shadow = np.zeros_like(alpha)
            shadow[dy:, dx:] = alpha[:h - dy, :w - dx]
            image = image * (1 - shadow) + self._ink(float(bg.mean()), rng) * 0.5 * shadow
        image = image * (1 - alpha) + self._ink(float(bg.mean()), rng) * alpha
        out = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
        return self._degrade(out, rng)

    def _degrade(self, image, rng):
        w, h = image.size
        out_w = max(8, int(round(w * OUT_H / h)))
        if rng.random() < 0.25:
            low_h = int(rng.integers(16, 26))
            image = image.resize((max(4, int(w * low_h / h)), low_h), Image.BILINEAR)
        image = image.resize((out_w, OUT_H), Image.BICUBIC if rng.random() < 0.5 else Image.BILINEAR)
        if rng.random() < 0.2:
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
        if rng.random() < 0.3:
            noisy = np.asarray(image, np.float32) + rng.normal(0, rng.uniform(2, 10), (OUT_H, out_w))
            image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        if rng.random() < 0.3:
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=int(rng.integers(30, 80)))
            image = Image.open(io.BytesIO(buf.getvalue()))
        return image

    def sample(self, seed, split, index):
        """-> (JPEG bytes of the 32 px high crop, label) for sample `index` of `split`."""
        rng = np.random.default_rng((seed, split, index))
        text, label = self.sample_text(rng)
        buf = io.BytesIO()
        self.render(text, rng).save(buf, "JPEG", quality=95)
        return buf.getvalue(), label
