"""The decoder flags of every script that reads words (predict.py, main.py --eval_only,
postpossess_CRNN_pytorch.py): one definition, so their names, ranges and defaults agree."""
from decoding import ctc_decoder as d
from decoding.ctc_decoder import make_decoder
from utils.cli import float_range, int_range, path_text


def add_decoder_args(group, default):
    """Decoder flags, shared by predict.py, main.py (--eval_only) and postpossess_CRNN_pytorch.py
    (decoding/ctc_decoder.py)."""
    group.add_argument("--decoder", default=default, choices=d.DECODERS,
                       help="greedy: the best path (the benchmarks' protocol); beam: prefix beam search with the "
                            "character language model")
    group.add_argument("--lm", type=path_text, default=d.SHIPPED_LM,
                       help="beam: the character LM file (tools/build_char_lm.py), or 'none' for a beam search "
                            "without one (default: the shipped weights/char_lm_en.npz)")
    group.add_argument("--beam_width", type=int_range(1, 256), default=d.BEAM_WIDTH, help="beam: prefixes kept")
    group.add_argument("--lm_weight", type=float_range(0, 10), default=d.LM_WEIGHT,
                       help="beam: weight of the LM's log-probability where the optical read is unsure (it falls "
                            "as the greedy read's confidence rises)")
    group.add_argument("--insertion_bonus", type=float_range(0, 20), default=d.INSERTION_BONUS,
                       help="beam: score added per character (offsets the LM's cost of each one)")
    group.add_argument("--word_bonus", type=float_range(0, 20), default=d.WORD_BONUS,
                       help="beam: score added to a read whose every run of letters is a word of the LM's list")


def decoder_options(args):
    """The flags' values, named as make_decoder's (and inference.Recognizer's) keyword arguments."""
    return {"decoder": args.decoder, "lm": args.lm, "beam_width": args.beam_width, "lm_weight": args.lm_weight,
            "insertion_bonus": args.insertion_bonus, "word_bonus": args.word_bonus}


def decoder_from_args(args, alphabet):
    options = decoder_options(args)
    return make_decoder(options.pop("decoder"), alphabet, options.pop("lm"), **options)
