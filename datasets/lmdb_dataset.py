"""LMDB word-image dataset (data_lmdb_release layout), filtered once at start-up.

Training drops empty labels, labels with characters outside the alphabet and
labels longer than the model can emit. Evaluation follows the benchmark
protocol: labels are compared case-insensitively on alphanumerics only, and
over-long labels stay in the denominator (the model cannot read them, so they
count as errors). An image that cannot be decoded is skipped and counted.
"""
import torch
from torch.utils.data import Dataset

from datasets.lmdb_format import decode_label, image_key, label_key, open_lmdb
from datasets.transforms import RECIPE_IMG_W, Width, decode_image, open_image
from utils.label_converter import normalize_for_eval

MAX_BAD_KEYS_LOGGED = 5


class LmdbDataset(Dataset):
    def __init__(self, root, converter, max_label_len, width=Width.fixed(RECIPE_IMG_W), train=True):
        self.root, self.width = root, width
        env, num = open_lmdb(root)
        self.stats = {"total": num, "empty": 0, "out_of_alphabet": 0, "too_long": 0, "missing": 0}
        self.indices, self.labels = [], []
        with env.begin() as txn:
            for i in range(1, num + 1):
                label = decode_label(txn.get(label_key(i)), root, i)
                reason = self._reject_reason(label, converter, max_label_len, train)
                if reason:
                    self.stats[reason] += 1
                    continue
                if train:
                    label = converter.clean(label)
                else:  # kept as written: scoring normalises it (utils/metrics.score), the exact column does not
                    self.stats["too_long"] += len(normalize_for_eval(label)) > max_label_len
                self.indices.append(i)
                self.labels.append(label)
        self.stats["kept"] = len(self.indices)
        self.bad_images = 0

    @staticmethod
    def _reject_reason(label, converter, max_label_len, train):
        if label is None:
            return "missing"
        if not train:
            return "empty" if not normalize_for_eval(label) else None
        if not label:
            return "empty"
        if not converter.is_encodable(label):
            return "out_of_alphabet"
        if len(label) > max_label_len:
            return "too_long"
        return None

    def describe(self):
        s = self.stats
        return (f"{self.root}: {s['total']} samples, kept {s['kept']} (dropped: {s['empty']} empty, "
                f"{s['out_of_alphabet']} out-of-alphabet, {s['missing']} without label"
                + (f", {s['too_long']} longer than the model can emit" if s["too_long"] else "") + ")")

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
            self.bad_images += 1
            if self.bad_images <= MAX_BAD_KEYS_LOGGED:
                print(f"warning: skipping {self.root} image-{i:09d}: {e}", flush=True)
            image = None
        return image, self.labels[idx], i
