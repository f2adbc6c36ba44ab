"""ais_bench's command line and output layout, on ONNX Runtime (or handing .om files to ais_bench).

    python3 -m tools.ais_bench_runner --model ./crnn_npu_dy.onnx --input ./input_bin --output ./ \\
        --output_dirname result --device 0 --batchsize 16 --output_batchsize_axis 1
    python3 -m tools.ais_bench_runner --model ./crnn_npu_dy.onnx --loop 20 --batchsize 16   # pure inference

Input files (.bin raw float32 or .npy) are read in natural sort order and
batched by --batchsize (a short last batch is padded with its first file, and
the padded outputs are not saved); a model with a dynamic width (pth2onnx.py
--dynamic_width) takes each file at its own width, batched with files of the
same width (parse_testdata.py --dynamic_width writes them); each batch output is split back with
np.array_split along --output_batchsize_axis and written as
<output>/<output_dirname>/<input stem>_<output index>.bin. A throughput
summary goes to <output>/<output_dirname>_summary.json, outside the result
folder. Named so that it never shadows the real `ais_bench` package.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m tools.ais_bench_runner "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import time

import numpy as np
from tqdm import tqdm

from datasets.transforms import RECIPE_IMG_W
from datasets.width_batches import by_width
from inference.onnx_runtime import make_session, onnx_width
from utils.cli import Parser, existing_dir, existing_file, int_range, path_text, run_cli
from utils.errors import NotFoundError, UserError
from utils.files import check_creatable_dir, make_dirs, natural_key


def list_inputs(folder):
    if not os.path.isdir(folder):
        raise NotFoundError(f"--input folder not found: {folder}")
    files = sorted((f for f in os.listdir(folder) if f.endswith((".bin", ".npy"))), key=natural_key)
    if not files:
        raise UserError(f"--input {folder} holds no .bin or .npy files")
    return [os.path.join(folder, f) for f in files]


def check_inputs(files, shape, dtype):
    """Every file's exact size (and .npy type), before anything is written: a bad input leaves no output folder.
    A last axis of None (a dynamic width) takes any whole number of columns. -> each file's sample shape."""
    free = shape[-1] is None
    want, itemsize = int(np.prod(shape[:-1] if free else shape)), np.dtype(dtype).itemsize
    shapes = []
    for path in files:
        if path.endswith(".npy"):
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError, EOFError) as e:
                raise UserError(f"{path}: not a readable numeric .npy file ({str(e).splitlines()[0][:100]})") from None
            if array.dtype.kind not in "fiu":
                raise UserError(f"{path}: a .npy of {array.dtype} values; the model takes numbers ({np.dtype(dtype).name})")
            size = array.size
        else:
            nbytes = os.path.getsize(path)
            if nbytes % itemsize:
                raise UserError(f"{path}: {nbytes} bytes, not a whole number of {np.dtype(dtype).name} values "
                                f"(the model takes {want} per sample = {want * itemsize} bytes)")
            size = nbytes // itemsize
        if free and size % want == 0 and size:
            shapes.append(shape[:-1] + [size // want])
            continue
        if size != want:
            raise UserError(f"{path}: {size} values, the model takes " + (
                f"a whole number of columns of {want} per sample (shape {shape[:-1] + ['W']}" if free else
                f"{want} per sample (shape {list(shape)}") + f", {np.dtype(dtype).name})")
        shapes.append(list(shape))
    return shapes


def read_input(path, shape, dtype):
    """One file (its size already checked) -> array of the model's per-sample shape."""
    data = np.load(path, allow_pickle=False) if path.endswith(".npy") else np.fromfile(path, dtype=dtype)
    return data.reshape(shape).astype(dtype, copy=False)


def percentiles(times_ms):
    t = np.asarray(times_ms)
    return {"min": float(t.min()), "max": float(t.max()), "mean": float(t.mean()),
            "median": float(np.median(t)), "percentile(99%)": float(np.percentile(t, 99))}


def infer_files(session, files, batch_size, axis, out_dir):
    inp = session.get_inputs()[0]
    sample_shape = [d if isinstance(d, int) else 1 for d in inp.shape][1:]
    if onnx_width(session) is None:
        sample_shape[-1] = None
    shapes = check_inputs(files, sample_shape, np.float32)
    ranks = [len(o.shape) for o in session.get_outputs()]
    if axis >= min(ranks):
        raise UserError(f"--output_batchsize_axis {axis}: the model's outputs have {min(ranks)} axes "
                        f"(0..{min(ranks) - 1}); CRNN's batch axis is 1")
    created = make_dirs(out_dir, "result folder")
    try:
        return _infer_batches(session, files, shapes, batch_size, axis, out_dir)
    except BaseException:  # a failed run leaves no half-written result folder it made
        if created:
            shutil.rmtree(created[0], ignore_errors=True)
        raise


def _infer_batches(session, files, shapes, batch_size, axis, out_dir):
    inp = session.get_inputs()[0]
    times = []
    for group in tqdm(by_width([s[-1] for s in shapes], batch_size), desc="infer", unit="batch", mininterval=2):
        chunk = [files[i] for i in group]
        arrays = [read_input(files[i], shapes[i], np.float32) for i in group]
        arrays += [arrays[0]] * (batch_size - len(arrays))
        t0 = time.perf_counter()
        outputs = session.run(None, {inp.name: np.stack(arrays)})
        times.append((time.perf_counter() - t0) * 1000)
        for o, out in enumerate(outputs):
            for f, part in zip(chunk, np.array_split(out, batch_size, axis=axis)):
                stem = os.path.splitext(os.path.basename(f))[0]
                np.ascontiguousarray(part).tofile(os.path.join(out_dir, f"{stem}_{o}.bin"))
    return times


def pure_infer(session, batch_size, loops):
    inp = session.get_inputs()[0]
    width = onnx_width(session) or RECIPE_IMG_W
    shape = [batch_size] + [d if isinstance(d, int) else 1 for d in inp.shape][1:-1] + [width]
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    session.run(None, {inp.name: x})  # warm-up
    times = []
    for _ in range(loops):
        t0 = time.perf_counter()
        session.run(None, {inp.name: x})
        times.append((time.perf_counter() - t0) * 1000)
    return times


def get_args_parser():
    p = Parser(description="ais_bench-compatible inference runner (ONNX Runtime)", examples=__doc__)
    p.add_argument("--model", type=existing_file, required=True, help=".onnx (ONNX Runtime) or .om (handed to ais_bench)")
    p.add_argument("--input", type=existing_dir, default=None, help="folder of .bin/.npy inputs; omit for pure inference")
    p.add_argument("--output", type=path_text, default=None, help="folder for the result folder")
    p.add_argument("--output_dirname", type=folder_name, default=None, help="result folder name (default: a timestamp)")
    p.add_argument("--device", type=int_range(0, 1023), default=0,
                   help="accepted for ais_bench compatibility (ORT runs on the CPU)")
    p.add_argument("--batchsize", type=int_range(1, 65536), default=1, help="inputs per inference")
    p.add_argument("--output_batchsize_axis", type=int_range(0, 7), default=0, help="CRNN: 1")
    p.add_argument("--loop", type=int_range(1, 10 ** 6), default=1, help="pure inference: timed repetitions")
    return p


def folder_name(text):
    if not text or text in (".", "..") or "/" in text or os.sep in text:
        raise argparse.ArgumentTypeError(f"expected a folder name (no path separators), got {text!r}")
    return text


def main(args):
    if args.model.endswith(".om"):
        if importlib.util.find_spec("ais_bench") is None:
            raise UserError(".om models run on Ascend with ais_bench, which is not installed: see "
                            "https://gitee.com/ascend/tools/tree/master/ais-bench_workload/tool/ais_bench")
        return subprocess.call([sys.executable, "-m", "ais_bench", *sys.argv[1:]])
    if args.input and not args.output:
        raise UserError("--input needs --output")
    if args.output:
        check_creatable_dir(args.output, "--output")
    session = make_session(args.model)
    summary = {"batchsize": args.batchsize}
    if args.input:
        dirname = args.output_dirname or time.strftime("%Y_%m_%d-%H_%M_%S")
        files = list_inputs(args.input)
        times = infer_files(session, files, args.batchsize, args.output_batchsize_axis,
                            os.path.join(args.output, dirname))
        summary["files"] = len(files)
        print(f"Wrote {len(files)} results to {os.path.join(args.output, dirname)}")
    else:
        times = pure_infer(session, args.batchsize, args.loop)
    stats = percentiles(times)
    throughput = 1000 * args.batchsize / stats["mean"]
    summary.update({"NPU_compute_time": stats, "throughput": throughput})
    print("NPU_compute_time (ms): " + ", ".join(f"{k} = {v:.3f}" for k, v in stats.items()))
    print(f"throughput 1000*batchsize.mean({args.batchsize})/NPU_compute_time.mean({stats['mean']:.3f}): {throughput:.2f}")
    if args.input:
        with open(os.path.join(args.output, f"{dirname}_summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
    return throughput


if __name__ == "__main__":
    run_cli(main, get_args_parser())
