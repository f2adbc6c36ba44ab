"""Batches of words read at their own width (datasets/transforms.Width).

Images of one batch must share a width. The loader reads windows of
`group` x batch_size samples in the sampler's order (one DataLoader item is a
window), and cuts each window into batches:

- training (`TrainWindows`): the window is sorted by width and cut into
  `group` batches of neighbouring widths; a batch is padded on the right, by
  repeating each image's last column, to its widest image (a few pixels: a
  window of 4,096 words spans ~40 widths). The window's batches are visited in
  an order drawn from the window's first sample index, so an epoch does not go
  from narrow to wide words, and a resumed run sees the same batches in the
  same order. The number of batches depends only on the window's size, never on
  the images, so every DDP rank takes the same number of steps.
- evaluation (`EvalWindows`) and predict.py (`by_width`): samples of exactly one
  width per batch, no padding: a word reads the same alone or in any batch.

With a fixed width (min_w == max_w) a window is one batch and nothing changes
from the recipe's plain batches.
"""
import numpy as np
import torch

from datasets.workers import windows

WINDOW_SAMPLES = 4096  # samples sorted together: enough for tight width bands, ~80 MB of images


def window_group(batch_size, fixed_width):
    """Batches per window."""
    return 1 if fixed_width else max(2, WINDOW_SAMPLES // batch_size)


def pad_stack(images):
    """[1, 32, w_i] arrays -> [B, 1, 32, max w_i], each widened by repeating its last column."""
    width = max(x.shape[-1] for x in images)
    return np.stack([np.pad(x, ((0, 0), (0, 0), (0, width - x.shape[-1])), mode="edge") for x in images])


def by_width(widths, batch_size):
    """Positions grouped by exact width (narrowest first, input order within a width), <= batch_size each."""
    groups = {}
    for i, w in enumerate(widths):
        groups.setdefault(w, []).append(i)
    return [members[s:s + batch_size] for _, members in sorted(groups.items())
            for s in range(0, len(members), batch_size)]


def _batch(samples, dropped):
    """(images [B, 1, 32, W] or None, labels, keys, number of undecodable samples dropped)."""
    if not samples:
        return None, [], [], dropped
    images = torch.from_numpy(pad_stack([s[0].numpy() for s in samples]))
    return images, [s[1] for s in samples], [s[2] for s in samples], dropped


class TrainCollate:
    """One window of (image or None, label, key) samples -> its list of training batches."""

    def __init__(self, batch_size):
        self.batch_size = batch_size

    def __call__(self, samples):
        n_batches = len(samples) // self.batch_size  # the epoch's last partial batch is dropped, as the recipe's
        if not n_batches:
            return []
        samples = samples[:n_batches * self.batch_size]
        kept = sorted((s for s in samples if s[0] is not None), key=lambda s: s[0].shape[-1])
        parts = np.array_split(np.arange(len(kept)), n_batches)
        order = np.random.default_rng(int(samples[0][2])).permutation(n_batches) if n_batches > 1 else [0]
        dropped = len(samples) - len(kept)
        return [_batch([kept[i] for i in parts[j]], dropped if k == 0 else 0) for k, j in enumerate(order)]


class EvalCollate:
    """One window -> batches of one exact width each (undecodable samples counted on the first)."""

    def __init__(self, batch_size):
        self.batch_size = batch_size

    def __call__(self, samples):
        kept = [s for s in samples if s[0] is not None]
        dropped = len(samples) - len(kept)
        groups = by_width([s[0].shape[-1] for s in kept], self.batch_size) or [[]]
        return [_batch([kept[i] for i in g], dropped if k == 0 else 0) for k, g in enumerate(groups)]


class EvalWindows:
    """Iterates the batches of a window DataLoader."""

    def __init__(self, loader):
        self.loader, self.pin_memory = loader, loader.pin_memory

    def __iter__(self):
        for window in windows(self.loader):
            yield from window


class TrainWindows(EvalWindows):
    """A training loader in batches: len() is the epoch's batches, `sampler.set_epoch(e, skip_batches=k)` (what
    the training loop calls) resumes after the first k batches of epoch e, and `seen(step)` counts each source's
    images (datasets/mixing.py)."""

    def __init__(self, loader, windows, group, names=("training data",)):
        super().__init__(loader)
        self.windows, self.group, self.names, self.skip = windows, group, names, 0
        self.sampler = self

    def set_epoch(self, epoch, skip_batches=0):
        self.windows.set_epoch(epoch, skip_windows=skip_batches // self.group)
        self.skip = skip_batches % self.group

    def __len__(self):
        return self.windows.steps_per_epoch

    def seen(self, steps, world_size):
        """{source name: images drawn in `steps` training steps over all ranks} (exact at every window's end)."""
        return {name: count * steps * world_size for name, count in zip(self.names, self.windows.counts)}

    def __iter__(self):
        skip, self.skip = self.skip, 0
        for window in windows(self.loader):
            yield from window[skip:]
            skip = 0
