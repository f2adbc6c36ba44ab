"""The training loop of main.py: optimizer, schedule, AMP scaler and EMA from a recipe, resume, periodic
validation and checkpoints, and the seed's FPS / accuracy lines."""
import os
import time

import torch

from utils import distributed as dist
from utils import signals
from utils.checkpoint import rng_state, save_checkpoint, set_rng_state, unwrap
from utils.cli import MAX_COUNT
from utils.curves import MetricsLog
from utils.device import flatten_lstms, make_scaler
from utils.ema import EMA
from utils.engine import StepRunner, Throughput, train_one_epoch
from utils.errors import UserError
from utils.optim import build_optimizer, build_scheduler
from utils.profiling import Profiler
from utils.run_record import write_record


def fit(args, hp, model, model_args, converter, loader, validate_model, device, dtype, channels_last, ckpt, resume,
        log, width, record):
    """The training loop: epochs, periodic validation and checkpoints, FPS and accuracy lines."""
    epochs, batch_size, world = hp["epochs"], hp["batch_size"], dist.get_world_size()
    steps_per_epoch = min(len(loader), args.max_step if args.max_step is not None else MAX_COUNT)
    total_steps = epochs * steps_per_epoch if args.stop_step is None else min(epochs * steps_per_epoch, args.stop_step)
    val_freq = args.val_freq if args.val_freq is not None else (0 if args.data_path else 1000)
    ddp_model = model
    if dist.is_dist():  # any torchrun launch, also of one process
        ddp_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=None if device.type == "cpu" else [device])
    if args.compile:  # the step's module only: checkpoints and evaluation keep the plain model (no _orig_mod.)
        ddp_model = torch.compile(ddp_model)
    lr = hp["lr"] * (batch_size * world / 64 if args.lr_scaling == "linear" else 1)
    optimizer = build_optimizer(hp["optimizer"], model.parameters(), lr, args.weight_decay, device)
    scheduler = build_scheduler(optimizer, hp["lr_schedule"], epochs * steps_per_epoch, hp["warmup_steps"])
    scaler = make_scaler(device, dtype, None if hp["loss_scale"] == "dynamic" else float(hp["loss_scale"]))
    ema = EMA(model, args.ema) if args.ema else None
    if ema:  # a deep copy's LSTM weights are not one cuDNN chunk: each evaluation would copy and warn
        flatten_lstms(ema.module)
    state = {"epoch": 0, "step": 0, "global_step": 0, "best_acc": 0.0}
    if ckpt and "optimizer" in ckpt:
        state.update({k: ckpt[k] for k in state})
        if state["global_step"] >= total_steps or state["epoch"] >= epochs:
            raise UserError(f"{resume} has already done {state['global_step']} steps ({state['epoch']} epochs) of the "
                            f"{total_steps} this run asks for: nothing to train (raise --epochs or --stop_step, or "
                            "evaluate it with --eval_only)")
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["lr_scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        if ema and "ema" in ckpt:
            ema.load_state_dict(ckpt["ema"])
        if "rng" in ckpt:
            set_rng_state(ckpt["rng"])
        log(f"Resumed {resume} at epoch {state['epoch']}, step {state['step']} (global step {state['global_step']})")
    latest, earliest = dist.max_over_ranks([state["global_step"], -state["global_step"]])
    if latest != -earliest:  # e.g. --resume auto on several nodes, each with its own --output_dir
        raise UserError(f"the ranks start at different steps ({int(-earliest)} to {int(latest)}): every rank must load "
                        "the same checkpoint; on several nodes put --output_dir on a filesystem they all see")
    criterion = torch.nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)
    runner = StepRunner(ddp_model, criterion, optimizer, scheduler, scaler, converter, device, dtype,
                        channels_last, hp["grad_clip"], args.max_bad_steps, ema)
    throughput = Throughput(batch_size * world)
    profiler = Profiler(args.profiling, device, args.start_step, args.stop_step, args.output_dir)
    metrics = MetricsLog(args.output_dir, state["global_step"] if ckpt else None) if dist.is_main_process() else None

    def save(best=False):
        runner.sync()  # the schedule's position counts real updates only once the bad-step counters are read
        payload = {"model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
                   "lr_scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                   "model_args": model_args, "alphabet": converter.alphabet,
                   "img_w": width.min_w if width.is_fixed else 100, "width_range": [width.min_w, width.max_w],
                   "rng": rng_state(), "run": record, **state, **({"ema": ema.state_dict()} if ema else {})}
        for name in ["checkpoint.pth"] + (["model_best.pth"] if best else []):
            dist.save_on_master(save_checkpoint, payload, os.path.join(args.output_dir, name),
                                keep_previous=name == "checkpoint.pth")

    def validate_and_save():
        if ema:  # the raw weights too, so that the average's gain is visible in the log
            raw = validate_model(model, " (raw weights)")
            log(f"accuracy of the raw weights: {raw:.4f}")
        acc = validate_model(ema.module if ema else model)
        improved = acc > state["best_acc"] or not os.path.exists(os.path.join(args.output_dir, "model_best.pth"))
        state["best_acc"] = max(acc, state["best_acc"])
        log(f"accuracy: {acc:.4f}, best acc is: {state['best_acc']:.4f}")
        if metrics:
            metrics.add(step=state["global_step"], epoch=state["epoch"], val_accuracy=acc)
        save(best=improved)

    def on_step(step):
        state["step"], state["global_step"] = step, state["global_step"] + 1
        profiler.step()
        g = state["global_step"]
        if val_freq and g % val_freq == 0 and step < steps_per_epoch and g < total_steps:
            validate_and_save()
        elif args.save_every_steps and g % args.save_every_steps == 0:
            save()
        # SIGTERM/SIGINT on any rank, or the clock: every rank stops after this same step.
        stop["signal"], out_of_time = dist.max_over_ranks(
            [signals.received(), args.time_limit is not None and time.time() - start > 60 * args.time_limit])
        return g >= total_steps or out_of_time or stop["signal"]

    def on_print(**values):
        if metrics:
            metrics.add(step=state["global_step"], epoch=state["epoch"], **values)

    dist.save_on_master(write_record, record, args.output_dir)
    start, stop = time.time(), {"signal": 0}
    log(f"Training {epochs} epochs x {steps_per_epoch} steps, batch {batch_size} x {world} devices, lr {lr:g}")
    with profiler, signals.deferred():
        while state["epoch"] < epochs and state["global_step"] < total_steps:
            epoch = state["epoch"]
            loader.sampler.set_epoch(epoch, skip_batches=state["step"])
            loss, stopped = train_one_epoch(runner, loader, epoch, state["step"], steps_per_epoch, throughput,
                                            args.print_freq, on_step, log, total_steps - state["global_step"],
                                            on_print=on_print)
            log(f"Epoch {epoch} done: loss {loss:.4f}, FPS@all {throughput.fps:.2f}")
            if not stopped or state["step"] >= steps_per_epoch:
                state["epoch"], state["step"] = epoch + 1, 0
            if stop["signal"] and state["global_step"] < total_steps and state["epoch"] < epochs:
                save()  # no validation: the scheduler's grace period is short
                log(f"Stopped by {signals.signal_name(int(stop['signal']))} after global step {state['global_step']}: "
                    f"saved {os.path.join(args.output_dir, 'checkpoint.pth')}; to continue: "
                    f"{signals.resume_command()}")
                raise signals.Interrupted(int(stop["signal"]))
            validate_and_save()
            if stopped:
                break
    log(f"Training time: {time.time() - start:.1f} s, skipped non-finite steps: {runner.bad_total}")
    log(f"FPS: {throughput.fps:.2f}")
    log(f"Accuracy: {state['best_acc']:.4f}")
    return state["best_acc"]
