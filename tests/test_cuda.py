"""The CUDA code path: fp16 AMP with a GradScaler, evaluation equal to the CPU's, NCCL DDP, resume, pinned
memory, a step with no host read. Marked `cuda`: skipped where no GPU is visible; bench/device_check.sh runs
them on one. Nothing here trains on the CPU (a 16-core machine took over 45 s for conftest's overfit_run):
each test stays under 30 s on one GPU."""
import contextlib
import io
import os
import subprocess
import sys
import warnings

import pytest
import torch

import main
import training.step
from conftest import OVERFIT, ROOT, TINY_MODEL
from datasets.loaders import LoaderConfig, eval_loader
from datasets.transforms import Width
from models import CRNN
from training.checkpoint import load_training_checkpoint
from utils.device import make_scaler
from training.evaluate import evaluate
from training.step import TrainStep
from utils.device import Placement
from utils.label_converter import LabelConverter
from inference.model_file import load_model
from training.optim import build_optimizer, build_scheduler

pytestmark = pytest.mark.cuda
GPU_MODEL = [a if a != "cpu" else "cuda" for a in TINY_MODEL]


def run(argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        acc = main.main(main.get_args_parser().parse_args(argv))
    return acc, buf.getvalue()


@pytest.fixture(scope="module")
def gpu_overfit_run(tiny_data, tmp_path_factory):
    """conftest's overfit_run trained on the GPU (Adam, fp32), 15 epochs x 100 steps (~15 s) -> output dir."""
    out_dir = tmp_path_factory.mktemp("gpu_overfit")
    argv = [a if a != "40" else "15" for a in OVERFIT]
    run(["--data_path", tiny_data, "--output_dir", str(out_dir), "--recipe", "cpu", "--val_freq", "0", *argv,
         *GPU_MODEL])
    return str(out_dir)


def test_fp16_amp_training_step_with_grad_scaler(tiny_data, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, out = run(["--data_path", tiny_data, "--batch_size", "16", "--stop_step", "20", "--lr", "1e-3",
                      "--optimizer", "adam", "--loss_scale", "128", "--ema", "0.9", "--output_dir", str(tmp_path),
                      *GPU_MODEL])
    messages = [str(w.message) for w in caught]
    # the EMA copy's LSTMs are flattened; the schedule never steps ahead of a skipped fp16 step
    assert not [m for m in messages if "contiguous chunk" in m or "lr_scheduler.step()" in m], messages
    assert "Device: cuda:0" in out and "precision torch.float16" in out and "channels_last True" in out
    assert "Recipe: seed (batch_size=16 (flag), optimizer=adam (flag), lr=0.001 (flag)" in out
    ckpt = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    assert ckpt["global_step"] == 20 and ckpt["scaler"]["scale"] <= 128.0   # static scale: never grows
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert "skipped non-finite steps: " in out


def test_evaluation_on_gpu_equals_cpu(gpu_overfit_run, tiny_data):
    model_file, model = load_model(os.path.join(gpu_overfit_run, "model_best.pth"))
    alphabet = model_file.alphabet
    conv = LabelConverter(alphabet)
    results = {}
    for device in ("cpu", "cuda"):
        dev = torch.device(device)
        cfg = LoaderConfig(conv, Width.fixed(100), max_label_len=26, batch_size=16, pin_memory=device == "cuda")
        loader = eval_loader(f"{tiny_data}/OTHER_lmdb", cfg, lambda *a: None)
        results[device] = evaluate(model.to(dev), loader, conv.alphabet, Placement(dev, None, device == "cuda"),
                                   keep_predictions=True)
    assert results["cuda"]["correct"] == results["cpu"]["correct"] and results["cuda"]["total"] == 47
    same = sum(a[2] == b[2] for a, b in zip(results["cpu"]["predictions"], results["cuda"]["predictions"]))
    assert same >= 46                                       # fp32 on both: at most one borderline reading
    assert abs(results["cuda"]["ned"] - results["cpu"]["ned"]) < 0.05


def test_pinned_batches(tiny_data):
    cfg = LoaderConfig(LabelConverter(), Width.fixed(100), max_label_len=26, batch_size=16, workers=1,
                       pin_memory=True)
    loader = eval_loader(f"{tiny_data}/IIIT5K_lmdb", cfg, lambda *a: None)
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


@pytest.mark.parametrize("optimizer", ["adadelta", "adam"])
def test_a_step_reads_nothing_back_to_the_host(optimizer, monkeypatch):
    """After the first step (which creates the optimizer state) no step synchronises with the GPU:
    fp16 scaling, clipping, the undo of a bad step and the counters all stay on the device. The CTC
    kernel copies its length tables to the GPU itself, so a sync-free surrogate loss stands in for it."""
    device = torch.device("cuda")
    model = CRNN(hidden_size=32, cnn_width=8).to(device, memory_format=torch.channels_last)
    opt = build_optimizer(optimizer, model.parameters(), 1e-3, 0.0, device)
    assert opt.defaults.get("fused") or opt.defaults.get("capturable")
    runner = TrainStep(model, opt, build_scheduler(opt, "cosine", 100, 5), make_scaler(device, torch.float16, 128.0),
                       LabelConverter(), Placement(device, torch.float16, True), grad_clip=5.0, max_bad_steps=3)
    monkeypatch.setattr(training.step, "ctc_loss", lambda logits, *_: logits.float().square().mean())
    images = torch.randn(16, 1, 32, 100).pin_memory()
    labels = ["word"] * 16
    runner(images, labels)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        losses = [runner(images, labels) for _ in range(5)]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    runner.sync()
    assert all(torch.isfinite(v) for v in losses) and runner.bad_total == 0
    assert runner.scheduler.last_epoch == 6
