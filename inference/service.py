"""The word-reading service: the reader behind HTTP (FastAPI on uvicorn), its demo page, its limits.

    app = make_app(Recognizer(), Limits(max_bytes=8 << 20, max_images=64, max_side=4096), max_batch=64, wait_s=0.01)

- `GET /` the demo page (inference/page/index.html: plain HTML and a little JavaScript, nothing fetched from
  outside); `POST /read` images -> a JSON list of {"file", "text", "confidence"} (predict.py --json's fields;
  {"file", "error"} for an image the reader failed on); `GET /health` the model, engine, decoder and what was
  read; `GET /docs` the OpenAPI page (Swagger UI from the installed swagger-ui-bundle), `/openapi.json`.
- Concurrent requests are read together (inference/batcher.py), off the event loop.
- Every error is one JSON line, `{"error": "..."}`, with a 4xx status for a bad request (inference/uploads.py);
  no traceback reaches a client; an unexpected error is a 500 with its type and first line, and is logged.
- One log line per request on stderr: method, path, status, images, milliseconds.
"""
import os
import sys
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from inference.batcher import Batcher
from inference.uploads import FIELD, UploadError, uploaded_images
from utils.version import checkout_commit

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "page", "index.html")


def log_line(text):
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


class _TooLarge(BaseException):
    """Raised from the body's reader when it passes the limit: a BaseException, so that the app's own error
    handling (which turns an Exception into a 500) lets it through to Gate."""


class Gate:
    """ASGI middleware around the app: a request body over `max_bytes` is refused with 413 (by its Content-Length
    before any of it is read, else as soon as the bytes received pass the limit), and every request gets one log
    line: method, path, status, images read, milliseconds."""

    def __init__(self, app, max_bytes):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status, received = time.perf_counter(), None, 0

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _TooLarge
            return message

        length = dict(scope["headers"]).get(b"content-length", b"")
        try:
            if length.isdigit() and int(length) > self.max_bytes:
                raise _TooLarge
            await self.app(scope, counted, sending)
        except _TooLarge:
            if status is None:
                size = f"{int(length)} bytes" if length.isdigit() else f"more than {self.max_bytes} bytes"
                await JSONResponse({"error": f"a request body of {size}, over the limit of {self.max_bytes} "
                                             "(--max_upload_mb)"}, status_code=413)(scope, receive, sending)
        finally:
            images = scope.get("state", {}).get("images", 0)
            log_line(f"{scope['method']} {scope['path']} {status} {images} image{'' if images == 1 else 's'} "
                     f"{1000 * (time.perf_counter() - start):.1f} ms")


def make_app(reader, limits, *, max_batch, wait_s):
    """The FastAPI app of `reader` (inference.Recognizer)."""
    state = {}

    @asynccontextmanager
    async def lifespan(app):
        state["batcher"] = Batcher(reader.read_many, max_batch=max_batch, wait_s=wait_s)
        yield
        await state["batcher"].close()  # uvicorn has answered every request by now: nothing is left unread

    app = FastAPI(title="CRNN word reader", version=checkout_commit(), docs_url=None, redoc_url=None,
                  lifespan=lifespan, description=f"Reads the word in each uploaded image. POST images to /read "
                                                 f"(form files in the field '{FIELD}', or one image as the body).")
    import swagger_ui_bundle
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.exception_handler(UploadError)
    async def bad_upload(request, error):
        return JSONResponse({"error": error.message}, status_code=error.status)

    @app.exception_handler(HTTPException)
    async def http_error(request, error):
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request, error):
        first = error.errors()[0] if error.errors() else {}
        return JSONResponse({"error": f"bad request: {first.get('msg', 'invalid')} at "
                                      f"{'.'.join(map(str, first.get('loc', ())))}"}, status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(request, error):
        text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        log_line(f"error in {request.method} {request.url.path}: {type(error).__name__}: {text}")
        return JSONResponse({"error": f"internal error ({type(error).__name__})"}, status_code=500)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(PAGE, media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="CRNN word reader API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css", swagger_favicon_url="")

    @app.get("/health", summary="The model the service reads with, and what it has read")
    async def health():
        batcher = state["batcher"]
        return {"status": "ok", "model": os.path.basename(reader.path), "engine": reader.engine,
                "decoder": reader.decoder.describe(), "width": reader.width.describe(), "version": app.version,
                "images_read": batcher.images, "batches": batcher.batches}

    @app.post("/read", summary="Read the word in each uploaded image",
              openapi_extra={"requestBody": {"content": {
                  "multipart/form-data": {"schema": {"type": "object", "properties": {FIELD: {
                      "type": "array", "items": {"type": "string", "format": "binary"}}}}},
                  "image/png": {"schema": {"type": "string", "format": "binary"}}}}})
    async def read(request: Request):
        files = await uploaded_images(request, limits)
        request.state.images = len(files)
        results = await state["batcher"].read([image for _, image in files])
        return [{"file": name, "text": r.text, "confidence": r.confidence} if not isinstance(r, Exception) else
                {"file": name, "error": f"the reader failed on it ({type(r).__name__})"}
                for (name, _), r in zip(files, results)]

    return Gate(app, limits.max_bytes)
