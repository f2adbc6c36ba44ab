"""From a data directory to DataLoaders: folder resolution, filtering report, samplers.

    cfg = LoaderConfig(converter, width, max_label_len=26, batch_size=64, workers=1)
    loader = train_loader("/data/MJ_LMDB", cfg, log=print)    # yields (images, labels, keys, dropped) batches
    loader = train_loader([TrainSource("synthetic stream", share=0.7), TrainSource("real", "/data/real", 0.3,
                          augment=AUGMENT)], cfg, log=print, stream_size=10 ** 6)
"""
import os
from dataclasses import dataclass

from torch.utils.data import DataLoader

from datasets.lmdb_dataset import LmdbDataset
from datasets.mixing import MixedDataset, MixedWindows, SourceOrder, batch_counts
from datasets.samplers import ShardSampler
from datasets.workers import worker_init
from datasets.synth.assets import check_generator
from datasets.synth.stream import SynthStream
from datasets.transforms import Width
from datasets.width_batches import EvalCollate, EvalWindows, TrainCollate, TrainWindows, window_group
from utils.errors import NotFoundError, UserError
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
    raise NotFoundError(f"{role} folder {os.path.join(data_path, name)} not found ({EXPECTED_LAYOUT}; "
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


@dataclass(frozen=True)
class TrainSource:
    """One source of training images: an LMDB folder, or the synthetic stream (path None); its share of each
    batch (normalised over the run's sources); `augment`: the augmentation table of real crops
    (datasets/augment.py), None to read them as they are."""
    name: str
    path: str = None
    share: float = 1.0
    augment: dict = None


def _windows(dataset, cfg, collate, **sampling):
    """A DataLoader whose items are windows of batches (see datasets/width_batches.py)."""
    # pin_memory (CUDA/NPU) lets the copy to the device run asynchronously (non_blocking=True).
    # Prefetch counts windows: 2 of them keep at least 2 batches per worker ready.
    fixed = cfg.width.is_fixed
    return DataLoader(dataset, num_workers=cfg.workers, collate_fn=collate, pin_memory=cfg.pin_memory,
                      worker_init_fn=worker_init, persistent_workers=cfg.workers > 0,
                      prefetch_factor=(4 if fixed else 2) if cfg.workers > 0 else None, **sampling)


def train_loader(sources, cfg, log, *, label_rule="strip", stream_size=None, assets=None, words=None):
    """Training batches of one or more TrainSources (datasets/mixing.py), or of one LMDB folder given as a path.
    The stream renders `stream_size` new images per epoch with the generator of `assets` and `words`."""
    if isinstance(sources, str):
        sources = [TrainSource(sources, sources)]
    datasets, orders = [], []
    for source in sources:
        if source.path is None:
            check_generator(assets, cfg.converter.alphabet, words, log)
            log(f"Synthetic stream: {stream_size} new images per epoch, rendered by {cfg.workers or 'the main'} "
                f"loader process{'es' if cfg.workers > 1 else ''} per device")
            dataset = SynthStream(cfg.seed, cfg.converter, cfg.max_label_len, width=cfg.width, assets=assets,
                                  words=words)
            size = stream_size
        else:
            dataset = LmdbDataset(source.path, cfg.converter, cfg.max_label_len, width=cfg.width, train=True,
                                  label_rule=label_rule)
            log(dataset.describe())
            size = len(dataset)
        if size < cfg.world_size:
            raise UserError(f"{source.name}: only {size} usable samples, fewer than the {cfg.world_size} ranks")
        datasets.append(dataset)
        orders.append(SourceOrder(size, cfg.world_size, cfg.rank, cfg.seed, stream=source.path is None))
    names = [s.name for s in sources]
    counts = batch_counts([s.share for s in sources], cfg.batch_size, names)
    if len(sources) > 1:
        log("Each batch: " + ", ".join(f"{name} {c} ({100 * c / cfg.batch_size:.1f}%"
                                         + (", augmented" if s.augment else "") + ")"
                                         for name, c, s in zip(names, counts, sources)))
    if orders[0].per_rank < counts[0]:  # the first source sets the epoch: it must fill one batch on every rank
        what = f"--synth_train {stream_size}:" if sources[0].path is None else \
            f"{sources[0].name}: only {len(datasets[0])} usable samples,"
        raise UserError(f"{what} fewer than one global batch ({counts[0]} x {cfg.world_size}); lower --batch_size"
                        + (" or raise --synth_train" if sources[0].path is None else ""))
    group = window_group(cfg.batch_size, cfg.width.is_fixed)
    windows = MixedWindows(orders, counts, group)
    dataset = MixedDataset(datasets, [s.augment for s in sources], cfg.seed)
    loader = _windows(dataset, cfg, TrainCollate(cfg.batch_size), batch_sampler=windows)
    return TrainWindows(loader, windows, group, names)


def stream_loader(epoch_size, cfg, log, *, assets=None, words=None):
    """Training batches rendered on the fly by the workers (see datasets/synth/stream.py)."""
    return train_loader([TrainSource("synthetic stream")], cfg, log, stream_size=epoch_size, assets=assets,
                        words=words)


def eval_loader(path, cfg, log):
    dataset = LmdbDataset(path, cfg.converter, cfg.max_label_len, width=cfg.width, train=False)
    log(dataset.describe())
    if not len(dataset):
        raise UserError(f"evaluation set {path} has no usable samples (every label is empty or missing): "
                        "nothing to evaluate; check the LMDB or pick another --val_dir")
    if not any(dataset[i][0] is not None for i in range(len(dataset))):  # stops at the first readable image
        raise UserError(f"evaluation set {path}: none of its {len(dataset)} images can be decoded: nothing to "
                        "evaluate; rebuild it with tools/create_lmdb_dataset.py")
    group = window_group(cfg.batch_size, cfg.width.is_fixed)
    return EvalWindows(_windows(dataset, cfg, EvalCollate(cfg.batch_size), batch_size=cfg.batch_size * group,
                                sampler=ShardSampler(dataset, cfg.world_size, cfg.rank)))
