"""Turn a training checkpoint into a light model file to ship or share (fp16 weights, < 16 MiB).

    python -m tools.export_weights runs/ship/checkpoint.pth weights/crnn.pth
    python -m tools.export_weights runs/ship/model_best.pth weights/crnn.pth --width_scale 1.3   # reads 1.3x wider
    python -m tools.export_weights runs/ship/model_best.pth weights/crnn.pth --reading edge_pad=0 length_bonus=0.5
    python -m tools.export_weights --describe weights/crnn.pth    # the runs that made a model, as markdown

Keeps what reading, export and fine-tuning need: {"model" (the EMA weights when the run used --ema, parameters
in fp16, BatchNorm statistics in fp32), the model file's fields (inference/model_file.py: model_args, alphabet,
img_w, width_range, width_scale, and the reading settings tuned for it, with --width_scale / --reading over the
checkpoint's), "source", "run" (the run's record, training/record.py, with each absolute path of the training
machine cut to its last part: a shared file names no folder of the machine that made it)}. predict.py, pth2onnx.py
and main.py (--eval_only --resume, --finetune) read it like any checkpoint; the weights are cast back to fp32 when
loaded.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m tools.export_weights "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import argparse
import dataclasses
import os
import re

from datasets.transforms import SCALE_LIMITS
from inference.model_file import (READING_DEFAULTS, ModelFile, check_reading, inference_weights, load_model_weights,
                                  read_torch_file)
from training.checkpoint import load_training_checkpoint, save_checkpoint
from training.record import describe_record
from utils.cli import Parser, existing_file, float_range, path_text, run_cli
from utils.errors import UserError
from utils.files import check_output_file


def reading_setting(text):
    """NAME=VALUE -> (name, value) of a reading setting (inference/model_file.READING_DEFAULTS)."""
    name, _, value = text.partition("=")
    try:
        return name, check_reading({name: float(value)}, "--reading")[name]
    except (UserError, ValueError):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME one of {', '.join(READING_DEFAULTS)} and a "
                                         f"value in its range, got {text!r}") from None


reading_setting.doc = "NAME=VALUE, NAME one of " + ", ".join(READING_DEFAULTS)


def get_args_parser():
    p = Parser(description="Training checkpoint -> shippable fp16 model file", examples=__doc__)
    p.add_argument("checkpoint", type=existing_file, help="checkpoint.pth / model_best.pth of a run of main.py")
    p.add_argument("output", type=path_text, nargs="?", default=None, help="model file to write, e.g. weights/crnn.pth")
    p.add_argument("--width_scale", type=float_range(*SCALE_LIMITS), default=None,
                   help="the model's reading scale to record (default: the checkpoint's, else 1)")
    p.add_argument("--reading", type=reading_setting, nargs="+", default=[],
                   help="reading settings tuned for this model, over the checkpoint's (inference/model_file.py)")
    p.add_argument("--describe", action="store_true",
                   help="print the run record of CHECKPOINT (command, commit, device, data, earliest run first)")
    return p


def portable(record):
    """The run record with every absolute path cut to its last part (`/srv/data/IC15_train` -> `IC15_train`)."""
    if isinstance(record, dict):
        return {portable(k): portable(v) for k, v in record.items()}
    if isinstance(record, list):
        return [portable(v) for v in record]
    if isinstance(record, str):
        return re.sub(r"(?<![\w.])/(?:[^/\s'\"]+/)+([^/\s'\"]*)", r"\1", record)
    return record


def main(args):
    if args.describe:
        record = read_torch_file(args.checkpoint).get("run")
        print("\n".join(describe_record(record)))
        return record
    if args.output is None:
        raise UserError("give the OUTPUT model file to write (or --describe to print the checkpoint's run record)")
    check_output_file(args.output, "output model file")
    ckpt = load_training_checkpoint(args.checkpoint)
    model_file = ModelFile.from_fields(ckpt, args.checkpoint)
    model_file = dataclasses.replace(model_file, width_scale=args.width_scale or model_file.width_scale,
                                     reading={**model_file.reading, **dict(args.reading)})
    weights = inference_weights(ckpt)
    load_model_weights(model_file.build(), weights, args.checkpoint)  # fails on a broken checkpoint
    params = {name for name, _ in model_file.build().named_parameters()}
    light = {k: v.half() if k in params else v for k, v in weights.items()}
    source = ckpt.get("source") or (f"{os.path.basename(args.checkpoint)} at global step "
                                    f"{ckpt.get('global_step', '?')}, {'EMA' if 'ema' in ckpt else 'raw'} weights")
    shipped = {"model": light, **model_file.fields(), "source": source}
    if "run" in ckpt:
        shipped["run"] = portable(ckpt["run"])
    save_checkpoint(shipped, args.output)
    print(f"Wrote {args.output} ({os.path.getsize(args.output) / 2 ** 20:.2f} MiB): {source}; reading settings "
          f"{model_file.reading or 'none tuned (the defaults)'}")
    return args.output


if __name__ == "__main__":
    run_cli(main, get_args_parser())
