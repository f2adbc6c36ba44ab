"""From a data directory to DataLoaders: folder resolution, filtering report, samplers.

    cfg = LoaderConfig(converter, width, max_label_len=26, batch_size=64, workers=1)
    loader = train_loader("/data/MJ_LMDB", cfg, log=print)    # yields (images, labels, keys, dropped) batches
"""
import os
from dataclasses import dataclass

from torch.utils.data import DataLoader

from datasets.lmdb_dataset import LmdbDataset
from datasets.samplers import ResumableDistributedSampler, ShardSampler
from datasets.workers import worker_init
from datasets.synth.assets import check_generator
from datasets.synth.stream import StreamSampler, SynthStream
from datasets.transforms import Width
from datasets.width_batches import EvalCollate, EvalWindows, TrainCollate, TrainWindows, window_group
from utils.errors import UserError
from utils.label_converter import LabelConverter

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


@dataclass(frozen=True)
class LoaderConfig:
    """How this rank's batches are made, the same for the training and the evaluation loaders: labels encoded by
    `converter` and at most `max_label_len` long (what the model emits at width.max_w), images read by the
    `width` rule, `batch_size` per rank, `workers` loader processes, pinned memory for an accelerator, and the
    rank's share of the data."""
    converter: LabelConverter
    width: Width
    max_label_len: int
    batch_size: int
    workers: int = 0
    world_size: int = 1
    rank: int = 0
    seed: int = 0
    pin_memory: bool = False


def _windows(dataset, sampler, cfg, collate):
    """A DataLoader whose items are windows of `group` batches (see datasets/width_batches.py) -> (loader, group)."""
    group = window_group(cfg.batch_size, cfg.width.is_fixed)
    # pin_memory (CUDA/NPU) lets the copy to the device run asynchronously (non_blocking=True).
    # Prefetch counts windows: 2 of them keep at least 2 batches per worker ready.
    return DataLoader(dataset, batch_size=cfg.batch_size * group, sampler=sampler, num_workers=cfg.workers,
                      collate_fn=collate, pin_memory=cfg.pin_memory, worker_init_fn=worker_init,
                      persistent_workers=cfg.workers > 0,
                      prefetch_factor=(4 if group == 1 else 2) if cfg.workers > 0 else None), group


def _train_windows(dataset, sampler, cfg):
    loader, group = _windows(dataset, sampler, cfg, TrainCollate(cfg.batch_size))
    return TrainWindows(loader, cfg.batch_size, group)


def train_loader(path, cfg, log):
    dataset = LmdbDataset(path, cfg.converter, cfg.max_label_len, width=cfg.width, train=True)
    log(dataset.describe())
    if len(dataset) < cfg.batch_size * cfg.world_size:
        raise UserError(f"{path}: only {len(dataset)} usable samples, fewer than one global batch "
                        f"({cfg.batch_size} x {cfg.world_size}); lower --batch_size")
    sampler = ResumableDistributedSampler(dataset, cfg.world_size, cfg.rank, cfg.seed, cfg.batch_size)
    return _train_windows(dataset, sampler, cfg)


def stream_loader(epoch_size, cfg, log, *, assets=None, words=None):
    """Training batches rendered on the fly by the workers (see datasets/synth/stream.py)."""
    if epoch_size < cfg.batch_size * cfg.world_size:
        raise UserError(f"--synth_train {epoch_size} is smaller than one global batch ({cfg.batch_size} x "
                        f"{cfg.world_size})")
    check_generator(assets, cfg.converter.alphabet, words, log)
    log(f"Synthetic stream: {epoch_size} new images per epoch, rendered by {cfg.workers or 'the main'} "
        f"loader process{'es' if cfg.workers > 1 else ''} per device")
    dataset = SynthStream(cfg.seed, cfg.converter, cfg.max_label_len, width=cfg.width, assets=assets, words=words)
    sampler = StreamSampler(epoch_size, cfg.world_size, cfg.rank, cfg.batch_size)
    return _train_windows(dataset, sampler, cfg)


def eval_loader(path, cfg, log):
    dataset = LmdbDataset(path, cfg.converter, cfg.max_label_len, width=cfg.width, train=False)
    log(dataset.describe())
    if not len(dataset):
        raise UserError(f"evaluation set {path} has no usable samples (every label is empty or missing): "
                        "nothing to evaluate; check the LMDB or pick another --val_dir")
    if not any(dataset[i][0] is not None for i in range(len(dataset))):  # stops at the first readable image
        raise UserError(f"evaluation set {path}: none of its {len(dataset)} images can be decoded: nothing to "
                        "evaluate; rebuild it with tools/create_lmdb_dataset.py")
    loader, _ = _windows(dataset, ShardSampler(dataset, cfg.world_size, cfg.rank), cfg, EvalCollate(cfg.batch_size))
    return EvalWindows(loader)
