"""torch.hub entry points: the word reader from any folder, without installing anything.

    import torch
    reader = torch.hub.load("path/to/crnn_for_pytorch", "crnn", source="local")   # the shipped model + LM
    print(reader.read("word.png").text)
    reader = torch.hub.load("path/to/crnn_for_pytorch", "crnn", "mine.pth", source="local", decoder="greedy")
    reader = torch.hub.load("path/to/crnn_for_pytorch", "crnn", source="local", weights="mine.pth")

`crnn(weights=None, **options)` is inference.Recognizer(weights, **options): the model file (a .pth or .onnx;
None: the shipped weights/crnn.pth), given first or as `weights=` (torch.hub.load's own second argument is named
`model`), and the reader's keywords (decoder, lm, device, precision, width flags, ...).

A good guest: this checkout's packages have the names the recipe's layout gives them (`utils`, `models`,
`datasets`, ...), which the user's own modules, or Hugging Face's `datasets`, may have too. The entry takes the
user's modules of those names out of sys.modules while it imports the reader, and afterwards puts them back and
takes this checkout's out: the user's `import utils`, before or after, is theirs; the reader keeps working on the
modules it imported (it imports nothing of ours later).
"""
import os
import sys

dependencies = ["torch", "numpy", "PIL"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGES = ("datasets", "decoding", "inference", "models", "utils")


def _ours_or_theirs():
    return {name: module for name, module in sys.modules.items() if name.partition(".")[0] in _PACKAGES}


def crnn(weights=None, **options):
    """The word reader (inference.Recognizer): the shipped weights/crnn.pth with beam search and the shipped
    character LM unless told otherwise. -> Recognizer; reader.read(image).text."""
    theirs = _ours_or_theirs()
    for name in theirs:
        del sys.modules[name]
    added = sys.path[:1] != [_HERE]
    if added:
        sys.path.insert(0, _HERE)
    try:
        from inference.recognizer import Recognizer
        return Recognizer(weights, **options)
    finally:
        for name in _ours_or_theirs():
            del sys.modules[name]
        sys.modules.update(theirs)
        if added:
            sys.path.remove(_HERE)
