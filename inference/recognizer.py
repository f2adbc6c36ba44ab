"""The Python reader: a model (the shipped one, a .pth checkpoint or an .onnx export) with its alphabet,
its width rule and a decoder, reading image files, PIL images or arrays.

    from inference import Recognizer
    reader = Recognizer()                                   # weights/crnn.pth, beam search + the char LM
    print(reader.read("weights/sample_welcome.png").text)   # welcome

    reader = Recognizer("crnn_dw.onnx", decoder="greedy")   # an export on ONNX Runtime, the benchmarks' decoding
    for r in reader.read_many(["a.png", "b.jpg"]):
        print(r.text, r.confidence)

A .pth runs in the fastest precision the device has (bf16 + channels_last on CPUs with native bf16,
fp16 on GPUs); precision="fp32", decoder="greedy", edge_pad=0 reads exactly what `main.py --eval_only`
reads.
Images of one width are read together (datasets/width_batches.by_width), so a word reads the same
alone or in any batch.
"""
import os
import sys
from dataclasses import dataclass

import numpy as np
import torch

from datasets.transforms import Width, open_image
from decoding import ctc_decoder
from inference.model_file import ModelFile, load_model
from inference.inputs import array_to_image, check_image_type, read_file
from inference.orientation import ORIENTATIONS
from inference.reader_args import BATCH_SIZE
from inference.read import read_images
from inference.onnx_runtime import make_session, onnx_width
from inference.devices import precision_dtype, reader_device
from utils.device import Placement, use_channels_last
from utils.errors import NotFoundError, UserError, WrongTypeError, check_number
from utils.label_converter import DEFAULT_ALPHABET, load_alphabet

SHIPPED_MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights", "crnn.pth")


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float  # decoding/ctc_decoder.py says what it means, for either decoder


class Recognizer:
    """A reader of word images. Every option is a keyword, named as predict.py's flag.

    model: None for the shipped weights/crnn.pth, a .pth checkpoint or an .onnx export.
    decoder: "beam" (prefix beam search with a character LM) or "greedy" (the benchmarks' decoding).
    lm, beam_width, lm_weight, insertion_bonus, word_bonus: the beam search's options, each None for its default
        (decoding/ctc_decoder.py: the shipped SHIPPED_LM, BEAM_WIDTH, ...); lm "none" searches without an LM.
        Any of them with decoder="greedy" is an error.
    device: "auto" (an NPU, else a CUDA GPU, else the CPU), "cpu", "cuda", "cuda:N", "npu", "npu:N" or a torch.device;
        one this machine lacks is an error. .pth models only (ONNX runs on the CPU).
    precision: "auto" (bf16 + channels_last on CPUs with native bf16, fp16 on GPUs, else fp32), "fp32", "bf16" or
        "fp16" (an error where the device does not compute in it). .pth models only.
    batch_size: images per forward pass; alphabet: only for an ONNX model exported without one.
    img_w, fixed_width, min_w, max_w, width_step, width_scale: change the model's own width rule
        (datasets/transforms.choose_width; width_scale: the model file's unless given).
    orientation: "auto" reads a crop narrower than TALL (0.8) x its height three ways (as given and turned a
        quarter turn either way) and keeps the read inference/orientation.py's rule picks; "upright" reads it as given.
    edge_pad: also read each crop with its left and right edges extended by this x its height and keep the more
        confident read (0: read once); None: the model's own setting (inference/model_file.py).
    """

    def __init__(self, model=None, *, decoder="beam", lm=None, beam_width=None, lm_weight=None, insertion_bonus=None,
                 word_bonus=None, device="auto", precision="auto", batch_size=BATCH_SIZE, alphabet=None, img_w=None,
                 fixed_width=False, min_w=None, max_w=None, width_step=None, width_scale=None, orientation="auto",
                 edge_pad=None):
        if orientation not in ORIENTATIONS:
            raise UserError(f"unknown orientation {orientation!r}: choose one of {', '.join(ORIENTATIONS)}")
        if model is not None and not isinstance(model, (str, os.PathLike)):
            raise WrongTypeError(f"model must be the path of a .pth or .onnx file, got {model!r:.60} "
                                 f"({type(model).__name__})")
        self.path, self.orientation = os.fspath(model) if model is not None else SHIPPED_MODEL, orientation
        if edge_pad is not None:
            check_number("edge_pad", edge_pad, 0, 1, meaning="a share of the crop's height")
        self.batch_size = check_number("batch_size", batch_size, 1, 4096, integer=True)
        onnx = self.path.lower().endswith(".onnx")
        # device and precision first: a value the reader cannot honour is refused before any file is read
        device = reader_device(device)
        dtype = precision_dtype(precision, device)
        if onnx and (device.type != "cpu" or precision not in ("auto", "fp32")):
            raise UserError(f"{self.path} runs on ONNX Runtime's CPU provider in the precision it was exported in: "
                            f"device {str(device)!r} and precision {precision!r} apply to .pth models (leave both "
                            "'auto')")
        if not os.path.isfile(self.path):
            raise NotFoundError(f"model not found: {self.path}" + (" (restore weights/ from git)" if model is None else ""))
        if onnx:
            self._run, self.model_file, fixed = self._onnx(self.path)
        else:
            self._run, self.model_file, fixed = self._torch(self.path,
                                                            Placement(device, dtype, use_channels_last(device, False)))
        self.alphabet = self._alphabet(alphabet)
        own_width_options = (min_w, max_w, width_step, width_scale)
        if fixed is not None and (any(v is not None for v in own_width_options) or img_w not in (None, fixed)):
            raise UserError(f"{self.path} takes a fixed width of {fixed} px: the width flags do not apply (export it "
                            "with pth2onnx.py --dynamic_width to read words at their own width)")
        self.width = Width.fixed(fixed) if fixed is not None else self.model_file.width(
            img_w=img_w, fixed_width=fixed_width, min_w=min_w, max_w=max_w, width_step=width_step,
            width_scale=width_scale)
        # the reading settings tuned for this model, unless given (inference/model_file.py)
        self.edge_pad = float(self.model_file.setting("edge_pad") if edge_pad is None else edge_pad)
        self.length_bonus = self.model_file.setting("length_bonus")
        if decoder == "beam" and lm_weight is None and lm != "none":
            lm_weight = self.model_file.setting("lm_weight")
        self.decoder = ctc_decoder.make_decoder(decoder, self.alphabet, lm=lm, beam_width=beam_width,
                                                lm_weight=lm_weight, insertion_bonus=insertion_bonus,
                                                word_bonus=word_bonus)

    def _alphabet(self, given):
        """The model's alphabet; an ONNX model exported elsewhere carries none: `given`, else the recipe's."""
        if self.model_file.alphabet is None:
            return load_alphabet(given or DEFAULT_ALPHABET)
        if given and load_alphabet(given) != self.model_file.alphabet:
            raise UserError(f"--alphabet differs from the one {self.path} was trained with "
                            f"({self.model_file.alphabet!r}): omit it")
        return self.model_file.alphabet

    def _onnx(self, path):
        session = make_session(path)
        meta = session.get_modelmeta().custom_metadata_map
        self.engine = f"ONNX Runtime {'int8' if 'quantization' in meta else 'fp32'}"
        return (lambda x: session.run(["output1"], {"actual_input_1": x})[0]), ModelFile.from_onnx(meta, path), \
            onnx_width(session)

    def _torch(self, path, placement):
        model_file, model = load_model(path)
        placement.put(model)
        self.engine = f"PyTorch {str(placement.dtype or torch.float32).replace('torch.', '')} on {placement.device}"

        @torch.no_grad()
        def run(x):
            with placement.autocast():
                return model(placement.inputs(torch.from_numpy(x))).float().cpu()
        return run, model_file, None

    def describe(self):
        turns = "; tall crops read three ways" if self.orientation == "auto" else ""
        pad = f"; a second read with edges extended by {self.edge_pad:g} x the height" if self.edge_pad else ""
        return f"{self.path} ({self.engine}; {self.width.describe()}; {self.decoder.describe()}{turns}{pad})"

    def load(self, image):
        """An image (inference/inputs.py: a path, a PIL image or a numpy array) -> PIL image. OSError / ValueError
        naming the file or the array when it cannot be read; TypeError for another type."""
        check_image_type(image)
        if isinstance(image, (str, os.PathLike)):
            try:
                return open_image(read_file(image))
            except ValueError as e:
                raise ValueError(f"{os.fspath(image)}: {e}") from None
        return array_to_image(image) if isinstance(image, np.ndarray) else image

    def read(self, image):
        """One image -> Reading(text, confidence)."""
        return self.read_many([image])[0]

    def read_many(self, images, skip_unreadable=False):
        """Images -> a Reading each, in order. An image that cannot be read raises, or with skip_unreadable gives
        None (and a warning on stderr)."""
        loaded = []
        for image in images:
            try:
                loaded.append(self.load(image))
            except (OSError, ValueError) as e:
                if not skip_unreadable:
                    raise
                print(f"warning: skipped an image that cannot be read: {e}", file=sys.stderr, flush=True)
                loaded.append(None)
        kept = [i for i, image in enumerate(loaded) if image is not None]
        texts, confs, _ = read_images([loaded[i] for i in kept], self._run, self.decoder, self.width,
                                      batch_size=self.batch_size, orientation=self.orientation,
                                      edge_pad=self.edge_pad, length_bonus=self.length_bonus)
        readings = [None] * len(images)
        for i, text, conf in zip(kept, texts, confs):
            readings[i] = Reading(text, round(conf, 4))
        return readings
