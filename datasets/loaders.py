"""From a data directory to DataLoaders: folder resolution, filtering report, samplers."""
import os

from torch.utils.data import DataLoader

from datasets.lmdb_dataset import LmdbDataset, collate
from datasets.samplers import ResumableDistributedSampler, ShardSampler, worker_init
from utils.errors import UserError

EXPECTED_LAYOUT = "expected <data_path>/MJ_LMDB (training) and <data_path>/IIIT5K_lmdb (evaluation), each holding data.mdb"
# The seed names the evaluation folder IIIT5K_lmdb in one place and IIIT5k_lmdb in another.
ALIASES = {"IIIT5K_lmdb": "IIIT5k_lmdb", "IIIT5k_lmdb": "IIIT5K_lmdb"}


def resolve_dir(data_path, name, role):
    if not os.path.isdir(data_path):
        raise UserError(f"--data_path {data_path} does not exist ({EXPECTED_LAYOUT})")
    for candidate in (name, ALIASES.get(name)):
        if candidate and os.path.isdir(os.path.join(data_path, candidate)):
            return os.path.join(data_path, candidate)
    raise UserError(f"{role} folder {os.path.join(data_path, name)} not found ({EXPECTED_LAYOUT}; "
                    f"--train_dir / --val_dir change the names)")


def _loader(dataset, batch_size, sampler, workers, drop_last):
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      collate_fn=collate, pin_memory=False, drop_last=drop_last,
                      worker_init_fn=worker_init, persistent_workers=workers > 0)


def train_loader(path, converter, max_label_len, img_w, batch_size, workers, world_size, rank, seed, log):
    dataset = LmdbDataset(path, converter, max_label_len, img_w=img_w, train=True)
    log(dataset.describe())
    if len(dataset) < batch_size * world_size:
        raise UserError(f"{path}: only {len(dataset)} usable samples, fewer than one global batch "
                        f"({batch_size} x {world_size}); lower --batch_size")
    sampler = ResumableDistributedSampler(dataset, world_size, rank, seed, batch_size)
    return _loader(dataset, batch_size, sampler, workers, drop_last=True)


def eval_loader(path, converter, max_label_len, img_w, batch_size, workers, world_size, rank, log):
    dataset = LmdbDataset(path, converter, max_label_len, img_w=img_w, train=False)
    log(dataset.describe())
    return _loader(dataset, batch_size, ShardSampler(dataset, world_size, rank), workers, drop_last=False)
