"""Turn a training checkpoint into a light model file to ship or share (fp16 weights, < 16 MiB).

    python tools/export_weights.py runs/ship/checkpoint.pth weights/crnn.pth

Keeps what inference, export and fine-tuning need: {"model" (the EMA weights
when the run used --ema, parameters in fp16, BatchNorm statistics in fp32),
"model_args", "alphabet", "img_w", "width_range" (if the run recorded one), "source", "run" (the run's record,
utils/run_record.py)}. predict.py, pth2onnx.py and
main.py (--eval_only --resume, --finetune) read it like any checkpoint; the
weights are cast back to fp32 when loaded.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from models import CRNN  # noqa: E402
from utils.checkpoint import inference_weights, load_model_weights, load_training_checkpoint, save_checkpoint  # noqa: E402
from utils.cli import Parser, existing_file, path_text, run_cli  # noqa: E402
from utils.files import check_output_file  # noqa: E402


def get_args_parser():
    p = Parser(description="Training checkpoint -> shippable fp16 model file")
    p.add_argument("checkpoint", type=existing_file, help="checkpoint.pth / model_best.pth of a run of main.py")
    p.add_argument("output", type=path_text, help="model file to write, e.g. weights/crnn.pth")
    return p


def main(args):
    check_output_file(args.output, "output model file")
    ckpt = load_training_checkpoint(args.checkpoint)
    weights = inference_weights(ckpt)
    load_model_weights(CRNN(**ckpt["model_args"]), weights, args.checkpoint)  # fails on a broken checkpoint
    params = {name for name, _ in CRNN(**ckpt["model_args"]).named_parameters()}
    light = {k: v.half() if k in params else v for k, v in weights.items()}
    source = (f"{os.path.basename(args.checkpoint)} at global step {ckpt.get('global_step', '?')}, "
              f"{'EMA' if 'ema' in ckpt else 'raw'} weights")
    save_checkpoint({"model": light, "model_args": ckpt["model_args"], "alphabet": ckpt["alphabet"],
                     "img_w": ckpt.get("img_w", 100), "source": source,
                     **{k: ckpt[k] for k in ("width_range", "run") if k in ckpt}}, args.output)
    print(f"Wrote {args.output} ({os.path.getsize(args.output) / 2 ** 20:.2f} MiB): {source}")
    return args.output


if __name__ == "__main__":
    run_cli(main, get_args_parser())
