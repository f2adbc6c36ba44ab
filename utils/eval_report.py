"""The per-benchmark evaluation table: printed, and written as eval_results.csv / .md.

Protocol (as in the CRNN and clovaai benchmark papers): predictions and labels
are compared case-insensitively on alphanumerics only. Labels longer than the
model can emit stay in the denominator and count as errors; images that cannot
be decoded are skipped and reported in their own column.
"""
import csv
import os

from utils.errors import UserError

COLUMNS = ["set", "samples", "correct", "accuracy", "norm_ED", "too_long", "undecodable"]


def make_rows(results):
    """results: {name: {"correct", "total", "ned", "too_long", "skipped"}} -> rows incl. the weighted total."""
    rows = []
    for name, r in results.items():
        rows.append(_row(name, r["total"], r["correct"], r["ned"], r["too_long"], r["skipped"]))
    if len(rows) > 1:
        rows.append(_row("total (sample-weighted)", *(sum(r[k] for r in results.values())
                                                      for k in ("total", "correct", "ned", "too_long", "skipped"))))
    return rows


def _row(name, total, correct, ned, too_long, skipped):
    total = int(total)
    return {"set": name, "samples": total, "correct": int(correct), "accuracy": correct / max(total, 1),
            "norm_ED": ned / max(total, 1), "too_long": int(too_long), "undecodable": int(skipped)}


def format_table(rows):
    """Markdown table (also what the log shows)."""
    cells = [[str(r["set"]), str(r["samples"]), str(r["correct"]), f"{100 * r['accuracy']:.2f}",
              f"{r['norm_ED']:.4f}", str(r["too_long"]), str(r["undecodable"])] for r in rows]
    header = ["set", "samples", "correct", "accuracy %", "norm ED", "too long (errors)", "undecodable (skipped)"]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def write_tables(rows, out_dir):
    """-> (csv path, md path)."""
    os.makedirs(out_dir, exist_ok=True)
    csv_path, md_path = os.path.join(out_dir, "eval_results.csv"), os.path.join(out_dir, "eval_results.md")
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows({**r, "accuracy": f"{r['accuracy']:.6f}", "norm_ED": f"{r['norm_ED']:.6f}"} for r in rows)
    with open(md_path, "w") as f:
        f.write(format_table(rows) + "\n\nCase-insensitive, alphanumerics only; labels longer than the model "
                "can emit count as errors; undecodable images are skipped.\n")
    return csv_path, md_path


def find_eval_sets(data_path, train_dir):
    """--eval_all: every folder holding a data.mdb under data_path (recursively), except the training one."""
    train = os.path.realpath(os.path.join(data_path, train_dir))
    names = []
    for folder, subdirs, files in os.walk(data_path, followlinks=True):
        subdirs.sort()
        real = os.path.realpath(folder)
        if real == train or real.startswith(train + os.sep):
            subdirs.clear()
        elif "data.mdb" in files:
            names.append(os.path.relpath(folder, data_path))
    if not names:
        raise UserError(f"--eval_all: no LMDB folder (with data.mdb) under {data_path} besides {train_dir}")
    return names


def write_predictions(predictions, out_dir, name):
    """predictions_<set>.tsv: LMDB key, label, prediction, confidence (what predict.py prints per file)."""
    path = os.path.join(out_dir, f"predictions_{name.replace(os.sep, '_')}.tsv")
    with open(path, "w", encoding="utf-8") as f:
        for index, gt, pred, conf in sorted(predictions):
            f.write(f"image-{index:09d}\t{gt}\t{pred}\t{conf:.4f}\n")
