"""Training presets by device and their override rules; the weight EMA."""
import contextlib
import io

import torch

import main
from conftest import TINY_MODEL
from datasets.transforms import Width
from models import CRNN
from training.checkpoint import load_training_checkpoint
from training.ema import EMA
from inference.model_file import load_model
from training.recipes import PRESET_FLAGS, RECIPES, default_workers, preset_help, resolve_recipe

NONE = dict.fromkeys(PRESET_FLAGS)


def test_auto_picks_the_seed_recipe_on_accelerators_and_the_cpu_one_on_cpus():
    for device, expected in (("cuda", "seed"), ("npu", "seed"), ("cpu", "cpu")):
        name, values, sources = resolve_recipe("auto", device, NONE, synthetic=False)
        assert name == expected and set(sources.values()) == {"preset"}
    _, seed, _ = resolve_recipe("auto", "cuda", NONE, synthetic=False)
    assert (seed["batch_size"], seed["optimizer"], seed["lr"], seed["loss_scale"], seed["epochs"]) == \
        (2560, "adadelta", 1.0, "128", 20)
    _, cpu, _ = resolve_recipe("auto", "cpu", NONE, synthetic=True)
    assert (cpu["batch_size"], cpu["optimizer"], cpu["lr"], cpu["warmup_steps"], cpu["epochs"]) == \
        (64, "adam", 1e-3, 200, 2)
    assert resolve_recipe("auto", "cpu", NONE, synthetic=False)[1]["epochs"] == 20


def test_explicit_flags_override_one_value_each_and_the_log_says_so():
    given = dict(NONE, batch_size=32, lr=0.5)
    recipe = resolve_recipe("seed", "cpu", given, synthetic=False)   # an explicit preset wins
    name, values, sources = recipe
    assert name == "seed" and values["batch_size"] == 32 and values["lr"] == 0.5
    assert values["optimizer"] == "adadelta" and sources["optimizer"] == "preset" and sources["lr"] == "flag"
    line = recipe.describe()
    assert line.startswith("Recipe: seed (batch_size=32 (flag), optimizer=adadelta, lr=0.5 (flag)")
    assert set(RECIPES["seed"]) == set(RECIPES["cpu"])            # every preset sets the same flags


def test_help_strings_are_written_from_the_presets():
    assert preset_help("batch_size") == "preset: 2560 seed, 64 cpu"
    assert preset_help("lr") == "preset: 1 seed, 0.001 cpu"
    assert preset_help("epochs") == "preset: 20 seed, 20 (2 on synthetic data) cpu"
    help_text = main.get_args_parser().format_help()
    for key in PRESET_FLAGS:                                     # every preset flag's help quotes the table
        assert preset_help(key) in " ".join(help_text.split()), key


def test_default_workers_by_device():
    assert default_workers("cpu", 2, 1) == 1
    assert default_workers("cuda", 16, 1) == 12 and default_workers("cuda", 16, 8) == 1
    assert default_workers("npu", 192, 8) == 12


def run(argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main.main(main.get_args_parser().parse_args(argv))
    return buf.getvalue()


def test_seed_recipe_trains_with_adadelta_on_cpu(tiny_data, tmp_path):
    out = run(["--data_path", tiny_data, "--recipe", "seed", "--batch_size", "16", "--stop_step", "3",
               "--output_dir", str(tmp_path), *TINY_MODEL])
    assert "Recipe: seed (batch_size=16 (flag), optimizer=adadelta, lr=1.0, lr_schedule=constant" in out
    ckpt = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    state = next(iter(ckpt["optimizer"]["state"].values()))
    assert set(state) == {"square_avg", "acc_delta", "step"}      # Adadelta's state
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == 1.0       # constant schedule, no warm-up


def test_ema_update_math():
    torch.manual_seed(0)
    model = CRNN(cnn_width=4, hidden_size=8)
    ema = EMA(model, decay=0.9)
    w0 = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)                                   # decay warms up: min(0.9, 2 / 11)
    d = 2 / 11
    avg = ema.module.state_dict()
    name = "cnn.conv0.weight"
    torch.testing.assert_close(avg[name], d * w0[name] + (1 - d) * model.state_dict()[name])
    for _ in range(200):
        ema.update(model)
    torch.testing.assert_close(avg[name], model.state_dict()[name], rtol=0, atol=1e-6)


def test_ema_is_saved_evaluated_and_exported(tiny_data, tmp_path):
    out = run(["--data_path", tiny_data, "--ema", "0.9", "--batch_size", "16", "--stop_step", "5", "--lr", "0.01",
               "--output_dir", str(tmp_path), *TINY_MODEL])
    assert "accuracy of the raw weights: " in out and "IIIT5K_lmdb (raw weights)" in out
    ckpt = load_training_checkpoint(str(tmp_path / "checkpoint.pth"))
    assert ckpt["ema"]["updates"] == 5
    name = "rnn.1.embedding.weight"
    assert not torch.equal(ckpt["ema"]["weights"][name], ckpt["model"][name])
    model = load_model(str(tmp_path / "checkpoint.pth"))[1]  # export / predict read the average
    torch.testing.assert_close(model.state_dict()[name], ckpt["ema"]["weights"][name])


def test_pinned_memory_on_accelerators_and_identical_batches(tiny_data):
    import warnings
    from datasets.loaders import LoaderConfig, eval_loader
    from utils.device import use_pinned_memory
    from utils.label_converter import LabelConverter
    import types
    assert use_pinned_memory(torch.device("cuda", 0)) and use_pinned_memory(types.SimpleNamespace(type="npu"))
    assert not use_pinned_memory(torch.device("cpu"))
    batches = {}
    for pin in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # on a CPU-only machine PyTorch says it cannot pin, and does not
            cfg = LoaderConfig(LabelConverter(), Width.fixed(100), max_label_len=26, batch_size=16, workers=1,
                               pin_memory=pin)
            loader = eval_loader(f"{tiny_data}/OTHER_lmdb", cfg, lambda *a: None)
            batches[pin] = list(loader)
        assert loader.pin_memory is pin
    for (a, la, ka, da), (b, lb, kb, db) in zip(batches[False], batches[True]):
        assert la == lb and ka == kb and da == db
        torch.testing.assert_close(a, b, rtol=0, atol=0)
