"""The bad inputs of the offline chain (export, int8 calibration, .bin files, the runner, post-processing,
LMDB creation): cases in tests/bad_inputs.py's format, which takes them into its CASES."""
from bad_input_kit import broken_images_lmdb, checkpoint, folder_of, write
from conftest import write_lmdb

OFFLINE = "offline chain"

OFFLINE_CASES = [
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
     lambda t: (["-m", "tools.create_lmdb_dataset", "--input_dir", f"{t}/x", "--output", f"{t}/o"], [f"{t}/o"]),
     ["--input_dir", "does not exist"]),
    ("tools/create_lmdb_dataset.py", OFFLINE, "ground-truth file does not exist",
     lambda t: (["-m", "tools.create_lmdb_dataset", "--input_dir", t, "--gt_file", f"{t}/gt.txt", "--output", f"{t}/o"],
                [f"{t}/o"]), ["--gt_file", "does not exist"]),
]
