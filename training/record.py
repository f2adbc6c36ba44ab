"""What a training run was: its command, resolved arguments and recipe, code, software, device and data.

main.py writes it to <output_dir>/run.json when training starts and into every checkpoint ("run"), and
tools/export_weights.py keeps it in a shipped file, so a model can always say how it was made
(`python -m tools.export_weights --describe weights/crnn.pth` prints the commands that made it).
"""
import json
import os
import platform
import sys
import time

import torch

from utils.version import checkout_commit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILE = "run.json"


def make_record(args, recipe, device, world_size, data, origin=None):
    """-> a JSON-safe dict. `recipe` is training/recipes.Recipe (name, resolved values, where each came from);
    `data` describes the training and validation data (lmdb_identity / the generator's identity / the sources);
    `origin` the checkpoint the weights came from ({"from", "how": resume | finetune, "run": its own record})."""
    command = ["python", os.path.relpath(sys.argv[0], ROOT) if sys.argv else "main.py", *sys.argv[1:]]
    record = {"command": " ".join(command), "args": dict(vars(args)),
              "recipe": {"name": recipe.name, "values": recipe.values,
                         "from_flags": sorted(k for k, v in recipe.sources.items() if v == "flag")},
              "commit": checkout_commit(), "torch": torch.__version__, "python": platform.python_version(),
              "device": describe_device(device), "world_size": world_size, "data": data, "origin": origin,
              "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    return json.loads(json.dumps(record, default=str))  # plain types only: checkpoints load with weights_only


def describe_device(device):
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    return str(device)


def write_record(record, output_dir):
    path = os.path.join(output_dir, FILE)
    with open(f"{path}.tmp", "w") as f:
        json.dump(record, f, indent=1, default=str)
    os.replace(f"{path}.tmp", path)
    return path


def describe_record(record):
    """Markdown lines: each run behind a model, earliest first (a fine-tune's or a resume's origin before it),
    with its command, commit, device and data."""
    chain = []
    while record:
        chain.append(record)
        record = (record.get("origin") or {}).get("run")
    lines = []
    for n, r in enumerate(reversed(chain), 1):
        train = r.get("data", {}).get("train", {})
        data = (f"{train['stream']} streamed images" if "stream" in train else
                f"{train.get('lmdb', '?')} ({train.get('num_samples', '?')} samples)")
        if "generator" in train:
            data += f", generator {train['generator']} (digest {train.get('digest', '?')}, assets {train.get('assets')})"
        for source in train.get("sources", [])[1:]:  # real crops beside the synthetic data
            data += (f"; {source['name']} ({source.get('num_samples', '?')} samples, {100 * source['share']:.1f}% of "
                     f"each batch{', augmented' if source.get('augment') else ''})")
        seen = r.get("images_seen") or {}
        if len(seen) > 1:
            data += "; images seen: " + ", ".join(f"{name} {n:,}" for name, n in seen.items())
        origin = r.get("origin") or {}
        lines += [f"{n}. started {r.get('started', '?')} on {r.get('device', '?')} x {r.get('world_size', 1)}, "
                  f"commit `{r.get('commit', 'unknown')}`, torch {r.get('torch', '?')}",
                  f"   - data: {data}",
                  *([f"   - weights from: {origin['from']} ({origin['how']}"
                       + (f"; its reading settings kept: {origin['reading_kept']}" if origin.get("reading_kept") else "")
                       + ")"] if origin else []),
                  "   - command:", "", f"     ```bash\n     {r.get('command', '?')}\n     ```", ""]
    return lines or ["(no run record: the file was made before runs recorded themselves)"]
