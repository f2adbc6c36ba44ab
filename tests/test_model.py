import pytest
import torch

from models import CRNN
from models.crnn import output_length


def test_paper_model_shapes_and_size():
    model = CRNN()
    assert 8.2e6 < sum(p.numel() for p in model.parameters()) < 8.4e6
    with torch.no_grad():
        assert model(torch.zeros(3, 1, 32, 100)).shape == (26, 3, 37)
        assert model(torch.zeros(2, 1, 32, 160)).shape == (41, 2, 37)


@pytest.mark.parametrize("width", [64, 99, 100, 101, 128, 160, 257])
def test_output_length_formula(width):
    model = CRNN(cnn_width=4, hidden_size=8)
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 32, width)).shape[0] == output_length(width) == width // 4 + 1


def test_reference_state_dict_names():
    keys = set(CRNN().state_dict())
    assert {"cnn.conv0.weight", "cnn.batchnorm2.running_mean", "cnn.batchnorm6.weight",
            "rnn.0.rnn.weight_ih_l0_reverse", "rnn.1.embedding.weight"} <= keys
    assert not any("batchnorm0" in k or "batchnorm1" in k for k in keys)


def test_height_must_be_32():
    with pytest.raises(ValueError, match="img_h=32"):
        CRNN(img_h=48)
