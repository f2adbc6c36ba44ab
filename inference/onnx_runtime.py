"""ONNX Runtime sessions of exported CRNNs, shared by predict.py's reader, the runner and the benchmarks."""
import os

from utils.errors import NotFoundError, UserError


def make_session(model_path, threads=None):
    """ONNX Runtime on the CPU with every graph optimisation and one intra-op thread per core."""
    import onnxruntime as ort
    if not os.path.isfile(model_path):
        raise NotFoundError(f"--model not found: {model_path}")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or os.cpu_count() or 1
    try:
        return ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types for unreadable models
        raise UserError(f"cannot load ONNX model {model_path}: {str(e).splitlines()[0][:200]}") from None


def onnx_width(session):
    """The input width of a model exported with a fixed one (the recipe's 100), or None for --dynamic_width."""
    width = session.get_inputs()[0].shape[3]
    return width if isinstance(width, int) else None
