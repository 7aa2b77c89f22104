"""Photos and scans of documents: checked by their content, re-compressed to fit 5 MB in all.

A file's name and its declared type are ignored: only what the bytes are counts (an image Pillow
can decode, or a PDF). Images are re-encoded as JPEG, turned upright by their EXIF orientation,
which also drops whatever else the file carried (metadata, scripts in a polyglot); the original is
never kept. The upload is read from its file (Werkzeug spools a large one to disk): an image is
decoded from there, never copied whole into memory.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:  # Pillow is imported by the first upload: a server most of whose visitors send none saves its memory
    from PIL import Image

TOTAL_BUDGET = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # larger, as decoded, is a decompression bomb, not a document photo
LONG_SIDE = 2200  # enough to read an A4 page photographed whole
QUALITIES = (85, 75, 65, 55, 45, 35)


class Refused(Exception):
    """Why the file cannot be attached: 'not_document', 'damaged', 'too_large' (for the budget left),
    'too_many_pixels' (more than MAX_PIXELS to decode)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Prepared:
    kind: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def prepare(upload: BinaryIO, budget_left: int) -> Prepared:
    """Turn an uploaded file (seekable, at its start) into what is stored, within the budget left, or refuse it."""
    if upload.read(5) == b"%PDF-":
        size = upload.seek(0, io.SEEK_END)
        if size > budget_left:
            raise Refused("too_large")  # a PDF cannot be shrunk here without breaking it
        upload.seek(0)
        raw = upload.read()
        if b"%%EOF" not in raw[-2048:]:
            raise Refused("damaged")
        return Prepared("application/pdf", raw)
    upload.seek(0)
    image = _open_image(upload)
    for quality in QUALITIES:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= budget_left:
            return Prepared("image/jpeg", out.getvalue())
        if quality == QUALITIES[2] and max(image.size) > 1400:
            image = image.copy()
            image.thumbnail((1400, 1400))  # smaller pictures before uglier ones
    raise Refused("too_large")


def _open_image(upload: BinaryIO) -> Image.Image:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(upload)
            probe.verify()
            upload.seek(0)
            image: Image.Image = Image.open(upload)
            if image.format == "JPEG":  # decoded at 1/2, 1/4 or 1/8 while still over LONG_SIDE: a 48 MP photo fits
                scale = LONG_SIDE / max(image.size)
                image.draft(None, (round(image.width * scale), round(image.height * scale)))
            if image.width * image.height > MAX_PIXELS:
                raise Refused("too_many_pixels")
            image.load()
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Refused("too_many_pixels") from None
    except UnidentifiedImageError:
        raise Refused("not_document") from None
    except (OSError, SyntaxError, ValueError):
        raise Refused("damaged") from None
    image = ImageOps.exif_transpose(image)  # phone photos lie on their side otherwise
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.thumbnail((LONG_SIDE, LONG_SIDE))
    return image
