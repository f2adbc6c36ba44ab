"""The decoder flags of every script that reads words (predict.py, main.py --eval_only,
postpossess_CRNN_pytorch.py): one definition, so their names, ranges and defaults agree."""
import os

from decoding import ctc_decoder as d
from decoding.ctc_decoder import make_decoder
from utils.cli import float_range, int_range, path_text


def add_decoder_args(group, default):
    """Decoder flags, shared by predict.py, main.py (--eval_only) and postpossess_CRNN_pytorch.py
    (decoding/ctc_decoder.py). The beam search's flags default to None, "not given", so that one given with
    --decoder greedy is an error (make_decoder) instead of being silently ignored."""
    group.add_argument("--decoder", default=default, choices=d.DECODERS,
                       help="greedy: the best path (the benchmarks' protocol); beam: prefix beam search with the "
                            "character language model")
    group.add_argument("--lm", type=path_text, default=None,
                       help="beam: the character LM file (tools/build_char_lm.py), or 'none' for a beam search "
                            f"without one (default: the shipped {os.path.relpath(d.SHIPPED_LM, d.ROOT)})")
    group.add_argument("--beam_width", type=int_range(1, 256), default=None,
                       help=f"beam: prefixes kept (default: {d.BEAM_WIDTH})")
    group.add_argument("--lm_weight", type=float_range(0, 10), default=None,
                       help="beam: weight of the LM's log-probability where the optical read is unsure (it falls "
                            f"as the greedy read's confidence rises; default: {d.LM_WEIGHT})")
    group.add_argument("--insertion_bonus", type=float_range(0, 20), default=None,
                       help=f"beam: score added per character (offsets the LM's cost of each one; default: "
                            f"{d.INSERTION_BONUS})")
    group.add_argument("--word_bonus", type=float_range(0, 20), default=None,
                       help="beam: score added to a read whose every run of letters is a word of the LM's list "
                            f"(default: {d.WORD_BONUS})")


OPTIONS = ("decoder", "lm", "beam_width", "lm_weight", "insertion_bonus", "word_bonus")


def decoder_options(args):
    """The flags' values, named as inference.Recognizer's keyword arguments."""
    return {name: getattr(args, name) for name in OPTIONS}


def decoder_from_args(args, alphabet):
    options = decoder_options(args)
    return make_decoder(options.pop("decoder"), alphabet, **options)
