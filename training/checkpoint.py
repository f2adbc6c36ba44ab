"""The one checkpoint schema, written atomically, read with clear errors.

    {"model", "optimizer", "lr_scheduler", "scaler", "epoch", "step", "global_step",
     "best_acc", "model_args", "alphabet", "img_w", "width_range", "rng"[, "ema"]}

`epoch` and `step` say where training resumes (steps already done in that
epoch; the sampler replays the rest of that epoch's order). `width_range` is
the [min_w, max_w] of the own-width rule the run trained with ([w, w]: a fixed
width w; absent in older checkpoints, trained at the fixed `img_w`); `img_w`
is the fixed width of the recipe's ONNX/.om chain. Weights are stored
without DDP's `module.` prefix. Each save of checkpoint.pth keeps the file it
replaces as checkpoint_prev.pth, the fallback of --resume auto when the newest
holds NaN/inf. With --ema, "ema" holds {"weights", "updates"}
of the averaged model: evaluation, export, prediction and fine-tuning use those
weights, resuming uses both. The shipped model (weights/) keeps only "model",
"model_args", "alphabet" and "img_w", in fp16.
"""
import errno
import glob
import os
import random

import numpy as np
import torch

from models.crnn import check_model_args
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


def previous_path(path):
    """checkpoint.pth -> checkpoint_prev.pth: the save before the last one."""
    return f"{os.path.splitext(path)[0]}_prev.pth"


def save_checkpoint(state, path, keep_previous=False):
    """Write to a temp file, flush and fsync, then rename: a crash never leaves a torn file, and a
    failed write (disk full) leaves the previous checkpoint as it was. keep_previous: the file being
    replaced becomes previous_path(path), a fallback for --resume auto if the new one holds NaN/inf."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and os.path.isfile(path):
            _keep_previous(path)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        cause = _os_error(e)
        if cause is not None:
            hint = "the disk is full" if cause.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "the write failed"
            raise UserError(f"cannot write checkpoint {path}: {cause.strerror or cause} ({hint}; the previous "
                            "checkpoint is intact: free space, then continue with --resume auto)") from None
        raise
    dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _keep_previous(path):
    prev = previous_path(path)
    link = f"{prev}.tmp{os.getpid()}"
    try:  # a hard link keeps `path` in place: at no moment is there no checkpoint.pth
        os.link(path, link)
        os.replace(link, prev)
    except OSError:  # a filesystem without hard links
        if os.path.exists(link):
            os.remove(link)
        os.replace(path, prev)


def _os_error(e):
    """The OSError behind e, if any: torch.save reports a failed write as a RuntimeError raised
    while it handles the OSError."""
    while e is not None and not isinstance(e, OSError):
        e = e.__cause__ or e.__context__
    return e


def load_checkpoint(path):
    """Load on CPU; any unreadable file becomes one UserError naming it."""
    if os.path.isdir(path):
        raise UserError(f"checkpoint {path} is a folder, not a checkpoint file (give the .pth inside it)")
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated / foreign files
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        if "Weights only load failed" in reason:  # torch's advice about weights_only does not apply here
            reason = "not a torch.save archive"
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
    check_metadata(ckpt, path)
    ckpt["model"] = strip_prefixes(ckpt["model"])
    if "ema" in ckpt:
        ckpt["ema"]["weights"] = strip_prefixes(ckpt["ema"]["weights"])
    return ckpt


def check_metadata(ckpt, path):
    """model_args, alphabet and img_w describe a CRNN this code can build (else one clear error)."""
    try:
        check_model_args(ckpt.get("model_args"))
    except ValueError as e:
        raise UserError(f"{path}: model_args {str(ckpt.get('model_args'))[:120]} is not a CRNN configuration: "
                        f"{str(e)[:200]}") from None
    if not isinstance(ckpt.get("alphabet"), str) or not ckpt["alphabet"]:
        raise UserError(f"{path}: its alphabet is missing or not text")
    img_w = ckpt.get("img_w", 100)
    if not isinstance(img_w, int) or not 16 <= img_w <= 4096:
        raise UserError(f"{path}: img_w {img_w!r} is not an input width in 16..4096")
    width_range = ckpt.get("width_range", [img_w, img_w])
    if (not isinstance(width_range, (list, tuple)) or len(width_range) != 2
            or not all(isinstance(v, int) and 16 <= v <= 4096 for v in width_range) or width_range[0] > width_range[1]):
        raise UserError(f"{path}: width_range {str(width_range)[:60]} is not [min_w, max_w] in 16..4096")
    if not isinstance(ckpt.get("model"), dict):
        raise UserError(f"{path}: 'model' is not a state_dict")


def inference_weights(ckpt):
    """The weights to evaluate, export or fine-tune from: the average with --ema, else the model's."""
    return ckpt["ema"]["weights"] if "ema" in ckpt else ckpt["model"]


def with_output_layer_for(weights, old_alphabet, new_alphabet, fresh):
    """A state_dict for the same network with another alphabet: every layer kept but the output layer (the last
    Linear, rnn.1.embedding), whose rows are the old ones for the blank and for each character both alphabets
    have, and `fresh`'s (a newly built model's) for the others."""
    out = dict(weights)
    old_row = {c: i + 1 for i, c in enumerate(old_alphabet)}
    for name in ("rnn.1.embedding.weight", "rnn.1.embedding.bias"):
        new = fresh[name].clone()
        new[0] = weights[name][0].to(new.dtype)
        for i, c in enumerate(new_alphabet, 1):
            if c in old_row:
                new[i] = weights[name][old_row[c]].to(new.dtype)
        out[name] = new
    return out


def non_finite_tensors(tree, prefix=""):
    """Names of the floating-point tensors holding NaN or inf in nested dicts / lists of tensors."""
    if isinstance(tree, torch.Tensor):
        return [prefix] if tree.is_floating_point() and not bool(torch.isfinite(tree).all()) else []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else []
    return [name for k, v in items for name in non_finite_tensors(v, f"{prefix}.{k}" if prefix else str(k))]


def load_model_weights(model, state_dict, path):
    bad = non_finite_tensors(state_dict)
    if bad:
        raise UserError(f"{path} has non-finite weights (NaN or inf) in {len(bad)} tensors (first: {bad[0]}): the "
                        "model is unusable, e.g. a diverged run; use an earlier checkpoint")
    try:
        model.load_state_dict(strip_prefixes(state_dict))
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise UserError(f"{path} does not fit this model (different architecture or alphabet): {first[:200]}") from None


def rng_state():
    """Every RNG a training step may draw from, in types that load with weights_only=True."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
            "python": random.getstate()}


def set_rng_state(state):
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def find_resumable(output_dir, log=print, remove_stale=True):
    """--resume auto: (path, loaded checkpoint) of the readable training checkpoint (*.pth with
    optimizer state) in output_dir that is furthest along, or (None, None). Unreadable files and
    files with NaN/inf weights or optimizer state are skipped with a warning (checkpoint_prev.pth is
    then the fallback); temp files left by a crash in the middle of a save are removed (remove_stale:
    only by the run that holds the folder, utils/run_lock.py, never by an --eval_only beside it)."""
    for stale in glob.glob(os.path.join(output_dir, "*.pth.tmp*")) if remove_stale else []:
        log(f"removing {stale}: an unfinished checkpoint write from a crashed run")
        try:
            os.remove(stale)
        except FileNotFoundError:  # another rank of this run removed it first
            pass
    best = None
    for path in sorted(glob.glob(os.path.join(output_dir, "*.pth"))):
        try:
            ckpt = load_training_checkpoint(path)
        except UserError as e:
            log(f"warning: --resume auto skips {path}: {e}")
            continue
        if "optimizer" not in ckpt:
            continue
        bad = non_finite_tensors({"model": ckpt["model"], "ema": ckpt.get("ema", {}),
                                  "optimizer": ckpt["optimizer"].get("state", {})})
        if bad:
            log(f"warning: --resume auto skips {path}: NaN or inf in {len(bad)} tensors (first: {bad[0]}), "
                "e.g. a diverged run")
            continue
        key = (ckpt.get("global_step", 0), os.path.getmtime(path))
        if best is None or key > best[0]:
            best = (key, path, ckpt)
    return best[1:] if best else (None, None)


def start_checkpoint(resume, finetune, output_dir, eval_only, log):
    """-> (loaded checkpoint or None, its path): --resume (or auto) or --finetune."""
    if resume == "auto":
        resume, ckpt = find_resumable(output_dir, log, not eval_only) if os.path.isdir(output_dir) else (None, None)
        log(f"--resume auto: continuing from {resume}" if resume else
            f"--resume auto: no checkpoint in {output_dir}, starting from scratch")
        if resume is None and eval_only:
            raise UserError(f"--eval_only --resume auto: no readable checkpoint in {output_dir}")
        return ckpt, resume
    source = resume or finetune
    return (load_training_checkpoint(source) if source else None), source
