"""Static int8 quantisation of the exported CRNN with ONNX Runtime (pth2onnx.py --int8 CALIB_LMDB).

Format: QOperator (QLinearConv / QLinearMatMul nodes), int8 weights per output
channel, uint8 activations, MinMax calibration on images of an LMDB read with
the evaluation preprocessing (a --dynamic_width model is calibrated and
checked on each image at its own width, so on many widths). QOperator works
at opset 11, the opset ATC takes and the default export; QDQ with per-channel
axes would need opset 13. The LSTMs stay fp32 (static quantisation has no int8
LSTM); the convolutions, where nearly all of the FLOPs are, run on the CPU's
int8 instructions.

Weights are quantised to 7 bits (`reduce_range`). On a CPU without VNNI (AVX2
only) ONNX Runtime multiplies uint8 activations by int8 weights with
VPMADDUBSW, which adds pairs of products into int16 and saturates there;
with 8-bit weights the shipped model then read 30 fewer of 1,488 development
crops than fp32 (2%), with 7-bit weights 3 fewer, the same on CPUs with VNNI,
where nothing saturates (docs/offline-inference.md). uint8 weights (u8u8)
lost the same 30 words here.
"""
import logging
import os

import numpy as np

from datasets.lmdb_dataset import LmdbDataset
from datasets.width_batches import by_width
from decoding.ctc_decoder import greedy_decode
from inference.onnx_runtime import make_session
from models.crnn import output_length
from utils.errors import NotFoundError, UserError
from utils.label_converter import LabelConverter
from utils.metrics import score


def read_labelled(lmdb_path, alphabet, width, count, skip=0):
    """Up to `count` preprocessed images ([1, 32, W] arrays, W by the `width` rule) of an LMDB and their labels
    (undecodable ones skipped), after the first `skip`."""
    dataset = LmdbDataset(lmdb_path, LabelConverter(alphabet), output_length(width.max_w), width=width, train=False)
    images, labels = [], []
    for i in range(min(skip, len(dataset)), len(dataset)):
        image, label, _ = dataset[i]
        if image is not None:
            images.append(image.numpy())
            labels.append(label)
        if len(images) == count:
            break
    return images, labels


def batches(images, batch_size):
    """(positions, stacked images) of one width each."""
    return [(g, np.stack([images[i] for i in g])) for g in by_width([x.shape[-1] for x in images], batch_size)]


def calibration_images(lmdb_path, alphabet, width, count):
    images, _ = read_labelled(lmdb_path, alphabet, width, count)
    if not len(images):
        raise UserError(f"calibration LMDB {lmdb_path} has no readable image with a label: give an LMDB of word "
                        "crops (e.g. the validation set)")
    return images


def quantize(fp32_path, int8_path, images, batch_size=16):
    """Write the statically quantised model; the fp32 model's metadata (alphabet, img_w) is kept."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"actual_input_1": x} for _, x in batches(images, batch_size)])

        def get_next(self):
            return next(self.batches, None)

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # ORT warns on the LSTMs' int64 shape tensors, which it rightly leaves alone
    try:
        quantize_static(fp32_path, int8_path, Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
                        reduce_range=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    finally:
        root.setLevel(level)
    src, out = onnx.load(fp32_path), onnx.load(int8_path)
    del out.metadata_props[:]
    for prop in src.metadata_props:
        out.metadata_props.add(key=prop.key, value=prop.value)
    out.metadata_props.add(key="quantization", value=f"int8 static QOperator, per-channel 7-bit weights, "
                                                     f"calibrated on {len(images)} images")
    onnx.save(out, int8_path)


def compare(fp32_path, int8_path, images, labels, alphabet):
    """Both models on labelled images, by what a user reads, not by floats.
    -> {"same_text", "right_fp32", "right_int8", "total"} (right = the benchmark protocol's word accuracy)."""
    texts = []
    for path in (fp32_path, int8_path):
        session, read = make_session(path), [None] * len(images)
        for positions, x in batches(images, 64):
            outputs = session.run(["output1"], {"actual_input_1": x})[0]
            for i, text in zip(positions, greedy_decode(outputs, alphabet)[0]):
                read[i] = text
        texts.append(read)
    right = [sum(score(t, gt)[0] for t, gt in zip(model_texts, labels)) for model_texts in texts]
    return {"same_text": sum(a == b for a, b in zip(*texts)), "right_fp32": right[0], "right_int8": right[1],
            "total": len(labels)}


def check_calibration_source(path):
    """Fail before any export when the calibration LMDB is missing or empty."""
    from datasets.lmdb_format import open_lmdb
    if os.path.isfile(path):
        raise UserError(f"--int8: calibration LMDB {path} is a file, not an LMDB folder (data.mdb + lock.mdb)")
    if not os.path.isdir(path):
        raise NotFoundError(f"--int8: calibration LMDB not found: {path}")
    open_lmdb(path)
