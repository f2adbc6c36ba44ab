import os

import torch

import main
from conftest import TINY_MODEL
from training.checkpoint import load_training_checkpoint


def run_main(argv):
    return main.main(main.get_args_parser().parse_args(argv))


def test_tiny_model_overfits_64_images(tiny_data, overfit_run, capsys):
    out_dir, out, acc = overfit_run
    assert acc == 1.0, out[-2000:]
    assert "Accuracy: 1.0000" in out
    assert float(out.split("FPS: ")[1].split()[0]) > 0
    ckpt = load_training_checkpoint(os.path.join(out_dir, "model_best.pth"))
    assert ckpt["best_acc"] == 1.0
    assert ckpt["model_args"] == {"img_h": 32, "num_channels": 1, "num_classes": 37, "hidden_size": 32, "cnn_width": 8}
    assert ckpt["alphabet"] == "0123456789abcdefghijklmnopqrstuvwxyz"
    assert set(ckpt) >= {"model", "optimizer", "lr_scheduler", "scaler", "epoch", "step", "best_acc"}
    assert not any(k.startswith("module.") for k in ckpt["model"])
    # --eval_only on the saved checkpoint reproduces the accuracy without training.
    assert run_main(["--data_path", tiny_data, "--eval_only", "--resume", os.path.join(out_dir, "model_best.pth"),
                     *TINY_MODEL]) == 1.0
    assert "Training" not in capsys.readouterr().out.split("Device:")[1]


def _weights(path):
    return load_training_checkpoint(path)["model"]


def test_resume_continues_at_the_right_step(tiny_data, tmp_path, capsys):
    common = ["--data_path", tiny_data, "--epochs", "3", "--max_step", "4", "--batch_size", "16",
              "--opt_level", "O0", "--print_freq", "1", *TINY_MODEL]
    # Uninterrupted: 3 epochs x 4 steps.
    full = tmp_path / "full"
    run_main(common + ["--output_dir", str(full)])
    # Interrupted after 6 steps (mid-epoch 1), then resumed.
    part = tmp_path / "part"
    run_main(common + ["--output_dir", str(part), "--stop_step", "6"])
    ckpt = load_training_checkpoint(str(part / "checkpoint.pth"))
    assert (ckpt["epoch"], ckpt["step"], ckpt["global_step"]) == (1, 2, 6)
    capsys.readouterr()
    run_main(common + ["--output_dir", str(part), "--resume", str(part / "checkpoint.pth")])
    out = capsys.readouterr().out
    assert "Resumed" in out and "epoch 1, step 2 (global step 6)" in out
    steps = [line.split("]")[1] + "]" for line in out.splitlines() if line.startswith("Epoch: [")]
    assert steps[0] == "[3/4]", steps  # the first step after resuming is step 3 of epoch 1
    assert sum(1 for line in out.splitlines() if line.startswith("Epoch: [")) == 6
    final = load_training_checkpoint(str(part / "checkpoint.pth"))
    assert (final["epoch"], final["step"], final["global_step"]) == (3, 0, 12)
    a, b = _weights(str(full / "checkpoint.pth")), _weights(str(part / "checkpoint.pth"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def test_stop_step_and_max_step(tiny_data, tmp_path, capsys):
    run_main(["--data_path", tiny_data, "--output_dir", str(tmp_path), "--epochs", "5", "--batch_size", "16",
              "--max_step", "2", "--print_freq", "1", *TINY_MODEL])
    out = capsys.readouterr().out
    assert "Training 5 epochs x 2 steps" in out
    assert load_training_checkpoint(str(tmp_path / "checkpoint.pth"))["global_step"] == 10
    assert os.path.isfile(tmp_path / "model_best.pth")


def test_finetune_starts_a_new_run_from_the_weights(tiny_data, overfit_run, tmp_path, capsys):
    ckpt = os.path.join(overfit_run[0], "model_best.pth")
    acc = run_main(["--data_path", tiny_data, "--finetune", ckpt, "--output_dir", str(tmp_path), "--stop_step", "3",
                    "--lr", "1e-6", "--batch_size", "16", "--opt_level", "O0", *TINY_MODEL])
    out = capsys.readouterr().out
    assert f"Fine-tuning from {ckpt} (weights only: fresh optimizer and schedule)" in out
    assert acc == 1.0                                   # it starts from the trained weights, not from scratch
    new = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    assert (new["epoch"], new["step"], new["global_step"]) == (0, 3, 3)
    assert all(s["step"] == 3 for s in new["optimizer"]["state"].values())
