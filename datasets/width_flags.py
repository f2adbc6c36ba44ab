"""The input-width flags of every script that reads word images (main.py, predict.py): one definition, so
their names, ranges and defaults agree with the rule they set (datasets/transforms.Width, choose_width)."""
from datasets.transforms import OWN_MAX_W, OWN_MIN_W, OWN_STEP, RECIPE_IMG_W, SCALE_LIMITS, STEP_LIMITS, WIDTH_LIMITS
from utils.cli import float_range, int_range

NAMES = ("img_w", "fixed_width", "min_w", "max_w", "width_step", "width_scale")  # choose_width's keywords


def add_width_args(group, training=False):
    model = "the run's" if training else "the model's"
    group.add_argument("--img_w", type=int_range(*WIDTH_LIMITS), default=None,
                       help=f"a fixed input width: every word resized to img_w x 32, aspect ratio not kept (the "
                            f"seed's 32x{RECIPE_IMG_W} is --img_w {RECIPE_IMG_W}); default: each word at its own width")
    group.add_argument("--fixed_width", action="store_true",
                       help=f"turn the own-width rule off: read at --img_w, else {model} fixed width ({RECIPE_IMG_W})")
    group.add_argument("--min_w", type=int_range(*WIDTH_LIMITS), default=None,
                       help=f"own width: the narrowest input (default: {model}, else {OWN_MIN_W})")
    group.add_argument("--max_w", type=int_range(*WIDTH_LIMITS), default=None,
                       help=f"own width: the widest input (default: {model}, else {OWN_MAX_W})")
    group.add_argument("--width_step", type=int_range(*STEP_LIMITS), default=None,
                       help=f"own width: widths are multiples of this (default {OWN_STEP}" +
                            ("; 32 when training on CUDA/NPU, so that cuDNN autotuning sees a handful of shapes)"
                             if training else ")"))
    group.add_argument("--width_scale", type=float_range(*SCALE_LIMITS), default=None,
                       help="own width: read each word this much wider than its aspect ratio x 32 (default: "
                            + ("1 for a new or fine-tuned run, the checkpoint's when resuming or with --eval_only; "
                               "validation reads so, training batches are drawn at 1)" if training else
                               f"{model}, else 1)"))


def width_flags(args):
    """The flags' values as choose_width's (and inference.Recognizer's) keyword arguments."""
    return {name: getattr(args, name) for name in NAMES}
