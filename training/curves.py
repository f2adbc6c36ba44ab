"""Training curves: metrics.csv (one row per log line and per validation), TensorBoard event files and a PNG.

    tensorboard --logdir runs          # every run folder under runs/ as one run, loss / lr / img/s / accuracy

The event files go beside metrics.csv through torch.utils.tensorboard when the `tensorboard` package imports
(requirements.txt installs it; a run without it writes the CSV and the PNG only). metrics.png is drawn with
Pillow, so that no plotting library is needed: loss on the top panel, validation accuracy below, each
panel's axes fitted to its data (a fine-tune from 92.2 to 93.6% fills its panel).
"""
import csv
import math
import os

from PIL import Image, ImageDraw, ImageFont

FIELDS = ["step", "epoch", "loss", "lr", "img_s", "val_accuracy"]
BOARD = {"loss": "train/loss", "lr": "train/lr", "img_s": "train/img_per_s", "val_accuracy": "val/accuracy"}
LOSS_COLOR, ACC_COLOR, GRID_COLOR = (31, 119, 180), (255, 127, 14), (225, 225, 225)
SIZE, LEFT, RIGHT = (800, 560), 64, 16


class MetricsLog:
    """Appends to <output_dir>/metrics.csv and TensorBoard's event file, and redraws <output_dir>/metrics.png at
    each validation. On resume, rows written after the checkpoint's step (work the crash lost) are dropped first,
    from the CSV and from TensorBoard's view (purge_step). A context manager: leaving it closes the event file."""

    def __init__(self, output_dir, resume_step=None, log=print):
        self.csv_path = os.path.join(output_dir, "metrics.csv")
        self.png_path = os.path.join(output_dir, "metrics.png")
        rows = read_metrics(self.csv_path) if resume_step is not None and os.path.isfile(self.csv_path) else []
        rows = [r for r in rows if int(r["step"]) <= resume_step] if rows else []
        with open(self.csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        self.board = _summary_writer(output_dir, None if resume_step is None else resume_step + 1, log)

    def add(self, **row):
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerow({k: _fmt(row.get(k)) for k in FIELDS})
        if self.board:
            for key, tag in BOARD.items():
                if row.get(key) is not None:
                    self.board.add_scalar(tag, row[key], row["step"])
            self.board.flush()
        if row.get("val_accuracy") is not None:
            plot_metrics(read_metrics(self.csv_path), self.png_path)

    def close(self):
        if self.board:
            self.board.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _summary_writer(output_dir, purge_step, log):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch's module imports the tensorboard package, an optional dependency
        log("TensorBoard is not installed: curves go to metrics.csv and metrics.png only "
            "(pip install -r requirements.txt adds it)")
        return None
    return SummaryWriter(output_dir, purge_step=purge_step)


def _fmt(value):
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def read_metrics(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _series(rows, field):
    return [(int(r["step"]), float(r[field])) for r in rows if r.get(field) not in (None, "")
            and math.isfinite(float(r[field]))]


def nice_ticks(lo, hi, count=5):
    """About `count` round tick values (1, 2 or 5 x 10^k apart) covering [lo, hi] -> (ticks, axis lo, axis hi)."""
    if hi <= lo:
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    ticks = [round(k * step, 12) for k in range(first, last + 1)]
    return ticks, ticks[0], ticks[-1]


def _label(value):
    return f"{value:.6g}"


def _panel(draw, box, points, style):
    """One panel: a title, axes fitted to `points` (step, value) with grid lines at round values, the curve.
    style: (title, colour, font)."""
    title, color, font = style
    left, top, right, bottom = box
    draw.text((left, top - 16), title, fill=color, font=font)
    if not points:
        draw.rectangle(box, outline=(0, 0, 0))
        draw.text((left + 8, top + 8), "no values yet", fill=(0, 0, 0), font=font)
        return
    y_ticks, y0, y1 = nice_ticks(min(p[1] for p in points), max(p[1] for p in points))
    x_ticks, x0, x1 = nice_ticks(min(p[0] for p in points), max(p[0] for p in points))
    x0 = max(x0, 0)

    def xy(x, y):
        return left + (x - x0) / (x1 - x0) * (right - left), bottom - (y - y0) / (y1 - y0) * (bottom - top)

    for y in y_ticks:
        py = xy(x0, y)[1]
        draw.line((left, py, right, py), fill=GRID_COLOR)
        draw.text((4, py - 6), _label(y), fill=(0, 0, 0), font=font)
    for x in (t for t in x_ticks if x0 <= t <= x1):
        px = xy(x, y0)[0]
        draw.line((px, top, px, bottom), fill=GRID_COLOR)
        draw.text((px - 12, bottom + 4), _label(x), fill=(0, 0, 0), font=font)
    draw.rectangle(box, outline=(0, 0, 0))
    coords = [xy(*p) for p in points]
    if len(coords) > 1:
        draw.line(coords, fill=color, width=2)
    for x, y in coords if len(coords) < 50 else coords[-1:]:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=color)


def plot_metrics(rows, path):
    """Loss (top) and validation accuracy (bottom) against the global step -> PNG at path."""
    image = Image.new("RGB", SIZE, (255, 255, 255))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default()
    w, h = SIZE
    mid = h // 2
    _panel(draw, (LEFT, 28, w - RIGHT, mid - 24), _series(rows, "loss"), ("training loss", LOSS_COLOR, font))
    acc = [(step, 100 * value) for step, value in _series(rows, "val_accuracy")]
    _panel(draw, (LEFT, mid + 28, w - RIGHT, h - 24), acc, ("validation word accuracy (%)", ACC_COLOR, font))
    draw.text((w // 2 - 20, h - 12), "step", fill=(0, 0, 0), font=font)
    tmp = f"{path}.tmp"
    image.save(tmp, "PNG")
    os.replace(tmp, path)
