"""The checkpoint format, the one place that writes and reads it: training saves with it, and the reader,
export and training load with it (so that reading words never needs training/).

    {"model", "model_args", "alphabet", "img_w", "width_range", "width_scale",   what a model needs
     "optimizer", "lr_scheduler", "scaler", "rng", "ema",                       what a run needs to go on
     "epoch", "step", "global_step", "best_acc", "run"}

`model_args` are CRNN's constructor arguments (models/crnn.py), so any script rebuilds the network with no
flags. `epoch` and `step` say where training resumes (steps already done in that epoch; the sampler
replays the rest of that epoch's order). `width_range` is the [min_w, max_w] of the own-width rule the
run trained with ([w, w]: a fixed width w; absent in older checkpoints, trained at the fixed `img_w`);
`img_w` is the fixed width of the recipe's ONNX/.om chain; `width_scale` (absent: 1) how much wider than its
aspect ratio x 32 the model reads a word (the run's validation reads so; training batches are drawn at 1).
Weights are stored without DDP's `module.` and torch.compile's `_orig_mod.` prefixes. Each save of checkpoint.pth keeps the file it replaces as
checkpoint_prev.pth, the fallback of --resume auto when the newest holds NaN/inf. With --ema, "ema"
holds {"weights", "updates"} of the averaged model: evaluation, export, prediction and fine-tuning use
those weights, resuming uses both. `run` is the run's record (training/record.py). The shipped model
(weights/) keeps only "model", "model_args", "alphabet", "img_w", "width_range", "width_scale", "source" and
"run", in fp16.
"""
import errno
import os
from typing import NamedTuple

import torch

from datasets.transforms import RECIPE_IMG_W, SCALE_LIMITS, WIDTH_LIMITS
from models.crnn import CRNN, check_model_args
from utils.errors import NotFoundError, UserError, check_number
from utils.label_converter import DEFAULT_ALPHABET

REQUIRED_KEYS = ("model", "model_args", "alphabet")


def strip_prefixes(state_dict):
    out = {}
    for k, v in state_dict.items():
        for prefix in ("module.", "_orig_mod."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def previous_path(path):
    """checkpoint.pth -> checkpoint_prev.pth: the save before the last one."""
    return f"{os.path.splitext(path)[0]}_prev.pth"


def save_checkpoint(state, path, keep_previous=False):
    """Write to a temp file, flush and fsync, then rename: a crash never leaves a torn file, and a
    failed write (disk full) leaves the previous checkpoint as it was. keep_previous: the file being
    replaced becomes previous_path(path), a fallback for --resume auto if the new one holds NaN/inf."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and os.path.isfile(path):
            _keep_previous(path)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        cause = _os_error(e)
        if cause is not None:
            hint = "the disk is full" if cause.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "the write failed"
            raise UserError(f"cannot write checkpoint {path}: {cause.strerror or cause} ({hint}; the previous "
                            "checkpoint is intact: free space, then continue with --resume auto)") from None
        raise
    dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _keep_previous(path):
    prev = previous_path(path)
    link = f"{prev}.tmp{os.getpid()}"
    try:  # a hard link keeps `path` in place: at no moment is there no checkpoint.pth
        os.link(path, link)
        os.replace(link, prev)
    except OSError:  # a filesystem without hard links
        if os.path.exists(link):
            os.remove(link)
        os.replace(path, prev)


def _os_error(e):
    """The OSError behind e, if any: torch.save reports a failed write as a RuntimeError raised
    while it handles the OSError."""
    while e is not None and not isinstance(e, OSError):
        e = e.__cause__ or e.__context__
    return e


def load_checkpoint(path):
    """Load on CPU; any unreadable file becomes one UserError naming it."""
    if os.path.isdir(path):
        raise UserError(f"checkpoint {path} is a folder, not a checkpoint file (give the .pth inside it)")
    if not os.path.isfile(path):
        raise NotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated / foreign files
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        if "Weights only load failed" in reason:  # torch's advice about weights_only does not apply here
            reason = "not a torch.save archive"
        raise UserError(f"cannot read checkpoint {path}: corrupt, truncated or not a PyTorch file ({reason})") from None
    if not isinstance(ckpt, dict):
        raise UserError(f"{path} is not a checkpoint (a {type(ckpt).__name__}, expected a dict)")
    return ckpt


def load_training_checkpoint(path):
    """A checkpoint written by this repo (resume / eval / export)."""
    ckpt = load_checkpoint(path)
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise UserError(f"{path} is not a checkpoint of this repo (missing {', '.join(missing)})")
    check_metadata(ckpt, path)
    ckpt["model"] = strip_prefixes(ckpt["model"])
    if "ema" in ckpt:
        ckpt["ema"]["weights"] = strip_prefixes(ckpt["ema"]["weights"])
    return ckpt


def check_metadata(ckpt, path):
    """model_args, alphabet and img_w describe a CRNN this code can build (else one clear error)."""
    try:
        check_model_args(ckpt.get("model_args"))
    except ValueError as e:
        raise UserError(f"{path}: model_args {str(ckpt.get('model_args'))[:120]} is not a CRNN configuration: "
                        f"{str(e)[:200]}") from None
    if not isinstance(ckpt.get("alphabet"), str) or not ckpt["alphabet"]:
        raise UserError(f"{path}: its alphabet is missing or not text")
    img_w = ckpt.get("img_w", RECIPE_IMG_W)
    lo, hi = WIDTH_LIMITS
    if not isinstance(img_w, int) or not lo <= img_w <= hi:
        raise UserError(f"{path}: img_w {img_w!r} is not an input width in {lo}..{hi}")
    width_range = ckpt.get("width_range", [img_w, img_w])
    if (not isinstance(width_range, (list, tuple)) or len(width_range) != 2
            or not all(isinstance(v, int) and lo <= v <= hi for v in width_range) or width_range[0] > width_range[1]):
        raise UserError(f"{path}: width_range {str(width_range)[:60]} is not [min_w, max_w] in {lo}..{hi}")
    check_number(f"{path}: width_scale", ckpt.get("width_scale", 1.0), *SCALE_LIMITS)
    if not isinstance(ckpt.get("model"), dict):
        raise UserError(f"{path}: 'model' is not a state_dict")


def inference_weights(ckpt):
    """The weights to evaluate, export or fine-tune from: the average with --ema, else the model's."""
    return ckpt["ema"]["weights"] if "ema" in ckpt else ckpt["model"]


def non_finite_tensors(tree, prefix=""):
    """Names of the floating-point tensors holding NaN or inf in nested dicts / lists of tensors."""
    if isinstance(tree, torch.Tensor):
        return [prefix] if tree.is_floating_point() and not bool(torch.isfinite(tree).all()) else []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else []
    return [name for k, v in items for name in non_finite_tensors(v, f"{prefix}.{k}" if prefix else str(k))]


def load_model_weights(model, state_dict, path):
    bad = non_finite_tensors(state_dict)
    if bad:
        raise UserError(f"{path} has non-finite weights (NaN or inf) in {len(bad)} tensors (first: {bad[0]}): the "
                        "model is unusable, e.g. a diverged run; use an earlier checkpoint")
    try:
        model.load_state_dict(strip_prefixes(state_dict))
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise UserError(f"{path} does not fit this model (different architecture or alphabet): {first[:200]}") from None


def infer_model_args(state_dict):
    """model_args of a plain state_dict (e.g. from the reference implementation), from its shapes."""
    try:
        return dict(img_h=32, num_channels=state_dict["cnn.conv0.weight"].shape[1],
                    num_classes=state_dict["rnn.1.embedding.weight"].shape[0],
                    hidden_size=state_dict["rnn.0.rnn.weight_hh_l0"].shape[1],
                    cnn_width=state_dict["cnn.conv0.weight"].shape[0])
    except (KeyError, AttributeError, IndexError):
        raise UserError("not a CRNN checkpoint: expected keys cnn.conv0.weight, rnn.0.rnn.*, rnn.1.embedding.*") from None


class ModelFile(NamedTuple):
    """A network rebuilt from a file, and how it reads: its alphabet, its fixed / export width `img_w`, the
    own-width range it was trained with (None: a fixed-width model) and how much wider than its aspect ratio x 32
    it reads a word (`width_scale`)."""
    model: CRNN
    alphabet: str
    img_w: int
    width_range: list
    width_scale: float


def load_crnn(path):
    """-> ModelFile with the fp32 model in eval mode. Accepts this repo's checkpoints (their EMA weights when
    trained with --ema; the fp16 shipped model), {'state_dict': ...} checkpoints of the recipe / reference
    implementation and bare state_dicts; DDP prefixes are stripped."""
    ckpt = load_checkpoint(path)
    if "model" in ckpt and "model_args" in ckpt:
        check_metadata(dict(ckpt, alphabet=ckpt.get("alphabet", DEFAULT_ALPHABET)), path)
        state, model_args = strip_prefixes(inference_weights(ckpt)), ckpt["model_args"]
        alphabet, img_w = ckpt.get("alphabet", DEFAULT_ALPHABET), ckpt.get("img_w", RECIPE_IMG_W)
        width_range, width_scale = ckpt.get("width_range"), ckpt.get("width_scale", 1.0)
    else:
        state = strip_prefixes(ckpt.get("state_dict", ckpt))
        model_args, alphabet, img_w, width_range, width_scale = infer_model_args(state), DEFAULT_ALPHABET, \
            RECIPE_IMG_W, None, 1.0
    if model_args["num_classes"] != len(alphabet) + 1:
        raise UserError(f"{path}: the model has {model_args['num_classes']} classes but its alphabet "
                        f"{alphabet!r} needs {len(alphabet) + 1}")
    model = CRNN(**model_args)
    load_model_weights(model, state, path)
    return ModelFile(model.eval(), alphabet, img_w, width_range, width_scale)
