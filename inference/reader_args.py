"""The reader's flags (predict.py, serve.py): one definition, named and ranged as inference.Recognizer's keywords.

Light on purpose (no torch): a script's `--help` answers without loading the model's libraries.
"""
from datasets.width_flags import add_width_args, width_flags
from decoding.flags import add_decoder_args, decoder_options
from inference.orientation import add_edge_pad_arg, add_orientation_arg
from utils.cli import existing_file, int_range, path_text

BATCH_SIZE = 64  # images per forward pass
DEVICES = "auto, cpu, cuda, cuda:N, npu or npu:N"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def add_reader_args(p):
    """The model, device, precision, batch, alphabet, width and decoding flags."""
    p.add_argument("--model", type=existing_file, default=None,
                   help="checkpoint (.pth) or ONNX model (.onnx, fp32 or int8); default: the shipped weights/crnn.pth")
    p.add_argument("--batch_size", type=int_range(1, 4096), default=BATCH_SIZE, help="images per forward pass")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help=".pth models: auto = bf16 + channels_last on CPUs with native bf16, fp16 on GPUs, else fp32; "
                        "bf16 / fp16 only where the device computes in it")
    p.add_argument("--device", type=path_text, default="auto", help=f".pth models only: {DEVICES}")
    p.add_argument("--alphabet", type=path_text, default=None,
                   help="only for an ONNX model exported without its alphabet (checkpoints carry theirs)")
    add_width_args(p.add_argument_group("input width (default: the model's own rule)"))
    decoding = p.add_argument_group("decoding")
    add_decoder_args(decoding, default="beam")
    add_orientation_arg(decoding, "read")
    add_edge_pad_arg(decoding)


def reader_options(args):
    """The flags' values as inference.Recognizer's keyword arguments."""
    return {"model": args.model, "device": args.device, "precision": args.precision, "batch_size": args.batch_size,
            "alphabet": args.alphabet, "orientation": args.orientation, "edge_pad": args.edge_pad,
            **width_flags(args), **decoder_options(args)}
