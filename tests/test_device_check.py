"""bench/device_check.sh rehearsed on the CPU (DEVICE_CHECK_REHEARSAL=1): every part the GPU run has, with a
tiny model and tiny counts, so that the one device run a session gets does not fail on a typo."""
import os
import shutil
import subprocess
import sys

from conftest import ROOT

FILES = {"versions.txt", "cuda_tests.txt", "seed_run.log", "ceiling.txt", "best_run.log", "crnn_gpu.pth", "summary.md"}


def test_device_check_rehearsal_writes_every_part(tiny_data, tmp_path):
    kit, out = tmp_path / "kit", tmp_path / "out"
    kit.mkdir()
    shutil.copytree(os.path.join(tiny_data, "IIIT5K_lmdb"), kit / "real_lmdb")  # stands in for the real crops
    env = dict(os.environ, DEVICE_CHECK_REHEARSAL="1", DEVICE_CHECK_SECONDS="60", CRNN_DEVICE_KIT=str(kit),
               DEVICE_CHECK_WORK=str(tmp_path / "work"), CRNN_CACHE_DIR=str(tmp_path / "cache"),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"], OMP_NUM_THREADS="1")
    done = subprocess.run(["bash", "bench/device_check.sh", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert set(os.listdir(out)) == FILES                       # at most 8 files come back from a device run
    assert os.path.getsize(out / "crnn_gpu.pth") < 16 * 2 ** 20
    summary = (out / "summary.md").read_text()
    assert "- CUDA tests: " in summary and " skipped in " in summary   # pytest's summary line: it finished
    fps = summary.split("seed preset, train_performance_1p.sh: ")[1].split()[0]
    assert float(fps) > 0, summary
    curve = [line for line in summary.splitlines() if line.startswith("    | ") and line.count("|") == 4]
    steps = [int(line.split("|")[1]) for line in curve[1:]]
    assert steps == [4, 8, 12], summary                  # --val_freq 4, the epoch end (8) and the stop (12)
    assert int(curve[1].split("|")[2]) == 4 * 8                         # images = steps x batch
    ceiling = (out / "ceiling.txt").read_text()
    assert ceiling.count("| 4 | ") == 4 and "torch.compile (aot_eager)" in ceiling
    assert "Profile of one step, seed preset" in ceiling and "Self CPU time total" in ceiling
    assert "- best recipe, " in summary and "synthetic Accuracy: " in summary
    assert "- its accuracy on the kit's real crops: Accuracy: " in summary
    assert "Recipe: seed" in (out / "seed_run.log").read_text()
