"""Export a CRNN checkpoint to ONNX and check it against PyTorch with ONNX Runtime.

    python3 pth2onnx.py ./checkpoint.pth ./crnn_npu_dy.onnx
    python3 pth2onnx.py ./checkpoint.pth ./crnn_int8.onnx --int8 ./IIIT5K_lmdb   # static int8 (CPU inference)
    python3 pth2onnx.py weights/crnn.pth ./crnn_dw.onnx --dynamic_width        # words at their own width (ORT)

Input `actual_input_1` float32 [B, 1, 32, 100], output `output1` [26, B, 37],
dynamic batch axis, opset 11 (ATC's safe range for LSTM is 11-13). With
--dynamic_width the input is [B, 1, 32, W] and the output [W/4+1, B, 37], and the
model's own-width range goes into its metadata, so that predict.py and the
runner read each word at its own width (the .om chain keeps the fixed 32x100). The model is
rebuilt from the checkpoint's model_args; the recipe's / reference
implementation's state_dicts and DDP (`module.`) checkpoints load too.
With --int8 the written model is the statically quantised one (see
inference/int8.py), checked against the fp32 export by decoded text.
"""
import os

from datasets.transforms import Width
from inference.int8 import calibration_images, check_calibration_source, compare, quantize, read_labelled
from inference.model_file import load_model
from models.crnn import output_length
from inference.onnx_export import OPSET, TOLERANCE, export, max_abs_diff, mid_width
from utils.cli import Parser, existing_file, float_range, int_range, path_text, run_cli
from utils.errors import UserError
from utils.files import check_output_file

def get_args_parser():
    p = Parser(description="CRNN checkpoint -> ONNX (checked with ONNX Runtime)", examples=__doc__)
    p.add_argument("checkpoint", type=existing_file, help="checkpoint.pth / model_best.pth (or a reference state_dict)")
    p.add_argument("onnx", type=path_text, help="output .onnx file")
    p.add_argument("--opset", type=int_range(11, 17), default=OPSET, help="ATC takes 11-13")
    p.add_argument("--dynamic_width", action="store_true",
                   help="a dynamic input width, read at each word's own width by predict.py and the runner "
                        "(ONNX Runtime; default: the recipe's fixed 32x100 for ATC)")
    p.add_argument("--int8", type=path_text, default=None, metavar="CALIB_LMDB",
                   help="write a static int8 model calibrated on images of this LMDB")
    p.add_argument("--calib_samples", type=int_range(1, 100000), default=512, help="calibration images (--int8)")
    p.add_argument("--check_samples", type=int_range(1, 100000), default=500,
                   help="labelled images after the calibration ones on which int8 is compared with fp32 (--int8)")
    p.add_argument("--max_drop", type=float_range(0, 1), default=0.01,
                   help="largest word-accuracy loss of int8 against fp32 on those images; beyond it nothing is written")
    return p


def main(args):
    check_output_file(args.onnx, "output ONNX file")
    if args.int8:
        check_calibration_source(args.int8)
    model_file, model = load_model(args.checkpoint)
    alphabet = model_file.alphabet
    width = model_file.width() if args.dynamic_width else Width.fixed(model_file.img_w)
    tmp = f"{args.onnx}.tmp{os.getpid()}.onnx"
    tmp8 = f"{args.onnx}.tmp{os.getpid()}.int8.onnx"
    try:
        export(model, width, tmp, model_file, args.opset)
        diff, scale = max_abs_diff(model, tmp, width)
        print("ONNX Runtime vs PyTorch, batches 1/16/37" + ("" if width.is_fixed else
              f" at widths {width.min_w}/{mid_width(width)}/{width.max_w}")
              + f": max abs diff {diff:.3e} ({diff / scale:.1e} of the largest logit)")
        if not diff <= TOLERANCE * scale:  # NaN fails too
            raise UserError(f"exported model differs from PyTorch by {diff:.3e} (> {TOLERANCE} of the largest logit, "
                            f"{scale:.3g}); not written")
        if args.int8:
            calib = calibration_images(args.int8, alphabet, width, args.calib_samples)
            check, labels = read_labelled(args.int8, alphabet, width, args.check_samples, skip=args.calib_samples)
            if not len(check):  # a small LMDB: check on the calibration images
                check, labels = read_labelled(args.int8, alphabet, width, args.calib_samples)
            quantize(tmp, tmp8, calib)
            c = compare(tmp, tmp8, check, labels, alphabet)
            n = c["total"]
            print(f"int8 vs fp32 on {n} labelled images: word accuracy {100 * c['right_int8'] / n:.2f}% vs "
                  f"{100 * c['right_fp32'] / n:.2f}%, the same text on {c['same_text']} ({100 * c['same_text'] / n:.1f}%)")
            if c["right_int8"] < c["right_fp32"] - args.max_drop * n:
                raise UserError(f"the int8 model reads {c['right_fp32'] - c['right_int8']} fewer of {n} words than "
                                f"fp32 (more than --max_drop {args.max_drop}); not written: calibrate on images like "
                                "the ones to read, or use the fp32 model")
            os.replace(tmp8, args.onnx)
        else:
            os.replace(tmp, args.onnx)
    finally:
        for path in (tmp, tmp8):
            if os.path.exists(path):
                os.remove(path)
    w, steps = (width.min_w, output_length(width.min_w)) if width.is_fixed else \
        (f"W in {width.min_w}..{width.max_w}", "W/4+1")
    print(f"Wrote {args.onnx}{' (int8)' if args.int8 else ''}: actual_input_1 [B, 1, 32, {w}] -> output1 "
          f"[{steps}, B, {len(alphabet) + 1}], opset {args.opset}")
    return diff


if __name__ == "__main__":
    run_cli(main, get_args_parser())
