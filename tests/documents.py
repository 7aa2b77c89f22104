"""Files as parents bring them, made at test time with Pillow: camera and phone photos with EXIF
rotation, a flatbed scan saved as PNG, a scanned PDF of several pages.

Each is a "document" (a paper page with lines of text and a red band along its top edge) with
sensor noise, so it compresses like a real photo and not like a flat test card. The photos are
stored on their side with EXIF orientation 6, as a phone held upright writes them: only a
viewer that turns them by the tag shows the red band on top. Made once per test session.
"""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw

MB = 1024 * 1024
RED_BAND = 12  # the band is the top 1/12 of the upright page
ORIENTATION = 0x0112


def _page(width: int, height: int) -> Image.Image:
    page = Image.new("RGB", (width, height), (235, 232, 220))
    draw = ImageDraw.Draw(page)
    step, thick = max(height // 60, 8), max(height // 200, 2)
    for y in range(height // 10, height - height // 10, step):
        draw.rectangle([width // 10, y, width - width // 10 - (y * 37) % (width // 3), y + thick], fill=(40, 40, 60))
    draw.rectangle([0, 0, width, height // RED_BAND], fill=(200, 30, 30))
    return page


def _noisy(page: Image.Image, amount: float) -> Image.Image:
    noise = Image.merge("RGB", [Image.effect_noise(page.size, 40) for _ in range(3)])
    return Image.blend(page, noise, amount)


# (size of the upright page, noise, JPEG quality): about 0.3, 2 and 5 MB
PHOTOS = {
    0.3: ((960, 1280), 0.25, 85),  # a small camera, 1.2 MP
    2: ((2448, 3264), 0.17, 90),  # an 8 MP phone
    5: ((3000, 4000), 0.30, 92),  # a 12 MP phone
}


@functools.cache
def phone_photo(megabytes: float) -> bytes:
    """A portrait JPEG stored on its side with EXIF orientation 6, as a phone held upright writes it."""
    size, noise, quality = PHOTOS[megabytes]
    upright = _noisy(_page(*size), noise)
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90 CW to view": the pixels are the page turned 90 CCW
    out = io.BytesIO()
    upright.rotate(90, expand=True).save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


@functools.cache
def png_scan() -> bytes:
    """A 300 dpi A4 page from a flatbed scanner, saved as PNG (about 14 MB)."""
    out = io.BytesIO()
    _noisy(_page(2480, 3508), 0.08).save(out, "PNG", compress_level=1)
    return out.getvalue()


@functools.cache
def scanned_pdf(pages: int = 3, dpi: int = 150) -> bytes:
    """A scanner's PDF of A4 pages: at 150 dpi about 0.2 MB a page, at 300 dpi in colour about 3.8 MB."""
    width, height = round(8.27 * dpi), round(11.69 * dpi)
    noise, quality = (0.1, 75) if dpi < 300 else (0.5, 88)
    images = [_noisy(_page(width, height), noise) for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=dpi, quality=quality)
    return out.getvalue()


def is_upright(jpeg: bytes) -> bool:
    """The red band is along the top edge, as on the paper: the photo was turned by its EXIF tag."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    width, height = image.size
    top = image.getpixel((width // 2, height // (RED_BAND * 3)))
    bottom = image.getpixel((width // 2, height - height // (RED_BAND * 3)))
    return height > width and _red(top) and not _red(bottom)


def _red(pixel: tuple[int, int, int]) -> bool:
    return pixel[0] > 150 and pixel[1] < 100 and pixel[2] < 100
