"""One training step, the training epoch loop and evaluation. Plain values in, numbers out."""
import math
import time

import torch
from tqdm import tqdm

from inference.ctc_decoder import greedy_decode
from utils.errors import UserError
from utils.metrics import SmoothedValue, score


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


def format_eta(seconds):
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@torch.no_grad()
def evaluate(model, loader, alphabet, device, channels_last, progress=False, desc="eval", keep_predictions=False,
             second_decoder=None):
    """fp32 greedy-decode evaluation of this rank's shard (the reported protocol), and optionally the words
    `second_decoder` (e.g. beam search with the LM) reads from the same scores.

    -> {"correct", "total", "ned", "too_long", "skipped", "correct_second" (with second_decoder),
        "examples": [(gt, pred, conf)] (first 5),
        "predictions": [(lmdb index, gt, pred, conf[, second decoder's pred])] (all, with keep_predictions)}
    fp32 on purpose: the exported ONNX model is fp32, and offline accuracy must equal this one.
    """
    was_training = model.training
    model.eval()
    out = {"correct": 0, "total": 0, "ned": 0.0, "too_long": 0, "skipped": 0, "examples": [], "predictions": []}
    if second_decoder:
        out["correct_second"] = 0
    for images, labels, keys, dropped in tqdm(loader, desc=desc, disable=None if progress else True, leave=False,
                                              mininterval=2):
        out["skipped"] += dropped
        if images is None:
            continue
        logits = model(to_device(images, device, channels_last)).float().cpu()
        preds, confs = greedy_decode(logits, alphabet)
        seconds = second_decoder.decode(logits)[0] if second_decoder else [None] * len(preds)
        for key, gt, pred, conf, second in zip(keys, labels, preds, confs, seconds):
            ok, ned = score(pred, gt)
            if second is not None:
                out["correct_second"] += score(second, gt)[0]
            out["correct"] += ok
            out["total"] += 1
            out["ned"] += ned
            out["too_long"] += len(gt) > logits.shape[0]  # cannot be read: an error, kept in the denominator
            if len(out["examples"]) < 5:
                out["examples"].append((gt, pred, conf))
            if keep_predictions:
                out["predictions"].append((key, gt, pred, conf) + ((second,) if second is not None else ()))
    model.train(was_training)
    return out


class Throughput:
    """img/s over steps after the first `warmup` (compile / allocator warm-up excluded), as the recipe does."""

    def __init__(self, images_per_step, warmup=10):
        self.images_per_step, self.warmup = images_per_step, warmup
        self.steps, self.seconds, self.all_steps, self.all_seconds = 0, 0.0, 0, 0.0

    def update(self, step_seconds):
        self.all_steps += 1
        self.all_seconds += step_seconds
        if self.all_steps > self.warmup:
            self.steps += 1
            self.seconds += step_seconds

    @property
    def fps(self):
        steps, secs = (self.steps, self.seconds) if self.steps else (self.all_steps, self.all_seconds)
        return self.images_per_step * steps / secs if secs else 0.0


def train_one_epoch(step_runner, loader, epoch, start_step, steps_in_epoch, throughput, print_freq,
                    on_step, log, eta_steps_left, on_print=None):
    """Run steps start_step..steps_in_epoch-1 of `epoch`. `on_step(step)` is called after each step
    (validation, checkpoints, profiler) and returns True to stop early; `on_print(loss=, lr=, img_s=)`
    with each log line. -> (mean loss, stopped early?)"""
    loss_meter, data_meter, time_meter = SmoothedValue(), SmoothedValue(), SmoothedValue()
    pending = []  # this window's losses, still on the device: read at the log line, not every step

    def read_losses():
        step_runner.sync()
        for value in torch.stack(pending).tolist() if pending else []:
            if math.isfinite(value):  # NaN marks a skipped step
                loss_meter.update(value)
        pending.clear()

    step = start_step
    end = time.perf_counter()
    for images, labels, _, _ in loader:
        if step >= steps_in_epoch:
            break
        data_time = time.perf_counter() - end
        if images is not None:
            pending.append(step_runner(images, labels))
        step += 1
        log_line = step % print_freq == 0 or step == steps_in_epoch
        if log_line:  # waits for the device's queued steps: inside the step time, so that img/s is true
            read_losses()
        step_time = time.perf_counter() - end
        throughput.update(step_time)
        data_meter.update(data_time)
        time_meter.update(step_time)
        stop = on_step(step)
        if stop and not log_line:
            read_losses()
        if log_line or stop:
            lr = step_runner.optimizer.param_groups[0]["lr"]
            eta = format_eta(time_meter.avg * (eta_steps_left - (step - start_step)))
            img_s = throughput.images_per_step / max(time_meter.avg, 1e-9)
            log(f"Epoch: [{epoch}][{step:>{len(str(steps_in_epoch))}}/{steps_in_epoch}]  eta: {eta}  "
                f"loss: {loss_meter.avg:.4f} ({loss_meter.global_avg:.4f})  lr: {lr:.6f}  "
                f"img/s: {img_s:.1f}  data: {data_meter.avg:.4f}  time: {time_meter.avg:.4f}")
            if on_print:
                on_print(loss=loss_meter.avg, lr=lr, img_s=img_s)
        if stop:
            return loss_meter.global_avg, True
        end = time.perf_counter()
    read_losses()
    return (loss_meter.global_avg if loss_meter.count else math.nan), False
