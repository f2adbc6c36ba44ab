"""What a model is and how it reads, as one typed object: the file format's one reader and writer.

A `ModelFile` holds the CRNN's constructor arguments (`model_args`, models/crnn.py), its alphabet, the width rule
it reads with and the reading settings tuned for it. Every default is written here, once:

- `img_w`: its fixed input width, the width of the recipe's fixed ONNX/.om chain (RECIPE_IMG_W, 100);
- `width_range`: the [min_w, max_w] of the own-width rule it was trained with; None: a model trained before the
  rule, at the fixed img_w (it reads words from img_w up; datasets/transforms.choose_width);
- `width_scale`: how much wider than its aspect ratio x 32 it reads a word (1);
- `reading`: the reading settings tuned for this model, {name: value} of READING_DEFAULTS' names; a setting not
  tuned reads with its documented default: the orientation rule's bonus per character (`length_bonus`,
  inference/orientation.py), the second read's edges (`edge_pad`, inference/read.py; 0: read once) and the
  language model's weight (`lm_weight`, decoding/ctc_decoder.py).

Three forms, each with one way in and out: a checkpoint's fields (`fields()` / `from_fields()`: training
checkpoints, the light shipped file, and the recipe's or the reference implementation's state_dicts, whose
arguments are read off the weights' shapes), and ONNX metadata (`onnx_metadata()` / `from_onnx()`). `build()`
makes the network; `width(**flags)` is the input width with the width flags over the model's own rule.

    model_file, weights = read_model_file("weights/crnn.pth")   # the EMA weights when the run kept an average
    model = load_model("weights/crnn.pth")[1]                   # fp32, eval mode
"""
import json
import numbers
import os
from dataclasses import dataclass, field

import torch

from datasets.transforms import RECIPE_IMG_W, SCALE_LIMITS, WIDTH_LIMITS, choose_width
from decoding.ctc_decoder import LM_WEIGHT
from inference.orientation import LENGTH_BONUS
from models.crnn import CRNN, check_model_args
from utils.errors import NotFoundError, UserError, check_number
from utils.label_converter import DEFAULT_ALPHABET

READING_DEFAULTS = {"length_bonus": LENGTH_BONUS, "edge_pad": 0.0, "lm_weight": LM_WEIGHT}
READING_LIMITS = {"length_bonus": (0, 10), "edge_pad": (0, 1), "lm_weight": (0, 10)}
FIELDS = ("model_args", "alphabet", "img_w", "width_range", "width_scale", "reading")


@dataclass(frozen=True)
class ModelFile:
    model_args: dict
    alphabet: str = DEFAULT_ALPHABET
    img_w: int = RECIPE_IMG_W
    width_range: tuple = None
    width_scale: float = 1.0
    reading: dict = field(default_factory=dict)

    def setting(self, name):
        """A reading setting: the one tuned for this model, else its documented default."""
        return self.reading.get(name, READING_DEFAULTS[name])

    def build(self):
        return CRNN(**self.model_args)

    def width(self, **flags):
        """The Width of the width flags (datasets/width_flags.py names; None = not given) over this model's rule."""
        return choose_width(**flags, model_img_w=self.img_w, model_range=self.width_range,
                            model_scale=self.width_scale)

    def trained_width(self, width):
        """This model as trained at `width` (the run's rule; its batches are drawn at scale 1)."""
        return ModelFile(self.model_args, self.alphabet, width.min_w if width.is_fixed else RECIPE_IMG_W,
                         (width.min_w, width.max_w), width.scale, self.reading)

    def fields(self):
        """The checkpoint's fields (plain types: checkpoints load with weights_only)."""
        out = {"model_args": dict(self.model_args), "alphabet": self.alphabet, "img_w": self.img_w,
               "width_scale": self.width_scale, "reading": dict(self.reading)}
        if self.width_range is not None:
            out["width_range"] = list(self.width_range)
        return out

    @classmethod
    def from_fields(cls, ckpt, path):
        """The ModelFile of a checkpoint's fields, each checked, absent ones at their defaults; a state_dict without
        them (the recipe's {"state_dict": ...}, a bare one) by its weights' shapes. A UserError naming `path`."""
        if "model_args" not in ckpt:
            return cls(infer_model_args(strip_prefixes(ckpt.get("state_dict", ckpt))))
        try:
            check_model_args(ckpt["model_args"])
        except ValueError as e:
            raise UserError(f"{path}: model_args {str(ckpt['model_args'])[:120]} is not a CRNN configuration: "
                            f"{str(e)[:200]}") from None
        alphabet = ckpt.get("alphabet", DEFAULT_ALPHABET)
        if not isinstance(alphabet, str) or not alphabet:
            raise UserError(f"{path}: its alphabet is missing or not text")
        if ckpt["model_args"].get("num_classes", 37) != len(alphabet) + 1:
            raise UserError(f"{path}: the model has {ckpt['model_args'].get('num_classes', 37)} classes but its "
                            f"alphabet {alphabet!r} needs {len(alphabet) + 1}")
        img_w = ckpt.get("img_w", RECIPE_IMG_W)
        lo, hi = WIDTH_LIMITS
        if isinstance(img_w, bool) or not isinstance(img_w, int) or not lo <= img_w <= hi:
            raise UserError(f"{path}: img_w {img_w!r} is not an input width in {lo}..{hi}")
        width_range = ckpt.get("width_range")
        if width_range is not None and (not isinstance(width_range, (list, tuple)) or len(width_range) != 2
                                        or not all(isinstance(v, int) and lo <= v <= hi for v in width_range)
                                        or width_range[0] > width_range[1]):
            raise UserError(f"{path}: width_range {str(width_range)[:60]} is not [min_w, max_w] in {lo}..{hi}")
        scale = check_number(f"{path}: width_scale", ckpt.get("width_scale", 1.0), *SCALE_LIMITS)
        return cls(dict(ckpt["model_args"]), alphabet, img_w, tuple(width_range) if width_range else None,
                   float(scale), check_reading(ckpt.get("reading", {}), path))

    def onnx_metadata(self):
        """{key: text} for an ONNX model's metadata_props."""
        meta = {"alphabet": self.alphabet, "img_w": str(self.img_w), "width_scale": f"{self.width_scale:g}",
                "model_args": json.dumps(self.model_args), "reading": json.dumps(self.reading)}
        if self.width_range is not None:
            meta["width_range"] = f"{self.width_range[0]},{self.width_range[1]}"
        return meta

    @classmethod
    def from_onnx(cls, meta, path):
        """The ModelFile of an ONNX model's metadata. An export made elsewhere may carry none: its alphabet is then
        None (the reader takes the recipe's or the user's) and so are its model_args."""
        try:
            width_range = tuple(int(v) for v in meta["width_range"].split(",")) if "width_range" in meta else None
            return cls(json.loads(meta["model_args"]) if "model_args" in meta else None, meta.get("alphabet"),
                       int(meta.get("img_w", RECIPE_IMG_W)), width_range, float(meta.get("width_scale", 1.0)),
                       check_reading(json.loads(meta.get("reading", "{}")), path))
        except (ValueError, TypeError, AttributeError) as e:
            raise UserError(f"{path}: unreadable model metadata ({str(e)[:120]}): export it again with pth2onnx.py") \
                from None


def check_reading(reading, path):
    """{setting: value} of known names and ranges -> the same as plain floats."""
    if not isinstance(reading, dict):
        raise UserError(f"{path}: its reading settings are a {type(reading).__name__}, not a mapping")
    for name, value in reading.items():
        if name not in READING_DEFAULTS:
            raise UserError(f"{path}: unknown reading setting {name!r} (known: {', '.join(READING_DEFAULTS)})")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise UserError(f"{path}: reading setting {name} is {value!r}, not a number")
        check_number(f"{path}: reading setting {name}", value, *READING_LIMITS[name])
    return {name: float(value) for name, value in reading.items()}


def read_torch_file(path):
    """A dict saved by torch.save, loaded on the CPU with weights_only; any unreadable file is one UserError."""
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


def strip_prefixes(state_dict):
    """Weights without DDP's `module.` and torch.compile's `_orig_mod.` prefixes."""
    out = {}
    for k, v in state_dict.items():
        for prefix in ("module.", "_orig_mod."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def inference_weights(ckpt):
    """The weights to read, export or fine-tune from: the average of a run with --ema, else the model's."""
    weights = ckpt["ema"]["weights"] if "ema" in ckpt else ckpt.get("model", ckpt.get("state_dict", ckpt))
    if not isinstance(weights, dict):
        raise UserError("'model' is not a state_dict")
    return strip_prefixes(weights)


def infer_model_args(state_dict):
    """model_args of a plain state_dict (e.g. from the reference implementation), from its shapes."""
    try:
        return dict(img_h=32, num_channels=state_dict["cnn.conv0.weight"].shape[1],
                    num_classes=state_dict["rnn.1.embedding.weight"].shape[0],
                    hidden_size=state_dict["rnn.0.rnn.weight_hh_l0"].shape[1],
                    cnn_width=state_dict["cnn.conv0.weight"].shape[0])
    except (KeyError, AttributeError, IndexError):
        raise UserError("not a CRNN checkpoint: expected keys cnn.conv0.weight, rnn.0.rnn.*, rnn.1.embedding.*") from None


def non_finite_tensors(tree, prefix=""):
    """Names of the floating-point tensors holding NaN or inf in nested dicts / lists of tensors."""
    if isinstance(tree, torch.Tensor):
        return [prefix] if tree.is_floating_point() and not bool(torch.isfinite(tree).all()) else []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else []
    return [name for k, v in items for name in non_finite_tensors(v, f"{prefix}.{k}" if prefix else str(k))]


def load_model_weights(model, state_dict, path):
    """The weights into `model`; NaN/inf or weights of another network are one UserError naming `path`."""
    bad = non_finite_tensors(state_dict)
    if bad:
        raise UserError(f"{path} has non-finite weights (NaN or inf) in {len(bad)} tensors (first: {bad[0]}): the "
                        "model is unusable, e.g. a diverged run; use an earlier checkpoint")
    try:
        model.load_state_dict(strip_prefixes(state_dict))
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise UserError(f"{path} does not fit this model (different architecture or alphabet): {first[:200]}") from None
    return model


def read_model_file(path):
    """Any checkpoint this repo wrote (a run's, the shipped fp16 file), or the recipe's / reference
    implementation's -> (ModelFile, the weights to read with)."""
    ckpt = read_torch_file(path)
    try:
        return ModelFile.from_fields(ckpt, path), inference_weights(ckpt)
    except UserError as e:
        raise UserError(str(e) if str(path) in str(e) else f"{path}: {e}") from None


def load_model(path):
    """-> (ModelFile, the fp32 network with its weights, in eval mode)."""
    model_file, weights = read_model_file(path)
    return model_file, load_model_weights(model_file.build(), weights, path).eval()
