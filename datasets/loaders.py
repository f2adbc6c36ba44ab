"""From a data directory to DataLoaders: folder resolution, filtering report, samplers."""
import os

from torch.utils.data import DataLoader

from datasets.lmdb_dataset import LmdbDataset
from datasets.samplers import ResumableDistributedSampler, ShardSampler, worker_init
from datasets.synth.stream import StreamSampler, SynthStream
from datasets.width_batches import EvalCollate, EvalWindows, TrainCollate, TrainWindows, window_group
from utils.errors import UserError

EXPECTED_LAYOUT = "expected <data_path>/MJ_LMDB (training) and <data_path>/IIIT5K_lmdb (evaluation), each holding data.mdb"
# The seed names the evaluation folder IIIT5K_lmdb in one place and IIIT5k_lmdb in another.
ALIASES = {"IIIT5K_lmdb": "IIIT5k_lmdb", "IIIT5k_lmdb": "IIIT5K_lmdb"}


def resolve_dir(data_path, name, role):
    """`name` under data_path (an absolute path is taken as it is)."""
    for candidate in (name, ALIASES.get(name)):
        if candidate and os.path.isdir(os.path.join(data_path, candidate)):
            return os.path.join(data_path, candidate)
    if os.path.isfile(os.path.join(data_path, name)):
        raise UserError(f"{role} LMDB {os.path.join(data_path, name)} is a file, not an LMDB folder ({EXPECTED_LAYOUT})")
    raise UserError(f"{role} folder {os.path.join(data_path, name)} not found ({EXPECTED_LAYOUT}; "
                    f"--train_dir / --val_dir change the names)")


def _windows(dataset, sampler, batch_size, group, collate, workers, pin_memory):
    """A DataLoader whose items are windows of `group` batches (see datasets/width_batches.py)."""
    # pin_memory (CUDA/NPU) lets the copy to the device run asynchronously (non_blocking=True).
    # Prefetch counts windows: 2 of them keep at least 2 batches per worker ready.
    return DataLoader(dataset, batch_size=batch_size * group, sampler=sampler, num_workers=workers,
                      collate_fn=collate, pin_memory=pin_memory, worker_init_fn=worker_init,
                      persistent_workers=workers > 0, prefetch_factor=(4 if group == 1 else 2) if workers > 0 else None)


def _train_windows(dataset, sampler, batch_size, width, workers, pin_memory):
    group = window_group(batch_size, width.is_fixed)
    loader = _windows(dataset, sampler, batch_size, group, TrainCollate(batch_size), workers, pin_memory)
    return TrainWindows(loader, batch_size, group)


def train_loader(path, converter, max_label_len, width, batch_size, workers, world_size, rank, seed, log,
                 pin_memory=False):
    dataset = LmdbDataset(path, converter, max_label_len, width=width, train=True)
    log(dataset.describe())
    if len(dataset) < batch_size * world_size:
        raise UserError(f"{path}: only {len(dataset)} usable samples, fewer than one global batch "
                        f"({batch_size} x {world_size}); lower --batch_size")
    sampler = ResumableDistributedSampler(dataset, world_size, rank, seed, batch_size)
    return _train_windows(dataset, sampler, batch_size, width, workers, pin_memory)


def stream_loader(epoch_size, converter, max_label_len, width, batch_size, workers, world_size, rank, seed, log,
                  pin_memory=False, assets=None, words=None):
    """Training batches rendered on the fly by the workers (see datasets/synth/stream.py)."""
    if epoch_size < batch_size * world_size:
        raise UserError(f"--synth_train {epoch_size} is smaller than one global batch ({batch_size} x {world_size})")
    log(f"Synthetic stream: {epoch_size} new images per epoch, rendered by {workers or 'the main'} "
        f"loader process{'es' if workers > 1 else ''} per device")
    dataset = SynthStream(seed, converter, max_label_len, width=width, assets=assets, words=words)
    sampler = StreamSampler(epoch_size, world_size, rank, batch_size)
    return _train_windows(dataset, sampler, batch_size, width, workers, pin_memory)


def eval_loader(path, converter, max_label_len, width, batch_size, workers, world_size, rank, log, pin_memory=False):
    dataset = LmdbDataset(path, converter, max_label_len, width=width, train=False)
    log(dataset.describe())
    if not len(dataset):
        raise UserError(f"evaluation set {path} has no usable samples (every label is empty or missing): "
                        "nothing to evaluate; check the LMDB or pick another --val_dir")
    if not any(dataset[i][0] is not None for i in range(len(dataset))):  # stops at the first readable image
        raise UserError(f"evaluation set {path}: none of its {len(dataset)} images can be decoded: nothing to "
                        "evaluate; rebuild it with tools/create_lmdb_dataset.py")
    group = window_group(batch_size, width.is_fixed)
    return EvalWindows(_windows(dataset, ShardSampler(dataset, world_size, rank), batch_size, group,
                                EvalCollate(batch_size), workers, pin_memory))
