"""Synthetic training words rendered on the fly inside the DataLoader workers (--synth_stream).

A fast device reads the 300k cached set in seconds; the stream gives it as
many fresh images as it can take, with no cache on disk. Item i is sample i of
the generator's training split: the same JPEG bytes as image-(i+1) of a cached
MJ_LMDB built with the same seed, decoded and preprocessed by the same code.
Epoch e covers items e*N .. e*N+N-1 (N = --synth_train; datasets/mixing.py deals
them out to the ranks), so every epoch is new data and a run of any length never
repeats an image.

    python main.py --synth_stream --synth_train 1000000 --epochs 1
"""
import torch
from torch.utils.data import Dataset

from datasets.synth.assets import load_renderer
from datasets.synth.build import TRAIN_SPLIT
from datasets.transforms import RECIPE_IMG_W, Width, decode_image


class SynthStream(Dataset):
    """Map-style view of the endless stream: any non-negative index is a sample."""

    def __init__(self, seed, converter, max_label_len, width=Width.fixed(RECIPE_IMG_W), assets=None, words=None):
        self.seed, self.converter, self.max_label_len = seed, converter, max_label_len
        self.width, self.assets, self.words = width, assets, words
        self.renderer = None  # built in each worker on first use: fonts do not pickle

    def __len__(self):
        return 2 ** 62

    def __getitem__(self, index):
        """-> (image [1, H, W] float32, label, index); image None (dropped by collate) when the label
        is longer than the model can emit at this width."""
        if self.renderer is None:
            self.renderer = load_renderer(self.assets, alphabet=self.converter.alphabet, words=self.words)
        data, label = self.renderer.sample(self.seed, TRAIN_SPLIT, index)
        label = self.converter.clean(label)
        if len(label) > self.max_label_len:
            return None, label, index
        return torch.from_numpy(decode_image(data, self.width)), label, index
