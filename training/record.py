"""What a training run was: its command, resolved arguments and recipe, code, software, device and data.

main.py writes it to <output_dir>/run.json when training starts and into every checkpoint ("run"), and
tools/export_weights.py keeps it in a shipped file, so a model can always say how it was made
(`python -m tools.export_weights --describe weights/crnn.pth` prints the commands that made it).
"""
import json
import os
import platform
import subprocess
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILE = "run.json"


def git_commit():
    """The checkout's commit ("+changes" when tracked files differ from it), or "unknown" outside git."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode:
            return "unknown"
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def make_record(args, recipe, device, world_size, data, origin=None):
    """-> a JSON-safe dict. `recipe` is (name, resolved hyper-parameters); `data` describes the training and
    validation data (lmdb_identity / the generator's identity); `origin` the checkpoint the weights came from
    ({"from", "how": resume | finetune, "run": its own record or None})."""
    name, values, sources = recipe
    record = {"command": " ".join(["python"] + [os.path.relpath(sys.argv[0], ROOT) if sys.argv else "main.py"]
                                + sys.argv[1:]),
            "args": {k: v for k, v in vars(args).items()}, "recipe": {"name": name, "values": values, "from_flags": sorted(k for k, v in sources.items() if v == "flag")},
            "commit": git_commit(), "torch": torch.__version__, "python": platform.python_version(),
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
                  *([f"   - weights from: {origin['from']} ({origin['how']})"] if origin else []),
                  "   - command:", "", f"     ```bash\n     {r.get('command', '?')}\n     ```", ""]
    return lines or ["(no run record: the file was made before runs recorded themselves)"]
