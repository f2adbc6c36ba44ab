"""Training on several sources at once: each source's share of every window, passes over a small source,
exact resumes and disjoint ranks; the augmentation of real crops; main.py's --real_dir run and its record."""
import json
import os

import numpy as np
import pytest
from PIL import Image

import main
from conftest import TINY_MODEL, random_words, word_image, write_lmdb
from datasets.augment import AUGMENT, augment
from datasets.loaders import LoaderConfig, TrainSource, train_loader
from datasets.mixing import SourceOrder, batch_counts
from datasets.transforms import Width
from utils.errors import UserError
from utils.label_converter import LabelConverter


def test_batch_counts_are_whole_samples_summing_to_the_batch():
    assert batch_counts([0.7, 0.2, 0.1], 64, "abc") == [45, 13, 6]
    assert batch_counts([7, 3], 10, "ab") == [7, 3]
    with pytest.raises(UserError, match=r"--batch_ratio gives b 0\.010 of a batch of 16: less than one image"):
        batch_counts([0.99, 0.01], 16, "ab")


def test_a_small_source_is_reshuffled_every_pass_and_shared_by_ranks():
    orders = [SourceOrder(10, 2, rank, seed=1) for rank in (0, 1)]
    passes = [[o.keys(n * 5, 5) for o in orders] for n in range(2)]
    for ranks in passes:                                      # a pass: every sample once over the ranks
        assert sorted(ranks[0] + ranks[1]) == list(range(10))
    assert passes[0] != passes[1]                             # the next pass is reshuffled
    assert orders[0].keys(3, 4) == passes[0][0][3:] + passes[1][0][:2]   # reading across the pass boundary


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    synth = write_lmdb(root / "synth", [(word_image(w), w) for w in random_words(96, seed=2)])
    # "Real07!": case and a character the alphabet lacks, which the strip rule reads as "real07" (no synthetic
    # word holds an "l")
    real = write_lmdb(root / "real", [(word_image(f"Real{i:02d}!"), f"Real{i:02d}!") for i in range(20)])
    return synth, real


def batches(loader, epoch, skip=0):
    loader.sampler.set_epoch(epoch, skip_batches=skip)
    return [(tuple(labels), images.shape) for images, labels, _, _ in loader]


def test_every_window_holds_each_source_in_its_share(two_sources):
    synth, real = two_sources
    cfg = LoaderConfig(LabelConverter(), Width(), max_label_len=26, batch_size=8)
    sources = [TrainSource("synth", synth, 0.75), TrainSource("real", real, 0.25, augment=AUGMENT)]
    loader = train_loader(sources, cfg, lambda *a: None)
    assert loader.windows.counts == [6, 2] and len(loader) == 96 // 6
    epoch = batches(loader, 0)
    labels = [label for batch, _ in epoch for label in batch]
    real_labels = [label for label in labels if label.startswith("real")]
    # a window holds all 16 batches of the epoch here: 2 real crops a batch, 32 in all: every one of the 20
    # once, then 12 of a reshuffled second pass
    assert len(labels) == 128 and len(real_labels) == 32 and set(real_labels) == {f"real{i:02d}" for i in range(20)}
    assert loader.seen(16, 1) == {"synth": 96, "real": 32}
    # the same epoch again, and its resumption after 5 batches, read the same images (augmented alike)
    assert batches(loader, 0) == epoch and batches(loader, 0, skip=5) == epoch[5:]
    assert batches(loader, 1) != epoch


def test_augmentation_is_a_pure_function_of_its_draw_and_keeps_any_crop_readable():
    crop = Image.open(__import__("io").BytesIO(word_image("sample"))).convert("L")
    first = augment(crop, np.random.default_rng((1, 1, 4, 7)), AUGMENT)
    again = augment(crop, np.random.default_rng((1, 1, 4, 7)), AUGMENT)
    assert first.mode == "L" and first.size[1] == 32 and np.array_equal(np.asarray(first), np.asarray(again))
    always = dict.fromkeys(AUGMENT, 1.0)
    for size in ((3, 2), (400, 30), (40, 200)):                 # tiny, wide, tall: every effect at once
        out = augment(crop.resize(size), np.random.default_rng(0), always)
        assert out.mode == "L" and out.size[1] == 32 and out.size[0] >= 4


def test_a_run_with_real_crops_logs_and_records_each_source(tiny_data, two_sources, tmp_path, capsys):
    _, real = two_sources
    out = tmp_path / "run"
    args = ["--data_path", tiny_data, "--real_dir", real, "--batch_ratio", "3", "1", "--epochs", "1", "--max_step", "6",
            "--batch_size", "8", "--output_dir", str(out), *TINY_MODEL]
    main.main(main.get_args_parser().parse_args(args))
    log = capsys.readouterr().out
    assert "Each batch: MJ_LMDB 6 (75.0%), real 2 (25.0%, augmented)" in log
    assert "20 samples, kept 20" in log and "20 labels kept without the characters the alphabet lacks" in log
    assert "images seen: MJ_LMDB 36, real 12" in log
    record = json.load(open(out / "run.json"))
    assert record["images_seen"] == {"MJ_LMDB": 36, "real": 12}
    first, second = record["data"]["train"]["sources"]
    assert (first["name"], first["per_batch"], second["name"], second["per_batch"]) == ("MJ_LMDB", 6, "real", 2)
    assert second["augment"] == AUGMENT and second["num_samples"] == 20


@pytest.mark.parametrize("flags, message", [
    (["--real_dir", "{real}"], r"--real_dir: give --batch_ratio with 2 shares"),
    (["--real_dir", "{real}", "--batch_ratio", "1"], r"--batch_ratio has 1 shares for 2 training sources"),
    (["--batch_ratio", "1", "2"], r"--batch_ratio has 2 shares for 1 training sources"),
])
def test_source_flags_that_do_not_fit_are_refused_before_any_work(tiny_data, two_sources, tmp_path, flags, message):
    flags = [f.format(real=two_sources[1]) for f in flags]
    with pytest.raises(UserError, match=message):
        main.main(main.get_args_parser().parse_args(["--data_path", tiny_data, "--output_dir", str(tmp_path / "o"),
                                                     *flags, *TINY_MODEL]))
    assert not os.path.exists(tmp_path / "o")
