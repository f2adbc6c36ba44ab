"""Turn a training checkpoint into a light model file to ship or share (fp16 weights, < 16 MiB).

    python -m tools.export_weights runs/ship/checkpoint.pth weights/crnn.pth
    python -m tools.export_weights runs/ship/model_best.pth weights/crnn.pth --width_scale 1.3   # reads 1.3x wider
    python -m tools.export_weights --describe weights/crnn.pth    # the runs that made a model, as markdown

Keeps what inference, export and fine-tuning need: {"model" (the EMA weights
when the run used --ema, parameters in fp16, BatchNorm statistics in fp32),
"model_args", "alphabet", "img_w", "width_range" (if the run recorded one), "width_scale" (the run's, or
--width_scale: how much wider than its aspect ratio x 32 the model reads a word), "source", "run" (the run's
record, training/record.py)}. predict.py, pth2onnx.py and
main.py (--eval_only --resume, --finetune) read it like any checkpoint; the
weights are cast back to fp32 when loaded.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m tools.export_weights "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import os

from datasets.transforms import RECIPE_IMG_W, SCALE_LIMITS
from models import CRNN
from inference.checkpoint import (inference_weights, load_checkpoint, load_model_weights, load_training_checkpoint,
                                  save_checkpoint)
from training.record import describe_record
from utils.cli import Parser, existing_file, float_range, path_text, run_cli
from utils.errors import UserError
from utils.files import check_output_file


def get_args_parser():
    p = Parser(description="Training checkpoint -> shippable fp16 model file", examples=__doc__)
    p.add_argument("checkpoint", type=existing_file, help="checkpoint.pth / model_best.pth of a run of main.py")
    p.add_argument("output", type=path_text, nargs="?", default=None, help="model file to write, e.g. weights/crnn.pth")
    p.add_argument("--width_scale", type=float_range(*SCALE_LIMITS), default=None,
                   help="the model's reading scale to record (default: the checkpoint's, else 1)")
    p.add_argument("--describe", action="store_true",
                   help="print the run record of CHECKPOINT (command, commit, device, data, earliest run first)")
    return p


def main(args):
    if args.describe:
        record = load_checkpoint(args.checkpoint).get("run")
        print("\n".join(describe_record(record)))
        return record
    if args.output is None:
        raise UserError("give the OUTPUT model file to write (or --describe to print the checkpoint's run record)")
    check_output_file(args.output, "output model file")
    ckpt = load_training_checkpoint(args.checkpoint)
    weights = inference_weights(ckpt)
    load_model_weights(CRNN(**ckpt["model_args"]), weights, args.checkpoint)  # fails on a broken checkpoint
    params = {name for name, _ in CRNN(**ckpt["model_args"]).named_parameters()}
    light = {k: v.half() if k in params else v for k, v in weights.items()}
    source = (f"{os.path.basename(args.checkpoint)} at global step {ckpt.get('global_step', '?')}, "
              f"{'EMA' if 'ema' in ckpt else 'raw'} weights")
    save_checkpoint({"model": light, "model_args": ckpt["model_args"], "alphabet": ckpt["alphabet"],
                     "img_w": ckpt.get("img_w", RECIPE_IMG_W), "source": source,
                     "width_scale": args.width_scale or ckpt.get("width_scale", 1.0),
                     **{k: ckpt[k] for k in ("width_range", "run") if k in ckpt}}, args.output)
    print(f"Wrote {args.output} ({os.path.getsize(args.output) / 2 ** 20:.2f} MiB): {source}")
    return args.output


if __name__ == "__main__":
    run_cli(main, get_args_parser())
