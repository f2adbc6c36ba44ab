"""Every kind of bad input we know of, across all scripts, and what the user must see.

Each case builds its bad input in a fresh folder, runs the script's real
command line, and expects exit code 2, exactly one `error: ...` line on stderr
holding the given fragments, no traceback, and nothing half-written left
behind. Python scripts run in this process (runpy, with their real argv and
`run_cli`: the same exit code and streams as a subprocess, without paying
interpreter start-up 100 times); the bash launchers run as subprocesses.
tests/test_errors.py runs them all;

    python tests/bad_inputs.py

prints the table (class, input, message, exit code).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path.insert(0, TESTS)
sys.path.insert(0, ROOT)

from bad_input_kit import (  # noqa: E402
    LATIN1, TINY_ARGS, broken_images_lmdb, checkpoint, data_dir, finished_checkpoint, folder_of, good_lmdb,
    launcher, main_py, nan_checkpoint, npy_file, raw_lmdb, result_files, run_in_process, runner, saved_file,
    truncated_checkpoint, truncated_mdb, write)
from conftest import word_image, write_lmdb  # noqa: E402


# ---- the cases: (script, class, what is wrong, setup(tmp) -> (argv, paths that must not exist), fragments) ----
NUM, WIDTH, EARLY, OUT, TEXT, SIZE, NAN, PRED, NOTHING, LAUNCH, CAUSE, DATA, CKPT, OFFLINE = (
    "numbers out of range", "--img_w too small", "checked before the synthetic build", "output paths",
    "text files not UTF-8", "exact sizes", "non-finite weights", "predict.py", "nothing to do", "launcher flags",
    "the right cause", "bad data", "bad checkpoints", "offline chain")

CASES = [
    # -- numbers: every numeric flag has a range in its type ------------------------------------------------
    ("main.py", NUM, "--batch_size 0", lambda t: (main_py("--batch_size", "0"), []), ["--batch_size", "1..65536"]),
    ("main.py", NUM, "--lr -1", lambda t: (main_py("--lr", "-1"), []), ["--lr", "(0, 100]"]),
    ("main.py", NUM, "--lr nan", lambda t: (main_py("--lr", "nan"), []), ["--lr", "finite"]),
    ("main.py", NUM, "--workers -1", lambda t: (main_py("--workers", "-1"), []), ["--workers", "0..64"]),
    ("main.py", NUM, "--print_freq 0", lambda t: (main_py("--print_freq", "0"), []), ["--print_freq"]),
    ("main.py", NUM, "--epochs 0 (not 'unset')", lambda t: (main_py("--epochs", "0"), []), ["--epochs", "1.."]),
    ("main.py", NUM, "--max_step 0 (not 'unset')", lambda t: (main_py("--max_step", "0"), []), ["--max_step"]),
    ("main.py", NUM, "--epochs -1", lambda t: (main_py("--epochs", "-1"), []), ["--epochs"]),
    ("main.py", NUM, "--stop_step -3", lambda t: (main_py("--stop_step", "-3"), []), ["--stop_step"]),
    ("main.py", NUM, "--val_freq -1", lambda t: (main_py("--val_freq", "-1"), []), ["--val_freq", "0 = only"]),
    ("main.py", NUM, "--grad_clip -1 (gradient ascent)", lambda t: (main_py("--grad_clip", "-1"), []),
     ["--grad_clip", "0 = off"]),
    ("main.py", NUM, "--epochs 1.5", lambda t: (main_py("--epochs", "1.5"), []), ["--epochs", "expected an integer"]),
    ("main.py", NUM, "--loss_scale that is not a number", lambda t: (main_py("--loss_scale", "big"), []),
     ["--loss_scale", "'dynamic'"]),
    ("main.py", NUM, "--ema 1 (never moves)", lambda t: (main_py("--ema", "1"), []), ["--ema", "[0, 1)"]),
    ("predict.py", NUM, "--batch_size 0", lambda t: (["predict.py", "--batch_size", "0", "x.png"], []),
     ["--batch_size"]),
    ("tools/ais_bench_runner.py", NUM, "--batchsize 0",
     lambda t: (["-m", "tools.ais_bench_runner", "--model", write(f"{t}/m.onnx", b"x"), "--batchsize", "0"], []),
     ["--batchsize"]),
    ("tools/ais_bench_runner.py", NUM, "--loop -5",
     lambda t: (["-m", "tools.ais_bench_runner", "--model", write(f"{t}/m.onnx", b"x"), "--loop", "-5"], []),
     ["--loop"]),
    ("pth2onnx.py", NUM, "--opset 9 (no LSTM export for ATC)",
     lambda t: (["pth2onnx.py", checkpoint(f"{t}/c.pth"), f"{t}/c.onnx", "--opset", "9"], [f"{t}/c.onnx"]),
     ["--opset", "11..17"]),
    # -- widths the network cannot take -----------------------------------------------------------------------
    ("main.py", WIDTH, "--img_w 0", lambda t: (main_py("--img_w", "0"), []), ["--img_w", "16..4096"]),
    ("main.py", WIDTH, "--img_w 3", lambda t: (main_py("--img_w", "3"), []), ["--img_w", "16..4096"]),
    ("parse_testdata.py", WIDTH, "--img_w 3",
     lambda t: (["parse_testdata.py", good_lmdb(f"{t}/l"), f"{t}/out", "--img_w", "3"], [f"{t}/out"]), ["--img_w"]),
    ("postpossess_CRNN_pytorch.py", WIDTH, "--img_w 0",
     lambda t: (["postpossess_CRNN_pytorch.py", *result_files(t, 8), "--img_w", "0"], []), ["--img_w"]),
    # -- no synthetic build, no cache folder, when a flag is wrong ---------------------------------------------
    ("main.py", EARLY, "no --data_path, --batch_size 0",
     lambda t: (main_py("--batch_size", "0"), [f"{t}/cache"]), ["--batch_size"]),
    ("main.py", EARLY, "no --data_path, --output_dir is a file",
     lambda t: (main_py("--output_dir", write(f"{t}/f", "x")), [f"{t}/cache"]), ["--output_dir", "is a file"]),
    ("main.py", EARLY, "no --data_path, --resume missing",
     lambda t: (main_py("--resume", f"{t}/none.pth"), [f"{t}/cache"]), ["--resume", "checkpoint not found"]),
    ("main.py", EARLY, "no --data_path, --val_dir missing absolute folder",
     lambda t: (main_py("--val_dir", f"{t}/nope"), [f"{t}/cache"]), ["--val_dir", "does not exist"]),
    ("main.py", EARLY, "no --data_path, --synth_assets missing",
     lambda t: (main_py("--synth_assets", f"{t}/nope"), [f"{t}/cache"]), ["--synth_assets", "does not exist"]),
    ("main.py", EARLY, "no --data_path, --synth_train smaller than a batch",
     lambda t: (main_py("--synth_train", "10"), [f"{t}/cache"]), ["--synth_train 10", "one global batch (64)"]),
    ("test/train_full_1p.sh", EARLY, "--data_path= (empty) is not 'synthetic'",
     lambda t: (["bash", "test/train_full_1p.sh", "--data_path="], [f"{t}/cache"]), ["--data_path is empty"]),
    # -- outputs checked before the work ------------------------------------------------------------------------
    ("main.py", OUT, "--output_dir is a file",
     lambda t: (main_py("--data_path", data_dir(t), "--output_dir", write(f"{t}/o", "x")), []), ["is a file"]),
    ("main.py", OUT, "--output_dir inside a file",
     lambda t: (main_py("--data_path", data_dir(t), "--output_dir", write(f"{t}/o", "x") + "/sub"), []),
     ["cannot create --output_dir"]),
    ("pth2onnx.py", OUT, "output is an existing folder",
     lambda t: (["pth2onnx.py", checkpoint(f"{t}/c.pth"), folder_of(write(f"{t}/out/x", "x"))], []),
     ["is a folder", "give a file name"]),
    ("pth2onnx.py", OUT, "output folder does not exist",
     lambda t: (["pth2onnx.py", checkpoint(f"{t}/c.pth"), f"{t}/no/c.onnx"], []), ["does not exist"]),
    ("parse_testdata.py", OUT, "out_dir is a file",
     lambda t: (["parse_testdata.py", good_lmdb(f"{t}/l"), write(f"{t}/out", "x"), "--label_file", f"{t}/lb.txt"],
                [f"{t}/lb.txt"]), ["is a file, not a folder"]),
    ("parse_testdata.py", OUT, "label file's folder is missing",
     lambda t: (["parse_testdata.py", good_lmdb(f"{t}/l"), f"{t}/out", "--label_file", f"{t}/no/label.txt"],
                [f"{t}/out"]), ["--label_file", "does not exist"]),
    ("parse_testdata.py", OUT, "output folder not empty",
     lambda t: (["parse_testdata.py", good_lmdb(f"{t}/l"), folder_of(write(f"{t}/out/keep.bin", b"1")),
                 "--label_file", f"{t}/label.txt"], [f"{t}/label.txt"]), ["not empty", "--force"]),
    ("tools/ais_bench_runner.py", OUT, "--output is a file",
     lambda t: (runner(t, "--input", folder_of(write(f"{t}/in/a.bin", b"\0" * 12800)), "--output",
                       write(f"{t}/o", "x"), "--output_dirname", "r"), []), ["--output", "is a file"]),
    ("tools/create_lmdb_dataset.py", OUT, "--output is a file",
     lambda t: (["tools/create_lmdb_dataset.py", "--input_dir", t, "--output", write(f"{t}/o", "x")], []),
     ["--output", "is a file"]),
    ("tools/create_lmdb_dataset.py", OUT, "--output is an existing LMDB",
     lambda t: (["tools/create_lmdb_dataset.py", "--input_dir", t, "--output", good_lmdb(f"{t}/l")], []),
     ["not empty", "never overwritten"]),
    # -- text files that are not UTF-8 ----------------------------------------------------------------------------
    ("main.py", TEXT, "--alphabet file in Latin-1",
     lambda t: (main_py("--data_path", data_dir(t), "--alphabet", write(f"{t}/a.txt", LATIN1)), []),
     ["a.txt is not UTF-8 text", "alphabet"]),
    ("postpossess_CRNN_pytorch.py", TEXT, "label.txt in Latin-1",
     lambda t: (["postpossess_CRNN_pytorch.py", folder_of(write(f"{t}/res/test_1_0.bin", b"\0" * 3848)),
                 write(f"{t}/label.txt", b"test_1.bin:caf\xe9\n")], []), ["label.txt is not UTF-8 text"]),
    ("tools/create_lmdb_dataset.py", TEXT, "ground-truth file in Latin-1",
     lambda t: (["tools/create_lmdb_dataset.py", "--input_dir", t, "--gt_file", write(f"{t}/gt.txt", LATIN1),
                 "--output", f"{t}/o"], [f"{t}/o"]), ["gt.txt is not UTF-8 text"]),
    ("predict.py", TEXT, "--lexicon in Latin-1",
     lambda t: (["predict.py", "--model", checkpoint(f"{t}/c.pth"), "--lexicon", write(f"{t}/lex.txt", LATIN1),
                 write(f"{t}/a.png", word_image("a"))], []), ["lex.txt is not UTF-8 text"]),
    ("predict.py", TEXT, "list of images in Latin-1",
     lambda t: (["predict.py", "--model", checkpoint(f"{t}/c.pth"), write(f"{t}/list.txt", LATIN1)], []),
     ["list.txt is not UTF-8 text"]),
    # -- exact sizes for every .bin / .npy ----------------------------------------------------------------------
    ("tools/ais_bench_runner.py", SIZE, "input file of the wrong size",
     lambda t: (runner(t, "--input", folder_of(write(f"{t}/in/a.bin", b"\0" * 12)), "--output", t,
                       "--output_dirname", "r"), [f"{t}/r"]), ["a.bin: 3 values"]),
    ("tools/ais_bench_runner.py", SIZE, "input .bin with 2 stray bytes",
     lambda t: (runner(t, "--input", folder_of(write(f"{t}/in/a.bin", b"\0" * 12802)), "--output", t,
                       "--output_dirname", "r"), [f"{t}/r"]), ["a.bin: 12802 bytes", "not a whole number"]),
    ("tools/ais_bench_runner.py", SIZE, "pickled object .npy",
     lambda t: (runner(t, "--input", folder_of(npy_file(f"{t}/in/a.npy", np.array([{"x": 1}] * 3200, dtype=object))),
                       "--output", t, "--output_dirname", "r"), [f"{t}/r"]), ["a.npy", "not a readable numeric"]),
    ("tools/ais_bench_runner.py", SIZE, "--output_batchsize_axis 5",
     lambda t: (runner(t, "--input", folder_of(write(f"{t}/in/a.bin", b"\0" * 12800)), "--output", t,
                       "--output_dirname", "r", "--output_batchsize_axis", "5"), [f"{t}/r"]),
     ["--output_batchsize_axis 5", "3 axes"]),
    ("postpossess_CRNN_pytorch.py", SIZE, "result .bin with 2 stray bytes",
     lambda t: (["postpossess_CRNN_pytorch.py", *result_files(t, 26 * 37 * 4 + 2)], []), ["wrong size", "3850 bytes"]),
    # -- non-finite weights ----------------------------------------------------------------------------------------
    ("pth2onnx.py", NAN, "checkpoint with NaN weights",
     lambda t: (["pth2onnx.py", nan_checkpoint(f"{t}/n.pth"), f"{t}/n.onnx"], [f"{t}/n.onnx"]),
     ["non-finite weights", "rnn.1.embedding.weight"]),
    ("predict.py", NAN, "checkpoint with NaN weights",
     lambda t: (["predict.py", "--model", nan_checkpoint(f"{t}/n.pth"), write(f"{t}/a.png", word_image("a"))], []),
     ["non-finite weights"]),
    ("main.py", NAN, "--eval_only on a checkpoint with NaN weights",
     lambda t: (main_py("--data_path", data_dir(t), "--eval_only", "--resume", nan_checkpoint(f"{t}/n.pth")), []),
     ["non-finite weights"]),
    # -- predict.py ------------------------------------------------------------------------------------------------
    ("predict.py", PRED, "--alphabet that is not the checkpoint's",
     lambda t: (["predict.py", "--model", checkpoint(f"{t}/c.pth"), "--alphabet", "abc",
                 write(f"{t}/a.png", word_image("a"))], []), ["--alphabet differs", "omit it"]),
    ("predict.py", PRED, "no input image can be read",
     lambda t: (["predict.py", "--model", checkpoint(f"{t}/c.pth"), write(f"{t}/a.png", b"junk"),
                 write(f"{t}/b.jpg", b"")], []), ["none of the 2 input images could be read"]),
    ("predict.py", PRED, "--model does not exist",
     lambda t: (["predict.py", "--model", f"{t}/none.pth", write(f"{t}/a.png", word_image("a"))], []),
     ["--model", "does not exist"]),
    ("predict.py", PRED, "folder without images",
     lambda t: (["predict.py", "--model", checkpoint(f"{t}/c.pth"), folder_of(write(f"{t}/d/x.txt", "x"))], []),
     ["no image files"]),
    ("predict.py", PRED, "--model is not a checkpoint",
     lambda t: (["predict.py", "--model", write(f"{t}/c.pth", b"junk"), write(f"{t}/a.png", word_image("a"))], []),
     ["cannot read checkpoint"]),
    # -- runs that would do nothing -------------------------------------------------------------------------------
    ("main.py", NOTHING, "validation set whose labels are all empty",
     lambda t: (main_py("--data_path", data_dir(t, val=lambda p: write_lmdb(p, [(word_image("a"), "")] * 3)),
                        "--output_dir", f"{t}/run"), [f"{t}/run/model_best.pth"]), ["no usable samples"]),
    ("main.py", NOTHING, "validation set whose images are all undecodable",
     lambda t: (main_py("--data_path", data_dir(t, val=broken_images_lmdb), "--output_dir", f"{t}/run"),
                [f"{t}/run/model_best.pth"]), ["none of its 2 images can be decoded"]),
    ("main.py", NOTHING, "--resume a run that has already finished",
     lambda t: (main_py("--data_path", data_dir(t), "--batch_size", "2", "--epochs", "5", "--resume",
                        finished_checkpoint(f"{t}/done.pth")), []), ["nothing to train", "--epochs"]),
    ("parse_testdata.py", NOTHING, "LMDB whose images are all undecodable",
     lambda t: (["parse_testdata.py", broken_images_lmdb(f"{t}/l"), f"{t}/out", "--label_file", f"{t}/label.txt"],
                [f"{t}/out", f"{t}/label.txt"]), ["none of its 2 labelled images", "nothing written"]),
    ("tools/create_lmdb_dataset.py", NOTHING, "nothing written (every image missing)",
     lambda t: (["tools/create_lmdb_dataset.py", "--input_dir", t, "--gt_file", write(f"{t}/gt.txt", "a.png\tab\n"),
                 "--output", f"{t}/o"], [f"{t}/o"]), ["no sample was written", "nothing created"]),
    # -- the launchers' own flags ---------------------------------------------------------------------------------
    ("test/train_full_8p.sh", LAUNCH, "--nproc 0", lambda t: (launcher("--nproc", "0"), []), ["--nproc", "1.."]),
    ("test/train_full_8p.sh", LAUNCH, "--nnodes 0", lambda t: (launcher("--nnodes=0"), []), ["--nnodes"]),
    ("test/train_full_8p.sh", LAUNCH, "--node_rank 2 of 2 nodes",
     lambda t: (launcher("--nnodes", "2", "--node_rank", "2"), []), ["--node_rank must be in 0..1"]),
    ("test/train_full_8p.sh", LAUNCH, "--master_port 0", lambda t: (launcher("--master_port", "0"), []),
     ["--master_port"]),
    ("test/train_performance_1p.sh", LAUNCH, "--batch_size=abc",
     lambda t: (["bash", "test/train_performance_1p.sh", "--batch_size=abc"], []), ["--batch_size must be an integer"]),
    ("test/train_full_1p.sh", LAUNCH, "--epochs without a value",
     lambda t: (["bash", "test/train_full_1p.sh", "--epochs"], []), ["--epochs needs a value"]),
    # -- messages that name the right cause ---------------------------------------------------------------------
    ("main.py", CAUSE, "--data_path is a regular file",
     lambda t: (main_py("--data_path", write(f"{t}/d", "x")), []), ["--data_path", "is a file, not a folder"]),
    ("main.py", CAUSE, "--resume is a folder", lambda t: (main_py("--resume", t), []), ["--resume", "is a folder"]),
    ("main.py", CAUSE, "--finetune is a folder", lambda t: (main_py("--finetune", t), []), ["--finetune", "is a folder"]),
    ("pth2onnx.py", CAUSE, "checkpoint is a folder", lambda t: (["pth2onnx.py", t, f"{t}/x.onnx"], [f"{t}/x.onnx"]),
     ["is a folder, not a file"]),
    ("test/train_full_1p.sh", CAUSE, "launcher --data_path is a regular file",
     lambda t: (["bash", "test/train_full_1p.sh", "--data_path", write(f"{t}/d", "x")], []), ["is a file"]),
    # -- bad data -------------------------------------------------------------------------------------------------
    ("main.py", DATA, "--data_path does not exist",
     lambda t: (main_py("--data_path", f"{t}/nope"), []), ["--data_path", "does not exist"]),
    ("main.py", DATA, "data folder without the LMDB folders",
     lambda t: (main_py("--data_path", t), []), ["IIIT5K_lmdb", "not found", "--val_dir"]),
    ("main.py", DATA, "folder that is not an LMDB",
     lambda t: (main_py("--data_path", data_dir(t, val=os.makedirs)), []), ["not an LMDB folder", "data.mdb"]),
    ("main.py", DATA, "LMDB without num-samples",
     lambda t: (main_py("--data_path", data_dir(t, val=lambda p: raw_lmdb(p, {b"label-000000001": b"a"}))), []),
     ["no 'num-samples' key", "IIIT5K_lmdb"]),
    ("main.py", DATA, "num-samples that is not a number",
     lambda t: (main_py("--data_path", data_dir(t, val=lambda p: raw_lmdb(p, {b"num-samples": b"many"}))), []),
     ["'num-samples' is not a number"]),
    ("main.py", DATA, "empty LMDB (num-samples 0)",
     lambda t: (main_py("--data_path", data_dir(t, train=lambda p: write_lmdb(p, []))), []), ["is empty", "MJ_LMDB"]),
    ("main.py", DATA, "label that is not UTF-8",
     lambda t: (main_py("--data_path", data_dir(t, val=lambda p: raw_lmdb(
         p, {b"num-samples": b"1", b"image-000000001": word_image("a"), b"label-000000001": b"\xff\xfe"}))), []),
     ["label-000000001 is not UTF-8", "IIIT5K_lmdb"]),
    ("main.py", DATA, "truncated data.mdb",
     lambda t: (main_py("--data_path", truncated_mdb(t)), []), ["corrupt or unreadable LMDB", "IIIT5K_lmdb/data.mdb"]),
    ("main.py", DATA, "fewer samples than one batch",
     lambda t: (main_py("--data_path", data_dir(t)), []), ["fewer than one global batch", "--batch_size"]),
    ("main.py", DATA, "--eval_all with no evaluation LMDB",
     lambda t: (main_py("--data_path", folder_of(good_lmdb(f"{t}/d/MJ_LMDB")), "--eval_all"), []),
     ["--eval_all: no LMDB folder"]),
    ("main.py", DATA, "--alphabet file that does not exist",
     lambda t: (main_py("--data_path", data_dir(t), "--alphabet", f"{t}/chars.txt"), []),
     ["--alphabet file not found", "chars.txt"]),
    ("parse_testdata.py", DATA, "--alphabet that is a folder",
     lambda t: (["parse_testdata.py", good_lmdb(f"{t}/l"), f"{t}/out", "--alphabet", t], [f"{t}/out"]),
     ["--alphabet", "is a folder"]),
    ("main.py", DATA, "--alphabet with repeated characters",
     lambda t: (main_py("--data_path", data_dir(t), "--alphabet", "aab"), []), ["repeated characters"]),
    ("main.py", DATA, "--synth_stream with an alphabet without letters",
     lambda t: (main_py("--data_path", data_dir(t), "--synth_stream", "--alphabet", "0123456789"), []),
     ["--synth_stream draws 0-9 and a-z"]),
    # -- bad checkpoints ------------------------------------------------------------------------------------------
    ("main.py", CKPT, "--resume file does not exist",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", f"{t}/none.pth"), []), ["checkpoint not found"]),
    ("main.py", CKPT, "--resume file is not a PyTorch file",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", write(f"{t}/x.pth", b"junk")), []),
     ["cannot read checkpoint", "x.pth"]),
    ("main.py", CKPT, "--resume file is empty",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", write(f"{t}/x.pth", b"")), []),
     ["cannot read checkpoint", "x.pth"]),
    ("main.py", CKPT, "--resume checkpoint truncated",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", truncated_checkpoint(t)), []),
     ["cannot read checkpoint", "cut.pth"]),
    ("main.py", CKPT, "--resume checkpoint of another repo",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", saved_file(f"{t}/o.pth", {"state_dict": {}})), []),
     ["not a checkpoint of this repo"]),
    ("main.py", CKPT, "--finetune checkpoint whose weights do not fit its model_args",
     lambda t: (main_py("--data_path", data_dir(t), "--finetune",
                        checkpoint(f"{t}/w.pth", model_args=dict(TINY_ARGS, cnn_width=16))), []),
     ["does not fit this model", "w.pth"]),
    ("main.py", CKPT, "--alphabet differs from the checkpoint's",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", checkpoint(f"{t}/c.pth"), "--alphabet", "abc"), []),
     ["--alphabet differs"]),
    ("main.py", CKPT, "--eval_only without a checkpoint",
     lambda t: (main_py("--data_path", data_dir(t), "--eval_only"), []), ["--eval_only needs --resume"]),
    ("main.py", CKPT, "--eval_only --resume auto with no checkpoint",
     lambda t: (main_py("--data_path", data_dir(t), "--eval_only", "--resume", "auto", "--output_dir", t), []),
     ["no readable checkpoint"]),
    ("main.py", CKPT, "--resume and --finetune together",
     lambda t: (main_py("--data_path", data_dir(t), "--resume", "auto", "--finetune", "x.pth"), []), ["give only one"]),
    ("pth2onnx.py", CKPT, "input is not a checkpoint",
     lambda t: (["pth2onnx.py", write(f"{t}/x.pth", b"nope"), f"{t}/x.onnx"], [f"{t}/x.onnx"]),
     ["cannot read checkpoint"]),
    ("pth2onnx.py", CKPT, "checkpoint of a different architecture",
     lambda t: (["pth2onnx.py", saved_file(f"{t}/r.pth", {"state_dict": {"fc.weight": torch.zeros(2, 2)}}), f"{t}/r.onnx"],
                [f"{t}/r.onnx"]), ["not a CRNN checkpoint"]),
    ("pth2onnx.py", CKPT, "checkpoint whose alphabet does not match its classes",
     lambda t: (["pth2onnx.py", checkpoint(f"{t}/a.pth", alphabet="abc"), f"{t}/a.onnx"], [f"{t}/a.onnx"]),
     ["37 classes but its alphabet"]),
    # -- the offline chain ----------------------------------------------------------------------------------------
    ("pth2onnx.py", OFFLINE, "--int8 calibration LMDB missing",
     lambda t: (["pth2onnx.py", checkpoint(f"{t}/c.pth"), f"{t}/q.onnx", "--int8", f"{t}/none"], [f"{t}/q.onnx"]),
     ["calibration LMDB not found"]),
    ("pth2onnx.py", OFFLINE, "--int8 calibration LMDB empty",
     lambda t: (["pth2onnx.py", checkpoint(f"{t}/c.pth"), f"{t}/q.onnx", "--int8", write_lmdb(f"{t}/e", [])],
                [f"{t}/q.onnx"]), ["is empty"]),
    ("pth2onnx.py", OFFLINE, "--int8 calibration LMDB with no readable image",
     lambda t: (["pth2onnx.py", checkpoint(f"{t}/c.pth"), f"{t}/q.onnx", "--int8", broken_images_lmdb(f"{t}/b")],
                [f"{t}/q.onnx"]), ["no readable image"]),
    ("parse_testdata.py", OFFLINE, "LMDB does not exist",
     lambda t: (["parse_testdata.py", f"{t}/none", f"{t}/out"], [f"{t}/out"]), ["LMDB folder not found"]),
    ("tools/ais_bench_runner.py", OFFLINE, "model that is not ONNX",
     lambda t: (["-m", "tools.ais_bench_runner", "--model", write(f"{t}/m.onnx", b"junk")], []),
     ["cannot load ONNX model"]),
    ("postpossess_CRNN_pytorch.py", OFFLINE, "label file in the wrong format",
     lambda t: (["postpossess_CRNN_pytorch.py", folder_of(write(f"{t}/res/test_1_0.bin", b"\0" * 8)),
                 write(f"{t}/label.txt", "just words\n")], []), ["expected '<name>.bin:<label>'"]),
    ("postpossess_CRNN_pytorch.py", OFFLINE, "label file does not exist",
     lambda t: (["postpossess_CRNN_pytorch.py", t, f"{t}/none.txt"], []), ["label_file", "does not exist"]),
    ("tools/create_lmdb_dataset.py", OFFLINE, "--input_dir does not exist",
     lambda t: (["tools/create_lmdb_dataset.py", "--input_dir", f"{t}/x", "--output", f"{t}/o"], [f"{t}/o"]),
     ["--input_dir", "does not exist"]),
    ("tools/create_lmdb_dataset.py", OFFLINE, "ground-truth file does not exist",
     lambda t: (["tools/create_lmdb_dataset.py", "--input_dir", t, "--gt_file", f"{t}/gt.txt", "--output", f"{t}/o"],
                [f"{t}/o"]), ["--gt_file", "does not exist"]),
]


def run_case(case, tmp):
    """-> (argv, (exit code, stdout, stderr), leftover paths that should not exist)."""
    argv, must_not_exist = case[3](tmp)
    env = {"CRNN_CACHE_DIR": os.path.join(tmp, "cache"), "OMP_NUM_THREADS": "1"}
    if argv[0] == "bash":
        r = subprocess.run(argv, cwd=ROOT, env=dict(os.environ, **env), capture_output=True, text=True, timeout=120)
        result = (r.returncode, r.stdout, r.stderr)
    else:
        result = run_in_process(argv, env)
    return argv, result, [p for p in must_not_exist if os.path.exists(p)]


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def print_table():
    print("| script | class | bad input | what the user sees (stderr) | exit | traceback |")
    print("|---|---|---|---|---|---|")
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            _, (code, _, stderr), _ = run_case(case, tmp)
        message = (error_lines(stderr) or ["(no error line)"])[0].replace(tmp, "<tmp>").replace("|", "\\|")
        print(f"| {case[0]} | {case[1]} | {case[2]} | `{message}` | {code} | "
              f"{'yes' if 'Traceback' in stderr else 'no'} |", flush=True)


if __name__ == "__main__":
    print_table()
