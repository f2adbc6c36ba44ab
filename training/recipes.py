"""Training presets (--recipe): the seed's recipe for NPU/GPU, a CPU recipe for CPUs.

`auto` picks `seed` on an NPU or CUDA device and `cpu` on the CPU. Every flag
a preset sets can be given explicitly, which overrides that one value; the
start-up log prints the preset and where each value came from.

seed: the Ascend ModelZoo recipe (its published scripts): 2,560 images per
      device per step, Adadelta at lr 1.0 with no schedule or clipping, AMP
      with a static loss scale of 128, 20 epochs. Slow off the CTC plateau by
      design, not by a bug: at the start most conv and LSTM gradients of the
      length-averaged CTC loss are 1e-5..1e-3, where Adadelta's eps (1e-6)
      outweighs 0.1 x g^2, so its step is about the gradient itself (plain SGD
      at lr 1, no momentum), smaller than Adam's ~1e-3 per weight. The loss
      scale does not enter: gradients are unscaled before the optimizer.
cpu:  2 CPU cores do ~85 images/s here; at batch 2560 a step takes 30 s and
      Adadelta needs thousands of steps to leave the CTC plateau, so a 2-hour
      run would make ~240 updates. Batch 64 with Adam (1e-3, 200 warm-up steps,
      cosine to 1%) and gradient clipping reads 79% of real IIIT5K crops after
      600k images (README, Results).
"""
from typing import NamedTuple

RECIPES = {
    "seed": {"batch_size": 2560, "optimizer": "adadelta", "lr": 1.0, "lr_schedule": "constant",
             "warmup_steps": 0, "grad_clip": 0.0, "loss_scale": "128", "epochs": 20, "synth_epochs": 20},
    "cpu": {"batch_size": 64, "optimizer": "adam", "lr": 1e-3, "lr_schedule": "cosine",
            "warmup_steps": 200, "grad_clip": 5.0, "loss_scale": "dynamic", "epochs": 20, "synth_epochs": 2},
}
PRESET_FLAGS = tuple(k for k in RECIPES["seed"] if k != "synth_epochs")  # main.py flags a preset sets


class Recipe(NamedTuple):
    """A resolved preset: its name, {flag: value}, and {flag: 'preset' | 'flag'} (where each value came from)."""
    name: str
    values: dict
    sources: dict

    def describe(self):
        """The start-up log line: every value the preset set, and which ones a flag overrode."""
        parts = [f"{k}={v}" + (" (flag)" if self.sources[k] == "flag" else "") for k, v in self.values.items()]
        return f"Recipe: {self.name} (" + ", ".join(parts) + ")"


def resolve_recipe(name, device_type, explicit, synthetic):
    """-> Recipe. explicit: the preset flags the user gave ({flag: value}, None for not given); synthetic:
    whether training runs on the synthetic default data (a preset's synth_epochs then replace its epochs)."""
    if name == "auto":
        name = "cpu" if device_type == "cpu" else "seed"
    preset = dict(RECIPES[name])
    synth_epochs = preset.pop("synth_epochs")
    if synthetic:
        preset["epochs"] = synth_epochs
    values, sources = {}, {}
    for key, default in preset.items():
        given = explicit.get(key)
        values[key], sources[key] = (default, "preset") if given is None else (given, "flag")
    return Recipe(name, values, sources)


def preset_help(key):
    """'preset: 2560 seed, 64 cpu' for the help of the flag a preset sets, written from RECIPES."""
    parts = []
    for name, preset in RECIPES.items():
        text = f"{preset[key]:g}" if isinstance(preset[key], float) else str(preset[key])
        if key == "epochs" and preset["synth_epochs"] != preset["epochs"]:
            text += f" ({preset['synth_epochs']} on synthetic data)"
        parts.append(f"{text} {name}")
    return "preset: " + ", ".join(parts)


def default_workers(device_type, cpu_count, local_world_size):
    """Loader processes per device: one on the CPU (the training owns the cores), else the node's cores
    shared by its devices, one left for the training process, at most 12."""
    if device_type == "cpu":
        return 1
    return max(1, min(12, cpu_count // max(1, local_world_size) - 1))
