"""Builds (once) and caches the synthetic default data set in the data_lmdb_release layout.

    <cache>/synth_v7-<digest>_train<N>_val<M>_seed<S>/MJ_LMDB       training words
    <cache>/synth_v7-<digest>_train<N>_val<M>_seed<S>/IIIT5K_lmdb   validation words (other samples)

The cache root is $CRNN_CACHE_DIR, else ~/.cache/crnn_pytorch. The digest covers everything that
decides a sample (generator_digest): the feature table as drawn (with $CRNN_SYNTH_FEATURES), the
word-length weights, the generator's code and the assets' files, so any edit of them builds a new
set instead of reusing a stale one. An assets folder other than the trdg wheel and a feature
override are also named in words (synth_v7-<assets folder>-<features>-<digest>_train...). A set is built in a temporary folder and renamed into place when complete, so an interrupted
build is never mistaken for a finished one; a failed or interrupted build removes its temporary
folder. With num_train 0 (training on the stream, see stream.py) only the validation LMDB is
built.
"""
import glob
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from tqdm import tqdm

from datasets.lmdb_format import LmdbWriter
from datasets.synth.assets import ASSETS_ENV, assets_dir, check_generator, font_candidates, load_renderer
from datasets.synth.features import LENGTH_WEIGHTS, features, override_tag
from utils.errors import UserError, in_one_line
from utils.label_converter import DEFAULT_ALPHABET

VERSION = 7  # the generator's design, for people (v7: turned and stacked words, scenes seen close up)
CODE = os.path.dirname(os.path.abspath(__file__))
TRAIN_SPLIT, VAL_SPLIT = 0, 1
CHUNK = 256
_generator, _renderer = None, None


def default_cache_root():
    return os.environ.get("CRNN_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "crnn_pytorch")


def synth_dir(num_train, num_val, seed, *, root=None, assets=None, alphabet=None, words=None):
    assets = assets or os.environ.get(ASSETS_ENV)
    alphabet = None if alphabet == DEFAULT_ALPHABET else alphabet
    tags = [os.path.basename(os.path.normpath(assets)) if assets else "", override_tag(),
            f"alphabet{len(alphabet)}" if alphabet else "",
            os.path.splitext(os.path.basename(words))[0] if words else "", generator_digest(assets, alphabet, words)]
    name = "-".join([f"synth_v{VERSION}"] + [t for t in tags if t])
    return os.path.join(root or default_cache_root(), f"{name}_train{num_train}_val{num_val}_seed{seed}")


def generator_digest(assets=None, alphabet=None, words=None):
    """10 hex digits of a SHA-256 over the feature table as drawn, the length weights, the alphabet and word
    list drawn, the generator's code (datasets/synth/*.py) and the assets (each font's, word list's and photo's
    name and size)."""
    alphabet = None if alphabet == DEFAULT_ALPHABET else alphabet
    words = [words, os.path.getsize(words)] if words and os.path.isfile(words) else words
    h = hashlib.sha256(json.dumps([features(), LENGTH_WEIGHTS.tolist(), alphabet, words], sort_keys=True).encode())
    for path in sorted(glob.glob(os.path.join(CODE, "*.py"))):
        with open(path, "rb") as f:
            h.update(os.path.basename(path).encode() + f.read())
    if assets and not os.path.isdir(assets):
        h.update(assets.encode())  # a folder that is not there (yet): named by its path
        return h.hexdigest()[:10]
    root = assets_dir(assets)
    files = font_candidates(assets) + [os.path.join(r, n) for sub in ("dicts", "images") if root
                                       for r, _, names in os.walk(os.path.join(root, sub)) for n in names]
    for path in sorted(files):
        h.update(f"{os.path.basename(path)} {os.path.getsize(path)}\n".encode())
    return h.hexdigest()[:10]


def generator_identity(assets=None, alphabet=None, words=None):
    """What names the generator in a run's record: version, digest, the feature table as drawn, the assets,
    the alphabet and word list."""
    return {"generator": f"v{VERSION}", "digest": generator_digest(assets, alphabet, words), "features": features(),
            "assets": assets_dir(assets) or "none (system fonts)", "alphabet": alphabet or DEFAULT_ALPHABET,
            "words": words or "the assets' English list"}


def _init_worker(assets, alphabet=None, words=None):
    """Remembers what to render with. The renderer is built by the worker's first job, not here: an exception
    there reaches the parent as that job's, where a failing pool initializer is only started again."""
    global _generator, _renderer
    _generator, _renderer = (assets, alphabet, words), None


def _render_chunk(job):
    global _renderer
    if _renderer is None:
        assets, alphabet, words = _generator
        _renderer = load_renderer(assets, alphabet=alphabet, words=words)
    seed, split, start, stop = job
    return [_renderer.sample(seed, split, i) for i in range(start, stop)]


def write_split(path, num, seed, split, *, workers, desc, assets=None, alphabet=None, words=None):
    """Render samples 0..num-1 of `split` into a new LMDB at `path`. An exception in a worker process, or a
    worker that dies, ends the build at once with one line saying so (the caller removes the folder)."""
    jobs = [(seed, split, s, min(s + CHUNK, num)) for s in range(0, num, CHUNK)]
    with LmdbWriter(path) as writer, tqdm(total=num, desc=desc, unit="img", mininterval=2) as bar:
        if workers <= 1:
            _init_worker(assets, alphabet, words)
            _write_chunks(writer, bar, map(_render_chunk, jobs))
            return
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                   initargs=(assets, alphabet, words))
        try:
            _write_chunks(writer, bar, pool.map(_render_chunk, jobs))
        except BrokenProcessPool:
            raise UserError(f"a process rendering the {desc} images died (killed by a signal, e.g. out of "
                            "memory): build with fewer processes or free memory, then run again") from None
        except Exception as e:  # raised in a worker and passed on by the pool
            raise UserError(f"rendering the {desc} images failed in a worker process: {in_one_line(e)}") \
                from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # the jobs not started are dropped


def _write_chunks(writer, bar, chunks):
    for chunk in chunks:
        for image, label in chunk:
            writer.add(image, label)
        bar.update(len(chunk))


def ensure_synthetic(num_train, num_val, seed, *, root=None, workers=None, build=True, log=print, assets=None,
                     alphabet=None, words=None):
    """Return the folder of the cached synthetic set, building it first if needed.

    With build=False (other ranks of a node) wait for the builder to finish instead.
    """
    log = log or (lambda *a: None)
    out = synth_dir(num_train, num_val, seed, root=root, assets=assets, alphabet=alphabet, words=words)
    ready = os.path.join(out, "READY")
    if os.path.isfile(ready):
        log(f"Using cached synthetic data: {out}")
        return out
    if not build:
        while not os.path.isfile(ready):
            time.sleep(2)
        return out
    check_generator(assets, alphabet, words, log)
    workers = workers or min(16, os.cpu_count() or 1)
    log(f"Building synthetic data ({num_train} train + {num_val} val word images, {workers} processes) in {out}")
    tmp = f"{out}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    generator = {"assets": assets, "alphabet": alphabet, "words": words}
    try:
        if num_train:
            write_split(os.path.join(tmp, "MJ_LMDB"), num_train, seed, TRAIN_SPLIT, workers=workers,
                        desc="synthetic train", **generator)
        write_split(os.path.join(tmp, "IIIT5K_lmdb"), num_val, seed, VAL_SPLIT, workers=workers, desc="synthetic val",
                    **generator)
        open(os.path.join(tmp, "READY"), "w").close()
    except BaseException:  # a failed or interrupted build leaves nothing behind in the cache
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.rename(tmp, out)
    except OSError:
        # Another process finished the same set first: keep its copy.
        shutil.rmtree(tmp, ignore_errors=True)
    return out
