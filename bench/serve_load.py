"""The service under load beside the reader itself: requests/s, images/s and latency at N concurrent clients.

    python -m bench.serve_load                                    # 1, 8 and 32 clients, the shipped model
    python -m bench.serve_load --clients 32 --requests 20 -- --decoder greedy   # serve.py's flags after --

Starts `python serve.py` on a free loopback port (the flags after `--` go to it), reads the same images with the
reader in this process first (inference.Recognizer.read_many in batches of serve.py's --max_batch: the reader's
own batched throughput, the service idle), then for each client count sends that many concurrent clients, each
--requests requests of --per_request images in turn, over HTTP on loopback (bounded: at most 256 clients, and a
level stops taking new requests after --seconds). Every request must come back 200 with one reading per image: a
lost or failed request is counted and fails the run. The images are words the generator draws (its validation
split), or --images DIR's files.
"""
import sys

if not __package__:  # run as a file: the repository's packages are not on the import path
    print("error: run it from the repository root as a module: python -m bench.serve_load "
          + " ".join(sys.argv[1:]), file=sys.stderr)
    sys.exit(2)

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import threading
import time

import httpx
from PIL import Image

from bench.runs import ROOT, PassThroughParser
from datasets.synth.assets import load_renderer
from datasets.synth.build import VAL_SPLIT
from inference.reader_args import BATCH_SIZE, add_reader_args, reader_options
from inference.recognizer import Recognizer
from utils.cli import existing_dir, float_range, int_range, run_cli
from utils.errors import UserError


def get_args_parser():
    p = PassThroughParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int_range(1, 256), nargs="+", default=[1, 8, 32], help="concurrent clients")
    p.add_argument("--requests", type=int_range(1, 10000), default=8, help="requests per client")
    p.add_argument("--per_request", type=int_range(1, 64), default=1, help="images per request")
    p.add_argument("--count", type=int_range(1, 10000), default=256, help="distinct images (generated)")
    p.add_argument("--images", type=existing_dir, default=None, help="a folder of word images instead")
    p.add_argument("--seconds", type=float_range(1, 3600), default=120, help="time cap per client count")
    return p


def word_images(args):
    """-> [(name, encoded bytes)]"""
    if args.images:
        names = sorted(n for n in os.listdir(args.images) if not n.startswith("."))
        return [(n, open(os.path.join(args.images, n), "rb").read()) for n in names][:args.count]
    renderer = load_renderer()
    return [(f"{i}.jpg", renderer.sample(11, VAL_SPLIT, i)[0]) for i in range(args.count)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(serve_args):
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "serve.py"), "--port", str(port), *serve_args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            raise UserError(f"serve.py exited: {proc.stderr.read()[-500:]}")
        try:
            httpx.get(url + "/health", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise UserError("serve.py did not answer /health within 2 minutes")


def direct(images, serve_args):
    """Images/s of the reader itself, with serve.py's reader flags, in batches of its --max_batch."""
    flags = argparse.ArgumentParser(add_help=False)
    add_reader_args(flags)
    flags.add_argument("--max_batch", type=int, default=BATCH_SIZE)
    given = flags.parse_known_args(serve_args)[0]
    batch = given.max_batch
    reader = Recognizer(**reader_options(given))
    pil = [Image.open(io.BytesIO(data)) for _, data in images]
    reader.read_many(pil[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(pil), batch):
        reader.read_many(pil[i:i + batch])
    return len(pil) / (time.perf_counter() - start)


def load(url, images, clients, args):
    """-> (latencies of the requests answered, failures, seconds)"""
    latencies, failures, lock = [], [], threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def client(k):
        with httpx.Client(timeout=300) as http:
            for r in range(args.requests):
                if time.perf_counter() > deadline:
                    return
                first = (k * args.requests + r) * args.per_request
                batch = [images[(first + j) % len(images)] for j in range(args.per_request)]
                start = time.perf_counter()
                try:
                    answer = http.post(url + "/read", files=[("images", (n, d, "image/jpeg")) for n, d in batch])
                    ok = answer.status_code == 200 and len(answer.json()) == len(batch)
                except httpx.HTTPError as e:
                    ok, answer = False, e
                with lock:
                    (latencies if ok else failures).append(time.perf_counter() - start if ok else repr(answer)[:100])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures, time.perf_counter() - start


def percentile(values, q):
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main(args):
    images = word_images(args)
    proc, url = start_service(args.main_args)
    try:
        own = direct(images, args.main_args)
        print(f"\n{len(images)} word images, {args.per_request} per request; the reader itself, batched: "
              f"{own:.1f} images/s (serve.py {' '.join(args.main_args) or 'defaults'}, {os.cpu_count()} cores)\n")
        print("| clients | requests | failed | requests/s | images/s | of the reader's | p50 ms | p95 ms | p99 ms |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        table = {}
        for clients in args.clients:
            latencies, failures, seconds = load(url, images, clients, args)
            if not latencies:
                raise UserError(f"{clients} clients: no request answered ({failures[:1]})")
            rate = len(latencies) / seconds
            table[clients] = (len(latencies), len(failures), rate, rate * args.per_request)
            ms = [1000 * percentile(latencies, q) for q in (50, 95, 99)]
            print(f"| {clients} | {len(latencies)} | {len(failures)} | {rate:.1f} | {rate * args.per_request:.1f} | "
                  f"{100 * rate * args.per_request / own:.0f}% | " + " | ".join(f"{v:.0f}" for v in ms) + " |",
                  flush=True)
            if failures:
                raise UserError(f"{len(failures)} requests failed at {clients} clients, e.g. {failures[0]}")
        return own, table
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
