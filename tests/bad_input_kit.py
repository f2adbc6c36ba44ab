"""The kit of tests/bad_inputs.py: what its bad inputs are made of (small LMDBs, checkpoints, ONNX models and
files, good or broken, and the command lines that take them) and how a Python script runs in this process."""
import contextlib
import io
import os
import runpy
import subprocess
import sys
import tempfile
import traceback

import lmdb
import numpy as np
import torch

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)

from conftest import word_image, write_lmdb
from inference.model_file import ModelFile
from models import CRNN

TINY_ARGS = dict(img_h=32, num_channels=1, num_classes=37, hidden_size=32, cnn_width=8)
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def good_lmdb(path, n=4):
    return write_lmdb(path, [(word_image(w), w) for w in ["ab", "cd", "ef", "gh"][:n]])


def raw_lmdb(path, items):
    env = lmdb.open(str(path))
    with env.begin(write=True) as txn:
        for k, v in items.items():
            txn.put(k, v)
    env.close()
    return str(path)


def data_dir(tmp, train=None, val=None):
    """<tmp>/data with MJ_LMDB and IIIT5K_lmdb (good ones unless given a builder)."""
    root = os.path.join(tmp, "data")
    os.makedirs(root, exist_ok=True)
    (train or good_lmdb)(os.path.join(root, "MJ_LMDB"))
    (val or good_lmdb)(os.path.join(root, "IIIT5K_lmdb"))
    return root


def checkpoint(path, **overrides):
    payload = {"model": CRNN(**TINY_ARGS).state_dict(), "model_args": dict(TINY_ARGS), "alphabet": ALPHABET,
               "img_w": 100}
    payload.update(overrides)
    torch.save(payload, path)
    return path


def nan_checkpoint(path):
    weights = CRNN(**TINY_ARGS).state_dict()
    weights["rnn.1.embedding.weight"][0, 0] = float("nan")
    return checkpoint(path, model=weights)


def finished_checkpoint(path):
    """A training checkpoint that has done 500 steps of 5 epochs."""
    return checkpoint(path, optimizer={}, lr_scheduler={}, scaler={}, epoch=5, step=0, global_step=500, best_acc=0.0)


def onnx_model(tmp):
    from datasets.transforms import Width
    from inference.onnx_export import export
    path = os.path.join(tmp, "m.onnx")
    export(CRNN(**TINY_ARGS).eval(), Width.fixed(100), path, ModelFile(TINY_ARGS, ALPHABET))
    return path


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


def folder_of(path):
    return os.path.dirname(path)


def main_py(*args):
    return ["main.py", *args, "--device", "cpu", "--workers", "0", "--cnn_width", "8", "--hidden_size", "32"]


def runner(t, *args):
    return ["-m", "tools.ais_bench_runner", "--model", onnx_model(t), *args]


def launcher(*args):
    return ["bash", "test/train_full_8p.sh", *args]


LATIN1 = "caf\xe9\n".encode("latin-1")  # a text file saved in Latin-1, not UTF-8


def truncated_checkpoint(t):
    full = checkpoint(os.path.join(t, "full.pth"))
    return write(os.path.join(t, "cut.pth"), open(full, "rb").read()[:300])


def saved_file(path, obj):
    torch.save(obj, path)
    return path


def truncated_mdb(t):
    good = good_lmdb(os.path.join(t, "good"))
    data = open(os.path.join(good, "data.mdb"), "rb").read()
    write(os.path.join(t, "data", "IIIT5K_lmdb", "data.mdb"), data[:1024])
    good_lmdb(os.path.join(t, "data", "MJ_LMDB"))
    return os.path.join(t, "data")


def npy_file(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, array, allow_pickle=True)
    return path


def npz_file(path):
    """A readable .npz that is not a language model."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(path, weights=np.zeros(3))
    return path


def broken_images_lmdb(path):
    return write_lmdb(path, [(b"not an image", "ab"), (b"\x89PNG broken", "cd")])


def result_files(t, nbytes):
    """A result folder with one result file of `nbytes` bytes, and its label.txt."""
    write(f"{t}/res/test_1_0.bin", b"\0" * nbytes)
    return [f"{t}/res", write(f"{t}/label.txt", "test_1.bin:ab\n")]


def run_in_process(argv, env):
    """Run `python ARGV...` in this process -> (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_cwd, saved_env = sys.argv, os.getcwd(), dict(os.environ)
    code = 0
    try:
        os.environ.update(env)
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                if argv[0] == "-m":  # as `python -m`: a module of its package
                    sys.argv = [argv[1].replace(".", "/") + ".py", *argv[2:]]
                    # `python -m` runs a fresh copy: one imported by an earlier test would make runpy warn
                    imported = sys.modules.pop(argv[1], None)
                    try:
                        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
                    finally:
                        if imported is not None:
                            sys.modules[argv[1]] = imported
                else:
                    sys.argv = list(argv)
                    runpy.run_path(os.path.join(ROOT, argv[0]), run_name="__main__")
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException:  # what a user would see as a crash
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return code, out.getvalue(), err.getvalue()


def run_case(case, tmp):
    """-> (argv, (exit code, stdout, stderr), leftover paths that should not exist). main.py writes to
    <tmp>/out unless the case names an --output_dir: never the repository (nor another test's lock)."""
    argv, must_not_exist = case[3](tmp)
    if argv[0] == "main.py" and "--output_dir" not in argv:
        argv = [argv[0], "--output_dir", os.path.join(tmp, "out"), *argv[1:]]
    env = {"CRNN_CACHE_DIR": os.path.join(tmp, "cache"), "OMP_NUM_THREADS": "1"}
    if argv[0] == "bash":
        r = subprocess.run(argv, cwd=ROOT, env=dict(os.environ, **env), capture_output=True, text=True, timeout=120)
        result = (r.returncode, r.stdout, r.stderr)
    else:
        result = run_in_process(argv, env)
    return argv, result, [p for p in must_not_exist if os.path.exists(p)]


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def print_table(cases):
    print("| script | class | bad input | what the user sees (stderr) | exit | traceback |")
    print("|---|---|---|---|---|---|")
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            _, (code, _, stderr), _ = run_case(case, tmp)
        message = (error_lines(stderr) or ["(no error line)"])[0].replace(tmp, "<tmp>").replace("|", "\\|")
        print(f"| {case[0]} | {case[1]} | {case[2]} | `{message}` | {code} | "
              f"{'yes' if 'Traceback' in stderr else 'no'} |", flush=True)
