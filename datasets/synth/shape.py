"""Where the letters sit: rotation, shear, italic lean, perspective and arcs, applied to a text mask.

Each map moves the mask's corners (or a grid over it) and lets PIL resample once; the output canvas
grows to hold the moved corners, so strong perspective or an arc never cuts letters off.
"""
import numpy as np
from PIL import Image


def homography(dst, src):
    """Coefficients (a..h) of PIL's PERSPECTIVE map that sends each point of `dst` to `src`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return tuple(np.linalg.solve(np.array(rows, np.float64), np.array(rhs, np.float64)))


def warp(mask, rng, f):
    """A small rotation, shear and perspective (v3), an italic lean and strong perspective (v4), a steep slant and
    a pose in 3-D (v7)."""
    w, h = mask.size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    pts = corners - (w / 2, h / 2)
    moved = False
    if rng.random() < f["italic"]:  # lean right about the middle line, as an oblique face does
        pts[:, 0] -= rng.uniform(0.18, 0.4) * pts[:, 1]
        moved = True
    steep = rng.random() < f["steep_slant"]
    if rng.random() < f["warp"] or steep:
        degrees = rng.uniform(15, 45) * rng.choice([-1, 1]) if steep else np.clip(rng.normal(0, 3.5), -12, 12)
        angle = np.deg2rad(degrees)
        shear = rng.uniform(-0.35, 0.35) if rng.random() < f["shear"] else 0.0
        pts[:, 0] += shear * pts[:, 1]
        c, s = np.cos(angle), np.sin(angle)
        pts = pts @ np.array([[c, s], [-s, c]])
        if rng.random() < f["perspective"]:  # one end up to 10% shorter
            pts = _foreshorten(pts, rng.uniform(0.9, 1.0), rng.random() < 0.5)
        moved = True
    if rng.random() < f["strong_perspective"]:  # one end 25-55% shorter, and the word compressed
        pts = _foreshorten(pts, rng.uniform(0.45, 0.75), rng.random() < 0.5)
        pts[:, 0] *= rng.uniform(0.7, 1.0)
        moved = True
    if rng.random() < f["pose_3d"]:
        pts = _posed(pts, rng)
        moved = True
    if not moved:
        return mask  # straight, axis-aligned text is common in photos too
    pts -= pts.min(axis=0)
    size = np.ceil(pts.max(axis=0)).astype(int) + 1
    return mask.transform(tuple(size), Image.PERSPECTIVE, homography(pts, corners), Image.BILINEAR)


def _posed(pts, rng):
    """The corners of a plane turned in 3-D (yaw, pitch, a little roll) about its centre and seen through a
    pinhole camera at 1.2-3 plane widths: near edges grow, far ones shrink, verticals converge, as a sign
    photographed from the side does."""
    yaw, pitch = np.deg2rad(rng.uniform(20, 55) * rng.choice([-1, 1])), np.deg2rad(rng.uniform(-35, 35))
    roll = np.deg2rad(rng.normal(0, 4))
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    turn = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]) @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]]) \
        @ np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    width = max(float(np.ptp(pts[:, 0])), 1.0)
    distance = rng.uniform(1.2, 3.0) * width
    plane = np.c_[pts, np.zeros(len(pts))] @ turn.T
    depth = distance + plane[:, 2]
    return plane[:, :2] * (distance / depth)[:, None]


def _foreshorten(pts, scale, right):
    """The left (or right) edge's height times `scale`, about the centre line: a word seen at an angle."""
    xs = pts[:, 0]
    t = (xs - xs.min()) / max(np.ptp(xs), 1e-6)  # 0 at the left end, 1 at the right
    k = 1 - (1 - scale) * (t if right else 1 - t)
    out = pts.copy()
    out[:, 1] *= k
    return out


def arc(mask, rng, cols=24, rows=4):
    """The word bent along a circle (up or down), each letter turned with the curve."""
    flip = rng.random() < 0.5  # bend up on a flipped mask = bend down
    if flip:
        mask = mask.transpose(Image.FLIP_TOP_BOTTOM)
    w, h = mask.size
    sweep = rng.uniform(0.5, 1.4)  # radians the word spans
    radius = max(w / sweep, h)
    base = radius + h / 2  # circle centre below the mask's middle line

    def forward(x, y):  # mask (x, y) -> arc plane, centre at (0, 0)
        phi, r = (x - w / 2) / radius, base - y
        return r * np.sin(phi), -r * np.cos(phi)

    edge = np.linspace(0, 1, 32)
    bx = np.concatenate([edge * w, edge * w, np.zeros(32), np.full(32, w)])
    by = np.concatenate([np.zeros(32), np.full(32, h), edge * h, edge * h])
    fx, fy = forward(bx, by)
    x0, y0 = fx.min(), fy.min()
    out_w, out_h = int(np.ceil(fx.max() - x0)) + 1, int(np.ceil(fy.max() - y0)) + 1

    def inverse(px, py):  # output pixel -> mask (x, y)
        ax, ay = px + x0, py + y0
        return w / 2 + radius * np.arctan2(ax, -ay), base - np.hypot(ax, ay)

    xs, ys = np.linspace(0, out_w, cols + 1), np.linspace(0, out_h, rows + 1)
    mesh = []
    for i in range(cols):
        for j in range(rows):
            box = (int(xs[i]), int(ys[j]), int(xs[i + 1]), int(ys[j + 1]))
            quad = [inverse(box[0], box[1]), inverse(box[0], box[3]), inverse(box[2], box[3]),
                    inverse(box[2], box[1])]
            mesh.append((box, tuple(float(v) for p in quad for v in p)))
    out = mask.transform((out_w, out_h), Image.MESH, mesh, Image.BILINEAR)
    return out.transpose(Image.FLIP_TOP_BOTTOM) if flip else out


def crop(mask, text_h, rng, f, num_chars):
    """The ink's box with random margins: slightly negative (letters touching the crop's edge), or, with
    `edge_cut`, cutting into the first and/or last letter as tight real crops do (at most half of the
    letter's ink, so the label stays readable), and with `tight_crop` into the letters' tops and bottoms."""
    box = mask.getbbox()
    if box is None:
        return mask
    l, t, r, b = box
    mh = max(text_h, b - t)
    margins = rng.uniform(-0.04, 0.3, 2) * mh
    vert = rng.uniform(-0.04, 0.22, 2) * mh
    if rng.random() < f["edge_cut"]:
        ink = np.asarray(mask.crop(box)).max(0) > 96               # columns holding ink
        letter_w = (r - l) / max(num_chars, 1)
        sides = ((True, False), (False, True), (True, True))[rng.integers(3)]
        for i, (cut, columns) in enumerate(zip(sides, (ink, ink[::-1]))):
            if cut:
                stroke = int(np.argmin(columns)) if not columns.all() else len(columns)  # the first ink run
                margins[i] = -rng.uniform(0.1, 1.0) * min(0.35 * letter_w, 0.5 * stroke)
    if rng.random() < f["tight_crop"]:
        vert = -rng.uniform(0.0, 0.1, 2) * mh
    return mask.crop((int(l - margins[0]), int(t - vert[0]), int(r + margins[1]) + 1, int(b + vert[1]) + 1))


def stack_below(top, bottom, gap, x_top, x_bottom):
    """Two masks one above the other, `gap` px apart (negative: their empty margins overlap)."""
    y_bottom = top.size[1] + gap
    shift = max(0, -y_bottom)
    w = max(x_top + top.size[0], x_bottom + bottom.size[0])
    out = Image.new("L", (w, max(shift + top.size[1], shift + y_bottom + bottom.size[1])))
    out.paste(top, (x_top, shift), top)  # each pastes only its ink: the other's margin stays
    out.paste(bottom, (x_bottom, shift + y_bottom), bottom)
    return out
