"""Samplers: a resumable DistributedSampler for training, an unpadded shard for evaluation."""
from torch.utils.data import DistributedSampler, Sampler



class ResumableDistributedSampler(DistributedSampler):
    """DistributedSampler (shuffled by seed + epoch, drop_last) that can start mid-epoch:
    `set_epoch(e, skip_batches=k)` replays epoch e's order without its first k batches, so a
    resumed run sees exactly the batches an uninterrupted one would have."""

    def __init__(self, dataset, num_replicas, rank, seed, batch_size):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.batch_size = batch_size
        self.skip = 0

    def set_epoch(self, epoch, skip_batches=0):
        super().set_epoch(epoch)
        self.skip = min(skip_batches * self.batch_size, self.num_samples)

    def __iter__(self):
        return iter(list(super().__iter__())[self.skip:])

    def __len__(self):
        return self.num_samples - self.skip


class ShardSampler(Sampler):
    """Indices rank, rank + world, ...: every sample evaluated exactly once over all ranks."""

    def __init__(self, dataset, num_replicas, rank):
        self.indices = list(range(rank, len(dataset), num_replicas))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)
