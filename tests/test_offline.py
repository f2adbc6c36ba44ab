"""The offline chain through its real command lines: pth2onnx -> parse_testdata -> runner -> postpossess."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT, TINY_MODEL, random_words, word_image
from datasets.lmdb_dataset import LmdbDataset
from decoding.ctc_decoder import greedy_decode
from utils.label_converter import LabelConverter, normalize_for_eval
from inference.model_file import ModelFile, load_model


def run(cmd, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, *cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def chain(overfit_run, tiny_data, tmp_path_factory):
    ckpt = os.path.join(overfit_run[0], "model_best.pth")
    work = tmp_path_factory.mktemp("chain")
    results = {"ckpt": ckpt, "work": work}
    results["export"] = run([f"{ROOT}/pth2onnx.py", ckpt, "./crnn_npu_dy.onnx"], work)
    results["parse"] = run([f"{ROOT}/parse_testdata.py", f"{tiny_data}/OTHER_lmdb", "input_bin"], work)
    results["infer"] = run(["-m", "tools.ais_bench_runner", "--model", "./crnn_npu_dy.onnx", "--input", "./input_bin",
                            "--output", "./", "--output_dirname", "result", "--device", "0", "--batchsize", "16",
                            "--output_batchsize_axis", "1"], work)
    results["post"] = run([f"{ROOT}/postpossess_CRNN_pytorch.py", "./result", "./label.txt"], work)
    return results


def test_export_matches_pytorch(chain):
    r = chain["export"]
    assert r.returncode == 0, r.stderr
    diff = float(r.stdout.split("max abs diff ")[1].split()[0])
    assert diff < 1e-4
    import onnx
    model = onnx.load(str(chain["work"] / "crnn_npu_dy.onnx"))
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "actual_input_1" and out.name == "output1"
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["batch", 1, 32, 100]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == [26, "batch", 37]


def test_parse_testdata_layout(chain, tiny_data):
    r = chain["parse"]
    assert r.returncode == 0, r.stderr
    assert "Wrote 47 .bin files" in r.stdout and "skipped 1 undecodable" in r.stdout
    lines = (chain["work"] / "label.txt").read_text().splitlines()
    assert len(lines) == 47 and lines[0].startswith("test_1.bin:")
    x = np.fromfile(chain["work"] / "input_bin" / "test_1.bin", dtype=np.float32)
    assert x.size == 32 * 100 and -1.0 <= x.min() < x.max() <= 1.0


def test_runner_layout_and_summary(chain):
    r = chain["infer"]
    assert r.returncode == 0, r.stderr
    files = os.listdir(chain["work"] / "result")
    assert len(files) == 47 and "test_1_0.bin" in files
    assert np.fromfile(chain["work"] / "result" / "test_1_0.bin", dtype=np.float32).size == 26 * 37
    summary = json.loads((chain["work"] / "result_summary.json").read_text())
    assert summary["files"] == 47 and summary["throughput"] > 0
    assert "throughput 1000*batchsize.mean(16)" in r.stdout


def test_offline_accuracy_equals_online(chain, tiny_data):
    r = chain["post"]
    assert r.returncode == 0, r.stderr
    right = int(r.stdout.split("rightNum: ")[1].split()[0])
    total = int(r.stdout.split("totalNum: ")[1].split()[0])
    offline_misses = sorted(line for line in r.stdout.splitlines() if line.startswith("label:"))
    online = subprocess.run([sys.executable, "main.py", "--data_path", tiny_data, "--val_dir", "OTHER_lmdb",
                             "--eval_only", "--resume", chain["ckpt"], *TINY_MODEL],
                            cwd=ROOT, capture_output=True, text=True)
    assert online.returncode == 0, online.stderr
    assert f"Accuracy: {right / total:.4f}" in online.stdout
    with open(os.path.join(os.path.dirname(chain["ckpt"]), "eval_results.csv")) as f:
        row = next(csv.DictReader(f))
    assert (row["set"], int(row["correct"]), int(row["samples"])) == ("OTHER_lmdb", right, total)
    # Per sample: the same misses as PyTorch decoding the same LMDB.
    model_file, model = load_model(chain["ckpt"])
    alphabet = model_file.alphabet
    conv = LabelConverter(alphabet)
    ds = LmdbDataset(f"{tiny_data}/OTHER_lmdb", conv, 26, train=False)
    misses = []
    for i in range(len(ds)):
        image, label, _ = ds[i]
        if image is None:
            continue
        with torch.no_grad():
            pred = greedy_decode(model(image[None]), alphabet)[0][0]
        if normalize_for_eval(pred) != label:
            misses.append(f"label:{label}  pred:{pred}")
    assert offline_misses == sorted(misses)
    assert 0 < right < total  # an imperfect model: the comparison means something


def test_pure_inference_mode(chain):
    r = run(["-m", "tools.ais_bench_runner", "--model", "./crnn_npu_dy.onnx", "--loop", "3", "--batchsize", "4"],
            chain["work"])
    assert r.returncode == 0, r.stderr
    assert "NPU_compute_time (ms): min = " in r.stdout and "percentile(99%)" in r.stdout


def test_chain_errors(chain, tmp_path):
    work = chain["work"]
    # Missing, extra and wrong-sized result files.
    res = tmp_path / "res"
    res.mkdir()
    r = run([f"{ROOT}/postpossess_CRNN_pytorch.py", str(res), str(work / "label.txt")], work)
    assert r.returncode == 2 and "result files missing" in r.stderr and "test_1_0.bin" in r.stderr
    for f in os.listdir(work / "result"):
        (res / f).write_bytes((work / "result" / f).read_bytes())
    (res / "test_999_0.bin").write_bytes(b"\0" * 8)
    r = run([f"{ROOT}/postpossess_CRNN_pytorch.py", str(res), str(work / "label.txt")], work)
    assert r.returncode == 2 and "have no label" in r.stderr and "test_999_0.bin" in r.stderr
    os.remove(res / "test_999_0.bin")
    (res / "test_1_0.bin").write_bytes(b"\0" * 16)
    r = run([f"{ROOT}/postpossess_CRNN_pytorch.py", str(res), str(work / "label.txt")], work)
    assert r.returncode == 2 and "wrong size" in r.stderr and "test_1_0.bin" in r.stderr


def test_reference_state_dict_exports(tmp_path):
    from models import CRNN
    sd = {"module." + k: v for k, v in CRNN(cnn_width=4, hidden_size=8).state_dict().items()}
    torch.save({"epoch": 3, "state_dict": sd, "best_acc": 0.5}, tmp_path / "ref.pth")
    r = run([f"{ROOT}/pth2onnx.py", str(tmp_path / "ref.pth"), str(tmp_path / "ref.onnx")], tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ref.onnx").is_file()


def test_int8_model_runs_through_the_chain(chain, tiny_data):
    """pth2onnx --int8: a static int8 model with the same names, metadata and dynamic batch, which the runner,
    postpossess and predict.py read unchanged, and which reads (nearly) what the fp32 model reads."""
    work = chain["work"]
    r = run([f"{ROOT}/pth2onnx.py", chain["ckpt"], "./crnn_int8.onnx", "--int8", f"{tiny_data}/IIIT5K_lmdb",
             "--calib_samples", "32"], work)
    assert r.returncode == 0, r.stderr
    line = r.stdout.split("int8 vs fp32 on ")[1].splitlines()[0]
    assert line.startswith("32 labelled images"), line              # the 32 images after the calibration ones
    acc8, acc32 = (float(x) for x in line.split("word accuracy ")[1].split("%, the same")[0].split("% vs "))
    assert acc8 >= acc32 - 1 / 32 * 100 and acc32 > 90, line
    import onnx
    model = onnx.load(str(work / "crnn_int8.onnx"))
    ops = {n.op_type for n in model.graph.node}
    assert {"QLinearConv", "QuantizeLinear", "DequantizeLinear"} <= ops and "LSTM" in ops
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["alphabet"] == "0123456789abcdefghijklmnopqrstuvwxyz" and meta["img_w"] == "100"
    assert "int8" in meta["quantization"]
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "actual_input_1" and out.name == "output1"
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == [26, "batch", 37]
    r = run(["-m", "tools.ais_bench_runner", "--model", "./crnn_int8.onnx", "--input", "./input_bin", "--output", "./",
             "--output_dirname", "result_int8", "--batchsize", "16", "--output_batchsize_axis", "1"], work)
    assert r.returncode == 0, r.stderr
    r8 = run([f"{ROOT}/postpossess_CRNN_pytorch.py", "./result_int8", "./label.txt"], work)
    assert r8.returncode == 0, r8.stderr
    right8, right32 = (int(x.stdout.split("rightNum: ")[1].split()[0]) for x in (r8, chain["post"]))
    assert abs(right8 - right32) <= 2, (right8, right32)
    crops = work / "crops"
    crops.mkdir()
    for i, w in enumerate(random_words(64)[:12]):
        (crops / f"w{i:02d}.png").write_bytes(word_image(w))
    texts = {}
    for name in ("crnn_int8.onnx", "crnn_npu_dy.onnx"):
        p = run([f"{ROOT}/predict.py", "--model", name, "--batch_size", "5", str(crops)], work)
        assert p.returncode == 0, p.stderr
        texts[name] = [line.split("\t")[1] for line in p.stdout.splitlines()]
        assert len(texts[name]) == 12
    assert "ONNX Runtime int8" in p.stderr or "ONNX Runtime fp32" in p.stderr
    assert sum(a == b for a, b in zip(*texts.values())) >= 11, texts


def test_a_nan_in_any_batch_of_the_export_check_is_reported(tmp_path, monkeypatch):
    """pth2onnx's check reads three batches; a NaN in the first must not be lost in the largest difference
    (max(0.0, nan) is 0.0)."""
    import onnxruntime as ort
    from datasets.transforms import Width
    from inference.onnx_export import export, max_abs_diff
    from models import CRNN
    model = CRNN(hidden_size=16, cnn_width=4).eval()
    path = str(tmp_path / "m.onnx")
    export(model, Width.fixed(100), path, ModelFile({"hidden_size": 16, "cnn_width": 4}))
    assert max_abs_diff(model, path, Width.fixed(100))[0] < 1e-3
    real_run, calls = ort.InferenceSession.run, []

    def nan_in_the_first_batch(self, names, feeds, *rest):
        out = real_run(self, names, feeds, *rest)
        calls.append(len(calls))
        return [np.full_like(out[0], np.nan)] if len(calls) == 1 else out
    monkeypatch.setattr(ort.InferenceSession, "run", nan_in_the_first_batch)
    diff, _ = max_abs_diff(model, path, Width.fixed(100))
    assert np.isnan(diff) and len(calls) == 1                            # reported, and the check stops there
