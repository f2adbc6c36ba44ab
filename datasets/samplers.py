"""The evaluation sampler: an unpadded shard (training batches: datasets/mixing.py)."""
from torch.utils.data import Sampler


class ShardSampler(Sampler):
    """Indices rank, rank + world, ...: every sample evaluated exactly once over all ranks."""

    def __init__(self, dataset, num_replicas, rank):
        self.indices = list(range(rank, len(dataset), num_replicas))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)
