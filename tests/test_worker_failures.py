"""A failure in any worker process ends the run: exit 2, one `error:` line with the worker's message, no
traceback, within seconds, and nothing half-built left behind.

The failures are injected through a `sitecustomize.py` on PYTHONPATH: every process of the run imports it
at start-up (spawned pool workers and torchrun's ranks too), and it makes one function fail only when it is
called in a worker process, the way a broken font or a bad image would.
"""
import glob
import os
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import ROOT, TINY_MODEL

INJECT = textwrap.dedent("""
    import multiprocessing, os, signal
    import {module} as target

    def in_worker():
        import torch.utils.data
        return multiprocessing.current_process().name != "MainProcess" or \\
            torch.utils.data.get_worker_info() is not None

    real = target.{owner}{name}

    def failing(*args, **kwargs):
        if in_worker() and os.environ.get("CRNN_TEST_RANK", os.environ.get("RANK", "0")) == \\
                os.environ.get("RANK", "0"):
            if {kill}:
                os.kill(os.getpid(), signal.SIGKILL)
            raise ValueError("injected: a broken font")
        return real(*args, **kwargs)

    setattr(target{owner_ref}, "{name}", failing)
""")


def run_with_fault(tmp_path, argv, module, name, owner=None, kill=False, launcher=None, env=None):
    """Runs main.py (or `launcher` + main.py) with `module.[owner.]name` failing in worker processes ->
    (exit code, stdout, stderr, seconds)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(INJECT.format(
        module=module, name=name, kill=kill, owner=f"{owner}." if owner else "",
        owner_ref=f".{owner}" if owner else ""))
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{ROOT}", CRNN_CACHE_DIR=str(tmp_path / "cache"),
               OMP_NUM_THREADS="1", **(env or {}))
    start = time.time()
    r = subprocess.run([*(launcher or [sys.executable]), "main.py", *argv], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr, time.time() - start


def one_error_line(stderr):
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    return lines[0]


def test_a_failure_in_the_cache_building_pool_ends_the_build(tmp_path):
    code, _, err, seconds = run_with_fault(
        tmp_path, ["--synth_train", "600", "--synth_val", "64", "--output_dir", str(tmp_path / "run"), *TINY_MODEL],
        "datasets.synth.assets", "load_renderer")
    assert code == 2 and seconds < 120
    assert "rendering the synthetic train images failed in a worker process: ValueError: injected: a broken font" \
        in one_error_line(err)
    assert not glob.glob(str(tmp_path / "cache" / "synth_*"))            # no half-built set, finished or not
    assert not os.path.exists(tmp_path / "run")


def test_a_pool_worker_that_dies_ends_the_build(tmp_path):
    code, _, err, seconds = run_with_fault(
        tmp_path, ["--synth_train", "600", "--synth_val", "64", "--output_dir", str(tmp_path / "run"), *TINY_MODEL],
        "datasets.synth.render", "sample", owner="SynthRenderer", kill=True)
    assert code == 2 and seconds < 120
    assert "a process rendering the synthetic train images died" in one_error_line(err)
    assert not glob.glob(str(tmp_path / "cache" / "synth_*"))


@pytest.mark.parametrize("path", ["stream", "lmdb", "worker_init", "killed"])
def test_a_failure_in_a_loader_worker_ends_the_run(path, tiny_data, tmp_path):
    argv = ["--batch_size", "16", "--stop_step", "4", "--output_dir", str(tmp_path / "run"), *TINY_MODEL]
    argv[argv.index("--workers") + 1] = "1"
    fault = {"stream": ("datasets.synth.stream", "__getitem__", "SynthStream"),
             "lmdb": ("datasets.lmdb_dataset", "__getitem__", "LmdbDataset"),
             "worker_init": ("datasets.workers", "worker_init", None),
             "killed": ("datasets.lmdb_dataset", "__getitem__", "LmdbDataset")}[path]
    data = ["--synth_stream", "--synth_train", "64", "--synth_val", "16"] if path == "stream" else \
        ["--data_path", tiny_data]
    code, out, err, seconds = run_with_fault(tmp_path, data + argv, fault[0], fault[1], owner=fault[2],
                                             kill=path == "killed")
    assert code == 2 and seconds < 120, err[-2000:]
    line = one_error_line(err)
    if path == "killed":
        assert "a loader worker died (RuntimeError: DataLoader worker (pid" in line and "--resume auto" in line
    else:
        assert "loader worker 0 failed: ValueError: injected: a broken font" in line, line
    assert "Epoch: [0][" not in out                                      # it stopped at the first batch


def test_a_failure_in_one_ranks_loader_ends_the_whole_job(tiny_data, tmp_path):
    """Rank 1's loader worker fails: rank 1 stops with the error, and torchrun stops rank 0, which would
    otherwise wait for rank 1 in the gradient all-reduce."""
    argv = ["--data_path", tiny_data, "--batch_size", "8", "--stop_step", "4", "--output_dir", str(tmp_path / "run"),
            "--dist_timeout", "600", *TINY_MODEL]
    argv[argv.index("--workers") + 1] = "1"
    code, _, err, seconds = run_with_fault(
        tmp_path, argv, "datasets.lmdb_dataset", "__getitem__", owner="LmdbDataset",
        launcher=[sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533"],
        env={"CRNN_TEST_RANK": "1"})
    assert code != 0 and seconds < 120                                   # not the 600 s of --dist_timeout
    assert "error: loader worker 0 failed: ValueError: injected: a broken font" in err, err[-3000:]
