"""Training curves: metrics.csv (one row per log line and per validation) and a PNG plot of it.

The plot is drawn with Pillow (already a dependency) so that no plotting
library is needed: loss on the top panel, validation accuracy below.
"""
import csv
import math
import os

from PIL import Image, ImageDraw, ImageFont

FIELDS = ["step", "epoch", "loss", "lr", "img_s", "val_accuracy"]
LOSS_COLOR, ACC_COLOR = (31, 119, 180), (255, 127, 14)
SIZE, MARGIN = (800, 560), 56


class MetricsLog:
    """Appends to <output_dir>/metrics.csv and redraws <output_dir>/metrics.png at each validation.
    On resume, rows written after the checkpoint's step (work the crash lost) are dropped first."""

    def __init__(self, output_dir, resume_step=None):
        self.csv_path = os.path.join(output_dir, "metrics.csv")
        self.png_path = os.path.join(output_dir, "metrics.png")
        rows = read_metrics(self.csv_path) if resume_step is not None and os.path.isfile(self.csv_path) else []
        rows = [r for r in rows if int(r["step"]) <= resume_step] if rows else []
        with open(self.csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    def add(self, **row):
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerow({k: _fmt(row.get(k)) for k in FIELDS})
        if row.get("val_accuracy") is not None:
            plot_metrics(read_metrics(self.csv_path), self.png_path)


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


def _panel(draw, box, points, color, title, font, y_range=None):
    left, top, right, bottom = box
    draw.rectangle(box, outline=(0, 0, 0))
    draw.text((left, top - 14), title, fill=color, font=font)
    if not points:
        return
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    y0, y1 = y_range or (min(ys), max(ys))
    y1 = y1 if y1 > y0 else y0 + 1
    for frac in (0, 0.5, 1):
        y = bottom - frac * (bottom - top)
        draw.text((4, y - 6), f"{y0 + frac * (y1 - y0):.3g}", fill=(0, 0, 0), font=font)
    draw.text((left, bottom + 4), str(x0), fill=(0, 0, 0), font=font)
    draw.text((right - 40, bottom + 4), str(x1), fill=(0, 0, 0), font=font)

    def xy(p):
        return (left + (p[0] - x0) / (x1 - x0) * (right - left),
                bottom - (p[1] - y0) / (y1 - y0) * (bottom - top))
    coords = [xy(p) for p in points]
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
    _panel(draw, (MARGIN, 24, w - 16, mid - 24), _series(rows, "loss"), LOSS_COLOR, "training loss", font)
    _panel(draw, (MARGIN, mid + 24, w - 16, h - 24), _series(rows, "val_accuracy"), ACC_COLOR,
           "validation word accuracy", font, y_range=(0.0, 1.0))
    draw.text((w // 2 - 20, h - 14), "step", fill=(0, 0, 0), font=font)
    tmp = f"{path}.tmp"
    image.save(tmp, "PNG")
    os.replace(tmp, path)
