"""One training step: forward, fp32 CTC loss, scaled backward, clipping and the optimizer, with no host read."""
import torch

from utils.errors import UserError


def ctc_loss(criterion, logits, targets, target_lengths):
    """CTC in fp32 whatever the autocast dtype: log-softmax and the loss are unstable in fp16/bf16."""
    log_probs = logits.float().log_softmax(2)                     # [T, B, C]
    input_lengths = torch.full((log_probs.shape[1],), log_probs.shape[0], dtype=torch.int32)
    return criterion(log_probs, targets, input_lengths, target_lengths)


def to_device(images, device, channels_last):
    images = images.to(device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def autocast(device, dtype):
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


class StepRunner:
    """Forward, fp32 CTC loss, scaled backward, clipping, optimizer and scheduler step, with no host read.

    A step whose loss or gradient is not finite (for fp16 also a GradScaler overflow) is skipped on the
    device: the optimizer steps anyway and its parameters and state are put back where the step was bad.
    The bad-step counters stay on the device too; `sync()` reads them at the log lines (and before a
    checkpoint is written): it warns, moves the schedule back by the skipped steps, so that it counts real
    updates only, and stops the run after `max_bad_steps` bad steps in a row (found at that read).
    """

    def __init__(self, model, criterion, optimizer, scheduler, scaler, converter, device,
                 dtype, channels_last, grad_clip, max_bad_steps, ema=None):
        self.model, self.criterion, self.optimizer = model, criterion, optimizer
        self.scheduler, self.scaler, self.converter = scheduler, scaler, converter
        self.device, self.dtype, self.channels_last = device, dtype, channels_last
        self.grad_clip, self.max_bad_steps, self.ema = grad_clip, max_bad_steps, ema
        self.params = [p for p in model.parameters() if p.requires_grad]
        # [bad steps in all, bad steps in a row now, longest such run]
        self._bad = torch.zeros(3, dtype=torch.int64, device=device)
        self.bad_total = 0
        self._never_stepped = 0  # bad steps that did not step the scheduler (see _step_unless_bad)

    def __call__(self, images, labels):
        """-> loss (0-dim fp32 tensor on the device; NaN for a skipped step)."""
        images = to_device(images, self.device, self.channels_last)
        targets, lengths = self.converter.encode(labels)  # lengths stay on the host: CTC reads them there
        if self.device.type == "cuda":
            targets = targets.pin_memory()  # a pageable copy would wait for the queued kernels
        targets = targets.to(self.device, non_blocking=True)
        with autocast(self.device, self.dtype):
            logits = self.model(images)
        loss = ctc_loss(self.criterion, logits, targets, lengths)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip or float("inf"))
        ok = torch.isfinite(loss) & torch.isfinite(norm)
        stepped = self._step_unless_bad(ok)
        self.scaler.update()  # backs the fp16 scale off after an overflow (its own check, on the device)
        if stepped:
            self.scheduler.step()
        if self.ema:
            self.ema.update(self.model)  # after a bad step the weights are as before: a harmless update
        bad = (~ok).long()
        self._bad[0] += bad
        self._bad[1] = (self._bad[1] + bad) * bad
        self._bad[2] = torch.maximum(self._bad[2], self._bad[1])
        return torch.where(ok, loss.detach(), torch.nan)

    @torch.no_grad()
    def _step_unless_bad(self, ok):
        """optimizer.step(), undone on the device where `ok` is false. -> whether step() ran."""
        if not self.optimizer.state:
            # The first step creates the optimizer's state: nothing to put back yet, so decide on the host
            # (the one read of a run).
            if not bool(ok):
                self._never_stepped += 1
                return False
            self.optimizer.step()
            return True
        kept = [p for p in self.params if p.grad is not None]
        kept += [v for p in kept for v in self.optimizer.state[p].values() if torch.is_tensor(v)]
        before = torch._foreach_clone(kept)  # one multi-tensor copy instead of one per tensor
        self.optimizer.step()
        for now, old in zip(kept, before):
            torch.where(ok, now, old, out=now)
        return True

    def sync(self):
        """Read the bad-step counters (one small host transfer): warn, rewind the schedule, maybe stop."""
        total, _, longest = self._bad.tolist()
        new, self.bad_total = total - self.bad_total, total
        rewind, self._never_stepped = new - self._never_stepped, 0
        if rewind:  # scheduler.step() ran for these steps: move it back so that it counts real updates only
            self.scheduler.last_epoch -= rewind + 1
            self.scheduler.step()
        if new:
            print(f"warning: non-finite loss or gradient, {'step' if new == 1 else f'{new} steps'} skipped "
                  f"({total} so far)", flush=True)
        if longest >= self.max_bad_steps:
            raise UserError(f"{longest} steps in a row had a non-finite loss or gradient: "
                            "stopping (lower --lr, check the data, or raise --max_bad_steps)")
