"""bench/synth_ablation.py: each row trains with its own feature set, once; the table reads the crops by length.
bench/real_mix.py: each row trains with its share of real crops."""
import os
import re
import subprocess
import sys

import torch

from bench import runs, synth_ablation
from conftest import ROOT, word_image
from inference.model_file import ModelFile
from models.crnn import default_args
from test_synth_assets import font_folder
from training.checkpoint import load_training_checkpoint

WORDS = ["exit", "open", "hotel", "12", "station", "internationally"]


def run_ablation(tmp_path, rows=("v6", "all"), output_dir="abl", start=()):
    cmd = [sys.executable, "-m", "bench.synth_ablation", str(tmp_path / "crops" / "labels.txt"), "--synth_assets",
           str(tmp_path / "assets"), "--images", "64", "--synth_val", "64", "--rows", *rows, *start,
           "--output_dir", str(tmp_path / output_dir), "--", "--batch_size", "32", "--hidden_size", "16", "--cnn_width", "8",
           "--workers", "0", "--device", "cpu"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})


def table_rows(stdout):
    return {line.split("|")[1].strip(): line for line in stdout.splitlines() if line.startswith("| ")
            and line.split("|")[1].strip() in ("v6", "all")}


def test_rows_train_once_with_their_features_and_the_table_reads_every_crop(tmp_path):
    font_folder(tmp_path / "assets")
    (tmp_path / "crops").mkdir()
    for n, word in enumerate(WORDS):
        (tmp_path / "crops" / f"{n}.png").write_bytes(word_image(word, size=(40 + 14 * len(word), 40)))
    (tmp_path / "crops" / "labels.txt").write_text("".join(f"{n}.png\t{w}\n" for n, w in enumerate(WORDS)))

    first = run_ablation(tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = table_rows(first.stdout)
    assert set(rows) == {"v6", "all"}, first.stdout[-2000:]
    for name, features in (("v6", "`turns=0,scene=0`"), ("all", "``")):
        cells = [c.strip() for c in rows[name].split("|")[2:-1]]
        assert cells[0] == features
        accs = [float(c) for c in cells[1:]]
        assert len(accs) == 7 and all(0 <= a <= 100 for a in accs)  # all, 5 length buckets, synthetic val
    done = {name: (tmp_path / "abl" / name / "ABLATION_ROW_DONE").read_text() for name in ("v6", "all")}
    assert "CRNN_SYNTH_FEATURES='turns=0,scene=0'" in done["v6"] and "CRNN_SYNTH_FEATURES=''" in done["all"]
    assert all(f"--synth_assets {tmp_path / 'assets'}" in text for text in done.values())
    for name in ("v6", "all"):  # 64 images in batches of 32, validated on the common set
        assert load_training_checkpoint(str(tmp_path / "abl" / name / "checkpoint.pth"))["global_step"] == 2
        assert re.search(r"synth_v7-assets-[0-9a-f]{10}_train0_val64_seed0",
                         (tmp_path / "abl" / name / "eval_results.csv").read_text())

    again = run_ablation(tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("already trained") == 2
    assert table_rows(again.stdout) == rows

    start = str(tmp_path / "abl" / "v6" / "checkpoint.pth")
    tuned = run_ablation(tmp_path, rows=("v6",), output_dir="tuned", start=("--finetune", start))
    assert tuned.returncode == 0, tuned.stderr[-2000:]
    assert f"Fine-tuning from {start}" in tuned.stdout and set(table_rows(tuned.stdout)) == {"v6"}
    assert f"--finetune {start}" in (tmp_path / "tuned" / "v6" / "ABLATION_ROW_DONE").read_text()


def test_a_row_with_a_checkpoint_resumes_instead_of_starting_again(tmp_path, monkeypatch):
    """main.py takes --finetune or --resume, not both: a fine-tuned row stopped after a save continues."""
    commands = []
    monkeypatch.setattr(runs.subprocess, "run", lambda cmd, env: commands.append(cmd) or
                        subprocess.CompletedProcess(cmd, 0))
    args = synth_ablation.get_args_parser().parse_args([__file__, "--synth_assets", str(tmp_path), "--finetune",
                                                        __file__, "--output_dir", str(tmp_path / "abl")])
    for row in ("v6", "scene"):  # main.py would create them
        (tmp_path / "abl" / row).mkdir(parents=True)
    synth_ablation.train_row("v6", args, "VAL")
    (tmp_path / "abl" / "scene" / "checkpoint_prev.pth").write_bytes(b"")
    synth_ablation.train_row("scene", args, "VAL")
    starts = [[a for a in cmd if a in ("--finetune", "--resume")] for cmd in commands]
    assert starts == [["--finetune"], ["--resume"]]
    assert commands[0][commands[0].index("--finetune") + 1] == __file__
    assert commands[1][commands[1].index("--resume") + 1] == "auto"


def test_real_mix_rows_train_with_their_share_and_read_the_dev_sets(tiny_data, tmp_path):
    """bench/real_mix.py: a row of real crops trains with its share of each batch and its options, a row without
    them on the stream alone; the table reads every development set with both readers."""
    font_folder(tmp_path / "assets")
    start = ModelFile({**default_args(), "hidden_size": 16, "cnn_width": 8})   # a tiny new network to start from
    torch.save({"model": start.build().state_dict(), **start.fields()}, tmp_path / "start.pth")
    real = f"{tiny_data}/OTHER_lmdb"
    cmd = [sys.executable, "-m", "bench.real_mix", f"{tiny_data}/IIIT5K_lmdb", "--real_dir", real, "--synth_assets",
           str(tmp_path / "assets"), "--finetune", str(tmp_path / "start.pth"), "--images", "64",
           "--rows", "0", "0.25/noaug/skip", "--output_dir", str(tmp_path / "mix"), "--", "--batch_size", "32",
           "--workers", "0", "--device", "cpu"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| 0")]
    assert [(r[0].strip(), r[1].strip()) for r in rows] == [("0", "1234"), ("0.25/noaug/skip", "1234")]
    assert all(0 <= float(c) <= 100 for r in rows for c in r[2:]) and all(len(r) == 4 for r in rows)
    mixed = (tmp_path / "mix" / "0.25-noaug-skip_seed1234" / "ABLATION_ROW_DONE").read_text()
    assert f"--real_dir {real} --batch_ratio 0.75 0.25" in mixed and "--augment off --label_rule skip" in mixed
    assert "--real_dir" not in (tmp_path / "mix" / "0_seed1234" / "ABLATION_ROW_DONE").read_text()
