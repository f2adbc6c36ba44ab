"""ONNX export of a CRNN (the TorchScript exporter, the recipe's tensor names) and its check against PyTorch, shared
by pth2onnx.py and the benchmarks."""
import math
import warnings

import numpy as np
import torch

from utils.errors import UserError

OPSET = 11
TOLERANCE = 1e-4  # of the largest logit (at least 1): LSTM rounding grows with the logits and the steps


def export(model, width, path, model_file, opset=OPSET):
    """TorchScript export, plus the model file (its alphabet, width rule and reading settings:
    inference/model_file.py) as ONNX metadata, which the reader reads. A fixed `width` gives the recipe's static
    input width; an own-width rule a dynamic one."""
    import onnx
    dummy = torch.randn(1, 1, 32, width.min_w)
    axes = {"actual_input_1": {0: "batch"}, "output1": {1: "batch"}}
    if not width.is_fixed:
        axes = {"actual_input_1": {0: "batch", 3: "width"}, "output1": {0: "steps", 1: "batch"}}
    with warnings.catch_warnings():
        # The TorchScript exporter is chosen on purpose (the dynamo one needs onnxscript), and its
        # LSTM batch-size warning does not apply: the export is checked at batch 1, 16 and 37.
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning, torch.jit.TracerWarning))
        torch.onnx.export(model, dummy, path, input_names=["actual_input_1"], output_names=["output1"],
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    proto = onnx.load(path)
    for key, value in model_file.onnx_metadata().items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, path)


def mid_width(width):
    """A width between the rule's bounds that is not a multiple of 4 (W // 4 + 1 steps): the third one checked."""
    return width.min_w if width.is_fixed else (width.min_w + width.max_w) // 8 * 4 + 2


def max_abs_diff(model, onnx_path, width, batch_sizes=(1, 16, 37)):
    """Largest |ONNX Runtime - PyTorch| over random batches of these sizes (at the narrowest, a middle and the
    widest width of an own-width rule). -> (that difference, the same over the largest |logit| (at least 1))."""
    import onnx
    import onnxruntime as ort
    onnx.checker.check_model(onnx.load(onnx_path))
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    worst = scale = 0.0
    gen = torch.Generator().manual_seed(0)
    widths = [width.min_w, mid_width(width), width.max_w]
    for b, w in zip(batch_sizes, widths):
        x = torch.randn(b, 1, 32, w, generator=gen)
        with torch.no_grad():
            ref = model(x).numpy()
        got = session.run(["output1"], {"actual_input_1": x.numpy()})[0]
        if got.shape != ref.shape:
            raise UserError(f"ONNX output shape {got.shape} != PyTorch {ref.shape} at batch {b}, width {w}")
        diff = float(np.abs(got - ref).max())
        if not math.isfinite(diff):  # checked before max(): max(worst, nan) is worst, the NaN would be lost
            return diff, 1.0
        worst = max(worst, diff)
        scale = max(scale, 1.0, float(np.abs(ref).max()))
    return worst, scale
