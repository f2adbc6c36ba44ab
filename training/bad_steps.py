"""Skipping a bad training step on the device, without waiting for the device.

A step whose loss or gradient norm is not finite (with fp16 also a GradScaler overflow, whose unscaled
gradients hold inf) must leave the weights as they were. The plain way, `if not torch.isfinite(loss):
skip`, reads a value on the host, which waits for every kernel queued on the device: on a GPU the host
then stops running ahead of the device, once per step. So the step always runs, and is undone on the
device where it was bad:

1. `count(ok)` counts the step on the device (bad steps in all, in a row now, the longest row), then
   `copy()` copies the parameters and the optimizer's state (one multi-tensor clone,
   `torch._foreach_clone`, instead of one copy per tensor), the step runs `optimizer.step()` and
   `scheduler.step()` (training/step.py), and `undo_where_bad(ok, copy)` writes the copies back where
   the 0-dim bool `ok` is false (`torch.where(ok, new, old, out=new)`). Nothing is read on the host.
   The run's first step creates the optimizer's state, so there is nothing to copy yet: that one step
   is decided on the host (`count` returns False for a bad first step, which is not taken).
2. `sync()` reads the counts (one small transfer) at the log lines and before a checkpoint is written.
   The host ran `scheduler.step()` for every step, bad ones included, since it could not know; `sync()`
   moves the schedule back by the bad steps (`last_epoch` minus them, then one `step()` to set the
   learning rate), so that the schedule counts real updates only, as a resumed run will. Rank 0 prints
   a warning, and every rank stops the run after `max_bad_steps` bad steps in a row.
"""
import torch

from utils.errors import UserError


class BadSteps:
    """The bookkeeping that undoes a bad optimizer and schedule step on the device (training/step.py runs them)."""

    def __init__(self, optimizer, scheduler, params, max_bad_steps, device, log=print):
        self.optimizer, self.scheduler, self.params, self.max_bad_steps = optimizer, scheduler, params, max_bad_steps
        self.log = log
        self._counts = torch.zeros(3, dtype=torch.int64, device=device)  # in all, in a row now, longest row
        self.total = 0             # bad steps read by sync() so far
        self._decided_on_host = 0  # bad steps that never ran scheduler.step() (the first step of a run)

    @torch.no_grad()
    def count(self, ok):
        """Count the step by the 0-dim tensor `ok`. -> whether to take it (False only for a bad first step)."""
        bad = (~ok).long()
        self._counts[0] += bad
        self._counts[1] = (self._counts[1] + bad) * bad
        self._counts[2] = torch.maximum(self._counts[2], self._counts[1])
        if not self.optimizer.state and not bool(ok):  # the first step: no state to put back, so decided here
            self._decided_on_host += 1
            return False
        return True

    @torch.no_grad()
    def copy(self):
        """-> (the tensors the optimizer's step changes, copies of them); empty before the optimizer has state."""
        if not self.optimizer.state:
            return [], []
        kept = [p for p in self.params if p.grad is not None]
        kept += [v for p in kept for v in self.optimizer.state[p].values() if torch.is_tensor(v)]
        return kept, torch._foreach_clone(kept)

    @torch.no_grad()
    def undo_where_bad(self, ok, copy):
        for now, old in zip(*copy):
            torch.where(ok, now, old, out=now)

    def sync(self):
        """Read the counts: warn, move the schedule back by the bad steps it counted, maybe stop the run."""
        total, _, longest = self._counts.tolist()
        new, self.total = total - self.total, total
        rewind, self._decided_on_host = new - self._decided_on_host, 0
        if rewind:
            self.scheduler.last_epoch -= rewind + 1
            self.scheduler.step()
        if new:
            self.log(f"warning: non-finite loss or gradient, {'step' if new == 1 else f'{new} steps'} skipped "
                     f"({total} so far)")
        if longest >= self.max_bad_steps:
            raise UserError(f"{longest} steps in a row had a non-finite loss or gradient: "
                            "stopping (lower --lr, check the data, or raise --max_bad_steps)")
