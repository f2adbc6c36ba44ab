"""Renders one synthetic word image (v7): text -> grayscale crop, 32 px high, natural width.

Every sample is a pure function of (seed, split, index), so a data set is reproducible whatever the
number of worker processes. The variation aims at real photographed words; every feature is a named
probability in datasets/synth/features.py: what is written (text.py: words of running text's lengths,
digits, codes, punctuation the label leaves out), where the letters sit (shape.py: rotation, steep
slants, italic lean, perspective, a pose in 3-D, arcs; here: letters stacked as on a vertical sign),
what they look like (paint.py: colour turned grey as a camera does, hollow, outlined, textured,
extruded and shadowed letters, photo backgrounds), what the scene does (scene.py: uneven light,
glare, shadows, occluders, a moving camera), which way up the word is (here: turned 180 degrees) and
what the camera does (here: low and very low resolution, blur, noise, JPEG), how tightly the word was
cut out (shape.crop: margins that cut into the first or last letter), plus cut-off letters of
neighbouring words and a line of small print, which are drawn but never labelled.

    python -c "from datasets.synth.assets import load_renderer; print(load_renderer().sample(0, 0, 5)[1])"
"""
import io
import re

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from datasets.synth import camera
from datasets.synth.alphabet_text import AlphabetText
from datasets.synth.coverage import fonts_for
from datasets.synth.features import features as feature_table
from datasets.synth.paint import paint
from datasets.synth.scene import motion_blur, scene
from datasets.synth.shape import arc, crop, stack_below, warp
from datasets.synth.text import TextSampler

OUT_H = 32
# One drawing size: every crop is scaled to 32 px high anyway, and one size (with bolder letters made
# by dilating the word, not by a FreeType stroke per glyph) keeps 1,000+ fonts' glyphs in the cache.
SIZE = 30
CLUTTER = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789|()[]-.!"
# Script and handwriting faces by file name (the font files carry no reliable style class).
SCRIPT_NAMES = re.compile(r"script|hand|brush|callig|cursive|pacifico|lobster|vibes|kaushan|satisfy|sacramento|"
                          r"allura|cookie|yellowtail|parisienne|courgette|kristi|tusj|caveat|marker|signature|"
                          r"swash|shadows-into|homemade|indie-flower|amatic|rock-salt|permanent", re.I)
# Caches are bounded: PIL holds each open font file in memory, and 2,000 fonts' glyphs would fill a
# worker's memory; a full cache is emptied (the samples stay the same, only slower for a while).
MAX_FONTS_OPEN, MAX_GLYPHS = 1024, 300_000
MAX_STACKED = 8  # letters of a vertical sign: longer words are not stacked


class SynthRenderer:
    """`alphabet` None draws the default 0-9a-z (text.py); another alphabet is drawn by alphabet_text.py, each
    sample in a font that draws every character of its text."""

    def __init__(self, fonts, words, backgrounds, features=None, alphabet=None):
        self.words, self.backgrounds = words, backgrounds
        self.f = feature_table(features)
        self.text = TextSampler(words, self.f)
        self.alphabet_text, self.coverage, self.skipped_fonts = None, {}, 0
        if alphabet is not None:
            usable, self.coverage = fonts_for(fonts, alphabet)
            self.skipped_fonts = len(fonts) - len(usable)
            fonts = usable
            self.alphabet_text = AlphabetText(alphabet, words, self.f)
        self.fonts = fonts
        self.script_fonts = [p for p in fonts if SCRIPT_NAMES.search(p.rsplit("/", 1)[-1])]
        self._font_cache, self._glyph_cache = {}, {}

    def sample_text(self, rng):
        return self.text.sample_text(rng)

    def _font(self, path, size):
        key = (path, size)
        if key not in self._font_cache:
            if len(self._font_cache) >= MAX_FONTS_OPEN:
                self._font_cache.clear()
            self._font_cache[key] = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
        return self._font_cache[key]

    def _glyph(self, path, size, ch):
        """Cached (ink-cropped mask, its offset, advance) of one character; composing cached glyphs is
        ~10x faster than FreeType drawing the word every time (kerning is lost, spacing varies anyway)."""
        key = (path, size, ch)
        if key not in self._glyph_cache:
            if len(self._glyph_cache) >= MAX_GLYPHS:
                self._glyph_cache.clear()
            font, left = self._font(path, size), size // 4  # room for an italic's negative side bearing
            mask = Image.new("L", (int(1.6 * size) + left, 2 * size))
            ImageDraw.Draw(mask).text((left, size // 2), ch, font=font, fill=255)
            box = mask.getbbox() or (left, 0, left + 1, 1)
            self._glyph_cache[key] = (mask.crop(box), (box[0] - left, box[1]), font.getlength(ch))
        return self._glyph_cache[key]

    def _compose(self, text, path, size, spacing):
        """White-on-black mask of `text`, 2 x size high, with size/2 of room left and right."""
        glyphs = [self._glyph(path, size, c) for c in text]
        mask = Image.new("L", (int(sum(adv + spacing for _, _, adv in glyphs) + 2 * size), 2 * size))
        x = size / 2
        for glyph, (ox, oy), adv in glyphs:
            mask.paste(255, (int(x) + ox, oy), glyph)
            x += adv + spacing
        return mask

    def _compose_stacked(self, text, path, size):
        """Upright letters stacked top to bottom (a vertical sign), as the reader sees them after it turns the
        tall crop a quarter turn anticlockwise: a row of letters lying on their side, first letter on the left."""
        glyphs = [self._glyph(path, size, c)[0] for c in text]
        column_w, gap = max(g.size[0] for g in glyphs) + size // 2, size // 6
        mask = Image.new("L", (column_w + size, sum(g.size[1] + gap for g in glyphs) + size))
        y = size // 2
        for glyph in glyphs:
            mask.paste(255, ((mask.size[0] - glyph.size[0]) // 2, y), glyph)
            y += glyph.size[1] + gap
        return mask.transpose(Image.ROTATE_90)

    def _pick_font(self, rng):
        pool = self.script_fonts if rng.random() < self.f["script"] and self.script_fonts else self.fonts
        return pool[rng.integers(len(pool))]

    def _text_mask(self, text, rng, path=None):
        """The text's mask cropped to its ink with room for the warp; -> (mask, ink height, font)."""
        f = self.f
        path = path or self._pick_font(rng)
        size = SIZE
        spacing = (rng.uniform(0.05, 0.35) if rng.random() < f["wide_spacing"] else rng.uniform(-0.04, 0.04)) * size
        stroke = int(rng.integers(1, 3)) if rng.random() < f["stroke"] else 0
        stacked = rng.random() < f["stacked"] and 2 <= len(text) <= MAX_STACKED
        mask = self._compose_stacked(text, path, size) if stacked else self._compose(text, path, size, spacing)
        if stroke:  # bolder letters
            mask = mask.filter(ImageFilter.MaxFilter(2 * stroke + 1))
        box = mask.getbbox() or (0, 0, 1, 1)
        pad = size // 2
        mask = mask.crop((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad))
        if rng.random() < f["small_print"]:
            mask = self._small_print(mask, box[2] - box[0], path, size, rng)
        return mask, box[3] - box[1], (path, size)

    def _small_print(self, mask, ink_w, path, size, rng):
        """A line of small print (40% of the size: one more size in the glyph cache) just above or below
        the word, at most as wide."""
        small = max(8, int(size * 0.4))
        face = path if rng.random() < 0.5 else self.fonts[rng.integers(len(self.fonts))]
        chars = max(3, int(2.2 * ink_w / small))
        text = self.alphabet_text.small_print(rng, chars, self.coverage[face][0]) if self.alphabet_text else \
            self.text.small_print(rng, chars)
        line = self._compose(text, face, small, 0)
        box = line.getbbox()
        if box is None:
            return mask
        line = line.crop((box[0], box[1], min(box[2], box[0] + ink_w), box[3]))
        pad, gap = size // 2, int(size * rng.uniform(0.05, 0.3))
        x = pad + int(rng.integers(0, max(1, ink_w - line.size[0] + 1)))
        if rng.random() < 0.5:
            return stack_below(line, mask, gap - pad, x, 0)
        return stack_below(mask, line, gap - pad, 0, x)

    def _edge_clutter(self, mask, font, rng):
        """Cut-off glyphs of a neighbouring word, or a sign border, at the left and/or right edge.

        A clutter glyph shows at most 60% of its ink and keeps a word gap from the text, so the
        model learns that partial shapes at the edges are not characters to read."""
        box = mask.getbbox()
        if box is None:
            return mask
        path, size = font
        w, h = mask.size
        which = ("left", "right", "both")[rng.integers(3)]
        for side in ("left", "right"):
            if which not in (side, "both"):
                continue
            if rng.random() < 0.25:  # a border line of the sign instead of a letter
                x = 1 if side == "left" else w - 2
                ImageDraw.Draw(mask).line((x, 0, x, h), fill=255, width=int(rng.integers(1, 3)))
                continue
            glyph, _, _ = self._glyph(path, size, CLUTTER[rng.integers(len(CLUTTER))])
            if glyph.getbbox() is None:
                continue
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

    def render(self, text, rng, path=None):
        mask, text_h, font = self._text_mask(text, rng, path)
        if rng.random() < self.f["arc"]:
            mask = arc(mask, rng)
        mask = crop(warp(mask, rng, self.f), text_h, rng, self.f, len(text))
        if rng.random() < self.f["edge_clutter"]:
            mask = self._edge_clutter(mask, font, rng)
        image = scene(paint(mask, self.backgrounds, rng, self.f, font[1]), rng, self.f)
        if rng.random() < self.f["motion_blur"]:
            image = motion_blur(image, rng)
        if rng.random() < self.f["upside_down"]:  # the label stays in reading order
            image = image.transpose(Image.ROTATE_180)
        return self._degrade(image, rng)

    def _degrade(self, image, rng):
        f = self.f
        w, h = image.size
        out_w = max(8, int(round(w * OUT_H / h)))
        if rng.random() < f["tiny_res"]:
            low_h = int(rng.integers(8, 13))
        elif rng.random() < f["low_res"]:
            low_h = int(rng.integers(16, 26))
        else:
            low_h = None
        image = camera.rescale(image, rng, low_h, out_w, OUT_H)
        for name in ("blur", "noise", "jpeg"):
            if rng.random() < f[name]:
                image = getattr(camera, name)(image, rng)
        return image

    def sample(self, seed, split, index):
        """-> (JPEG bytes of the 32 px high crop at its natural width, label) for sample `index` of `split`."""
        rng = np.random.default_rng((seed, split, index))
        path = None
        if self.alphabet_text:  # the font first, then a text it draws
            path = self._pick_font(rng)
            text, label = self.alphabet_text.sample_text(rng, *self.coverage[path])
        else:
            text, label = self.sample_text(rng)
        buf = io.BytesIO()
        self.render(text, rng, path).save(buf, "JPEG", quality=95)
        return buf.getvalue(), label
