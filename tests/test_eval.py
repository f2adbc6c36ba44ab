"""Evaluation table over several sets, predict.py against --eval_only, training curves."""
import contextlib
import csv
import glob
import io
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import ROOT, TINY_MODEL, random_words, word_image, write_lmdb
from training.curves import ACC_COLOR, LOSS_COLOR, MetricsLog, nice_ticks, plot_metrics


def run_main(argv):
    import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        acc = main.main(main.get_args_parser().parse_args(argv))
    return acc, buf.getvalue()


def test_table_over_three_sets(overfit_run, tmp_path):
    """The overfitted tiny model reads its 64 training words; the labels below decide every number."""
    words = random_words(64)                                  # the words tiny_data trains on
    data = tmp_path / "bench"
    # CLEAN: 10 words, right labels -> 10/10.
    write_lmdb(data / "CLEAN", [(word_image(w), w) for w in words[:10]])
    # RELABEL: upper case and punctuation still match (protocol); 3 labels gain one wrong character.
    relabel = [(words[10], words[10].upper()), (words[11], words[11] + "!"), (words[12], words[12]),
               (words[13], words[13] + "z"), (words[14], words[14] + "z"), (words[15], "z" + words[15])]
    write_lmdb(data / "RELABEL", [(word_image(w), label) for w, label in relabel])
    # LONG: 4 right, one label longer than the 26 steps the model emits (an error, kept), one broken image.
    long_label = words[20] + "q" * (27 - len(words[20]))
    write_lmdb(data / "LONG", [(word_image(w), w) for w in words[16:20]] + [(word_image(words[20]), long_label),
                                                                           (b"not an image", "abc")])
    ckpt = os.path.join(overfit_run[0], "model_best.pth")
    acc, out = run_main(["--data_path", str(data), "--val_dir", "CLEAN", "RELABEL", "LONG", "--eval_only",
                         "--resume", ckpt, *TINY_MODEL])
    with open(os.path.join(overfit_run[0], "eval_results.csv")) as f:
        rows = {r["set"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["CLEAN", "RELABEL", "LONG", "total (sample-weighted)"]

    def check(name, samples, correct, ned_sum, too_long, undecodable):
        r = rows[name]
        assert (int(r["samples"]), int(r["correct"]), int(r["too_long"]), int(r["undecodable"])) == \
            (samples, correct, too_long, undecodable), r
        assert abs(float(r["accuracy"]) - correct / samples) < 1e-6
        assert abs(float(r["norm_ED"]) - ned_sum / samples) < 1e-5, (r, ned_sum / samples)

    # One extra character in a word of n letters: similarity 1 - 1/(n + 1).
    relabel_ned = 3 + sum(1 - 1 / (len(words[i]) + 1) for i in (13, 14, 15))
    long_ned = 4 + len(words[20]) / 27                        # 27 - n insertions over 27 characters
    check("CLEAN", 10, 10, 10, 0, 0)
    check("RELABEL", 6, 3, relabel_ned, 0, 0)
    check("LONG", 5, 4, long_ned, 1, 1)
    check("total (sample-weighted)", 21, 17, 10 + relabel_ned + long_ned, 1, 1)
    assert abs(acc - 17 / 21) < 1e-6 and "Accuracy: 0.8095" in out
    md = open(os.path.join(overfit_run[0], "eval_results.md")).read()
    assert "| total (sample-weighted) | 21 " in md and "count as errors" in md


def test_eval_all_finds_benchmark_folders(overfit_run, tmp_path):
    data = tmp_path / "data_lmdb_release"
    samples = [(word_image(w), w) for w in random_words(64)[:3]]
    for name in ["training/MJ/MJ_train", "evaluation/IIIT5k_3000", "evaluation/SVT", "evaluation/IC13_857",
                 "evaluation/CUTE80"]:
        write_lmdb(data / name, samples)
    _, out = run_main(["--data_path", str(data), "--train_dir", "training", "--eval_all", "--eval_only",
                       "--resume", os.path.join(overfit_run[0], "model_best.pth"), *TINY_MODEL])
    sets = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| evaluation/")]
    assert sets == ["evaluation/CUTE80", "evaluation/IC13_857", "evaluation/IIIT5k_3000", "evaluation/SVT"]
    assert "| total (sample-weighted) | 12 " in out


def test_predict_matches_eval_only(overfit_run, tiny_data, tmp_path):
    """predict.py on image files prints what --eval_only decodes for the same images in an LMDB."""
    folder = tmp_path / "crops"
    folder.mkdir()
    words = random_words(64)[:10] + random_words(10, seed=7)  # trained and unseen words: some are misread
    lines = []
    for i, w in enumerate(words):
        name = f"w{i:02d}.png" if i < 10 else f"w{i:02d}.jpg"    # the unseen ones in colour, other sizes
        if i < 10:
            (folder / name).write_bytes(word_image(w))
        else:
            Image.open(io.BytesIO(word_image(w, size=(90 + 7 * i, 30 + i)))).convert("RGB").save(folder / name)
        lines.append(f"{name}\t{w}\n")
    (folder / "gt.txt").write_text("".join(lines))
    env = dict(os.environ, PYTHONPATH=ROOT)
    subprocess.run([sys.executable, "-m", "tools.create_lmdb_dataset", "--input_dir", str(folder), "--gt_file",
                    str(folder / "gt.txt"), "--output", str(tmp_path / "data" / "CROPS")], cwd=ROOT, check=True,
                   capture_output=True)
    ckpt_dir = tmp_path / "ckpt"
    ckpt_dir.mkdir()
    ckpt = ckpt_dir / "model.pth"
    ckpt.write_bytes(open(os.path.join(overfit_run[0], "model_best.pth"), "rb").read())
    run_main(["--data_path", str(tmp_path / "data"), "--val_dir", "CROPS", "--eval_only", "--resume", str(ckpt),
              *TINY_MODEL])
    with open(ckpt_dir / "predictions_CROPS.tsv") as f:
        eval_texts = [line.rstrip("\n").split("\t")[2] for line in f]
    assert len(eval_texts) == 20

    # one read of each crop, as --eval_only reads (predict.py's default adds a second read with extended edges)
    r = subprocess.run([sys.executable, "predict.py", "--model", str(ckpt), "--precision", "fp32", "--decoder", "greedy",
                        "--edge_pad", "0", str(folder)],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = [line.split("\t") for line in r.stdout.splitlines()]
    assert [os.path.basename(o[0]) for o in out] == sorted(n for n in os.listdir(folder) if n != "gt.txt")
    assert [o[1] for o in out] == eval_texts
    assert all(0.0 <= float(o[2]) <= 1.0 for o in out)
    assert 0 < sum(t == w for t, w in zip(eval_texts, words)) < 20       # a real, imperfect test
    # The default, fastest precision (bf16 on this CPU) reads the same words save borderline ones.
    r = subprocess.run([sys.executable, "predict.py", "--model", str(ckpt), "--batch_size", "7", "--decoder", "greedy",
                        "--edge_pad", "0", str(folder)],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    fast = [line.split("\t")[1] for line in r.stdout.splitlines()]
    assert sum(a == b for a, b in zip(fast, eval_texts)) >= 18, (fast, eval_texts)

    # The ONNX export (at each word's own width, as evaluation reads) gives the same text; --lexicon snaps
    # every reading to the closest word.
    subprocess.run([sys.executable, "pth2onnx.py", str(ckpt), str(tmp_path / "m.onnx"), "--dynamic_width"], cwd=ROOT,
                   check=True, capture_output=True)
    (tmp_path / "lex.txt").write_text("\n".join(words) + "\n")
    r = subprocess.run([sys.executable, "predict.py", "--model", str(tmp_path / "m.onnx"), str(folder / "gt.txt"),
                        "--json", "--lexicon", str(tmp_path / "lex.txt"), "--decoder", "greedy", "--edge_pad", "0"],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    assert [x["raw_text"] for x in results] == eval_texts
    assert all(x["text"] in words for x in results)
    assert sum(x["text"] == w for x, w in zip(results, words)) >= sum(t == w for t, w in zip(eval_texts, words))


def test_curves_written_after_training(overfit_run):
    out_dir = overfit_run[0]
    with open(os.path.join(out_dir, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["loss"]) for r in rows if r["loss"]]
    accs = [float(r["val_accuracy"]) for r in rows if r["val_accuracy"]]
    assert len(losses) >= 4 and len(accs) == 40                        # a log row per 1,000 steps, 40 epochs
    assert losses[-1] < losses[0] and accs[-1] == 1.0
    image = Image.open(os.path.join(out_dir, "metrics.png"))
    assert image.format == "PNG" and image.size == (800, 560)
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    for color in (LOSS_COLOR, ACC_COLOR):                              # both curves are drawn
        assert (pixels == color).all(1).sum() > 200, color
    events = glob.glob(os.path.join(out_dir, "events.out.tfevents.*"))
    assert len(events) == 1
    board = EventAccumulator(events[0])
    board.Reload()
    assert {"train/loss", "train/lr", "train/img_per_s", "val/accuracy"} <= set(board.Tags()["scalars"])
    board_accs = [e.value for e in board.Scalars("val/accuracy")]
    assert len(board_accs) == 40 and board_accs[-1] == 1.0


def test_the_plot_axes_follow_the_values(tmp_path):
    """A fine-tune from 92.2 to 93.6% fills the accuracy panel, where a fixed 0-100% axis drew a flat line."""
    rows = [{"step": str(s), "loss": f"{0.5 - s / 2000:.4f}", "val_accuracy": ""} for s in range(0, 801, 50)]
    rows += [{"step": str(s), "loss": "", "val_accuracy": str(a)}
             for s, a in zip(range(100, 801, 100), [0.922, 0.925, 0.927, 0.93, 0.931, 0.934, 0.935, 0.936])]
    plot_metrics(rows, str(tmp_path / "m.png"))
    pixels = np.asarray(Image.open(tmp_path / "m.png").convert("RGB"))
    acc_rows = np.nonzero((pixels == ACC_COLOR).all(2).any(1))[0]
    panel = pixels.shape[0] // 2                                         # the accuracy panel's height, about
    assert acc_rows.max() - acc_rows.min() > 0.5 * panel
    assert nice_ticks(92.2, 93.6) == ([92.0, 92.5, 93.0, 93.5, 94.0], 92.0, 94.0)   # round values around the data
    assert nice_ticks(0.4, 2.7) == ([0.0, 1.0, 2.0, 3.0], 0.0, 3.0)
    assert nice_ticks(5.0, 5.0)[1:] == (4.6, 5.4)                        # one value: a band around it


def test_a_run_without_tensorboard_writes_its_csv_and_png(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)   # import fails as if not installed
    logs = []
    with MetricsLog(str(tmp_path), log=logs.append) as metrics:
        metrics.add(step=10, epoch=0, loss=1.5, lr=1e-3, img_s=80.0)
        metrics.add(step=10, epoch=0, val_accuracy=0.5)
    assert logs == ["TensorBoard is not installed: curves go to metrics.csv and metrics.png only "
                    "(pip install -r requirements.txt adds it)"]
    assert sorted(os.listdir(tmp_path)) == ["metrics.csv", "metrics.png"]
