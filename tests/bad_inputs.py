"""Every kind of bad input we know of, across all scripts, and what the user must see.

Each case builds its bad input in a fresh folder, runs the script's real
command line, and expects exit code 2, exactly one `error: ...` line on stderr
holding the given fragments, no traceback, and nothing half-written left
behind. tests/test_errors.py runs them all;

    python tests/bad_inputs.py

prints the table (input, command, message, exit code).
"""
import os
import subprocess
import sys
import tempfile

import lmdb
import torch

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path.insert(0, TESTS)
sys.path.insert(0, ROOT)

from conftest import word_image, write_lmdb  # noqa: E402
from models import CRNN  # noqa: E402

TINY_ARGS = dict(img_h=32, num_channels=1, num_classes=37, hidden_size=32, cnn_width=8)


# ---- building blocks ------------------------------------------------------------
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
    payload = {"model": CRNN(**TINY_ARGS).state_dict(), "model_args": dict(TINY_ARGS),
               "alphabet": "0123456789abcdefghijklmnopqrstuvwxyz", "img_w": 100}
    payload.update(overrides)
    torch.save(payload, path)
    return path


def onnx_model(tmp):
    from pth2onnx import export
    path = os.path.join(tmp, "m.onnx")
    export(CRNN(**TINY_ARGS).eval(), 100, path, "0123456789abcdefghijklmnopqrstuvwxyz")
    return path


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


def main_py(*args):
    return ["main.py", *args, "--device", "cpu", "--workers", "0", "--cnn_width", "8", "--hidden_size", "32"]


# ---- the cases: (what is wrong, setup(tmp) -> (argv, paths that must not exist), fragments) ----
def _truncated_checkpoint(t):
    full = checkpoint(os.path.join(t, "full.pth"))
    return write(os.path.join(t, "cut.pth"), open(full, "rb").read()[:300])


def _saved(path, obj):
    torch.save(obj, path)
    return path


def _truncated_mdb(t):
    good = good_lmdb(os.path.join(t, "good"))
    data = open(os.path.join(good, "data.mdb"), "rb").read()
    write(os.path.join(t, "data", "IIIT5K_lmdb", "data.mdb"), data[:1024])
    good_lmdb(os.path.join(t, "data", "MJ_LMDB"))
    return os.path.join(t, "data")


CASES = [
    ("main.py", "--data_path does not exist",
     lambda t: (main_py("--data_path", f"{t}/nope"), []), ["does not exist", "MJ_LMDB"]),
    ("main.py", "data folder without the LMDB folders",
     lambda t: (main_py("--data_path", t), []), ["IIIT5K_lmdb", "not found", "--val_dir"]),
    ("main.py", "folder that is not an LMDB",
     lambda t: (main_py("--data_path", data_dir(t, val=os.makedirs)), []), ["not an LMDB folder", "data.mdb"]),
    ("main.py", "LMDB without num-samples",
     lambda t: (main_py("--data_path", data_dir(t, val=lambda p: raw_lmdb(p, {b"label-000000001": b"a"}))), []),
     ["no 'num-samples' key", "IIIT5K_lmdb"]),
    ("main.py", "num-samples that is not a number",
     lambda t: (main_py("--data_path", data_dir(t, val=lambda p: raw_lmdb(p, {b"num-samples": b"many"}))), []),
     ["'num-samples' is not a number"]),
    ("main.py", "empty LMDB (num-samples 0)",
     lambda t: (main_py("--data_path", data_dir(t, train=lambda p: write_lmdb(p, []))), []), ["is empty", "MJ_LMDB"]),
    ("main.py", "label that is not UTF-8",
     lambda t: (main_py("--data_path", data_dir(t, val=lambda p: raw_lmdb(
         p, {b"num-samples": b"1", b"image-000000001": word_image("a"), b"label-000000001": b"\xff\xfe"}))), []),
     ["label-000000001 is not UTF-8", "IIIT5K_lmdb"]),
    ("main.py", "truncated data.mdb",
     lambda t: (main_py("--data_path", _truncated_mdb(t)), []), ["corrupt or unreadable LMDB", "IIIT5K_lmdb/data.mdb"]),
    ("main.py", "fewer samples than one batch",
     lambda t: (main_py("--data_path", data_dir(t)), []), ["fewer than one global batch", "--batch_size"]),
    ("main.py", "--resume file does not exist",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", f"{t}/none.pth"), []), ["checkpoint not found"]),
    ("main.py", "--resume file is not a PyTorch file",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", write(f"{t}/x.pth", b"junk")), []),
     ["cannot read checkpoint", "x.pth"]),
    ("main.py", "--resume file is empty",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", write(f"{t}/x.pth", b"")), []),
     ["cannot read checkpoint", "x.pth"]),
    ("main.py", "--resume checkpoint truncated",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", _truncated_checkpoint(t)), []),
     ["cannot read checkpoint", "cut.pth"]),
    ("main.py", "--resume checkpoint of another repo",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", _saved(f"{t}/o.pth", {"state_dict": {}})), []),
     ["not a checkpoint of this repo"]),
    ("main.py", "--finetune checkpoint whose weights do not fit its model_args",
     lambda t: (main_py("--data_path", data_dir(t), "--finetune",
                        checkpoint(f"{t}/w.pth", model_args=dict(TINY_ARGS, cnn_width=16))), []),
     ["does not fit this model", "w.pth"]),
    ("main.py", "--alphabet differs from the checkpoint's",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", checkpoint(f"{t}/c.pth"), "--alphabet", "abc"), []),
     ["--alphabet differs"]),
    ("main.py", "--eval_only without a checkpoint",
     lambda t: (main_py("--data_path", data_dir(t), "--eval_only"), []), ["--eval_only needs --resume"]),
    ("main.py", "--eval_only --resume auto with no checkpoint",
     lambda t: (main_py("--data_path", data_dir(t), "--eval_only", "--resume", "auto", "--output_dir", t), []),
     ["no readable checkpoint"]),
    ("main.py", "--resume and --finetune together",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", "auto", "--finetune", "x.pth"), []), ["give only one"]),
    ("main.py", "--eval_all with no evaluation LMDB",
     lambda t: (main_py("--data_path", os.path.dirname(good_lmdb(f"{t}/d/MJ_LMDB")), "--eval_all"), []),
     ["--eval_all: no LMDB folder"]),
    ("main.py", "--loss_scale that is not a number",
     lambda t: (main_py("--loss_scale", "big"), []), ["--loss_scale"]),
    ("main.py", "--alphabet with repeated characters",
     lambda t: (main_py("--data_path", data_dir(t), "--alphabet", "aab"), []), ["repeated characters"]),
    ("pth2onnx.py", "input is not a checkpoint",
     lambda t: (["pth2onnx.py", write(f"{t}/x.pth", b"nope"), f"{t}/x.onnx"], [f"{t}/x.onnx"]),
     ["cannot read checkpoint"]),
    ("pth2onnx.py", "checkpoint of a different architecture",
     lambda t: (["pth2onnx.py", _saved(f"{t}/r.pth", {"state_dict": {"fc.weight": torch.zeros(2, 2)}}), f"{t}/r.onnx"],
                [f"{t}/r.onnx"]), ["not a CRNN checkpoint"]),
    ("pth2onnx.py", "checkpoint whose alphabet does not match its classes",
     lambda t: (["pth2onnx.py", checkpoint(f"{t}/a.pth", alphabet="abc"), f"{t}/a.onnx"], [f"{t}/a.onnx"]),
     ["37 classes but its alphabet"]),
    ("pth2onnx.py", "output folder does not exist",
     lambda t: (["pth2onnx.py", checkpoint(f"{t}/c.pth"), f"{t}/no/c.onnx"], []), ["output folder does not exist"]),
    ("parse_testdata.py", "output folder not empty",
     lambda t: (["parse_testdata.py", good_lmdb(f"{t}/l"), os.path.dirname(write(f"{t}/out/keep.bin", b"1")),
                 "--label_file", f"{t}/label.txt"], [f"{t}/label.txt"]), ["not empty", "--force"]),
    ("parse_testdata.py", "LMDB does not exist",
     lambda t: (["parse_testdata.py", f"{t}/none", f"{t}/out"], []), ["LMDB folder not found"]),
    ("tools/ais_bench_runner.py", "input file of the wrong size",
     lambda t: (["-m", "tools.ais_bench_runner", "--model", onnx_model(t), "--input",
                 os.path.dirname(write(f"{t}/in/a.bin", b"\0" * 12)), "--output", t, "--output_dirname", "r"],
                [f"{t}/r"]), ["a.bin: 3 values"]),
    ("tools/ais_bench_runner.py", "model that is not ONNX",
     lambda t: (["-m", "tools.ais_bench_runner", "--model", write(f"{t}/m.onnx", b"junk")], []),
     ["cannot load ONNX model"]),
    ("postpossess_CRNN_pytorch.py", "label file in the wrong format",
     lambda t: (["postpossess_CRNN_pytorch.py", os.path.dirname(write(f"{t}/res/test_1_0.bin", b"\0" * 8)),
                 write(f"{t}/label.txt", "just words\n")], []), ["expected '<name>.bin:<label>'"]),
    ("postpossess_CRNN_pytorch.py", "label file does not exist",
     lambda t: (["postpossess_CRNN_pytorch.py", t, f"{t}/none.txt"], []), ["label file not found"]),
    ("tools/create_lmdb_dataset.py", "--input_dir does not exist",
     lambda t: (["tools/create_lmdb_dataset.py", "--input_dir", f"{t}/x", "--output", f"{t}/o"], [f"{t}/o"]),
     ["--input_dir not found"]),
    ("tools/create_lmdb_dataset.py", "ground-truth file does not exist",
     lambda t: (["tools/create_lmdb_dataset.py", "--input_dir", t, "--gt_file", f"{t}/gt.txt", "--output", f"{t}/o"],
                [f"{t}/o"]), ["ground-truth file not found"]),
    ("predict.py", "--model does not exist",
     lambda t: (["predict.py", "--model", f"{t}/none.pth", write(f"{t}/a.png", word_image("a"))], []),
     ["--model not found"]),
    ("predict.py", "folder without images",
     lambda t: (["predict.py", "--model", checkpoint(f"{t}/c.pth"), os.path.dirname(write(f"{t}/d/x.txt", "x"))], []),
     ["no image files"]),
    ("predict.py", "--model is not a checkpoint",
     lambda t: (["predict.py", "--model", write(f"{t}/c.pth", b"junk"), write(f"{t}/a.png", word_image("a"))], []),
     ["cannot read checkpoint"]),
]


def run_case(case, tmp):
    """-> (argv, CompletedProcess, leftover paths that should not exist)."""
    _, _, setup, _ = case
    argv, must_not_exist = setup(tmp)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return argv, result, [p for p in must_not_exist if os.path.exists(p)]


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def print_table():
    print("| script | bad input | what the user sees (stderr) | exit | traceback |")
    print("|---|---|---|---|---|")
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            _, result, _ = run_case(case, tmp)
        message = (error_lines(result) or ["(no error line)"])[0].replace(tmp, "<tmp>").replace("|", "\\|")
        print(f"| {case[0]} | {case[1]} | `{message}` | {result.returncode} | "
              f"{'yes' if 'Traceback' in result.stderr else 'no'} |", flush=True)


if __name__ == "__main__":
    print_table()
