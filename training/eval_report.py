"""The per-benchmark evaluation table: printed, and written as eval_results.csv / .md.

Protocol (as in the CRNN and clovaai benchmark papers): predictions and labels
are compared case-insensitively on alphanumerics only (other scripts' letters
count as alphanumerics: a Chinese label is read exactly); a model whose alphabet
has capitals or punctuation also gets an exact-match column. Labels longer than the
model can emit stay in the denominator and count as errors; images that cannot
be decoded are skipped and reported in their own column.
"""
import csv
import os

from utils.errors import UserError

COLUMNS = ["set", "samples", "correct", "accuracy", "norm_ED", "too_long", "undecodable"]
KEYS = ("total", "correct", "ned", "too_long", "skipped")
# Optional columns: result counter -> (csv column, table header). exact: case and punctuation count (an alphabet
# with capitals or punctuation); beam: the beam search with the LM, from the same scores (--eval_only).
OPTIONAL = {"correct_exact": ("accuracy_exact", "exact %"), "correct_second": ("accuracy_beam_lm", "beam + LM %")}


def make_rows(results):
    """results: {name: {"correct", "total", "ned", "too_long", "skipped"[, OPTIONAL counters]}} -> rows incl. the
    weighted total."""
    rows = [_row(name, r) for name, r in results.items()]
    if len(rows) > 1:
        keys = KEYS + tuple(k for k in OPTIONAL if all(k in r for r in results.values()))
        rows.append(_row("total (sample-weighted)", {k: sum(r[k] for r in results.values()) for k in keys}))
    return rows


def _row(name, r):
    total = max(int(r["total"]), 1)
    row = {"set": name, "samples": int(r["total"]), "correct": int(r["correct"]), "accuracy": r["correct"] / total,
           "norm_ED": r["ned"] / total, "too_long": int(r["too_long"]), "undecodable": int(r["skipped"])}
    row.update({column: r[k] / total for k, (column, _) in OPTIONAL.items() if k in r})
    return row


def _optional(rows):
    return [(column, header) for column, header in OPTIONAL.values() if all(column in r for r in rows)]


def format_table(rows):
    """Markdown table (also what the log shows)."""
    extra = _optional(rows)
    cells = [[str(r["set"]), str(r["samples"]), str(r["correct"]), f"{100 * r['accuracy']:.2f}"]
             + [f"{100 * r[column]:.2f}" for column, _ in extra]
             + [f"{r['norm_ED']:.4f}", str(r["too_long"]), str(r["undecodable"])] for r in rows]
    header = ["set", "samples", "correct", "accuracy %"] + [h for _, h in extra] \
        + ["norm ED", "too long (errors)", "undecodable (skipped)"]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def write_tables(rows, out_dir):
    """-> (csv path, md path)."""
    os.makedirs(out_dir, exist_ok=True)
    csv_path, md_path = os.path.join(out_dir, "eval_results.csv"), os.path.join(out_dir, "eval_results.md")
    extra = [column for column, _ in _optional(rows)]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS + extra, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**r, **{k: f"{r[k]:.6f}" for k in ["accuracy", "norm_ED"] + extra}} for r in rows)
    with open(md_path, "w") as f:
        f.write(format_table(rows) + "\n\nAccuracy: case-insensitive, alphanumerics only, greedy decoding (the "
                "protocol); labels longer than the model can emit count as errors; undecodable images are skipped. "
                "exact: the label read exactly, case and punctuation included; beam + LM: the beam search with the "
                "character language model, from the same scores.\n")
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
    """predictions_<set>.tsv: LMDB key, label, greedy prediction, its confidence (what predict.py --decoder greedy
    prints per file) and, when evaluated with the LM, the beam search's prediction."""
    path = os.path.join(out_dir, f"predictions_{name.replace(os.sep, '_')}.tsv")
    with open(path, "w", encoding="utf-8") as f:
        for index, gt, pred, conf, *second in sorted(predictions):
            f.write("\t".join([f"image-{index:09d}", gt, pred, f"{conf:.4f}", *second]) + "\n")
