"""What resuming needs besides the checkpoint (training/checkpoint.py): the newest good checkpoint of a folder
(--resume auto), the random number generators' state, and the weights of a model for another alphabet.
"""
import glob
import os
import random

import numpy as np
import torch

from inference.model_file import non_finite_tensors
from training.checkpoint import load_training_checkpoint
from utils.errors import UserError


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
