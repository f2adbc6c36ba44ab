"""The data_lmdb_release layout, shared by the reader, the writer tool and parse_testdata.

Keys: `num-samples` (decimal count), `image-%09d` (encoded image bytes) and
`label-%09d` (UTF-8 text), numbered from 1.
"""
import os

import lmdb

from utils.errors import NotFoundError, UserError

NUM_SAMPLES_KEY = b"num-samples"
LAYOUT_HINT = "an LMDB folder holds data.mdb (+ lock.mdb) with keys num-samples, image-%09d, label-%09d"


def image_key(index):
    return b"image-%09d" % index


def label_key(index):
    return b"label-%09d" % index


_OPEN = {}  # (path, pid) -> (env, num): py-lmdb refuses to open one environment twice in a process


def open_lmdb(path):
    """Open an LMDB read-only (never written, no lock file needed) with one clear error per problem.
    One handle per folder and process, shared by every dataset reading it; fork-safe by pid."""
    real, pid = os.path.realpath(path), os.getpid()
    if (real, pid) not in _OPEN:
        # A DataLoader worker inherits its parent's handle through fork; py-lmdb still counts it as
        # open here, so close the child's copy (read-only, lock-free: the parent's stays intact).
        for stale in [k for k in _OPEN if k[0] == real]:
            _OPEN.pop(stale)[0].close()
        _OPEN[(real, pid)] = _open_checked(path)
    return _OPEN[(real, pid)]


def lmdb_identity(path):
    """What names an LMDB in a run's record: its absolute path and num-samples."""
    return {"lmdb": os.path.abspath(path), "num_samples": open_lmdb(path)[1]}


def _open_checked(path):
    if os.path.isfile(path):
        raise UserError(f"{path} is a file, not an LMDB folder ({LAYOUT_HINT})")
    if not os.path.isdir(path):
        raise NotFoundError(f"LMDB folder not found: {path} ({LAYOUT_HINT})")
    if not os.path.isfile(os.path.join(path, "data.mdb")):
        raise UserError(f"not an LMDB folder (no data.mdb): {path} ({LAYOUT_HINT})")
    try:
        env = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False, max_readers=64)
        with env.begin() as txn:
            raw = txn.get(NUM_SAMPLES_KEY)
    except lmdb.Error as e:
        raise UserError(f"corrupt or unreadable LMDB {path}/data.mdb: {e}") from None
    if raw is None:
        env.close()
        raise UserError(f"LMDB {path} has no 'num-samples' key ({LAYOUT_HINT})")
    try:
        num = int(raw)
    except ValueError:
        env.close()
        raise UserError(f"LMDB {path}: 'num-samples' is not a number: {raw[:40]!r}") from None
    if num <= 0:
        env.close()
        raise UserError(f"LMDB {path} is empty (num-samples = {num})")
    return env, num


def decode_label(raw, path, index):
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"LMDB {path}: label-{index:09d} is not UTF-8 text") from None


class LmdbWriter:
    """Append (image bytes, label) pairs to a new LMDB; `num-samples` is written on close."""

    def __init__(self, path, map_size=1 << 40, commit_every=1000):
        os.makedirs(path, exist_ok=True)
        if os.path.exists(os.path.join(path, "data.mdb")):
            raise UserError(f"refusing to overwrite the existing LMDB {path}: remove it or pick another output")
        self.env = lmdb.open(path, map_size=map_size)
        self.commit_every = commit_every
        self.count = 0
        self.cache = {}

    def add(self, image_bytes, label):
        self.count += 1
        self.cache[image_key(self.count)] = image_bytes
        self.cache[label_key(self.count)] = label.encode("utf-8")
        if len(self.cache) >= 2 * self.commit_every:
            self._flush()

    def _flush(self):
        with self.env.begin(write=True) as txn:
            for k, v in self.cache.items():
                txn.put(k, v)
        self.cache = {}

    def close(self):
        self.cache[NUM_SAMPLES_KEY] = str(self.count).encode()
        self._flush()
        self.env.sync()
        self.env.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
