"""Serve the word reader over HTTP: a JSON API, its OpenAPI page and a demo page, in one process.

    python serve.py                                       # the shipped model at http://127.0.0.1:8000
    python serve.py --model crnn_dw.onnx --port 9000      # an ONNX export; every flag of predict.py's reader
    curl -F images=@weights/sample_welcome.png http://127.0.0.1:8000/read

Open http://127.0.0.1:8000/ for the page, /docs for the API. Requests that arrive together are read as one
batch (--batch_wait_ms, --max_batch). Uploads are limited (--max_upload_mb, --max_images, --max_side) and a bad
one gets a 4xx with a one-line JSON error. SIGTERM (or Ctrl-C) stops taking requests, answers those in flight,
then exits. The default address, 127.0.0.1, is this machine only: --host 0.0.0.0 serves every network the
machine is on, to anyone who reaches it (no authentication, no TLS: docs/serving.md).
"""
import os
import socket
import sys

from inference.reader_args import BATCH_SIZE, add_reader_args, reader_options
from utils.cli import Parser, float_range, int_range, path_text, plural, run_cli
from utils.errors import UserError


def get_args_parser():
    p = Parser(description="The word reader as an HTTP service with a demo page", examples=__doc__)
    s = p.add_argument_group("service")
    s.add_argument("--host", type=path_text, default="127.0.0.1",
                   help="address to listen on (0.0.0.0: every network of the machine; see the docs)")
    s.add_argument("--port", type=int_range(1, 65535), default=8000, help="TCP port")
    s.add_argument("--max_upload_mb", type=float_range(0, 1024, lo_open=True), default=8.0,
                   help="largest request body, in MiB")
    s.add_argument("--max_images", type=int_range(1, 4096), default=64, help="most images in one request")
    s.add_argument("--max_side", type=int_range(16, 10000), default=4096,
                   help="largest image side in pixels, read from the header before decoding")
    s.add_argument("--max_batch", type=int_range(1, 4096), default=BATCH_SIZE,
                   help="most images read together (requests that arrive together share a batch)")
    s.add_argument("--batch_wait_ms", type=float_range(0, 10000), default=10.0,
                   help="how long a batch waits for more images after its first")
    add_reader_args(p)
    return p


def check_can_listen(host, port):
    """A port another program holds, or an address this machine lacks, is one line before the model loads."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e} (another service on that port? pick "
                        "--port; an address of this machine? check --host)") from None


def main(args):
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see predict.py: read when torch loads
    # Imported here: --help and a bad flag answer without loading torch and the web stack.
    import uvicorn

    from inference.recognizer import Recognizer
    from inference.service import make_app
    from inference.uploads import Limits
    check_can_listen(args.host, args.port)
    reader = Recognizer(**reader_options(args))
    limits = Limits(max_bytes=int(args.max_upload_mb * 2 ** 20), max_images=args.max_images, max_side=args.max_side)
    app = make_app(reader, limits, max_batch=args.max_batch, wait_s=args.batch_wait_ms / 1000)
    print(f"Serving {reader.describe()} at http://{args.host}:{args.port}/ (API: POST /read, GET /health, /docs); "
          f"at most {plural(args.max_images, 'image')} and {args.max_upload_mb:g} MiB a request", file=sys.stderr,
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=30)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
