"""torch.hub entry points: the word reader from any folder, without installing anything.

    import torch
    reader = torch.hub.load("path/to/crnn_for_pytorch", "crnn", source="local")   # the shipped model + LM
    print(reader.read("word.png").text)
    reader = torch.hub.load("path/to/crnn_for_pytorch", "crnn", source="local", decoder="greedy")

`crnn(**options)` is inference.Recognizer(**options): the same keywords (model, decoder, lm, device,
precision, width flags, ...). torch.hub puts the checkout on the import path only while it calls the entry,
so the entry imports everything the reader needs (the reader imports nothing of ours later).
"""
import os
import sys

dependencies = ["torch", "numpy", "PIL"]

_HERE = os.path.dirname(os.path.abspath(__file__))
# The top-level packages the reader imports; the recipe's layout names them, so another installed package of
# the same name (Hugging Face's `datasets`) would be taken instead of ours if it was imported first.
_PACKAGES = ("datasets", "decoding", "inference", "models", "utils")


def _check_not_shadowed():
    for name in _PACKAGES:
        module = sys.modules.get(name)
        where = os.path.abspath(getattr(module, "__file__", None) or "?")
        if module is not None and not where.startswith(_HERE + os.sep):
            raise ImportError(f"a module {name!r} is already imported from {where}; it hides this checkout's "
                              f"{name}/: load the reader before importing that package, or in a fresh Python process")


def crnn(model=None, **options):
    """The word reader (inference.Recognizer): the shipped weights/crnn.pth with beam search and the shipped
    character LM unless told otherwise. -> Recognizer; reader.read(image).text."""
    _check_not_shadowed()
    from inference import Recognizer
    return Recognizer(model, **options)
