"""Reading words with a trained model: the Recognizer (recognizer.py), ONNX export and runtime, int8.

`from inference import Recognizer` loads torch only when it is asked for: the scripts' parsers import light modules
of this package (reader_args.py, orientation.py), so that `--help` answers at once.
"""
__all__ = ["Reading", "Recognizer"]


def __getattr__(name):
    if name in __all__:
        from inference import recognizer
        return getattr(recognizer, name)
    raise AttributeError(f"module 'inference' has no attribute {name!r}")
