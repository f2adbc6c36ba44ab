"""Inference throughput of the CRNN: PyTorch fp32, PyTorch's fast CPU path, ONNX Runtime fp32 and int8.

    python -m bench.infer_throughput [--model weights/crnn.pth] [--batch_sizes 1 16 64] [--rounds 3] [--seconds 2]
    python -m bench.infer_throughput --device cuda --batch_sizes 1 16 64 2560     # GPU: PyTorch fp32 vs fp16

Variants are interleaved round-robin so that a noisy machine slows them alike;
the table gives the median img/s and the int8 / ONNX Runtime fp32 ratio.
"fast path" is bf16 autocast + channels_last where the CPU has native bf16
(else fp32 + channels_last), what predict.py runs a .pth with. The ONNX models
are exported and quantised by the functions pth2onnx.py runs, as the offline
chain does; int8 is calibrated on 256 synthetic word images. Two more rows time
CTC decoding alone (words/s) on one core, on the model's scores for those
images: greedy and the beam search with the shipped character LM, the
defaults of predict.py, so that decoding can be set beside reading. The last
three rows time the whole Python reader (beam + LM, images already in memory)
on 256 synthetic words turned a quarter turn, tall crops as in scene text: read
once as given (--orientation upright --edge_pad 0), with the second read of
extended edges, and also three ways by the orientation rule (predict.py's
defaults): what each costs. With
--device cuda the table has PyTorch fp32 and fp16 autocast + channels_last on
the GPU.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m bench.infer_throughput "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import copy
import io
import os
import statistics
import tempfile
import time

import numpy as np
import torch
from PIL import Image

from datasets.synth.assets import load_renderer
from datasets.transforms import Width, decode_image
from decoding.ctc_decoder import make_decoder
from models.crnn import CRNN, default_args
from inference.onnx_export import export
from inference.onnx_runtime import make_session
from inference.recognizer import SHIPPED_MODEL, Recognizer
from utils.cli import Parser, existing_file, float_range, int_range, run_cli
from utils.device import cpu_has_bf16
from inference.model_file import ModelFile, load_model
from inference.int8 import quantize


def timed(fn, seconds, sync=lambda: None):
    fn()
    sync()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    sync()
    return n / (time.perf_counter() - start)


def synthetic_images(count, img_w):
    renderer = load_renderer()
    return np.stack([decode_image(renderer.sample(7, 1, i)[0], Width.fixed(img_w)) for i in range(count)])


def get_args_parser():
    p = Parser(description=__doc__.splitlines()[0], examples=__doc__)
    p.add_argument("--model", type=existing_file, default=SHIPPED_MODEL if os.path.isfile(SHIPPED_MODEL) else None,
                   help="checkpoint to time (default: the shipped model; random weights if there is none)")
    p.add_argument("--batch_sizes", type=int_range(1, 4096), nargs="+", default=[1, 16, 64])
    p.add_argument("--rounds", type=int_range(1, 100), default=3)
    p.add_argument("--seconds", type=float_range(0.1, 600), default=2.0, help="per variant and round")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    return p


def gpu_table(model, img_w, args):
    """fp32 vs fp16 autocast + channels_last on the GPU -> {variant: {batch: img/s}}."""
    dev = torch.device("cuda")
    model = model.to(dev)
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    table = {}
    for bs in args.batch_sizes:
        x = torch.randn(bs, 1, 32, img_w, device=dev)
        xcl = x.contiguous(memory_format=torch.channels_last)

        def fp16():
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
                fast(xcl)

        def fp32():
            with torch.no_grad():
                model(x)
        for name, fn in (("PyTorch fp32 (GPU)", fp32), ("PyTorch fp16 + channels_last (GPU)", fp16)):
            runs = [bs * timed(fn, args.seconds, torch.cuda.synchronize) for _ in range(args.rounds)]
            table.setdefault(name, {})[bs] = statistics.median(runs)
    return table


def main(args):
    torch.manual_seed(0)
    model_file, model = load_model(args.model) if args.model else (ModelFile(default_args()), CRNN().eval())
    alphabet, img_w = model_file.alphabet, model_file.img_w
    if args.device == "cuda":
        print_table(gpu_table(model, img_w, args), args, f"CRNN inference img/s, {torch.cuda.get_device_name()}")
        return
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    bf16 = cpu_has_bf16()
    work = tempfile.mkdtemp()
    fp32_path, int8_path = os.path.join(work, "crnn.onnx"), os.path.join(work, "crnn_int8.onnx")
    export(model, Width.fixed(img_w), fp32_path, model_file)
    images = synthetic_images(256, img_w)
    quantize(fp32_path, int8_path, images)
    sessions = {"fp32": make_session(fp32_path), "int8": make_session(int8_path)}

    def variants(x):
        xn, xcl = x.numpy(), x.contiguous(memory_format=torch.channels_last)

        def eager():
            with torch.no_grad():
                model(x)

        def fast_path():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                fast(xcl)

        return {"PyTorch eager fp32": eager,
                f"PyTorch {'bf16 + ' if bf16 else ''}channels_last": fast_path,
                "ONNX Runtime fp32": lambda: sessions["fp32"].run(None, {"actual_input_1": xn}),
                "ONNX Runtime int8 (static, QOperator)": lambda: sessions["int8"].run(None, {"actual_input_1": xn})}

    table = {}
    for bs in args.batch_sizes:
        fns = variants(torch.randn(bs, 1, 32, img_w))
        runs = {name: [] for name in fns}
        for _ in range(args.rounds):
            for name, fn in fns.items():
                runs[name].append(bs * timed(fn, args.seconds))
        for name, r in runs.items():
            table.setdefault(name, {})[bs] = statistics.median(r)
    scores = sessions["fp32"].run(None, {"actual_input_1": images})[0]
    table.update(decode_rows(scores, alphabet, args))
    if args.model:
        table.update(reader_rows(args))
    print_table(table, args, f"CRNN inference img/s, CPU, {torch.get_num_threads()} threads (decoding: words/s, "
                             "1 core)")
    names = list(table)
    print("| ratio int8 / ONNX Runtime fp32 | " + " | ".join(
        f"{table[names[3]][b] / table[names[2]][b]:.2f}x" for b in args.batch_sizes) + " |")


def decode_rows(scores, alphabet, args):
    """Words/s of greedy and beam + LM decoding on one core, on real scores [T, N, C] -> {row: {batch: words/s}}."""
    decoders = {"decode: greedy": make_decoder("greedy", alphabet),
                "decode: beam search + char LM (predict.py)": make_decoder("beam", alphabet)}
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        rows = {}
        for bs in args.batch_sizes:
            chunks = [scores[:, i:i + bs] for i in range(0, scores.shape[1] - bs + 1, bs)] or [scores[:, :bs]]
            for name, decoder in decoders.items():
                runs = [sum(c.shape[1] for c in chunks) * timed(lambda: [decoder.decode(c) for c in chunks],
                                                                args.seconds) for _ in range(args.rounds)]
                rows.setdefault(name, {})[bs] = statistics.median(runs)
        return rows
    finally:
        os.sched_setaffinity(0, cores)


def reader_rows(args):
    """Words/s of the Python reader on tall crops (synthetic words turned a quarter turn): read once as given,
    with the model's own second read (its edge_pad), and by the orientation rule too -> {row: {batch: words/s}}."""
    renderer = load_renderer()
    tall = [Image.open(io.BytesIO(renderer.sample(7, 1, i)[0])).transpose(Image.Transpose.ROTATE_90)
            for i in range(256)]
    rows = {}
    for bs in args.batch_sizes:
        readers = [Recognizer(args.model, orientation=o, edge_pad=pad, batch_size=bs)
                   for o, pad in (("upright", 0), ("upright", None), ("auto", None))]
        readers = {f"reader on tall crops, --orientation {r.orientation} --edge_pad {r.edge_pad:g}": r for r in readers}
        for name, reader in readers.items():
            runs = [len(tall) * timed(lambda: reader.read_many(tall), args.seconds) for _ in range(args.rounds)]
            rows.setdefault(name, {})[bs] = statistics.median(runs)
    return rows


def print_table(table, args, title):
    print(f"\n{title}, median of {args.rounds} interleaved rounds; model: {args.model or 'random weights'}")
    print("| variant | " + " | ".join(f"bs {b}" for b in args.batch_sizes) + " |")
    print("|---|" + "---:|" * len(args.batch_sizes))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[b]:.1f}" for b in args.batch_sizes) + " |")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
