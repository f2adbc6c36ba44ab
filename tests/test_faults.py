"""Fault campaign: SIGKILL at random points + --resume auto, NaN steps, a full disk during a save."""
import contextlib
import errno
import glob
import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import main
import utils.checkpoint
import utils.engine
from conftest import ROOT, TINY_MODEL
from utils.checkpoint import load_training_checkpoint
from utils.errors import UserError

# fp32, 2 epochs x 30 steps at batch 16, a checkpoint every 4 steps (and at each epoch end).
RUN = ["--epochs", "2", "--max_step", "30", "--batch_size", "16", "--opt_level", "O0", "--print_freq", "1",
       "--save_every_steps", "4", *TINY_MODEL]
STEPS = 60


def run_main(argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = main.main(main.get_args_parser().parse_args(argv))
    return result, buf.getvalue()


def global_step(line, steps_per_epoch=30):
    """'Epoch: [1][ 7/30] ...' -> 37."""
    epoch, step = line[len("Epoch: ["):].split("]")[0], line.split("][")[1].split("/")[0]
    return int(epoch) * steps_per_epoch + int(step)


def assert_all_checkpoints_readable(out_dir):
    for path in glob.glob(os.path.join(out_dir, "*.pth")):
        load_training_checkpoint(path)  # raises on a torn or corrupt file


def test_sigkill_campaign_resumes_to_identical_weights(tiny_data, tmp_path):
    ref_dir, run_dir = tmp_path / "reference", tmp_path / "killed"
    cmd = [sys.executable, "main.py", "--data_path", tiny_data, "--resume", "auto", *RUN, "--output_dir"]
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")  # same threads, same float sums
    subprocess.run(cmd + [str(ref_dir)], cwd=ROOT, env=env, check=True, capture_output=True)
    cmd.append(str(run_dir))
    rng = np.random.default_rng(2026)
    kill_at = sorted(rng.choice(np.arange(2, STEPS - 2), 10, replace=False))
    starts_with_checkpoint, resumed = [], []
    for target in kill_at:
        starts_with_checkpoint.append(bool(glob.glob(os.path.join(run_dir, "*.pth"))))
        resumed.append(False)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            if line.startswith("--resume auto: continuing from"):
                resumed[-1] = True
            if line.startswith("Epoch: [") and global_step(line) >= target:
                # Kill right away, or a little later: sometimes in the middle of writing a checkpoint.
                if rng.random() < 0.5:
                    time.sleep(rng.uniform(0, 0.05))
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait()
        proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL, f"run ended before step {target}"
        assert_all_checkpoints_readable(run_dir)
    # Every start resumed from a checkpoint when one was there (early kills can come before the first).
    assert resumed == starts_with_checkpoint and sum(resumed) >= 8
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "--resume auto: continuing from" in done.stdout
    assert not glob.glob(os.path.join(run_dir, "*.tmp*"))
    ref, got = load_training_checkpoint(str(ref_dir / "checkpoint.pth")), load_training_checkpoint(
        str(run_dir / "checkpoint.pth"))
    assert got["global_step"] == ref["global_step"] == STEPS
    for k, v in ref["model"].items():
        torch.testing.assert_close(got["model"][k], v, rtol=0, atol=1e-6, msg=k)


def test_resume_auto_skips_a_corrupt_checkpoint(tiny_data, tmp_path):
    run_main(["--data_path", tiny_data, "--output_dir", str(tmp_path), "--stop_step", "6", *RUN])
    best = load_training_checkpoint(str(tmp_path / "model_best.pth"))
    (tmp_path / "checkpoint.pth").write_bytes(b"\0" * 100)          # e.g. a disk error after the save
    (tmp_path / "checkpoint.pth.tmp999").write_bytes(b"half")      # a save cut short by a crash
    _, out = run_main(["--data_path", tiny_data, "--output_dir", str(tmp_path), "--resume", "auto", "--stop_step",
                       "8", *RUN])
    assert f"warning: --resume auto skips {tmp_path}/checkpoint.pth: cannot read checkpoint" in out
    assert f"removing {tmp_path}/checkpoint.pth.tmp999" in out
    assert f"Resumed {tmp_path}/model_best.pth at epoch 0, step {best['step']}" in out


class InfiniteGrad(torch.autograd.Function):
    """Identity forward, infinite gradient backward: a finite loss whose gradient is not."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


def test_non_finite_steps_are_skipped_counted_and_stop_the_run(tiny_data, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_loss = utils.engine.ctc_loss

    def faulty_loss(*args):
        calls["n"] += 1
        loss = real_loss(*args)
        if calls["n"] in (3, 4):
            return loss * float("nan")        # NaN loss
        if calls["n"] == 7:
            return InfiniteGrad.apply(loss)   # finite loss, infinite gradient
        return loss

    monkeypatch.setattr(utils.engine, "ctc_loss", faulty_loss)
    _, out = run_main(["--data_path", tiny_data, "--output_dir", str(tmp_path), *RUN, "--stop_step", "10"])
    assert out.count("warning: non-finite loss or gradient, step skipped") == 3
    assert "step skipped (3 so far)" in out and "skipped non-finite steps: 3" in out
    ckpt = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    assert ckpt["global_step"] == 10
    assert all(s["step"] == 7 for s in ckpt["optimizer"]["state"].values())   # 10 steps, 3 never applied
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())

    # From the 4th call on every loss is NaN: the run stops after --max_bad_steps in a row.
    def broken_from_4th(*args):
        calls["n"] += 1
        return real_loss(*args) * (float("nan") if calls["n"] >= 4 else 1.0)

    calls["n"] = 0
    monkeypatch.setattr(utils.engine, "ctc_loss", broken_from_4th)
    with pytest.raises(UserError, match="5 steps in a row had a non-finite loss or gradient: stopping"):
        run_main(["--data_path", tiny_data, "--output_dir", str(tmp_path / "b"), *RUN, "--max_bad_steps", "5"])
    assert calls["n"] == 8


class SmallDisk:
    """open() for utils.checkpoint on a pretend filesystem of `capacity` bytes: what the files in the
    folder already hold counts, and a write past the capacity fails with ENOSPC as a full disk does."""

    def __init__(self, folder, capacity):
        self.folder, self.capacity = folder, capacity

    def __call__(self, path, mode="r", *args, **kwargs):
        f = open(path, mode, *args, **kwargs)
        if "w" not in mode:
            return f
        used = sum(os.path.getsize(p) for p in glob.glob(os.path.join(self.folder, "*")) if p != path)
        return _LimitedFile(f, self.capacity - used)


class _LimitedFile:
    def __init__(self, f, room):
        self.f, self.room = f, room

    def write(self, data):
        if len(data) > self.room:
            self.f.write(bytes(data[:max(self.room, 0)]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_full_disk_during_a_save_keeps_the_previous_checkpoint(tiny_data, tmp_path, monkeypatch):
    out_dir = tmp_path / "run"
    run_main(["--data_path", tiny_data, "--output_dir", str(out_dir), *RUN, "--stop_step", "4"])
    first = load_training_checkpoint(str(out_dir / "checkpoint.pth"))
    size = os.path.getsize(out_dir / "checkpoint.pth")
    # Room for what is there plus half a checkpoint: the next save runs out of space mid-write.
    used = sum(os.path.getsize(p) for p in glob.glob(str(out_dir / "*")))
    monkeypatch.setattr(utils.checkpoint, "open", SmallDisk(str(out_dir), used + size // 2), raising=False)
    with pytest.raises(UserError) as err:
        run_main(["--data_path", tiny_data, "--output_dir", str(out_dir), "--resume", "auto", *RUN])
    message = str(err.value)
    assert "cannot write checkpoint" in message and "No space left on device" in message
    assert "the previous checkpoint is intact" in message and "--resume auto" in message
    monkeypatch.undo()
    kept = load_training_checkpoint(str(out_dir / "checkpoint.pth"))
    assert kept["global_step"] == first["global_step"] == 4
    for k, v in first["model"].items():
        assert torch.equal(kept["model"][k], v), k
    assert not glob.glob(str(out_dir / "*.tmp*"))                       # the torn temp file is gone
