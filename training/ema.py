"""Exponential moving average of the weights (--ema), the model that is evaluated and exported.

The average covers parameters and BatchNorm statistics. Its decay warms up as
min(decay, (1 + n) / (10 + n)) after n updates, so that early averages are not
dominated by the random initial weights.
"""
import copy

import torch

from utils.distributed import unwrap


class EMA:
    def __init__(self, model, decay):
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.updates = decay, 0

    @torch.no_grad()
    def update(self, model):
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        floats, targets = [], []
        for avg, new in zip(self.module.state_dict().values(), unwrap(model).state_dict().values()):
            if avg.dtype.is_floating_point:
                floats.append(avg)
                targets.append(new)
            else:
                avg.copy_(new)  # BatchNorm's step counter
        torch._foreach_lerp_(floats, targets, 1.0 - d)

    def state_dict(self):
        return {"weights": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state):
        self.module.load_state_dict(state["weights"])
        self.updates = state["updates"]
