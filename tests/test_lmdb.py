import subprocess
import sys

import lmdb
import pytest

from conftest import ROOT, word_image, write_lmdb
from datasets.lmdb_dataset import LmdbDataset
from datasets.transforms import Width
from datasets.width_batches import TrainCollate
from datasets.lmdb_format import open_lmdb
from tools.create_lmdb_dataset import create_dataset, mjsynth_label, parse_gt_line
from utils.errors import UserError
from utils.label_converter import LabelConverter

LONG = "x" * 30  # longer than the 26 steps a 100 px wide input gives


@pytest.fixture
def image_folder(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    for name, text in [("a.png", "Hello"), ("b.png", "World"), ("c.png", "long")]:
        (d / name).write_bytes(word_image(text))
    (d / "broken.png").write_bytes(b"\x89PNG not really an image")
    (d / "mj").mkdir()
    (d / "mj" / "12_Sunset_345.jpg").write_bytes(word_image("Sunset"))
    gt = tmp_path / "gt.txt"
    gt.write_text(f"a.png\tHello\nb.png\tWorld\nc.png\t{LONG}\nbroken.png\tbad\nmissing.png\tgone\nmj/12_Sunset_345.jpg 7\n")
    return d, gt


def test_tool_round_trip_with_corrupt_and_long(image_folder, tmp_path):
    d, gt = image_folder
    out = tmp_path / "lmdb"
    result = subprocess.run([sys.executable, "-m", "tools.create_lmdb_dataset", "--input_dir", str(d),
                             "--gt_file", str(gt), "--output", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Wrote 4 samples" in result.stdout
    assert "Skipped 1: image not decodable" in result.stdout
    assert "Skipped 1: image file missing" in result.stdout
    env, num = open_lmdb(str(out))
    with env.begin() as txn:
        assert num == 4 and txn.get(b"num-samples") == b"4"
        assert [txn.get(b"label-%09d" % i).decode() for i in range(1, 5)] == ["Hello", "World", LONG, "Sunset"]
        assert txn.get(b"image-%09d" % 1) == (d / "a.png").read_bytes()
        assert txn.get(b"label-%09d" % 0) is None  # numbered from 1
    conv = LabelConverter()
    train = LmdbDataset(str(out), conv, max_label_len=26, train=True)
    assert train.stats["too_long"] == 1 and train.labels == ["hello", "world", "sunset"]
    assert "1 longer than the model can emit" in train.describe()
    image, label, key = train[0]
    assert image.shape == (1, 32, 100) and label == "hello" and key == 1
    assert -1.0 <= float(image.min()) < float(image.max()) <= 1.0
    evaluation = LmdbDataset(str(out), conv, max_label_len=26, train=False)
    assert len(evaluation) == 4 and evaluation.stats["too_long"] == 1  # kept: counted as an error


def test_scan_folder_with_mjsynth_names(image_folder, tmp_path):
    d, _ = image_folder
    written, skipped = create_dataset(str(d / "mj"), None, str(tmp_path / "mj_lmdb"), progress=False)
    assert written == 1 and not skipped
    assert mjsynth_label("./3000/7/182_slinking_71711.jpg") == "slinking"
    assert parse_gt_line("./1/2/3_Hi_4.jpg 4\n") == ("./1/2/3_Hi_4.jpg", "Hi")
    assert parse_gt_line("img.png\tA b\n") == ("img.png", "A b")


def test_undecodable_image_in_lmdb_is_skipped_and_counted(tmp_path, capsys):
    path = write_lmdb(tmp_path / "l", [(word_image("ok"), "ok"), (b"garbage", "bad"), (b"", "empty")])
    ds = LmdbDataset(path, LabelConverter(), 26, train=False)
    [(images, labels, keys, dropped)] = TrainCollate(3)([ds[0], ds[1], ds[2]])
    assert images.shape == (1, 1, 32, 100) and labels == ["ok"] and keys == [1] and dropped == 2
    assert ds.bad_images == 2
    log = capsys.readouterr().out
    assert "skipping" in log and "image-000000002" in log and "image-000000003" in log


def test_filters_empty_and_out_of_alphabet(tmp_path):
    img = word_image("x")
    path = write_lmdb(tmp_path / "l", [(img, "good"), (img, ""), (img, "a-b"), (img, "ÄÖ"), (img, "[Car-park]")])
    skip = LmdbDataset(path, LabelConverter(), 26, train=True, label_rule="skip")
    assert (skip.stats["kept"], skip.stats["empty"], skip.stats["out_of_alphabet"]) == (1, 1, 3)
    strip = LmdbDataset(path, LabelConverter(), 26, train=True, label_rule="strip")
    assert strip.labels == ["good", "ab", "carpark"]            # "ÄÖ" keeps nothing: an empty label
    assert (strip.stats["empty"], strip.stats["stripped"], strip.stats["out_of_alphabet"]) == (2, 2, 0)
    assert "2 labels kept without the characters the alphabet lacks" in strip.describe()
    evaluation = LmdbDataset(path, LabelConverter(), 26, train=False)
    assert evaluation.labels == ["good", "a-b", "ÄÖ", "[Car-park]"] and evaluation.stats["empty"] == 1


def test_lmdb_errors(tmp_path):
    with pytest.raises(UserError, match="LMDB folder not found"):
        open_lmdb(str(tmp_path / "nope"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(UserError, match="not an LMDB folder"):
        open_lmdb(str(tmp_path / "plain"))
    env = lmdb.open(str(tmp_path / "nokey"))
    with env.begin(write=True) as txn:
        txn.put(b"label-000000001", b"x")
    env.close()
    with pytest.raises(UserError, match="no 'num-samples' key"):
        open_lmdb(str(tmp_path / "nokey"))
    empty = write_lmdb(tmp_path / "empty", [])
    with pytest.raises(UserError, match="is empty"):
        open_lmdb(empty)
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "data.mdb").write_bytes(b"\0" * 5000)
    with pytest.raises(UserError, match="corrupt or unreadable LMDB"):
        open_lmdb(str(tmp_path / "corrupt"))


def test_loader_workers_reopen_the_lmdb(tiny_data):
    """The parent process holds the LMDB open; forked workers must get their own handle."""
    from datasets.loaders import LoaderConfig, eval_loader, train_loader
    conv = LabelConverter()
    cfg = LoaderConfig(conv, Width.fixed(100), max_label_len=26, batch_size=16, workers=1)
    train = train_loader(f"{tiny_data}/MJ_LMDB", cfg, lambda *a: None)
    val = eval_loader(f"{tiny_data}/MJ_LMDB", cfg, lambda *a: None)
    images, labels, keys, dropped = next(iter(train))
    assert images.shape == (16, 1, 32, 100) and len(labels) == len(keys) == 16 and dropped == 0
    assert sum(len(b[1]) for b in val) == 1600
