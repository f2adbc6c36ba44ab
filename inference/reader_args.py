"""The reader's flags (predict.py, serve.py): one definition, named and ranged as inference.Recognizer's keywords.

Light on purpose (no torch): a script's `--help` answers without loading the model's libraries.
"""
from datasets.width_flags import add_width_args, width_flags
from decoding.flags import add_decoder_args, decoder_options
from inference.orientation import ORIENTATIONS, TALL
from utils.cli import existing_file, float_range, int_range, path_text

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
    add_orientation_arg(decoding)
    add_edge_pad_arg(decoding)


def add_orientation_arg(group):
    """--orientation, shared by predict.py, serve.py and the accuracy bench."""
    group.add_argument("--orientation", default="auto", choices=ORIENTATIONS,
                       help=f"auto: read a crop narrower than {TALL} x its height three ways (as given, turned a "
                            "quarter turn clockwise and anticlockwise) and keep the read the rule picks "
                            "(inference/orientation.py); upright: as given only")


def add_edge_pad_arg(group):
    """--edge_pad, shared by predict.py, serve.py and the benches."""
    group.add_argument("--edge_pad", type=float_range(0, 1, zero="read each crop once"), default=None,
                       help="also read each crop with its left and right edges extended by this x its height (the "
                            "edge columns repeated) and keep the more confident read (default: the model's own "
                            "setting, inference/model_file.py: one read for a model whose file names none)")


def reader_options(args):
    """The flags' values as inference.Recognizer's keyword arguments."""
    return {"model": args.model, "device": args.device, "precision": args.precision, "batch_size": args.batch_size,
            "alphabet": args.alphabet, "orientation": args.orientation, "edge_pad": args.edge_pad,
            **width_flags(args), **decoder_options(args)}
