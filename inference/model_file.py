"""Rebuild a CRNN from any checkpoint this repo accepts, for export and inference."""
from models import CRNN
from training.checkpoint import check_metadata, inference_weights, load_checkpoint, load_model_weights, strip_prefixes
from utils.errors import UserError
from utils.label_converter import DEFAULT_ALPHABET


def infer_model_args(state_dict):
    """model_args of a plain state_dict (e.g. from the reference implementation), from its shapes."""
    try:
        return dict(img_h=32, num_channels=state_dict["cnn.conv0.weight"].shape[1],
                    num_classes=state_dict["rnn.1.embedding.weight"].shape[0],
                    hidden_size=state_dict["rnn.0.rnn.weight_hh_l0"].shape[1],
                    cnn_width=state_dict["cnn.conv0.weight"].shape[0])
    except (KeyError, AttributeError, IndexError):
        raise UserError("not a CRNN checkpoint: expected keys cnn.conv0.weight, rnn.0.rnn.*, rnn.1.embedding.*") from None


def load_crnn(path):
    """-> (fp32 model in eval mode, alphabet, img_w, width_range or None). Accepts this repo's checkpoints (their EMA weights when
    trained with --ema; the fp16 shipped model), {'state_dict': ...} checkpoints of the recipe / reference
    implementation and bare state_dicts; DDP prefixes are stripped."""
    ckpt = load_checkpoint(path)
    if "model" in ckpt and "model_args" in ckpt:
        check_metadata(dict(ckpt, alphabet=ckpt.get("alphabet", DEFAULT_ALPHABET)), path)
        state, model_args = strip_prefixes(inference_weights(ckpt)), ckpt["model_args"]
        alphabet, img_w = ckpt.get("alphabet", DEFAULT_ALPHABET), ckpt.get("img_w", 100)
        width_range = ckpt.get("width_range")
    else:
        state = strip_prefixes(ckpt.get("state_dict", ckpt))
        model_args, alphabet, img_w, width_range = infer_model_args(state), DEFAULT_ALPHABET, 100, None
    if model_args["num_classes"] != len(alphabet) + 1:
        raise UserError(f"{path}: the model has {model_args['num_classes']} classes but its alphabet "
                        f"{alphabet!r} needs {len(alphabet) + 1}")
    model = CRNN(**model_args)
    load_model_weights(model, state, path)
    return model.eval(), alphabet, img_w, width_range
