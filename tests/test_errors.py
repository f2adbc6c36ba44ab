"""Every documented error: one line on stderr naming the problem, exit code 2, no traceback."""
import subprocess
import sys

import pytest

from conftest import ROOT, word_image, write_lmdb


def run_main(*args):
    return subprocess.run([sys.executable, "main.py", *args, "--device", "cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stdout[-1000:] + result.stderr[-1000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_data_path(tmp_path):
    assert_one_line_error(run_main("--data_path", str(tmp_path / "nope")), "does not exist", "MJ_LMDB")


def test_missing_training_folder(tmp_path):
    assert_one_line_error(run_main("--data_path", str(tmp_path)), "IIIT5K_lmdb", "not found", "--val_dir")


def test_folder_that_is_not_an_lmdb(tmp_path):
    (tmp_path / "MJ_LMDB").mkdir()
    (tmp_path / "IIIT5K_lmdb").mkdir()
    assert_one_line_error(run_main("--data_path", str(tmp_path)), "not an LMDB folder", "data.mdb")


def test_empty_lmdb(tmp_path):
    write_lmdb(tmp_path / "IIIT5K_lmdb", [(word_image("a"), "a")])
    write_lmdb(tmp_path / "MJ_LMDB", [])
    assert_one_line_error(run_main("--data_path", str(tmp_path)), "is empty", "MJ_LMDB")


def test_too_few_samples_for_a_batch(tmp_path):
    write_lmdb(tmp_path / "IIIT5K_lmdb", [(word_image("a"), "a")])
    write_lmdb(tmp_path / "MJ_LMDB", [(word_image("a"), "a")] * 3)
    assert_one_line_error(run_main("--data_path", str(tmp_path)), "fewer than one global batch", "--batch_size")


@pytest.mark.parametrize("content,fragment", [(b"not a checkpoint at all", "cannot read checkpoint"),
                                              (b"", "cannot read checkpoint")])
def test_corrupt_checkpoint(tmp_path, tiny_data, content, fragment):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(content)
    assert_one_line_error(run_main("--data_path", tiny_data, "--resume", str(bad)), fragment, str(bad))


def test_truncated_checkpoint(tmp_path, tiny_data):
    import torch
    good = tmp_path / "good.pth"
    torch.save({"model": {"w": torch.zeros(1000)}, "model_args": {}, "alphabet": "ab"}, good)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[:300])
    assert_one_line_error(run_main("--data_path", tiny_data, "--resume", str(cut)), "cannot read checkpoint")


def test_foreign_checkpoint_and_missing_file(tmp_path, tiny_data):
    import torch
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {}}, other)
    assert_one_line_error(run_main("--data_path", tiny_data, "--resume", str(other)), "not a checkpoint of this repo")
    assert_one_line_error(run_main("--data_path", tiny_data, "--resume", str(tmp_path / "none.pth")),
                          "checkpoint not found")


def test_eval_only_needs_a_checkpoint(tiny_data):
    assert_one_line_error(run_main("--data_path", tiny_data, "--eval_only"), "--eval_only needs --resume")


def test_bad_flags(tiny_data):
    assert_one_line_error(run_main("--data_path", tiny_data, "--loss_scale", "big"), "--loss_scale")
    assert_one_line_error(run_main("--data_path", tiny_data, "--alphabet", "aab"), "repeated characters")


def test_lmdb_tool_errors(tmp_path):
    out = subprocess.run([sys.executable, "tools/create_lmdb_dataset.py", "--input_dir", str(tmp_path / "x"),
                          "--output", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True)
    assert_one_line_error(out, "--input_dir not found")
    (tmp_path / "in").mkdir()
    out = subprocess.run([sys.executable, "tools/create_lmdb_dataset.py", "--input_dir", str(tmp_path / "in"),
                          "--gt_file", str(tmp_path / "gt.txt"), "--output", str(tmp_path / "o")],
                         cwd=ROOT, capture_output=True, text=True)
    assert_one_line_error(out, "ground-truth file not found")
