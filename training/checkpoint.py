"""A training run's checkpoint: the model file (inference/model_file.py) and everything the run needs to go on.

    {"model", <ModelFile.fields()>: "model_args", "alphabet", "img_w", "width_range", "width_scale", "reading",
     "optimizer", "lr_scheduler", "scaler", "rng", "ema",                       what the run needs to go on
     "epoch", "step", "global_step", "best_acc", "run"}

`epoch` and `step` say where training resumes (steps already done in that epoch; the sources' positions follow:
datasets/mixing.py). Weights are stored without DDP's `module.` and torch.compile's `_orig_mod.` prefixes. With
--ema, "ema" holds {"weights", "updates"} of the averaged model: evaluation, export, prediction and fine-tuning use
those weights, resuming uses both. `run` is the run's record (training/record.py). Each save of checkpoint.pth
keeps the file it replaces as checkpoint_prev.pth, the fallback of --resume auto when the newest holds NaN/inf.
The light shipped file (tools/export_weights.py) keeps the model file, the weights, "source" and "run".
"""
import os

import torch

from inference.model_file import ModelFile, read_torch_file, strip_prefixes
from utils.errors import UserError
from utils.files import write_atomically

REQUIRED_KEYS = ("model", "model_args", "alphabet")


def previous_path(path):
    """checkpoint.pth -> checkpoint_prev.pth: the save before the last one."""
    return f"{os.path.splitext(path)[0]}_prev.pth"


def save_checkpoint(state, path, keep_previous=False):
    """torch.save, atomically (utils/files.write_atomically). keep_previous: the file being replaced becomes
    previous_path(path), a fallback for --resume auto if the new one holds NaN/inf."""
    write_atomically(path, lambda f: torch.save(state, f), what="checkpoint",
                     advice=": free space, then continue with --resume auto",
                     before_replace=_keep_previous if keep_previous else None)


def _keep_previous(path):
    if not os.path.isfile(path):
        return
    prev = previous_path(path)
    link = f"{prev}.tmp{os.getpid()}"
    try:  # a hard link keeps `path` in place: at no moment is there no checkpoint.pth
        os.link(path, link)
        os.replace(link, prev)
    except OSError:  # a filesystem without hard links
        if os.path.exists(link):
            os.remove(link)
        os.replace(path, prev)


def load_training_checkpoint(path):
    """A checkpoint written by a run of this repo (to resume, evaluate, export or fine-tune from), its model file
    checked (ModelFile.from_fields reads it) -> the checkpoint with its weights' prefixes stripped."""
    ckpt = read_torch_file(path)
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise UserError(f"{path} is not a checkpoint of this repo (missing {', '.join(missing)})")
    if not isinstance(ckpt["model"], dict):
        raise UserError(f"{path}: 'model' is not a state_dict")
    ModelFile.from_fields(ckpt, path)
    ckpt["model"] = strip_prefixes(ckpt["model"])
    if "ema" in ckpt:
        ckpt["ema"]["weights"] = strip_prefixes(ckpt["ema"]["weights"])
    return ckpt
