"""Optimizers and the per-step learning-rate schedule."""
import math

import torch

from utils.errors import UserError


def build_optimizer(name, params, lr, weight_decay, device):
    """One multi-tensor update per step, not one per parameter: fused Adam/AdamW kernels on CUDA, foreach
    elsewhere. On CUDA the step count lives on the device too (capturable), so that a skipped step can be undone
    there without a host read (training/bad_steps.py)."""
    cuda = device.type == "cuda"
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, weight_decay=weight_decay, **({"fused": True} if cuda else {"foreach": True}))
    if name == "adadelta":  # the recipe's optimizer (lr 1.0); rho and eps are torch's defaults, as in the seed
        return torch.optim.Adadelta(params, lr=lr, rho=0.9, eps=1e-6, weight_decay=weight_decay, foreach=True,
                                    capturable=cuda)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay, foreach=True)
    raise UserError(f"unknown --optimizer {name!r} (adam, adamw, adadelta, sgd)")


def build_scheduler(optimizer, schedule, total_steps, warmup_steps, final_lr_ratio=0.01):
    """Linear warm-up, then cosine decay to final_lr_ratio x lr at total_steps (or constant)."""
    def factor(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return final_lr_ratio + (1 - final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
