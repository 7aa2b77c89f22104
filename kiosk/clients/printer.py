"""The receipt printer (ESC/POS on an 80 mm thermal head).

Kazakh letters (ә, ғ, қ ...) are missing from the code pages of thermal printers, so the output is
the receipt drawn as a picture with a system font, then its QR code and a cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.domain.receipts import ReceiptPart

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def escpos_bytes(parts: list[ReceiptPart], url: str) -> bytes:
    """The receipt for a USB thermal printer: a 512-dot-wide picture, then the QR code, then a cut."""
    # python-escpos (pyusb and its backends) and Pillow load when a receipt is printed, not at every start
    from escpos.printer import Dummy
    from PIL import Image, ImageDraw, ImageFont

    # the printable dots of an 80 mm head at 180 dpi (python-escpos's TM-T88 profiles: 512); a 203 dpi
    # head has 576 and prints the same picture a little narrower, never cut off
    width = 512
    font = ImageFont.truetype(str(FONT), 22) if FONT.exists() else ImageFont.load_default()
    bold = ImageFont.truetype(str(FONT), 28) if FONT.exists() else font
    lines: list[tuple[str, Any]] = []
    for part in parts:
        lines.append((part.title, bold))
        for label, value in part.rows:
            lines += [(w, font) for w in _wrap(f"{label}: {value}", font, width)]
        for _kind, heading, docs in part.sections:
            lines.append((heading + ":", font))
            for doc in docs:
                lines += [(w, font) for w in _wrap(f"• {doc}", font, width)]
        for note in part.notes:
            lines += [(w, font) for w in _wrap(note, font, width)]
        lines.append(("", font))
    height = 34 * len(lines) + 10
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    y = 5
    for text, f in lines:
        draw.text((4, y), text, font=f, fill=0)
        y += 34
    printer = Dummy(profile="TM-T88V")
    printer.image(image)
    printer.qr(url, size=6, native=True)
    printer.cut()
    return printer.output


def _wrap(text: str, font: Any, width: int) -> list[str]:
    words, out, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if font.getlength(trial) <= width - 8 or not line:
            line = trial
        else:
            out.append(line)
            line = word
    return [*out, line] if line else out


def send_to_printer(target: str | None, data: bytes) -> None:
    """RECEIPT_PRINTER = "usb:0x0416:0x5011" (vendor:product) or a device file like /dev/usb/lp0."""
    if not target:
        raise RuntimeError("no receipt printer configured")
    if target.startswith("usb:"):
        from escpos.printer import Usb  # as above: only when printing

        _, vendor, product = target.split(":")
        printer = Usb(int(vendor, 16), int(product, 16))
        printer._raw(data)
        printer.close()
        return
    with open(target, "wb") as device:
        device.write(data)
