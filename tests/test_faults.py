"""Fault campaign: SIGKILL at random points + --resume auto, SIGTERM / SIGINT, NaN steps and NaN checkpoints,
a full disk during a save, the output folder's lock."""
import contextlib
import errno
import glob
import io
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import main
import utils.files
import training.step
from conftest import ROOT, TINY_MODEL, InfiniteGrad
from training.checkpoint import load_training_checkpoint
from utils.errors import UserError
from utils.run_lock import LOCK_NAME, claim_output_dir
from utils.signals import Interrupted

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


ENV = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")  # same threads, same float sums


@pytest.fixture(scope="module")
def reference(tiny_data, tmp_path_factory):
    """The weights of the uninterrupted run that every interrupted one must end with."""
    ref_dir = tmp_path_factory.mktemp("reference")
    subprocess.run([sys.executable, "main.py", "--data_path", tiny_data, *RUN, "--output_dir", str(ref_dir)],
                   cwd=ROOT, env=ENV, check=True, capture_output=True)
    return load_training_checkpoint(str(ref_dir / "checkpoint.pth"))


def assert_same_weights(run_dir, ref):
    got = load_training_checkpoint(str(run_dir / "checkpoint.pth"))
    assert got["global_step"] == ref["global_step"] == STEPS
    for k, v in ref["model"].items():
        torch.testing.assert_close(got["model"][k], v, rtol=0, atol=1e-6, msg=k)


def signal_after(proc, step, signum, rng=None, group=False):
    """Send signum to proc (group: to its whole process group) once its log passes global step `step` (SIGKILL:
    right away or a little later, sometimes in the middle of writing a checkpoint) -> (output, seconds from the
    signal to the exit)."""
    out, sent = [], None
    for line in proc.stdout:
        out.append(line)
        if sent is None and line.startswith("Epoch: [") and global_step(line) >= step:
            if rng is not None and rng.random() < 0.5:
                time.sleep(rng.uniform(0, 0.05))
            if group:
                os.killpg(proc.pid, signum)
            else:
                proc.send_signal(signum)
            sent = time.time()
            if signum == signal.SIGKILL:
                break
    proc.wait()
    proc.stdout.close()
    assert sent is not None, f"run ended before step {step}: " + "".join(out)[-2000:]
    return "".join(out), time.time() - sent


def test_sigkill_campaign_and_sigterm_resume_to_identical_weights(tiny_data, tmp_path, reference):
    """Nine SIGKILLs at random steps, then a SIGTERM (saves the step it reached, exit 143 within 30 s, no
    traceback), then a plain --resume auto to the end: the weights of a run never stopped."""
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "main.py", "--data_path", tiny_data, "--resume", "auto", *RUN, "--output_dir", str(run_dir)]
    rng = np.random.default_rng(2026)
    kill_at = sorted(rng.choice(np.arange(2, STEPS - 2), 10, replace=False))
    starts_with_checkpoint, resumed = [], []
    for target in kill_at:
        starts_with_checkpoint.append(bool(glob.glob(os.path.join(run_dir, "*.pth"))))
        signum = signal.SIGTERM if target == kill_at[-1] else signal.SIGKILL
        proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, seconds = signal_after(proc, target, signum, rng if signum == signal.SIGKILL else None)
        resumed.append("--resume auto: continuing from" in out)
        assert_all_checkpoints_readable(run_dir)
        if signum == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
            continue
        assert proc.returncode == 143 and seconds < 30 and "Traceback" not in out, out[-3000:]
        stopped = [line for line in out.splitlines() if line.startswith("Stopped by SIGTERM after global step ")]
        assert len(stopped) == 1 and stopped[0].endswith(f"--output_dir {run_dir} --resume auto"), out[-2000:]
        reached = int(stopped[0].split("global step ")[1].split(":")[0])
        assert reached >= target and load_training_checkpoint(str(run_dir / "checkpoint.pth"))["global_step"] == reached
        assert not (run_dir / LOCK_NAME).exists()
    # Every start resumed from a checkpoint when one was there (early kills can come before the first).
    assert resumed == starts_with_checkpoint and sum(resumed) >= 8
    done = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"(global step {reached})" in done.stdout
    assert not glob.glob(os.path.join(run_dir, "*.tmp*"))
    assert_same_weights(run_dir, reference)


@pytest.mark.parametrize("source", ["lmdb", "stream"])
def test_sigterm_to_the_whole_process_group_saves_the_step_reached(tiny_data, tmp_path, source):
    """Slurm's scancel, `kill -- -PGID` and `pkill -f` signal the loader workers too: they must outlive it,
    so that the training process finishes its step, saves and ends with 143 (and then no worker is left)."""
    data = ["--data_path", tiny_data] if source == "lmdb" else ["--synth_stream", "--synth_train", "3200",
                                                                "--synth_val", "16"]
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "main.py", *data, *RUN, "--workers", "1", "--output_dir", str(run_dir)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**ENV, "CRNN_CACHE_DIR": os.environ["CRNN_CACHE_DIR"]},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out, seconds = signal_after(proc, 3, signal.SIGTERM, group=True)
    assert proc.returncode == 143 and seconds < 30 and "Traceback" not in out, out[-3000:]
    stopped = [line for line in out.splitlines() if line.startswith("Stopped by SIGTERM after global step ")]
    assert len(stopped) == 1, out[-2000:]
    reached = int(stopped[0].split("global step ")[1].split(":")[0])
    assert reached >= 3 and load_training_checkpoint(str(run_dir / "checkpoint.pth"))["global_step"] == reached
    for _ in range(50):  # the workers end with the training process (their exit can lag it a little)
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("a loader worker outlived the training process")


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


def test_sigint_in_process_saves_the_step_reached(tiny_data, tmp_path, monkeypatch):
    calls, real_loss = {"n": 0}, training.step.ctc_loss

    def interrupted_loss(*args):  # Ctrl-C arrives in the middle of the 5th step
        calls["n"] += 1
        if calls["n"] == 5:
            os.kill(os.getpid(), signal.SIGINT)
        return real_loss(*args)

    monkeypatch.setattr(training.step, "ctc_loss", interrupted_loss)
    found = signal.getsignal(signal.SIGINT)  # the default handler, or SIG_IGN under `nohup pytest &`
    with pytest.raises(Interrupted) as stop:
        run_main(["--data_path", tiny_data, "--output_dir", str(tmp_path), *RUN, "--save_every_steps", "0"])
    assert stop.value.exit_code == 130 and calls["n"] == 5
    assert load_training_checkpoint(str(tmp_path / "checkpoint.pth"))["global_step"] == 5
    assert signal.getsignal(signal.SIGINT) is found  # the handler the run found, put back
    files = [f for f in os.listdir(tmp_path) if not f.startswith("events.out.tfevents.")]
    assert sorted(files) == ["checkpoint.pth", "metrics.csv", "run.json"]  # no lock, no validation


def test_resume_auto_skips_checkpoints_with_nan_for_the_previous_one(tiny_data, tmp_path):
    # Saves at step 4 and at the end (6): checkpoint.pth (6), checkpoint_prev.pth (4), model_best.pth (6).
    run_main(["--data_path", tiny_data, "--output_dir", str(tmp_path), "--stop_step", "6", *RUN])
    assert load_training_checkpoint(str(tmp_path / "checkpoint_prev.pth"))["global_step"] == 4
    last = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    last["model"]["rnn.1.embedding.weight"][0, 0] = float("nan")                      # diverged weights
    torch.save(last, tmp_path / "checkpoint.pth")
    best = load_training_checkpoint(str(tmp_path / "model_best.pth"))
    next(iter(best["optimizer"]["state"].values()))["exp_avg"].fill_(float("inf"))   # diverged Adam moments
    torch.save(best, tmp_path / "model_best.pth")
    _, out = run_main(["--data_path", tiny_data, "--output_dir", str(tmp_path), "--resume", "auto", "--stop_step",
                       "7", *RUN])
    assert f"warning: --resume auto skips {tmp_path}/checkpoint.pth: NaN or inf in 1 tensors (first: model.rnn.1" in out
    assert f"warning: --resume auto skips {tmp_path}/model_best.pth: NaN or inf in 1 tensors (first: optimizer." in out
    assert f"--resume auto: continuing from {tmp_path}/checkpoint_prev.pth" in out
    assert "(global step 4)" in out
    assert load_training_checkpoint(str(tmp_path / "checkpoint.pth"))["global_step"] == 7


def test_one_output_folder_one_run(tmp_path):
    folder, logged = tmp_path / "new" / "run", []
    with claim_output_dir(str(folder), logged.append):
        pid, host, start = (folder / LOCK_NAME).read_text().split()
        assert (pid, host) == (str(os.getpid()), socket.gethostname()) and start.isdigit()
        # A second run, here or in another process, is refused with the holder's pid.
        with pytest.raises(UserError, match=rf"--output_dir {folder} is in use by another run \(pid {os.getpid()} on"):
            with claim_output_dir(str(folder), logged.append):
                pass
        assert (folder / LOCK_NAME).exists()
    assert not (tmp_path / "new").exists()          # released, and the folders it made held nothing: gone
    # A lock left by a process that is gone (SIGKILL) is taken over with a warning; files written stay.
    dead = subprocess.Popen(["true"])
    dead.wait()
    folder.mkdir(parents=True)
    (folder / LOCK_NAME).write_text(f"{dead.pid} {socket.gethostname()}\n")
    with claim_output_dir(str(folder), logged.append):
        (folder / "checkpoint.pth").write_bytes(b"x")
    # A live pid that another process holds now (a restarted container reuses small pids): a start time that
    # is not its own shows the lock's process is gone.
    (folder / LOCK_NAME).write_text(f"{os.getpid()} {socket.gethostname()} 1\n")
    with claim_output_dir(str(folder), logged.append):
        pass
    assert logged == [f"warning: taking over {folder / LOCK_NAME}: the run that held it (pid {pid}) is gone"
                      for pid in (dead.pid, os.getpid())]
    assert os.listdir(folder) == ["checkpoint.pth"]
    # Another host's lock cannot be checked: refused, the fix named. Ranks other than 0 hold nothing.
    (folder / LOCK_NAME).write_text("1 other-host\n")
    with pytest.raises(UserError, match="pid 1 on other-host"):
        with claim_output_dir(str(folder), logged.append):
            pass
    with claim_output_dir(str(tmp_path / "rank1"), logged.append, hold=False):
        assert not (tmp_path / "rank1").exists()


def test_non_finite_steps_are_skipped_counted_and_stop_the_run(tiny_data, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_loss = training.step.ctc_loss

    def faulty_loss(*args):
        calls["n"] += 1
        loss = real_loss(*args)
        if calls["n"] in (3, 4):
            return loss * float("nan")        # NaN loss
        if calls["n"] == 7:
            return InfiniteGrad.apply(loss)   # finite loss, infinite gradient
        return loss

    monkeypatch.setattr(training.step, "ctc_loss", faulty_loss)
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
    monkeypatch.setattr(training.step, "ctc_loss", broken_from_4th)
    with pytest.raises(UserError, match="5 steps in a row had a non-finite loss or gradient: stopping"):
        run_main(["--data_path", tiny_data, "--output_dir", str(tmp_path / "b"), *RUN, "--max_bad_steps", "5"])
    assert calls["n"] == 8


class SmallDisk:
    """open() for utils.files on a pretend filesystem of `capacity` bytes: what the files in the
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
    monkeypatch.setattr(utils.files, "open", SmallDisk(str(out_dir), used + size // 2), raising=False)
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
