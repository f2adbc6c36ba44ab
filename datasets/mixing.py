"""Training batches drawn from several sources at once: the synthetic data (the stream, a training LMDB or the
cached set) and real crops (main.py --real_dir), each with its share of every window of batches.

A training batch of own-width words is cut from a window of `group` batches sorted by width
(datasets/width_batches.py). Here each window takes `counts[i] x group` samples of source i (counts: the
per-batch shares of --batch_ratio as whole samples, summing to the batch size), so a source's share is exact
in every window and holds on average in each batch; with a fixed width a window is one batch and the share is
exact in every batch.

An epoch is one pass over the first source (the synthetic data, as in a run without real crops); every other
source is drawn in its share and starts a new shuffled pass whenever it runs out (a few thousand real crops
repeat many times in a run). Where each source is is a pure function of (epoch, step), so a resumed run, or
any DDP rank, continues every source exactly where it was. A source's order for its pass c on one rank is that
of a DistributedSampler at epoch c (an LMDB), or samples c*N + j*world + rank of the stream, so a run with one
source reads exactly what it read before sources could be mixed.
"""
import numpy as np
from torch.utils.data import Dataset, DistributedSampler, Sampler

from utils.errors import UserError


def batch_counts(shares, batch_size, names):
    """Shares of a batch (any positive numbers, normalised) -> whole samples per source summing to batch_size
    (largest remainders); a source that would get no sample is an error naming it."""
    total = float(sum(shares))
    exact = [batch_size * s / total for s in shares]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[:batch_size - sum(counts)]:
        counts[i] += 1
    for name, count, share in zip(names, counts, shares):
        if count == 0:
            raise UserError(f"--batch_ratio gives {name} {share / total:.3f} of a batch of {batch_size}: less than one "
                            "image; raise its share or the batch size")
    return counts


class SourceOrder:
    """One source's keys on one rank, pass after pass: `keys(start, count)` are its positions start.. (crossing
    into the next pass, reshuffled, as needed)."""

    def __init__(self, size, world, rank, seed, stream=False):
        self.size, self.world, self.rank, self.stream = size, world, rank, stream
        self.sampler = None if stream else DistributedSampler(range(size), world, rank, shuffle=True, seed=seed,
                                                              drop_last=True)
        self.per_rank = size // world if stream else self.sampler.num_samples
        if self.per_rank < 1:
            raise UserError(f"a training source of {size} samples has none for each of {world} ranks")
        self._pass, self._order = None, None

    def _order_of(self, n):
        if self._pass != n:
            if self.stream:  # the stream's pass n: its samples n*N .. n*N + N - 1, dealt out to the ranks
                self._order = range(n * self.size + self.rank, n * self.size + self.per_rank * self.world, self.world)
            else:
                self.sampler.set_epoch(n)
                self._order = list(self.sampler)
            self._pass = n
        return self._order

    def keys(self, start, count):
        out = []
        while count:
            n, offset = divmod(start, self.per_rank)
            take = min(count, self.per_rank - offset)
            out += self._order_of(n)[offset:offset + take]
            start, count = start + take, count - take
        return out


class MixedWindows(Sampler):
    """The loader's batch sampler: one list of (source, key, position) per window of `group` batches."""

    def __init__(self, orders, counts, group):
        self.orders, self.counts, self.group = orders, counts, group
        self.steps_per_epoch = orders[0].per_rank // counts[0]
        if not self.steps_per_epoch:
            raise UserError(f"the first training source has {orders[0].per_rank} samples per rank, fewer than its "
                            f"{counts[0]} of a batch: lower --batch_size")
        self.epoch = self.skip = 0

    def set_epoch(self, epoch, skip_windows=0):
        self.epoch, self.skip = epoch, skip_windows

    def start(self, i, epoch, step):
        """Source i's position on this rank before `step` of `epoch`."""
        if i == 0:
            return epoch * self.orders[0].per_rank + step * self.counts[0]
        return (epoch * self.steps_per_epoch + step) * self.counts[i]

    def __iter__(self):
        for first in range(self.skip * self.group, self.steps_per_epoch, self.group):
            batches = min(self.group, self.steps_per_epoch - first)
            window = []
            for i, (order, count) in enumerate(zip(self.orders, self.counts)):
                start = self.start(i, self.epoch, first)
                window += [(i, key, start + k) for k, key in enumerate(order.keys(start, count * batches))]
            yield window

    def __len__(self):
        return -(-self.steps_per_epoch // self.group) - self.skip


class MixedDataset(Dataset):
    """Item (source, key, position) -> that source's sample (image or None, label, key); a real source's image is
    augmented by a draw seeded with (seed, source, key, position)."""

    def __init__(self, datasets, augments, seed):
        self.datasets, self.augments, self.seed = datasets, augments, seed

    def __len__(self):
        return sum(len(d) for d in self.datasets)

    def __getitem__(self, item):
        i, key, position = item
        if self.augments[i] is None:
            return self.datasets[i][key]
        return self.datasets[i].read(key, self.augments[i], np.random.default_rng((self.seed, i, key, position)))
