"""One training step, read top to bottom: forward, fp32 CTC loss, scaled backward, clipping, the optimizer and
schedule step (undone on the device where the step was bad: training/bad_steps.py), the weight average."""
import torch

from training.bad_steps import BadSteps


def ctc_loss(logits, targets, target_lengths):
    """CTC in fp32 whatever the autocast dtype: log-softmax and the loss are unstable in fp16/bf16."""
    log_probs = logits.float().log_softmax(2)                     # [T, B, C]
    input_lengths = torch.full((log_probs.shape[1],), log_probs.shape[0], dtype=torch.int32)
    return torch.nn.functional.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0,
                                        reduction="mean", zero_infinity=True)


class TrainStep:
    """`step(images, labels)` -> the batch's loss, a 0-dim fp32 tensor left on the device (NaN for a skipped step),
    so that the host runs ahead of the device; `sync()` reads the bad-step counts (BadSteps.sync)."""

    def __init__(self, model, optimizer, scheduler, scaler, converter, placement, *, grad_clip, max_bad_steps, ema=None,
                 log=print):
        self.model, self.optimizer, self.scheduler, self.scaler = model, optimizer, scheduler, scaler
        self.converter, self.placement, self.grad_clip, self.ema = converter, placement, grad_clip, ema
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.bad_steps = BadSteps(optimizer, scheduler, self.params, max_bad_steps, placement.device, log)

    def __call__(self, images, labels):
        images = self.placement.inputs(images)
        targets, lengths = self.converter.encode(labels)  # lengths stay on the host: CTC reads them there
        if self.placement.device.type == "cuda":
            targets = targets.pin_memory()  # a pageable copy would wait for the queued kernels
        targets = targets.to(self.placement.device, non_blocking=True)
        with self.placement.autocast():
            logits = self.model(images)                              # [B, 1, 32, W] -> [T, B, C]
        loss = ctc_loss(logits, targets, lengths)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip or float("inf"))
        ok = torch.isfinite(loss) & torch.isfinite(norm)
        if self.bad_steps.count(ok):                       # False only for a bad first step (decided on the host)
            before = self.bad_steps.copy()
            self.optimizer.step()
            self.scheduler.step()
            self.bad_steps.undo_where_bad(ok, before)      # a bad step leaves weights and moments as they were
        self.scaler.update()  # backs the fp16 scale off after an overflow (its own check, on the device)
        if self.ema:
            self.ema.update(self.model)  # after a bad step the weights are as before: a harmless update
        return torch.where(ok, loss.detach(), torch.nan)

    def sync(self):
        self.bad_steps.sync()

    @property
    def bad_total(self):
        """Bad steps read by sync() so far."""
        return self.bad_steps.total
