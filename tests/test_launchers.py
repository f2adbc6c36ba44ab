"""The 1p launchers: flag parsing (both --flag=value and --flag value), logs and summaries."""
import os
import signal
import subprocess

import pytest

from conftest import ROOT

SMALL_SYNTH = ["--synth_train", "256", "--synth_val", "32", "--cnn_width", "8", "--hidden_size", "16",
               "--device", "cpu", "--workers", "0", "--batch_size", "16"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One synthetic cache for the module's runs: the first builds SMALL_SYNTH's set, the others find it."""
    return tmp_path_factory.mktemp("launcher_cache")


def run_launcher(script, args, tmp_path, device_id, cache):
    env = dict(os.environ, CRNN_CACHE_DIR=str(cache))
    out = subprocess.run(["bash", f"test/{script}", *args, "--output_dir", str(tmp_path / "ckpt"),
                          "--npu", str(device_id), *SMALL_SYNTH],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return out, os.path.join(ROOT, "test", "output", str(device_id))


@pytest.mark.parametrize("style", ["equals", "space"])
def test_performance_launcher_prints_fps(tmp_path, style, cache):
    device_id = 91 if style == "equals" else 92
    flags = ["--stop_step=6", "--epochs=1"] if style == "equals" else ["--stop_step", "6", "--epochs", "1"]
    out, out_dir = run_launcher("train_performance_1p.sh", flags, tmp_path, device_id, cache)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Final Performance images/sec : " in out.stdout
    fps = float(out.stdout.split("Final Performance images/sec : ")[1].split()[0])
    assert fps > 0
    log = open(os.path.join(out_dir, f"train_{device_id}.log")).read()
    assert "FPS: " in log and "Training 1 epochs x 16 steps" in log
    assert sum(line.startswith("Epoch: [0][") for line in log.splitlines()) == 1  # --print_freq 10, stop at 6
    summary = open(os.path.join(out_dir, "CRNN_ID0103_for_PyTorch_bs16_1p_perf.log")).read()
    assert "RankSize = 1" in summary and "DeviceType = cpu" in summary and f"ActualFPS = {fps}" in summary
    assert os.path.isfile(tmp_path / "ckpt" / "checkpoint.pth")


def test_full_launcher_reports_accuracy_and_passes_flags_through(tmp_path, cache):
    out, out_dir = run_launcher("train_full_1p.sh", ["--max_step", "3", "--epochs", "2"], tmp_path, 93, cache)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Training 2 epochs x 3 steps" in out.stdout
    assert "Final Train Accuracy : " in out.stdout and "E2E Training Duration sec : " in out.stdout
    summary = open(os.path.join(out_dir, "CRNN_ID0103_for_PyTorch_bs16_1p_acc.log")).read()
    assert "TrainAccuracy = " in summary and "CaseName = CRNN_ID0103_for_PyTorch_bs16_1p_acc" in summary
    losses = open(os.path.join(out_dir, "train_CRNN_ID0103_for_PyTorch_bs16_1p_acc_loss.txt")).read().split()
    assert len(losses) == 2 and all(float(v) > 0 for v in losses)


def test_launcher_errors(tmp_path, cache):
    out, _ = run_launcher("train_full_1p.sh", ["--data_path", str(tmp_path / "missing")], tmp_path, 94, cache)
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run(["bash", "test/train_full_1p.sh", "--epochs"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "--epochs needs a value" in out.stderr


def test_launcher_passes_sigterm_on_and_reports_it(tiny_data, tmp_path):
    """A scheduler that signals only the launcher's pid: the run still saves the step it reached, exit 143."""
    cmd = ["bash", "test/train_full_1p.sh", "--data_path", tiny_data, "--npu", "90", "--output_dir", str(tmp_path),
           "--batch_size", "16", "--print_freq", "1", "--cnn_width", "8", "--hidden_size", "16", "--device", "cpu",
           "--workers", "0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Epoch: [0][  3/"):
            proc.send_signal(signal.SIGTERM)
    out = "".join(lines)
    assert proc.wait(timeout=60) == 143, out[-3000:]
    assert "Stopped by SIGTERM after global step" in out and "Traceback" not in out
    assert "error: training stopped by a signal (status 143) after saving its checkpoint" in out
    assert os.path.isfile(tmp_path / "checkpoint.pth")
