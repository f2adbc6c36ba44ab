"""The training run of main.py. A `Trainer` holds the model, its optimizer, schedule, AMP scaler and weight
average, where the run is, and the loop: steps (training/step.py), log lines, periodic validation and
checkpoints, signals and the clock, and the recipe's FPS / Accuracy lines.

    trainer = Trainer(model, loader, validation, config, placement=placement, converter=converter,
                      model_file=model_file, record=record, log=print)
    trainer.resume(ckpt, path)    # a checkpoint with optimizer state (--resume)
    best_acc = trainer.fit()
"""
import contextlib
import math
import os
import time
from dataclasses import dataclass

import torch

from training.curves import MetricsLog
from training.checkpoint import save_checkpoint
from training.ema import EMA
from training.optim import build_optimizer, build_scheduler
from training.profiling import Profiler
from training.record import write_record
from training.resume import rng_state, set_rng_state
from training.step import TrainStep
from utils import distributed as dist
from utils import signals
from utils.device import flatten_lstms, make_scaler
from utils.errors import UserError
from utils.metrics import SmoothedValue, Throughput, format_eta


@dataclass(frozen=True)
class TrainConfig:
    """Every value the loop reads: the resolved recipe and main.py's run-control flags, as plain values (their
    defaults are main.py's parser's)."""
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    lr_schedule: str
    warmup_steps: int
    grad_clip: float
    loss_scale: str
    lr_scaling: str
    weight_decay: float
    ema: float
    max_bad_steps: int
    compile: bool
    max_step: int
    stop_step: int
    time_limit: float
    val_freq: int
    save_every_steps: int
    print_freq: int
    profiling: str
    start_step: int
    output_dir: str


class Trainer:
    """`validation(model, name_suffix)` evaluates every validation set and returns the sample-weighted accuracy
    (training/evaluate.Validation); every checkpoint carries `model_file` (inference/model_file.py) and `record`
    (training/record.py) besides the training state."""

    def __init__(self, model, loader, validation, config, *, placement, converter, model_file, record, log):
        c = self.config = config
        self.model, self.loader, self.validation, self.log = model, loader, validation, log
        self.model_file, self.record = model_file, record
        self.world = dist.get_world_size()
        self.steps_per_epoch = min(len(loader), c.max_step if c.max_step is not None else len(loader))
        self.total_steps = c.epochs * self.steps_per_epoch if c.stop_step is None else \
            min(c.epochs * self.steps_per_epoch, c.stop_step)
        self.lr = c.lr * (c.batch_size * self.world / 64 if c.lr_scaling == "linear" else 1)
        self.optimizer = build_optimizer(c.optimizer, model.parameters(), self.lr, c.weight_decay, placement.device)
        self.scheduler = build_scheduler(self.optimizer, c.lr_schedule, c.epochs * self.steps_per_epoch,
                                         c.warmup_steps)
        self.scaler = make_scaler(placement.device, placement.dtype,
                                  None if c.loss_scale == "dynamic" else float(c.loss_scale))
        self.ema = EMA(model, c.ema) if c.ema else None
        if self.ema:  # a deep copy's LSTM weights are not one cuDNN chunk: each evaluation would copy and warn
            flatten_lstms(self.ema.module)
        step_model = dist.wrap_model(model, placement.device)
        if c.compile:  # the step's module only: checkpoints and evaluation keep the plain model (no _orig_mod.)
            step_model = torch.compile(step_model)
        self.step_fn = TrainStep(step_model, self.optimizer, self.scheduler, self.scaler, converter, placement,
                                 grad_clip=c.grad_clip, max_bad_steps=c.max_bad_steps, ema=self.ema, log=log)
        self.profiler = Profiler(c.profiling, placement.device, c.start_step, c.stop_step, c.output_dir)
        self.epoch, self.step, self.global_step, self.best_acc = 0, 0, 0, 0.0
        self.resumed = False
        self.signal = 0

    def resume(self, ckpt, path):
        """Continue from a checkpoint of this repo with optimizer state."""
        state = {k: ckpt[k] for k in ("epoch", "step", "global_step", "best_acc")}
        if state["global_step"] >= self.total_steps or state["epoch"] >= self.config.epochs:
            raise UserError(f"{path} has already done {state['global_step']} steps ({state['epoch']} epochs) of the "
                            f"{self.total_steps} this run asks for: nothing to train (raise --epochs or --stop_step, or "
                            "evaluate it with --eval_only)")
        self.epoch, self.step, self.global_step, self.best_acc = (state[k] for k in state)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["lr_scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        if self.ema and "ema" in ckpt:
            self.ema.load_state_dict(ckpt["ema"])
        if "rng" in ckpt:
            set_rng_state(ckpt["rng"])
        self.resumed = True
        self.log(f"Resumed {path} at epoch {self.epoch}, step {self.step} (global step {self.global_step})")

    def fit(self):
        """Train to the end (or a stop), validating and saving. -> the best validation accuracy."""
        c = self.config
        latest, earliest = dist.max_over_ranks([self.global_step, -self.global_step])
        if latest != -earliest:  # e.g. --resume auto on several nodes, each with its own --output_dir
            raise UserError(f"the ranks start at different steps ({int(-earliest)} to {int(latest)}): every rank must "
                            "load the same checkpoint; on several nodes put --output_dir on a filesystem they all see")
        self.metrics = MetricsLog(c.output_dir, self.global_step if self.resumed else None, self.log) \
            if dist.is_main_process() else None
        self.throughput = Throughput(c.batch_size * self.world)
        dist.save_on_master(write_record, self.record, c.output_dir)
        self.start = time.time()
        self.log(f"Training {c.epochs} epochs x {self.steps_per_epoch} steps, batch {c.batch_size} x {self.world} "
                 f"devices, lr {self.lr:g}")
        with self.profiler, signals.deferred(), self.metrics or contextlib.nullcontext():
            while self.epoch < c.epochs and self.global_step < self.total_steps:
                loss, stopped = self.train_epoch()
                self.log(f"Epoch {self.epoch} done: loss {loss:.4f}, FPS@all {self.throughput.fps:.2f}")
                if not stopped or self.step >= self.steps_per_epoch:
                    self.epoch, self.step = self.epoch + 1, 0
                if self.signal and self.global_step < self.total_steps and self.epoch < c.epochs:
                    self.save()  # no validation: the scheduler's grace period is short
                    self.log(f"Stopped by {signals.signal_name(int(self.signal))} after global step "
                             f"{self.global_step}: saved {os.path.join(c.output_dir, 'checkpoint.pth')}; to continue: "
                             f"{signals.resume_command()}")
                    raise signals.Interrupted(int(self.signal))
                self.validate_and_save()
                if stopped:
                    break
        self.log(f"Training time: {time.time() - self.start:.1f} s, skipped non-finite steps: "
                 f"{self.step_fn.bad_total}")
        self.log(f"FPS: {self.throughput.fps:.2f}")
        self.log(f"Accuracy: {self.best_acc:.4f}")
        return self.best_acc

    def train_epoch(self):
        """Steps self.step.. of this epoch (the sampler replays the rest of its order). -> (mean loss, stopped
        early?). Losses stay on the device and are read at the log lines only."""
        c = self.config
        self.loader.sampler.set_epoch(self.epoch, skip_batches=self.step)
        loss, data_time, step_time = SmoothedValue(), SmoothedValue(), SmoothedValue()
        pending = []
        end = time.perf_counter()
        for images, labels, _, _ in self.loader:
            if self.step >= self.steps_per_epoch:
                break
            data_time.update(time.perf_counter() - end)
            if images is not None:
                pending.append(self.step_fn(images, labels))
            self.step, self.global_step = self.step + 1, self.global_step + 1
            log_line = self.step % c.print_freq == 0 or self.step == self.steps_per_epoch
            if log_line:  # waits for the device's queued steps: inside the step time, so that img/s is true
                self._read_losses(pending, loss)
            step_time.update(time.perf_counter() - end)
            self.throughput.update(step_time.window[-1])
            stop = self._after_step()
            if stop and not log_line:
                self._read_losses(pending, loss)
            if log_line or stop:
                self._log_line(loss, data_time, step_time)
            if stop:
                return loss.global_avg, True
            end = time.perf_counter()
        self._read_losses(pending, loss)
        return (loss.global_avg if loss.count else math.nan), False

    def _read_losses(self, pending, meter):
        self.step_fn.sync()
        for value in torch.stack(pending).tolist() if pending else []:
            if math.isfinite(value):  # NaN marks a skipped step
                meter.update(value)
        pending.clear()

    def _after_step(self):
        """Periodic validation / checkpoint, the profiler, and whether to stop now. -> stop?"""
        c, g = self.config, self.global_step
        self.profiler.step()
        if c.val_freq and g % c.val_freq == 0 and self.step < self.steps_per_epoch and g < self.total_steps:
            self.validate_and_save()
        elif c.save_every_steps and g % c.save_every_steps == 0:
            self.save()
        # SIGTERM/SIGINT on any rank, or the clock: every rank stops after this same step.
        self.signal, out_of_time = dist.max_over_ranks(
            [signals.received(), c.time_limit is not None and time.time() - self.start > 60 * c.time_limit])
        return g >= self.total_steps or out_of_time or self.signal

    def _log_line(self, loss, data_time, step_time):
        lr = self.optimizer.param_groups[0]["lr"]
        left = self.total_steps - self.global_step
        img_s = self.throughput.images_per_step / max(step_time.avg, 1e-9)
        self.log(f"Epoch: [{self.epoch}][{self.step:>{len(str(self.steps_per_epoch))}}/{self.steps_per_epoch}]  "
                 f"eta: {format_eta(step_time.avg * left)}  loss: {loss.avg:.4f} ({loss.global_avg:.4f})  lr: {lr:.6f}  "
                 f"img/s: {img_s:.1f}  data: {data_time.avg:.4f}  time: {step_time.avg:.4f}")
        if self.metrics:
            self.metrics.add(step=self.global_step, epoch=self.epoch, loss=loss.avg, lr=lr, img_s=img_s)

    def images_seen(self):
        """{training source: images drawn so far} over all ranks."""
        return self.loader.seen(self.global_step, self.world)

    def save(self, best=False):
        self.step_fn.sync()  # the schedule's position counts real updates only once bad steps are read
        record = {**self.record, "images_seen": self.images_seen()}
        dist.save_on_master(write_record, record, self.config.output_dir)
        payload = {"model": dist.unwrap(self.model).state_dict(), **self.model_file.fields(), "run": record,
                   "optimizer": self.optimizer.state_dict(), "lr_scheduler": self.scheduler.state_dict(),
                   "scaler": self.scaler.state_dict(),
                   "rng": rng_state(), "epoch": self.epoch, "step": self.step, "global_step": self.global_step,
                   "best_acc": self.best_acc, **({"ema": self.ema.state_dict()} if self.ema else {})}
        for name in ["checkpoint.pth"] + (["model_best.pth"] if best else []):
            dist.save_on_master(save_checkpoint, payload, os.path.join(self.config.output_dir, name),
                                keep_previous=name == "checkpoint.pth")

    def validate_and_save(self):
        if self.ema:  # the raw weights too, so that the average's gain is visible in the log
            self.log(f"accuracy of the raw weights: {self.validation(self.model, ' (raw weights)'):.4f}")
        acc = self.validation(self.ema.module if self.ema else self.model)
        improved = acc > self.best_acc or not os.path.exists(os.path.join(self.config.output_dir, "model_best.pth"))
        self.best_acc = max(acc, self.best_acc)
        self.log(f"accuracy: {acc:.4f}, best acc is: {self.best_acc:.4f}")
        seen = self.images_seen()
        if len(seen) > 1:
            self.log("images seen: " + ", ".join(f"{name} {n:,}" for name, n in seen.items()))
        if self.metrics:
            self.metrics.add(step=self.global_step, epoch=self.epoch, val_accuracy=acc)
        self.save(best=improved)
