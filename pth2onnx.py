"""Export a CRNN checkpoint to ONNX and check it against PyTorch with ONNX Runtime.

    python3 pth2onnx.py ./checkpoint.pth ./crnn_npu_dy.onnx

Input `actual_input_1` float32 [B, 1, 32, 100], output `output1` [26, B, 37],
dynamic batch axis, opset 11 (ATC's safe range for LSTM is 11-13). The model is
rebuilt from the checkpoint's model_args; the recipe's / reference
implementation's state_dicts and DDP (`module.`) checkpoints load too.
"""
import argparse
import os
import warnings

import numpy as np
import torch

from utils.cli import run_cli
from utils.errors import UserError
from utils.model_io import load_crnn

OPSET = 11
TOLERANCE = 1e-4


def export(model, img_w, path, alphabet, opset=OPSET):
    """TorchScript export, plus the alphabet and input width as ONNX metadata (predict.py reads them)."""
    import onnx
    dummy = torch.randn(1, 1, 32, img_w)
    with warnings.catch_warnings():
        # The TorchScript exporter is chosen on purpose (the dynamo one needs onnxscript), and its
        # LSTM batch-size warning does not apply: the export is checked at batch 1, 16 and 37.
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning, torch.jit.TracerWarning))
        torch.onnx.export(model, dummy, path, input_names=["actual_input_1"], output_names=["output1"],
                          dynamic_axes={"actual_input_1": {0: "batch"}, "output1": {1: "batch"}},
                          opset_version=opset, dynamo=False)
    proto = onnx.load(path)
    for key, value in (("alphabet", alphabet), ("img_w", str(img_w))):
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, path)


def max_abs_diff(model, onnx_path, img_w, batch_sizes=(1, 16, 37)):
    """Largest |ONNX Runtime - PyTorch| over random batches of these sizes."""
    import onnx
    import onnxruntime as ort
    onnx.checker.check_model(onnx.load(onnx_path))
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    worst = 0.0
    gen = torch.Generator().manual_seed(0)
    for b in batch_sizes:
        x = torch.randn(b, 1, 32, img_w, generator=gen)
        with torch.no_grad():
            ref = model(x).numpy()
        got = session.run(["output1"], {"actual_input_1": x.numpy()})[0]
        if got.shape != ref.shape:
            raise UserError(f"ONNX output shape {got.shape} != PyTorch {ref.shape} at batch {b}")
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst


def get_args_parser():
    p = argparse.ArgumentParser(description="CRNN checkpoint -> ONNX (checked with ONNX Runtime)")
    p.add_argument("checkpoint", help="checkpoint.pth / model_best.pth (or a reference state_dict)")
    p.add_argument("onnx", help="output .onnx file")
    p.add_argument("--opset", type=int, default=OPSET)
    return p


def main(args):
    model, alphabet, img_w = load_crnn(args.checkpoint)
    out_dir = os.path.dirname(os.path.abspath(args.onnx))
    if not os.path.isdir(out_dir):
        raise UserError(f"output folder does not exist: {out_dir}")
    tmp = f"{args.onnx}.tmp{os.getpid()}.onnx"
    try:
        export(model, img_w, tmp, alphabet, args.opset)
        diff = max_abs_diff(model, tmp, img_w)
        print(f"ONNX Runtime vs PyTorch, batches 1/16/37: max abs diff {diff:.3e}")
        if diff > TOLERANCE:
            raise UserError(f"exported model differs from PyTorch by {diff:.3e} (> {TOLERANCE}); not written")
        os.replace(tmp, args.onnx)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"Wrote {args.onnx}: actual_input_1 [B, 1, 32, {img_w}] -> output1 [{img_w // 4 + 1}, B, {len(alphabet) + 1}], "
          f"opset {args.opset}")
    return diff


if __name__ == "__main__":
    run_cli(main, get_args_parser())
