"""Train or evaluate CRNN (CNN + BiLSTM + CTC) on LMDB word images.

    python main.py                                        # synthetic default data, built and cached
    python main.py --data_path /data --epochs 20          # <data_path>/MJ_LMDB + IIIT5K_lmdb
    python main.py --data_path /data --eval_only --resume model_best.pth --eval_all
    python main.py --data_path /mine --finetune model_best.pth --lr 1e-4  # own labelled crops
    torchrun --nproc_per_node 8 main.py --data_path /data  # DDP, one process per device
"""
import argparse
import os
import time

import torch

from datasets.loaders import eval_loader, resolve_dir, train_loader
from datasets.synth_build import ensure_synthetic
from models import CRNN
from models.crnn import output_length
from utils import distributed as dist
from utils.checkpoint import (find_resumable, load_model_weights, load_training_checkpoint, rng_state,
                              save_checkpoint, set_rng_state, unwrap)
from utils.cli import run_cli
from utils.device import amp_dtype, make_scaler, select_device, use_channels_last
from utils.curves import MetricsLog
from utils.engine import StepRunner, Throughput, evaluate, train_one_epoch
from utils.eval_report import format_table, make_rows, write_tables
from utils.errors import UserError
from utils.label_converter import DEFAULT_ALPHABET, LabelConverter, load_alphabet
from utils.optim import build_optimizer, build_scheduler
from utils.profiling import Profiler

SYNTH_EPOCHS, DATA_EPOCHS = 2, 20


def get_args_parser():
    p = argparse.ArgumentParser(description="CRNN training and evaluation", allow_abbrev=False)
    d = p.add_argument_group("data")
    d.add_argument("--data_path", default=None, help="folder with MJ_LMDB and IIIT5K_lmdb; omit for the synthetic default")
    d.add_argument("--train_dir", default="MJ_LMDB", help="training LMDB folder under --data_path")
    d.add_argument("--val_dir", nargs="+", default=["IIIT5K_lmdb"], help="evaluation LMDB folder(s) under --data_path")
    d.add_argument("--eval_all", action="store_true",
                   help="evaluate on every LMDB folder under --data_path except --train_dir (one table row each)")
    d.add_argument("--synth_train", type=int, default=300000, help="synthetic training images (no --data_path)")
    d.add_argument("--synth_val", type=int, default=2000, help="synthetic validation images (no --data_path)")
    d.add_argument("--alphabet", default=DEFAULT_ALPHABET, help="characters, or a file holding them")
    d.add_argument("--img_w", type=int, default=100, help="input width (height is 32)")
    d.add_argument("--workers", type=int, default=None, help="loader processes per device (default: 1 on CPU, 4 otherwise)")
    m = p.add_argument_group("model")
    m.add_argument("--hidden_size", type=int, default=256, help="LSTM hidden units")
    m.add_argument("--cnn_width", type=int, default=64, help="channels of the first conv (64 = the paper)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=None, help=f"default {DATA_EPOCHS} with --data_path, {SYNTH_EPOCHS} on synthetic data")
    t.add_argument("--batch_size", type=int, default=64, help="per device")
    t.add_argument("--lr", type=float, default=1e-3, help="learning rate for a global batch of 64 (see --lr_scaling)")
    t.add_argument("--lr_scaling", default="none", choices=["none", "linear"],
                   help="linear: lr x global batch / 64 (Goyal et al.); none: --lr as given")
    t.add_argument("--optimizer", default="adam", choices=["adam", "adamw", "adadelta", "sgd"])
    t.add_argument("--lr_schedule", default="cosine", choices=["cosine", "constant"])
    t.add_argument("--warmup_steps", type=int, default=200)
    t.add_argument("--weight_decay", type=float, default=0.0)
    t.add_argument("--grad_clip", type=float, default=5.0, help="max gradient norm (0 = off)")
    t.add_argument("--max_bad_steps", type=int, default=20, help="stop after this many non-finite steps in a row")
    t.add_argument("--seed", type=int, default=1234)
    a = p.add_argument_group("device and precision")
    a.add_argument("--device", default="auto", choices=["auto", "npu", "cuda", "cpu"])
    a.add_argument("--npu", type=int, default=0, help="device id for single-process runs (torchrun sets LOCAL_RANK)")
    a.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                   help="mixed precision: fp16 + GradScaler on NPU/CUDA, bf16 on CPUs that have it")
    a.add_argument("--opt_level", default="O2", choices=["O0", "O1", "O2"], help="apex names: O0 = fp32, O1/O2 = --amp")
    a.add_argument("--loss_scale", default="dynamic", help="'dynamic' or a starting scale such as 128 (fp16 only)")
    a.add_argument("--dist_timeout", type=int, default=300, help="seconds before ranks give up on a dead peer")
    r = p.add_argument_group("run control and output")
    r.add_argument("--output_dir", default=".", help="checkpoint.pth and model_best.pth go here")
    r.add_argument("--resume", default=None,
                   help="checkpoint to continue from (or to evaluate with --eval_only); 'auto' = the newest "
                        "readable one in --output_dir, or a fresh start if there is none")
    r.add_argument("--finetune", default=None, help="start from this checkpoint's weights with a fresh optimizer")
    r.add_argument("--eval_only", action="store_true")
    r.add_argument("--max_step", type=int, default=None, help="cap on steps per epoch")
    r.add_argument("--stop_step", type=int, default=None, help="end training after this many steps in all")
    r.add_argument("--val_freq", type=int, default=None, help="also validate every N steps (default: 1000 on synthetic data, else per epoch only)")
    r.add_argument("--save_every_steps", type=int, default=0, help="also write checkpoint.pth every N steps")
    r.add_argument("--print_freq", type=int, default=50)
    r.add_argument("--profiling", default="NONE", choices=["NONE", "CANN", "GE", "TORCH"])
    r.add_argument("--start_step", type=int, default=10, help="first profiled step")
    return p


def parse_loss_scale(value):
    if value == "dynamic":
        return None
    try:
        return float(value)
    except ValueError:
        raise UserError(f"--loss_scale must be 'dynamic' or a number, got {value!r}") from None


def main(args):
    device = select_device(args.device, dist.env_local_rank() if dist.launched_by_torchrun() else args.npu)
    data_path = args.data_path
    if data_path is None:  # every node's local rank 0 builds the cache; the others wait for it
        data_path = ensure_synthetic(args.synth_train, args.synth_val, seed=0,
                                     build=dist.env_local_rank() == 0, log=print if dist.env_local_rank() == 0 else None)
    dist.init_distributed(device, args.dist_timeout)
    try:
        return run(args, device, data_path)
    finally:
        dist.destroy()


def run(args, device, data_path):
    log = print if dist.is_main_process() else (lambda *a, **k: None)
    world, rank = dist.get_world_size(), dist.get_rank()
    torch.manual_seed(args.seed)
    if args.resume and args.finetune:
        raise UserError("--resume continues a run, --finetune starts a new one from weights: give only one")
    resume, ckpt = args.resume, None
    if resume == "auto":
        resume, ckpt = find_resumable(args.output_dir, log) if os.path.isdir(args.output_dir) else (None, None)
        log(f"--resume auto: continuing from {resume}" if resume else
            f"--resume auto: no checkpoint in {args.output_dir}, starting from scratch")
        if resume is None and args.eval_only:
            raise UserError(f"--eval_only --resume auto: no readable checkpoint in {args.output_dir}")
    if args.eval_only and not resume:
        raise UserError("--eval_only needs --resume CHECKPOINT (or --resume auto)")
    source = resume or args.finetune
    if source and ckpt is None:
        ckpt = load_training_checkpoint(source)
    alphabet = load_alphabet(args.alphabet)
    if ckpt and ckpt["alphabet"] != alphabet:
        if args.alphabet != DEFAULT_ALPHABET:
            raise UserError(f"--alphabet differs from the one {source} was trained with ({ckpt['alphabet']!r})")
        alphabet = ckpt["alphabet"]
    converter = LabelConverter(alphabet)
    model_args = ckpt["model_args"] if ckpt else dict(img_h=32, num_channels=1, num_classes=converter.num_classes,
                                                      hidden_size=args.hidden_size, cnn_width=args.cnn_width)
    model = CRNN(**model_args)
    if ckpt:
        load_model_weights(model, ckpt["model"], source)
        if args.finetune:
            log(f"Fine-tuning from {args.finetune} (weights only: fresh optimizer and schedule)")
            ckpt = None
    channels_last = use_channels_last(device, world)
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    dtype = amp_dtype(device, args.amp and args.opt_level != "O0")
    workers = args.workers if args.workers is not None else (1 if device.type == "cpu" else 4)
    max_len = output_length(args.img_w)
    val_names = find_eval_sets(data_path, args.train_dir) if args.eval_all else args.val_dir
    val_loaders = {name: eval_loader(resolve_dir(data_path, name, "evaluation"), converter, max_len, args.img_w,
                                     args.batch_size, workers, world, rank, log) for name in val_names}
    log(f"Device: {device}, world size {world}, precision {dtype or torch.float32}, channels_last {channels_last}")
    table_dir = os.path.dirname(os.path.abspath(resume)) if args.eval_only and resume else args.output_dir

    def validate():
        """Evaluate every set; print and write the table. -> sample-weighted accuracy over all sets."""
        dist.sync_buffers(model)
        results = {}
        for name, loader in val_loaders.items():
            r = evaluate(model, loader, converter, device, channels_last, progress=dist.is_main_process(), desc=name,
                         keep_predictions=args.eval_only)
            keys = ("correct", "total", "ned", "too_long", "skipped")
            results[name] = dict(zip(keys, dist.all_reduce_sum([r[k] for k in keys], device)))
            for gt, pred, conf in r["examples"][:3]:
                log(f"  gt: {gt:<20} pred: {pred:<20} conf: {conf:.3f}")
            if args.eval_only:
                predictions = dist.gather_lists(r["predictions"])
                dist.save_on_master(write_predictions, predictions, table_dir, name)
        rows = make_rows(results)
        log(format_table(rows))
        dist.save_on_master(write_tables, rows, table_dir)
        return rows[-1]["accuracy"]

    if args.eval_only:
        acc = validate()
        log(f"Evaluation tables: {os.path.join(table_dir, 'eval_results.csv')} and .md")
        log(f"Accuracy: {acc:.4f}")
        return acc
    loader = train_loader(resolve_dir(data_path, args.train_dir, "training"), converter, max_len, args.img_w,
                          args.batch_size, workers, world, rank, args.seed, log)
    return fit(args, model, model_args, converter, loader, validate, device, dtype, channels_last, ckpt, resume, log)


def find_eval_sets(data_path, train_dir):
    """--eval_all: every folder holding a data.mdb under data_path (recursively), except the training one."""
    train = os.path.realpath(os.path.join(data_path, train_dir))
    names = []
    for folder, subdirs, files in os.walk(data_path, followlinks=True):
        subdirs.sort()
        real = os.path.realpath(folder)
        if real == train or real.startswith(train + os.sep):
            subdirs.clear()
        elif "data.mdb" in files:
            names.append(os.path.relpath(folder, data_path))
    if not names:
        raise UserError(f"--eval_all: no LMDB folder (with data.mdb) under {data_path} besides {train_dir}")
    return names


def write_predictions(predictions, out_dir, name):
    """predictions_<set>.tsv: LMDB key, label, prediction, confidence (what predict.py prints per file)."""
    path = os.path.join(out_dir, f"predictions_{name.replace(os.sep, '_')}.tsv")
    with open(path, "w", encoding="utf-8") as f:
        for index, gt, pred, conf in sorted(predictions):
            f.write(f"image-{index:09d}\t{gt}\t{pred}\t{conf:.4f}\n")


def fit(args, model, model_args, converter, loader, validate, device, dtype, channels_last, ckpt, resume, log):
    """The training loop: epochs, periodic validation and checkpoints, FPS and accuracy lines."""
    epochs = args.epochs or (DATA_EPOCHS if args.data_path else SYNTH_EPOCHS)
    steps_per_epoch = min(len(loader), args.max_step or len(loader))
    total_steps = min(epochs * steps_per_epoch, args.stop_step or epochs * steps_per_epoch)
    val_freq = args.val_freq if args.val_freq is not None else (0 if args.data_path else 1000)
    ddp_model = model
    if dist.get_world_size() > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=None if device.type == "cpu" else [device])
    lr = args.lr * (args.batch_size * dist.get_world_size() / 64 if args.lr_scaling == "linear" else 1)
    optimizer = build_optimizer(args.optimizer, model.parameters(), lr, args.weight_decay)
    scheduler = build_scheduler(optimizer, args.lr_schedule, epochs * steps_per_epoch, args.warmup_steps)
    scaler = make_scaler(device, dtype, parse_loss_scale(args.loss_scale))
    state = {"epoch": 0, "step": 0, "global_step": 0, "best_acc": 0.0}
    if ckpt and "optimizer" in ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["lr_scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        state.update({k: ckpt[k] for k in state})
        if "rng" in ckpt:
            set_rng_state(ckpt["rng"])
        log(f"Resumed {resume} at epoch {state['epoch']}, step {state['step']} (global step {state['global_step']})")
    criterion = torch.nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)
    runner = StepRunner(ddp_model, criterion, optimizer, scheduler, scaler, converter, device, dtype,
                        channels_last, args.grad_clip, args.max_bad_steps)
    throughput = Throughput(args.batch_size * dist.get_world_size())
    os.makedirs(args.output_dir, exist_ok=True)
    profiler = Profiler(args.profiling, device, args.start_step, args.stop_step, args.output_dir)
    metrics = MetricsLog(args.output_dir, state["global_step"] if ckpt else None) if dist.is_main_process() else None

    def save(best=False):
        payload = {"model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
                   "lr_scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                   "model_args": model_args, "alphabet": converter.alphabet, "img_w": args.img_w,
                   "rng": rng_state(), **state}
        names = ["checkpoint.pth"] + (["model_best.pth"] if best else [])
        for name in names:
            dist.save_on_master(save_checkpoint, payload, os.path.join(args.output_dir, name))

    def validate_and_save():
        acc = validate()
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
        return g >= total_steps

    def on_print(**values):
        if metrics:
            metrics.add(step=state["global_step"], epoch=state["epoch"], **values)

    start = time.time()
    log(f"Training {epochs} epochs x {steps_per_epoch} steps, batch {args.batch_size} x {dist.get_world_size()} devices, lr {lr:g}")
    with profiler:
        while state["epoch"] < epochs and state["global_step"] < total_steps:
            epoch = state["epoch"]
            loader.sampler.set_epoch(epoch, skip_batches=state["step"])
            loss, stopped = train_one_epoch(runner, loader, epoch, state["step"], steps_per_epoch, throughput,
                                            args.print_freq, on_step, log, total_steps - state["global_step"],
                                            on_print=on_print)
            log(f"Epoch {epoch} done: loss {loss:.4f}, FPS@all {throughput.fps:.2f}")
            if not stopped or state["step"] >= steps_per_epoch:
                state["epoch"], state["step"] = epoch + 1, 0
            validate_and_save()
            if stopped:
                break
    log(f"Training time: {time.time() - start:.1f} s, skipped non-finite steps: {runner.bad_total}")
    log(f"FPS: {throughput.fps:.2f}")
    log(f"Accuracy: {state['best_acc']:.4f}")
    return state["best_acc"]


if __name__ == "__main__":
    run_cli(main, get_args_parser())
