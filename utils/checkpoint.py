"""The one checkpoint schema, written atomically, read with clear errors.

    {"model", "optimizer", "lr_scheduler", "scaler", "epoch", "step", "global_step",
     "best_acc", "model_args", "alphabet"}

`epoch` and `step` say where training resumes (steps already done in that
epoch). Weights are stored without DDP's `module.` prefix.
"""
import os

import torch

from utils.errors import UserError

REQUIRED_KEYS = ("model", "model_args", "alphabet")


def unwrap(model):
    """The bare network under DDP / torch.compile wrappers."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def strip_prefixes(state_dict):
    out = {}
    for k, v in state_dict.items():
        for prefix in ("module.", "_orig_mod."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def save_checkpoint(state, path):
    """Write to a temp file, flush and fsync, then rename: a crash never leaves a torn file."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_checkpoint(path):
    """Load on CPU; any unreadable file becomes one UserError naming it."""
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated / foreign files
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot read checkpoint {path}: corrupt, truncated or not a PyTorch file ({reason})") from None
    if not isinstance(ckpt, dict):
        raise UserError(f"{path} is not a checkpoint (a {type(ckpt).__name__}, expected a dict)")
    return ckpt


def load_training_checkpoint(path):
    """A checkpoint written by this repo (resume / eval / export)."""
    ckpt = load_checkpoint(path)
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise UserError(f"{path} is not a checkpoint of this repo (missing {', '.join(missing)})")
    ckpt["model"] = strip_prefixes(ckpt["model"])
    return ckpt


def load_model_weights(model, state_dict, path):
    try:
        model.load_state_dict(strip_prefixes(state_dict))
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise UserError(f"{path} does not fit this model (different architecture or alphabet): {first[:200]}") from None
