"""The CUDA code path: fp16 AMP with a GradScaler, evaluation equal to the CPU's, NCCL DDP, resume, pinned
memory. Marked `cuda`: skipped where no GPU is visible; bench/device_check.sh runs them on one."""
import contextlib
import io
import os
import subprocess
import sys

import pytest
import torch

import main
from conftest import ROOT, TINY_MODEL
from datasets.loaders import eval_loader
from utils.checkpoint import load_training_checkpoint
from utils.engine import evaluate
from utils.label_converter import LabelConverter
from utils.model_io import load_crnn

pytestmark = pytest.mark.cuda
GPU_MODEL = [a if a != "cpu" else "cuda" for a in TINY_MODEL]


def run(argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        acc = main.main(main.get_args_parser().parse_args(argv))
    return acc, buf.getvalue()


def test_fp16_amp_training_step_with_grad_scaler(tiny_data, tmp_path):
    _, out = run(["--data_path", tiny_data, "--batch_size", "16", "--stop_step", "20", "--lr", "1e-3",
                  "--optimizer", "adam", "--loss_scale", "128", "--output_dir", str(tmp_path), *GPU_MODEL])
    assert "Device: cuda:0" in out and "precision torch.float16" in out and "channels_last True" in out
    assert "Recipe: seed (batch_size=16 (flag), optimizer=adam (flag), lr=0.001 (flag)" in out
    ckpt = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    assert ckpt["global_step"] == 20 and ckpt["scaler"]["scale"] <= 128.0   # static scale: never grows
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert "skipped non-finite steps: " in out


def test_evaluation_on_gpu_equals_cpu(overfit_run, tiny_data):
    model, alphabet, _ = load_crnn(os.path.join(overfit_run[0], "model_best.pth"))
    conv = LabelConverter(alphabet)
    results = {}
    for device in ("cpu", "cuda"):
        dev = torch.device(device)
        loader = eval_loader(f"{tiny_data}/OTHER_lmdb", conv, 26, 100, 16, 0, 1, 0, lambda *a: None,
                             pin_memory=device == "cuda")
        results[device] = evaluate(model.to(dev), loader, conv, dev, device == "cuda", keep_predictions=True)
    assert results["cuda"]["correct"] == results["cpu"]["correct"] and results["cuda"]["total"] == 47
    same = sum(a[2] == b[2] for a, b in zip(results["cpu"]["predictions"], results["cuda"]["predictions"]))
    assert same >= 46                                       # fp32 on both: at most one borderline reading
    assert abs(results["cuda"]["ned"] - results["cpu"]["ned"]) < 0.05


def test_pinned_batches(tiny_data):
    loader = eval_loader(f"{tiny_data}/IIIT5K_lmdb", LabelConverter(), 26, 100, 16, 1, 1, 0, lambda *a: None,
                         pin_memory=True)
    images = next(iter(loader))[0]
    assert loader.pin_memory and images.is_pinned()


def test_one_process_nccl_ddp_and_resume(tiny_data, tmp_path):
    common = ["--data_path", tiny_data, "--batch_size", "16", "--epochs", "2", "--max_step", "5", "--opt_level",
              "O0", "--optimizer", "sgd", "--lr", "0.05", "--lr_schedule", "constant", "--print_freq", "1",
              "--output_dir", str(tmp_path), *GPU_MODEL]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "--master_port",
           str(29700 + os.getpid() % 200), "main.py"]
    first = subprocess.run(cmd + common + ["--stop_step", "3"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "Device: cuda:0, world size 1" in first.stdout
    resumed = subprocess.run(cmd + common + ["--resume", str(tmp_path / "checkpoint.pth")], cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "(global step 3)" in resumed.stdout
    ckpt = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    assert (ckpt["epoch"], ckpt["global_step"]) == (2, 10)
    assert not any(k.startswith("module.") for k in ckpt["model"])
