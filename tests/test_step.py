"""The training step on the CPU: a bad step is undone and counted on the device, the schedule counts real
updates only, multi-tensor optimizers, --compile."""
import contextlib
import functools
import io
import warnings

import pytest
import torch

import main
from conftest import TINY_MODEL, InfiniteGrad
from models import CRNN
from training.checkpoint import load_training_checkpoint
from training.step import TrainStep
from utils.device import Placement
from utils.errors import UserError
from utils.label_converter import LabelConverter
from training.optim import build_optimizer, build_scheduler

CPU = torch.device("cpu")
WORDS = ["abc", "hello", "42", "crnn"]


def make_runner(optimizer="adadelta", scaler=None, max_bad_steps=3, schedule="cosine"):
    torch.manual_seed(0)
    model = CRNN(hidden_size=16, cnn_width=4)
    opt = build_optimizer(optimizer, model.parameters(), 1.0 if optimizer == "adadelta" else 1e-3, 0.0, CPU)
    sched = build_scheduler(opt, schedule, 100, 5)
    scaler = scaler or torch.amp.GradScaler("cpu", enabled=False)
    return TrainStep(model, opt, sched, scaler, LabelConverter(), Placement(CPU), grad_clip=5.0,
                     max_bad_steps=max_bad_steps)


def real_steps(runner):
    return {int(s["step"]) for s in runner.optimizer.state.values()}


def snapshot(runner):
    params = [p.detach().clone() for p in runner.model.parameters()]
    state = [v.clone() for s in runner.optimizer.state.values() for v in s.values() if torch.is_tensor(v)]
    return params + state


def test_multi_tensor_optimizers_on_the_cpu():
    params = list(torch.nn.Linear(2, 2).parameters())
    for name in ("adam", "adamw", "adadelta", "sgd"):
        opt = build_optimizer(name, params, 0.1, 0.0, CPU)
        assert opt.defaults["foreach"] is True and not opt.defaults.get("fused"), name
    assert build_optimizer("adadelta", params, 1.0, 0.0, CPU).defaults["rho"] == 0.9


def test_an_inf_gradient_is_undone_on_the_device_and_counted_at_the_read(monkeypatch, capsys):
    import training.step
    runner = make_runner()
    images = torch.randn(4, 1, 32, 100)
    for _ in range(2):
        assert torch.isfinite(runner(images, WORDS))
    before = snapshot(runner)
    real_loss = training.step.ctc_loss
    monkeypatch.setattr(training.step, "ctc_loss", lambda *a: InfiniteGrad.apply(real_loss(*a)))
    loss = runner(images, WORDS)
    assert torch.isnan(loss)                                    # the log leaves a skipped step out
    after = snapshot(runner)
    assert all(torch.equal(a, b) for a, b in zip(before, after))  # weights and optimizer state as before
    assert runner.bad_total == 0 and capsys.readouterr().out == ""  # nothing read on the host yet
    runner.sync()
    assert runner.bad_total == 1
    assert "warning: non-finite loss or gradient, step skipped (1 so far)" in capsys.readouterr().out
    monkeypatch.setattr(training.step, "ctc_loss", real_loss)
    assert torch.isfinite(runner(images, WORDS))
    runner.sync()
    assert real_steps(runner) == {3} and runner.scheduler.last_epoch == 3


def test_bad_steps_in_a_row_stop_the_run_at_the_next_read(monkeypatch):
    import training.step
    runner = make_runner(max_bad_steps=3)
    images = torch.randn(4, 1, 32, 100)
    runner(images, WORDS)
    real_loss = training.step.ctc_loss
    monkeypatch.setattr(training.step, "ctc_loss", lambda *a: real_loss(*a) * float("nan"))
    for _ in range(4):
        runner(images, WORDS)                                   # no host read: the steps just go on
    monkeypatch.setattr(training.step, "ctc_loss", real_loss)
    runner(images, WORDS)                                       # a good step ends the run of bad ones
    with pytest.raises(UserError, match="4 steps in a row had a non-finite loss or gradient: stopping"):
        runner.sync()
    assert real_steps(runner) == {2}


def test_a_scaler_that_skips_steps_the_schedule_only_with_real_updates():
    # A loss scale of 1e38 overflows fp32: the GradScaler skips steps and halves the scale until it fits.
    runner = make_runner(scaler=torch.amp.GradScaler("cpu", init_scale=1e38), max_bad_steps=10)
    images = torch.randn(4, 1, 32, 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(10):
            runner(images, WORDS)
        runner.sync()
    assert not [w for w in caught if "lr_scheduler.step()" in str(w.message)], [str(w.message) for w in caught]
    skipped = runner.bad_total
    assert 1 <= skipped < 10 and runner.scaler.get_scale() < 1e38
    assert real_steps(runner) == {10 - skipped} and runner.scheduler.last_epoch == 10 - skipped
    assert runner.optimizer.param_groups[0]["lr"] == pytest.approx(runner.scheduler.get_last_lr()[0])


def test_compile_trains_and_saves_plain_keys(tiny_data, tmp_path, monkeypatch):
    # Dynamo and AOT autograd as --compile runs them, minus inductor's C++ code generation (50 s here).
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main.main(main.get_args_parser().parse_args(
            ["--data_path", tiny_data, "--output_dir", str(tmp_path), "--compile", "--stop_step", "3", "--batch_size",
             "16", "--opt_level", "O0", "--print_freq", "1", *TINY_MODEL]))
    losses = [float(line.split("loss: ")[1].split()[0]) for line in buf.getvalue().splitlines()
              if line.startswith("Epoch: [0][")]
    assert len(losses) == 3 and all(0 < v < 100 for v in losses)
    ckpt = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    assert ckpt["global_step"] == 3
    for path in (tmp_path / "checkpoint.pth", tmp_path / "model_best.pth"):
        raw = torch.load(path, map_location="cpu", weights_only=True)
        assert not [k for k in raw["model"] if "_orig_mod" in k or k.startswith("module.")]
