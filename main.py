"""Train or evaluate CRNN (CNN + BiLSTM + CTC) on LMDB word images.

    python main.py                                        # synthetic default data, built and cached
    python main.py --data_path /data --epochs 20          # <data_path>/MJ_LMDB + IIIT5K_lmdb
    python main.py --synth_stream --synth_train 1000000   # fresh synthetic images rendered by the loader
    python main.py --data_path /data --eval_only --resume model_best.pth --eval_all
    python main.py --data_path /mine --finetune weights/crnn.pth --lr 1e-4  # own labelled crops
    torchrun --nproc_per_node 8 main.py --data_path /data  # DDP, one process per device

main() reads top to bottom: flags -> device -> checkpoint -> data -> model -> trainer -> fit, and the
report (the recipe's `FPS:` and `Accuracy:` lines).
"""
import argparse
import dataclasses
import os

import torch

from datasets.augment import augment_table
from datasets.lmdb_dataset import LABEL_RULES
from datasets.lmdb_format import lmdb_identity
from datasets.loaders import LoaderConfig, TrainSource, eval_loader, resolve_dir, train_loader
from datasets.synth.build import ensure_synthetic, generator_identity
from datasets.width_flags import add_width_args, width_flags
from decoding.flags import add_decoder_args, decoder_from_args
from models.crnn import SETTINGS, default_args, output_length
from training.eval_report import find_eval_sets
from training.evaluate import Validation
from training.origin import find_origin
from training.recipes import PRESET_FLAGS, RECIPES, default_workers, preset_help, resolve_recipe
from training.record import make_record
from training.trainer import TrainConfig, Trainer
from utils import distributed as dist
from utils.cli import Parser, existing_dir, float_range, int_range, path_text, run_cli
from utils.device import Placement, select_device, use_pinned_memory
from utils.errors import NotFoundError, UserError
from utils.files import check_creatable_dir
from utils.label_converter import DEFAULT_ALPHABET, NAMED_ALPHABETS, LabelConverter, load_alphabet
from utils.run_lock import claim_output_dir
from utils.signals import stop_on_signals


def loss_scale_type(text):
    if text != "dynamic":
        try:
            float_range(1, 2 ** 24)(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"expected 'dynamic' or a number in [1, 16777216], got {text!r}") from None
    return text


loss_scale_type.doc = "'dynamic' or a number in [1, 16777216]"


def get_args_parser():
    p = Parser(description="CRNN training and evaluation", examples=__doc__)
    add_data_args(p.add_argument_group("data"))
    m = p.add_argument_group("model (models/crnn.py: SETTINGS)")
    for name, (lo, hi, text) in SETTINGS.items():
        m.add_argument(f"--{name}", type=int_range(lo, hi), default=default_args()[name], help=text)
    add_training_args(p.add_argument_group("training (defaults: the --recipe preset)"))
    add_device_args(p.add_argument_group("device and precision"))
    add_run_args(p.add_argument_group("run control and output"))
    decoding = p.add_argument_group("decoding for --eval_only (the benchmarks' one read of each crop as given: the "
                                    "reported accuracy is greedy's; --decoder beam adds a beam + LM column)")
    add_decoder_args(decoding, default="beam")
    return p


def add_data_args(d):
    """Where the training and validation data come from."""
    d.add_argument("--data_path", type=existing_dir, default=None,
                   help="folder with MJ_LMDB and IIIT5K_lmdb; omit for the synthetic default")
    d.add_argument("--train_dir", type=path_text, default="MJ_LMDB", help="training LMDB folder under --data_path")
    d.add_argument("--val_dir", type=path_text, nargs="+", default=["IIIT5K_lmdb"],
                   help="evaluation LMDB folder(s) under --data_path (absolute paths are taken as they are)")
    d.add_argument("--eval_all", action="store_true",
                   help="evaluate on every LMDB folder under --data_path except --train_dir (one table row each)")
    d.add_argument("--synth_train", type=int_range(1), default=300000,
                   help="synthetic training images (cached set), or images per epoch with --synth_stream")
    d.add_argument("--synth_val", type=int_range(1, 10 ** 7), default=2000, help="synthetic validation images")
    d.add_argument("--synth_stream", action="store_true",
                   help="train on synthetic images rendered by the loader workers (no training cache, no repeats)")
    d.add_argument("--real_dir", type=existing_dir, nargs="+", default=[],
                   help="LMDB folder(s) of real training crops, drawn beside the synthetic data (the stream, "
                        "--train_dir or the cached set) in the shares of --batch_ratio, each reshuffled whenever it "
                        "runs out; augmented unless --augment off")
    d.add_argument("--batch_ratio", type=float_range(0, 1000, lo_open=True), nargs="+", default=None,
                   help="each training source's share of a batch (normalised): the synthetic data first, then each "
                        "--real_dir, e.g. --batch_ratio 0.7 0.3 (clovaai's flag); needed with --real_dir")
    d.add_argument("--augment", default="on", choices=["on", "off"],
                   help="augment the --real_dir crops (datasets/augment.py: box jitter, rotation, perspective, "
                        "contrast, light, resolution, blur, noise, JPEG, each with its probability)")
    d.add_argument("--label_rule", default="strip", choices=LABEL_RULES,
                   help="a training label holding characters outside the alphabet: strip = keep the sample, "
                        "lower-cased (for a lower-case alphabet) without those characters; skip = drop the sample")
    d.add_argument("--synth_assets", type=existing_dir, default=None,
                   help="folder with the generator's fonts/latin, dicts/en.txt, images (default: "
                        "$CRNN_SYNTH_ASSETS, else the trdg wheel)")
    d.add_argument("--synth_words", type=path_text, default=None,
                   help="the generator's word list: a file (one word a line), or the name of one of the assets "
                        "folder's lists (trdg's: cn, ja, de, ru, ...); default: its English list")
    d.add_argument("--alphabet", type=path_text, default=DEFAULT_ALPHABET,
                   help="characters, a UTF-8 file holding them, or a name: " + ", ".join(NAMED_ALPHABETS)
                        + " (the synthetic data draws it)")
    add_width_args(d, training=True)
    d.add_argument("--workers", type=int_range(0, 64, zero="load in the training process"), default=None,
                   help="loader processes per device (default: 1 on CPU, the node's cores / devices otherwise)")


def add_training_args(t):
    """The recipe's values and the optimisation's."""
    t.add_argument("--recipe", default="auto", choices=["auto", *RECIPES],
                   help="preset: seed = the recipe's (NPU/GPU), cpu = the CPU one; auto picks by device")
    t.add_argument("--epochs", type=int_range(1, 10 ** 6), default=None, help=preset_help("epochs"))
    t.add_argument("--batch_size", type=int_range(1, 65536), default=None,
                   help="per device; " + preset_help("batch_size"))
    t.add_argument("--lr", type=float_range(0, 100, lo_open=True), default=None,
                   help="learning rate (for a global batch of 64 with --lr_scaling linear); " + preset_help("lr"))
    t.add_argument("--lr_scaling", default="none", choices=["none", "linear"],
                   help="linear: lr x global batch / 64 (Goyal et al.); none: --lr as given")
    t.add_argument("--optimizer", default=None, choices=["adam", "adamw", "adadelta", "sgd"],
                   help=preset_help("optimizer"))
    t.add_argument("--lr_schedule", default=None, choices=["cosine", "constant"], help=preset_help("lr_schedule"))
    t.add_argument("--warmup_steps", type=int_range(0, zero="no warm-up"), default=None,
                   help=preset_help("warmup_steps"))
    t.add_argument("--weight_decay", type=float_range(0, 1), default=0.0, help="decoupled for adamw, L2 otherwise")
    t.add_argument("--grad_clip", type=float_range(0, 1e6, zero="off"), default=None,
                   help="max gradient norm; " + preset_help("grad_clip"))
    t.add_argument("--ema", type=float_range(0, 1, hi_open=True, zero="off"), default=0.0,
                   help="decay of an exponential moving average of the weights, evaluated and exported (e.g. 0.999)")
    t.add_argument("--max_bad_steps", type=int_range(1), default=20,
                   help="stop after this many non-finite steps in a row (counted on the device, so the stop "
                        "comes at the next log line, --print_freq, or checkpoint)")
    t.add_argument("--seed", type=int_range(0, 2 ** 32 - 1), default=1234, help="weights, shuffling and the stream")


def add_device_args(a):
    """Device, precision and distribution."""
    a.add_argument("--device", default="auto", choices=["auto", "npu", "cuda", "cpu"],
                   help="auto: an NPU if torch_npu sees one, else CUDA, else the CPU")
    a.add_argument("--npu", type=int_range(0, 1023), default=0,
                   help="device id for single-process runs (torchrun sets LOCAL_RANK)")
    a.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                   help="mixed precision: fp16 + GradScaler on NPU/CUDA, bf16 on CPUs that have it")
    a.add_argument("--opt_level", default="O2", choices=["O0", "O1", "O2"], help="apex names: O0 = fp32, O1/O2 = --amp")
    a.add_argument("--loss_scale", type=loss_scale_type, default=None,
                   help="fp16 loss scale: 'dynamic' or a static start value that only backs off; "
                        + preset_help("loss_scale"))
    a.add_argument("--compile", action="store_true",
                   help="torch.compile the training step's model (slower start, faster steps on a GPU)")
    a.add_argument("--dist_timeout", type=int_range(1, 7 * 86400), default=300,
                   help="seconds before ranks give up on a dead peer")


def add_run_args(r):
    """Checkpoints, stops, logging and profiling."""
    r.add_argument("--output_dir", type=path_text, default=".", help="checkpoint.pth and model_best.pth go here")
    r.add_argument("--resume", type=path_text, default=None,
                   help="checkpoint to continue from (or to evaluate with --eval_only); 'auto' = the newest "
                        "readable one in --output_dir, or a fresh start if there is none")
    r.add_argument("--finetune", type=path_text, default=None,
                   help="start from this checkpoint's weights with a fresh optimizer")
    r.add_argument("--eval_only", action="store_true", help="evaluate --resume on the --val_dir sets and exit")
    r.add_argument("--max_step", type=int_range(1), default=None, help="cap on steps per epoch (omit: no cap)")
    r.add_argument("--stop_step", type=int_range(1), default=None, help="end training after this many steps in all")
    r.add_argument("--time_limit", type=float_range(0, 10 ** 6, lo_open=True), default=None,
                   help="end training (validate, save) after the step that passes this many minutes")
    r.add_argument("--val_freq", type=int_range(0, zero="only at the end of each epoch"), default=None,
                   help="also validate every N steps (default: 1000 on synthetic data, else 0)")
    r.add_argument("--save_every_steps", type=int_range(0, zero="off"), default=0,
                   help="also write checkpoint.pth every N steps")
    r.add_argument("--print_freq", type=int_range(1), default=50, help="steps between log lines")
    r.add_argument("--profiling", default="NONE", choices=["NONE", "CANN", "GE", "TORCH"],
                   help="trace steps --start_step..--stop_step to <output_dir>/profiling")
    r.add_argument("--start_step", type=int_range(0), default=10, help="first profiled step")


def check_args(args):
    """Cross-flag rules and every path, before any data is read or built."""
    if args.resume and args.finetune:
        raise UserError("--resume continues a run, --finetune starts a new one from weights: give only one")
    if args.eval_only and not args.resume:
        raise UserError("--eval_only needs --resume CHECKPOINT (or --resume auto)")
    for flag, path in (("--resume", args.resume if args.resume != "auto" else None), ("--finetune", args.finetune)):
        if path and not os.path.isfile(path):
            if os.path.isdir(path):
                raise UserError(f"{flag} {path} is a folder, not a checkpoint file")
            raise NotFoundError(f"{flag}: checkpoint not found: {path}")
    if args.profiling != "NONE" and args.stop_step is not None and args.stop_step <= args.start_step:
        raise UserError(f"--stop_step {args.stop_step} ends the run before the profiled window starts "
                        f"(--start_step {args.start_step})")
    if args.real_dir and args.batch_ratio is None:
        raise UserError(f"--real_dir: give --batch_ratio with {len(args.real_dir) + 1} shares, the synthetic data's "
                        f"and one per --real_dir (e.g. --batch_ratio 0.7 {' '.join(['0.3'] * len(args.real_dir))})")
    if args.batch_ratio is not None and len(args.batch_ratio) != len(args.real_dir) + 1:
        raise UserError(f"--batch_ratio has {len(args.batch_ratio)} shares for {len(args.real_dir) + 1} training "
                        "sources: one for the synthetic data, then one per --real_dir")
    for name in args.val_dir if not args.eval_all else []:
        if os.path.isabs(name) and not os.path.isdir(name):
            raise NotFoundError(f"--val_dir {name} does not exist")
    if args.data_path:
        if not args.eval_all:
            for name in args.val_dir:
                resolve_dir(args.data_path, name, "evaluation")
        if not (args.eval_only or args.synth_stream):
            resolve_dir(args.data_path, args.train_dir, "training")
    if args.eval_only:
        table_dir = args.output_dir if args.resume == "auto" else os.path.dirname(os.path.abspath(args.resume))
        check_creatable_dir(table_dir, "folder for the evaluation tables")
    else:
        check_creatable_dir(args.output_dir, "--output_dir")  # created by main() (and removed if left empty)


def main(args):
    """flags -> device -> where the weights start -> recipe and data -> model -> evaluation or training."""
    check_args(args)
    log = print if dist.env_rank() == 0 else (lambda *a, **k: None)  # global rank 0 speaks for the run
    # Global rank 0 alone writes to --output_dir, so it alone creates and locks it (the other ranks of
    # the job must not refuse each other); a run that fails before it writes anything leaves no folder.
    owner = not args.eval_only and dist.env_rank() == 0
    with stop_on_signals(), claim_output_dir(args.output_dir, log, hold=owner):
        device = select_device(args.device, dist.env_local_rank() if dist.launched_by_torchrun() else args.npu)
        args = continue_after_restart(args, log)
        origin = find_origin(args.resume, args.finetune, args.output_dir, args.eval_only, log)
        alphabet = origin.alphabet_for(load_alphabet(args.alphabet), args.alphabet != DEFAULT_ALPHABET)
        recipe, width, data_path = plan(args, origin, alphabet, device, log)
        with dist.process_group(device, args.dist_timeout):
            placement = Placement.choose(device, args.amp and args.opt_level != "O0", dist.is_dist())
            loading = loader_config(args, alphabet, width, recipe.values["batch_size"], device)
            val_dirs = {name: resolve_dir(data_path, name, "evaluation")
                        for name in (find_eval_sets(data_path, args.train_dir) if args.eval_all else args.val_dir)}
            torch.manual_seed(args.seed)
            model, model_file = origin.build(alphabet, {**default_args(), **{k: getattr(args, k) for k in SETTINGS}},
                                             width, log)
            placement.put(model)
            log(f"Device: {device}, world size {dist.get_world_size()}, {placement.describe()}")
            log(f"Input: {width.describe()}")
            table_dir = os.path.dirname(os.path.abspath(origin.path)) if args.eval_only else args.output_dir
            validation = Validation({name: eval_loader(path, loading, log) for name, path in val_dirs.items()},
                                    alphabet, placement, table_dir, log, keep_predictions=args.eval_only,
                                    second_decoder=eval_decoder(args, alphabet, log) if args.eval_only else None)
            if args.eval_only:
                acc = validation(model)
                log(f"Evaluation tables: {os.path.join(table_dir, 'eval_results.csv')} and .md")
                log(f"Accuracy: {acc:.4f}")
                return acc
            log(recipe.describe())
            loader, train_data = training_loader(args, data_path, dataclasses.replace(
                loading, width=dataclasses.replace(width, scale=1.0)), log)
            data = {"train": train_data, "val": {name: lmdb_identity(path) for name, path in val_dirs.items()}}
            record = make_record(args, recipe, device, dist.get_world_size(), data, origin.record())
            trainer = Trainer(model, loader, validation, train_config(args, recipe), placement=placement,
                              converter=loading.converter, model_file=model_file, record=record, log=log)
            if origin.how == "resume" and "optimizer" in origin.ckpt:
                trainer.resume(origin.ckpt, origin.path)
            return trainer.fit()


def plan(args, origin, alphabet, device, log):
    """The recipe, the input width rule and the data folder; the synthetic default is built here (every node's
    local rank 0 builds it, the others wait for it). -> (Recipe, Width, data path)"""
    synthetic = args.data_path is None or args.synth_stream
    recipe = resolve_recipe(args.recipe, device.type, {k: getattr(args, k) for k in PRESET_FLAGS}, synthetic)
    global_batch = recipe.values["batch_size"] * int(os.environ.get("WORLD_SIZE", 1))
    if args.data_path is None and not (args.synth_stream or args.eval_only) and args.synth_train < global_batch:
        # before the cached set is built (the stream's share of a batch is checked by its loader)
        raise UserError(f"--synth_train {args.synth_train} is smaller than one global batch ({global_batch}): "
                        "raise --synth_train or lower --batch_size")
    # Widths in a handful of sizes on an accelerator: cuDNN autotunes each new input shape.
    step = args.width_step or (32 if device.type != "cpu" and not args.eval_only else None)
    width = origin.width(**{**width_flags(args), "width_step": step})
    data_path = args.data_path or ensure_synthetic(
        0 if args.synth_stream or args.eval_only else args.synth_train, args.synth_val, seed=0,
        build=dist.env_local_rank() == 0, log=log if dist.env_local_rank() == 0 else None,
        assets=args.synth_assets, alphabet=alphabet, words=args.synth_words)
    return recipe, width, data_path


def loader_config(args, alphabet, width, batch_size, device):
    """How this rank's batches are made (datasets/loaders.LoaderConfig). Words are read (validation, --eval_only)
    at the run's width_scale, and trained on at scale 1."""
    workers = args.workers if args.workers is not None else default_workers(
        device.type, os.cpu_count() or 1, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    return LoaderConfig(LabelConverter(alphabet), width, max_label_len=output_length(width.max_w),
                        batch_size=batch_size, workers=workers, world_size=dist.get_world_size(),
                        rank=dist.get_rank(), seed=args.seed, pin_memory=use_pinned_memory(device))


def train_config(args, recipe):
    """The loop's values: the resolved recipe and the run-control flags (their defaults are the parser's)."""
    return TrainConfig(**recipe.values, lr_scaling=args.lr_scaling, weight_decay=args.weight_decay, ema=args.ema,
                       max_bad_steps=args.max_bad_steps, compile=args.compile, max_step=args.max_step,
                       stop_step=args.stop_step, time_limit=args.time_limit,
                       val_freq=args.val_freq if args.val_freq is not None else (0 if args.data_path else 1000),
                       save_every_steps=args.save_every_steps, print_freq=args.print_freq, profiling=args.profiling,
                       start_step=args.start_step, output_dir=args.output_dir)


def training_loader(args, data_path, loading, log):
    """The training batches: the synthetic data (the stream, or an LMDB: --train_dir, the cached set) and each
    --real_dir in its share. -> (loader, what the run's record says of the data)"""
    if args.synth_stream:
        first, identity = TrainSource("synthetic stream"), {"stream": args.synth_train}
    else:
        train_dir = resolve_dir(data_path, args.train_dir, "training")
        first, identity = TrainSource(args.train_dir, train_dir), lmdb_identity(train_dir)
    if args.synth_stream or args.data_path is None:
        identity.update(generator_identity(args.synth_assets, loading.converter.alphabet, args.synth_words))
    table = augment_table() if args.augment == "on" else None
    reals = [TrainSource(os.path.basename(os.path.normpath(path)), path, augment=table) for path in args.real_dir]
    shares = args.batch_ratio or [1.0]
    sources = [dataclasses.replace(source, share=share) for source, share in zip([first, *reals], shares)]
    loader = train_loader(sources, loading, log, label_rule=args.label_rule, stream_size=args.synth_train,
                          assets=args.synth_assets, words=args.synth_words)
    if reals:
        identity["sources"] = [{"name": s.name, "share": c / loading.batch_size, "per_batch": c,
                                "augment": s.augment, **(lmdb_identity(s.path) if s.path else {})}
                               for s, c in zip(sources, loader.windows.counts)]
    return loader, identity


def continue_after_restart(args, log):
    """Under torchrun --max_restarts, a restarted worker continues from the run's last checkpoint (if any)."""
    if not dist.restart_count() or args.eval_only:
        return args
    saved = os.path.isfile(os.path.join(args.output_dir, "checkpoint.pth"))
    most = os.environ.get("TORCHELASTIC_MAX_RESTARTS", "?")
    log(f"torchrun restart {dist.restart_count()} of at most {most}: "
        + ("continuing from the last checkpoint" if saved else "no checkpoint yet, starting as before"))
    return argparse.Namespace(**{**vars(args), "resume": "auto", "finetune": None}) if saved else args


def eval_decoder(args, alphabet, log):
    """--eval_only's second decoder (the beam + LM column), or None: --decoder greedy, --lm none, or the shipped LM
    with an alphabet it has no letters for (a note, not an error: greedy still evaluates)."""
    try:
        decoder = decoder_from_args(args, alphabet)  # also refuses a beam flag given with --decoder greedy
    except UserError as e:
        if args.decoder == "greedy" or args.lm is not None:
            raise
        log(f"No beam + LM column: {e}")
        return None
    return None if args.decoder == "greedy" or args.lm == "none" else decoder


if __name__ == "__main__":
    run_cli(main, get_args_parser())
