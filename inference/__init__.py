"""Reading words with a trained model: the Recognizer (recognizer.py), ONNX export and runtime, int8."""
from inference.recognizer import Reading, Recognizer

__all__ = ["Reading", "Recognizer"]
