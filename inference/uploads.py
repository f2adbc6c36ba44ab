"""What the word-reading service takes as an upload, and one answer, a status and one line, for anything else.

POST /read takes either a multipart form whose field `images` holds one or more image files, or one image as
the raw body (Content-Type image/... or application/octet-stream). Each image must decode (datasets/transforms:
Pillow), be at most `max_side` pixels a side (read from its header before any pixel is decoded: a small file that
would decode into a huge image, a decompression bomb, is refused unread), and the request at most `max_bytes`
(counted as it arrives: inference/service.py) and `max_images`. The service reads only what is uploaded: no field
names a path.
"""
from dataclasses import dataclass

from datasets.transforms import open_image

FIELD = "images"
MAX_FILES = 4096  # the largest --max_images
RAW_TYPES = ("image/", "application/octet-stream")


class UploadError(Exception):
    """A bad upload: the HTTP status and the one line that names the problem."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_images: int
    max_side: int


def media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


async def uploaded_images(request, limits):
    """-> [(name, PIL image)] of the request, in order, each decoded; an UploadError for anything else."""
    kind = media_type(request.headers.get("content-type"))
    if kind == "multipart/form-data":
        files = await _form_files(request, limits)
    elif kind.startswith(RAW_TYPES):
        files = [("body", await request.body())]
    else:
        raise UploadError(415, f"content type {kind or '(none)'!r} is not an image nor multipart/form-data: send "
                               f"the images as form files in the field {FIELD!r}, or one image as the body")
    return [(name, decode(data, name, limits)) for name, data in files]


async def _form_files(request, limits):
    # Starlette's own caps stay above ours, so that ours name the flag; the body's size bounds the memory
    form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
    try:
        other = [key for key in form.keys() if key != FIELD]
        if other:
            raise UploadError(400, f"unknown form field {other[0]!r}: send the images in the field {FIELD!r}")
        items = form.getlist(FIELD)
        if not items:
            raise UploadError(400, f"no image: the form's field {FIELD!r} is missing or empty")
        if len(items) > limits.max_images:
            raise UploadError(413, f"{len(items)} images in one request, more than the limit of {limits.max_images} "
                                   "(--max_images)")
        files = []
        for n, item in enumerate(items, 1):
            if isinstance(item, str):
                raise UploadError(400, f"field {FIELD!r} #{n} is text, not a file: send files (curl -F "
                                       f"{FIELD}=@word.png)")
            files.append((item.filename or f"image {n}", await item.read()))
        return files
    finally:
        await form.close()


def decode(data, name, limits):
    """An uploaded file's bytes -> PIL image, checked; an UploadError naming the file."""
    if not data:
        raise UploadError(400, f"{name}: empty file")
    try:
        image = open_image(data, decode=False)
    except ValueError as e:
        status = 413 if "absurd image size" in str(e) or "exceeds limit" in str(e) else 400  # Pillow's bomb check
        raise UploadError(status, f"{name}: {e}") from None
    w, h = image.size
    if max(w, h) > limits.max_side:
        raise UploadError(413, f"{name}: {w}x{h} pixels, more than the limit of {limits.max_side} a side "
                               "(--max_side): a word crop is far smaller")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as e:
        raise UploadError(400, f"{name}: undecodable image ({str(e)[:120]})") from None
    return image
