"""Synthetic training words rendered on the fly inside the DataLoader workers (--synth_stream).

A fast device reads the 300k cached set in seconds; the stream gives it as
many fresh images as it can take, with no cache on disk. Item i is sample i of
the generator's training split: the same JPEG bytes as image-(i+1) of a cached
MJ_LMDB built with the same seed, decoded and preprocessed by the same code.
Epoch e covers items e*N .. e*N+N-1 (N = --synth_train), so every epoch is new
data and a run of any length never repeats an image.

    python main.py --synth_stream --synth_train 1000000 --epochs 1
"""
import torch
from torch.utils.data import Dataset, Sampler

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


class StreamSampler(Sampler):
    """Indices of epoch e of the stream for one rank: e*N + j*world + rank, j = 0, 1, ... (whole global
    batches only). `set_epoch(e, skip_batches=k)` starts after this rank's first k batches, so a resumed
    run sees exactly the images an uninterrupted one would, as with the LMDB sampler."""

    def __init__(self, epoch_size, world_size, rank, batch_size):
        self.epoch_size, self.world, self.rank, self.batch_size = epoch_size, world_size, rank, batch_size
        self.num_samples = epoch_size // (world_size * batch_size) * batch_size
        self.epoch = self.skip = 0

    def set_epoch(self, epoch, skip_batches=0):
        self.epoch, self.skip = epoch, min(skip_batches * self.batch_size, self.num_samples)

    def __iter__(self):
        base = self.epoch * self.epoch_size + self.rank
        return iter(range(base + self.skip * self.world, base + self.num_samples * self.world, self.world))

    def __len__(self):
        return self.num_samples - self.skip
