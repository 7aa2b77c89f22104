"""The receipt as a parent holds it: the QR code read by a real decoder, on screen and on the 80 mm roll.

A QR code that only looks right is not enough: the test photographs it (a screenshot of the
element, and the 80 mm PDF rendered as the printer would get it) and decodes it with zxing-cpp,
then follows the link.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from PIL import Image

from flows import apply, child_iin

pytestmark = pytest.mark.browser

PORTRAIT = {"width": 1080, "height": 1920}
MM = 96 / 25.4  # CSS px per millimetre
ROLL_MM = 80
ROLL_MARGIN_MM = 4  # @page roll's side margins (static/css/kiosk.css)
PRINTABLE = {"width": round((ROLL_MM - 2 * ROLL_MARGIN_MM) * MM), "height": 1200}  # 72 mm = 272 px
CHILD = child_iin(dt.date(2016, 9, 9), "F")
NAMES = {"kk": "Әлібек Нұрлан", "ru": "Иванова Мария", "en": "Ivanova Maria"}
STATUS_WORD = {"kk": "Кезекте", "ru": "В очереди", "en": "Queued"}  # the state label, in each language


def decode(png: bytes) -> list[str]:
    """Every QR code zxing-cpp finds in a picture."""
    import zxingcpp

    image = Image.open(io.BytesIO(png)).convert("L")
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def render_pdf(path: Path, dpi: int = 203) -> list[Image.Image]:
    """The PDF's pages as a thermal printer of 203 dpi would print them."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L") for page in pdf]
    finally:
        pdf.close()


@pytest.fixture
def receipt(app, client, clock, live_server, chromium):
    """A browser context holding a fresh visit with one receipt: (context, receipt path, lang)."""
    contexts = []

    def make(lang: str, viewport: dict[str, int] = PORTRAIT):
        location = apply(
            client,
            lang,
            "meals",
            {"child_iin": CHILD, "child_name": NAMES[lang], "grade": "4", "category": "low_income"},
            clock,
        )
        context = chromium.new_context(viewport=viewport, has_touch=True)
        contexts.append(context)
        context.add_cookies(
            [{"name": "kiosk_visit", "value": client.get_cookie("kiosk_visit").value, "url": live_server}]
        )
        return context, location

    yield make
    for context in contexts:
        context.close()


def _assert_status_link(context, url: str, live_server: str, lang: str) -> None:
    assert url.startswith(f"{live_server}/{lang}/status/t/"), url
    phone = context.browser.new_context()  # the parent's phone: no cookie of the kiosk's visit
    try:
        page = phone.new_page()
        response = page.goto(url)
        assert response.status == 200
        assert page.locator("html").get_attribute("lang") == lang
        assert STATUS_WORD[lang] in page.locator("[data-state]").inner_text()
    finally:
        phone.close()


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_the_receipt_qr_code_reads_on_screen(receipt, live_server, artifacts, lang) -> None:
    context, location = receipt(lang)
    page = context.new_page()
    page.goto(live_server + location)
    page.screenshot(path=str(artifacts / f"{lang}-screen.png"), full_page=True)
    qr = page.locator("[data-qr] svg")
    found = decode(qr.screenshot(path=str(artifacts / f"{lang}-screen-qr.png")))
    assert len(found) == 1, found
    _assert_status_link(context, found[0], live_server, lang)
    # centred on its caption: the middles of the code and of the caption's text agree to 2 px
    middles = page.locator("[data-qr]").evaluate(
        """f => {
            const box = e => e.getBoundingClientRect();
            const range = document.createRange();
            range.selectNodeContents(f.querySelector('figcaption'));
            const code = box(f.querySelector('svg')), text = range.getBoundingClientRect();
            return [code.left + code.width / 2, text.left + text.width / 2];
        }"""
    )
    assert abs(middles[0] - middles[1]) <= 2, middles


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_the_printed_receipt_qr_code_reads_on_the_80mm_roll(receipt, live_server, artifacts, lang) -> None:
    context, location = receipt(lang, PRINTABLE)
    page = context.new_page()
    page.goto(live_server + location + "/print")
    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts / f"{lang}-print.png"), full_page=True)
    found = decode(
        page.locator(".receipt-sheet [data-qr] svg").screenshot(path=str(artifacts / f"{lang}-print-qr.png"))
    )
    assert len(found) == 1, found
    _assert_status_link(context, found[0], live_server, lang)
    # what Chromium sends the printer, on the page size the print CSS asks for, as a 203 dpi head prints it
    pdf = artifacts / f"{lang}-receipt-80mm.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True)
    pages = render_pdf(pdf)
    assert {round(p.width / 203 * 25.4) for p in pages} == {ROLL_MM}  # on the roll, not on an A4 sheet
    for n, picture in enumerate(pages):
        picture.save(artifacts / f"{lang}-receipt-80mm-{n + 1}.png")
    printed = [text for picture in pages for text in decode(_png(picture))]
    assert printed == found, printed


def _png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()
