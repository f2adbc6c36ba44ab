import pytest
import torch

from decoding.ctc_decoder import greedy_decode
from utils.errors import UserError
from utils.label_converter import LabelConverter, load_alphabet, normalize_for_eval


def one_hot_logits(ids, num_classes=37):
    """[T] class ids -> [T, 1, C] scores whose argmax is `ids`."""
    logits = torch.full((len(ids), 1, num_classes), -10.0)
    for t, i in enumerate(ids):
        logits[t, 0, i] = 10.0
    return logits


def test_encode_decode_round_trip():
    conv = LabelConverter()
    assert conv.num_classes == 37
    targets, lengths = conv.encode(["Hello", "a1"])
    assert lengths.tolist() == [5, 2]
    # blank = 0, '0' = 1, ..., 'a' = 11
    assert targets.tolist() == [18, 15, 22, 22, 25, 11, 2]
    # A CTC path with blanks between the repeated 'l's decodes back to the lower-cased label.
    path = [18, 18, 0, 15, 22, 0, 22, 22, 25, 0]
    texts, confs = greedy_decode(one_hot_logits(path), conv.alphabet)
    assert texts == ["hello"]
    assert 0.99 < confs[0] <= 1.0


def test_alphabet_from_file_and_errors(tmp_path):
    f = tmp_path / "alphabet.txt"
    f.write_text("abc\nxyz\n")
    assert load_alphabet(str(f)) == "abcxyz"
    with pytest.raises(UserError, match="repeated characters"):
        load_alphabet("abca")
    with pytest.raises(UserError, match="--alphabet is empty"):
        load_alphabet("")


def test_case_and_out_of_alphabet():
    conv = LabelConverter()
    assert conv.is_encodable("ABC123") and not conv.is_encodable("a-b")
    upper = LabelConverter("ABCabc")
    assert upper.clean("Ab") == "Ab"  # an alphabet with capitals keeps case
    assert normalize_for_eval("Café-24!") == "café24"
