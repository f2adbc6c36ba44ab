"""LMDB word-image dataset (data_lmdb_release layout), filtered once at start-up.

Training drops labels without a character to learn and labels longer than the model can emit; a label with
characters outside the alphabet follows the run's LABEL_RULES choice (main.py --label_rule): `strip` keeps the
sample with the label lower-cased (for a lower-case alphabet) and those characters dropped, as the benchmark
protocol reads it ("[06]" -> "06", "Car-park" -> "carpark"); `skip` drops the sample (the recipe's filter).
Evaluation follows the benchmark protocol: labels are compared case-insensitively on alphanumerics only, and
over-long labels stay in the denominator (the model cannot read them, so they count as errors). An image that
cannot be decoded is skipped and counted.
"""
import torch
from torch.utils.data import Dataset

from datasets.augment import augment
from datasets.lmdb_format import decode_label, image_key, label_key, open_lmdb
from datasets.transforms import RECIPE_IMG_W, Width, decode_image, gray, open_image, preprocess
from utils.label_converter import normalize_for_eval

MAX_BAD_KEYS_LOGGED = 5
LABEL_RULES = ("strip", "skip")


class LmdbDataset(Dataset):
    def __init__(self, root, converter, max_label_len, width=Width.fixed(RECIPE_IMG_W), train=True,
                 label_rule="strip"):
        self.root, self.width = root, width
        env, num = open_lmdb(root)
        self.stats = {"total": num, "empty": 0, "out_of_alphabet": 0, "stripped": 0, "too_long": 0, "missing": 0}
        self.indices, self.labels = [], []
        with env.begin() as txn:
            for i in range(1, num + 1):
                label = decode_label(txn.get(label_key(i)), root, i)
                reason, label = self._filter(label, converter, max_label_len, train, label_rule)
                if reason in ("empty", "out_of_alphabet", "too_long", "missing"):
                    self.stats[reason] += 1
                    continue
                if reason:
                    self.stats[reason] += 1
                if not train:  # kept as written: scoring normalises it (utils/metrics.score), the exact column not
                    self.stats["too_long"] += len(normalize_for_eval(label)) > max_label_len
                self.indices.append(i)
                self.labels.append(label)
        self.stats["kept"] = len(self.indices)
        self.bad_images = 0

    @staticmethod
    def _filter(label, converter, max_label_len, train, label_rule):
        """-> (what happened to the sample or None, the label it keeps)."""
        if label is None:
            return "missing", label
        if not train:
            return ("empty" if not normalize_for_eval(label) else None), label
        what, cleaned = None, converter.clean(label)
        if not converter.is_encodable(cleaned):
            if label_rule == "skip":
                return "out_of_alphabet", label
            what, cleaned = "stripped", converter.strip(cleaned)
        if not cleaned:
            return "empty", label
        if len(cleaned) > max_label_len:
            return "too_long", label
        return what, cleaned

    def describe(self):
        s = self.stats
        return (f"{self.root}: {s['total']} samples, kept {s['kept']} (dropped: {s['empty']} empty, "
                f"{s['out_of_alphabet']} out-of-alphabet, {s['missing']} without label"
                + (f", {s['too_long']} longer than the model can emit" if s["too_long"] else "") + ")"
                + (f"; {s['stripped']} labels kept without the characters the alphabet lacks" if s["stripped"] else ""))

    def __len__(self):
        return len(self.indices)

    def _txn_get(self, key):
        # open_lmdb opens lazily once per process: each DataLoader worker gets its own handle.
        env, _ = open_lmdb(self.root)
        with env.begin() as txn:
            return txn.get(key)

    def pil_image(self, key):
        """The image stored under LMDB index `key` (one that __getitem__ decoded), as a PIL image opened lazily:
        its size is known at once, its pixels are decoded on first use."""
        return open_image(self._txn_get(image_key(key)), decode=False)

    def __getitem__(self, idx):
        """-> (image [1, 32, W] float32 or None if undecodable, label, LMDB index)."""
        i = self.indices[idx]
        try:
            image = torch.from_numpy(decode_image(self._txn_get(image_key(i)), self.width))
        except ValueError as e:
            image = self._bad(i, e)
        return image, self.labels[idx], i

    def read(self, idx, table, rng):
        """__getitem__ with the image augmented (datasets/augment.py: `table` of probabilities, draws from `rng`)."""
        i = self.indices[idx]
        try:
            image = augment(gray(open_image(self._txn_get(image_key(i)))), rng, table)
            image = torch.from_numpy(preprocess(image, self.width))
        except ValueError as e:
            image = self._bad(i, e)
        return image, self.labels[idx], i

    def _bad(self, i, error):
        self.bad_images += 1
        if self.bad_images <= MAX_BAD_KEYS_LOGGED:
            print(f"warning: skipping {self.root} image-{i:09d}: {error}", flush=True)
