"""The receipt as a parent holds it: the QR code read by a real decoder, on screen and on the 80 mm roll.

A QR code that only looks right is not enough: the test photographs it (a screenshot of the
element, and the 80 mm PDF rendered as the printer would get it) and decodes it with zxing-cpp,
then follows the link as a phone would. The type scale of every printout (the receipt, each
service's checklist on the roll and on A4) is measured in print media at the printable width.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from PIL import Image

from fixtures.flows import apply, child_iin

pytestmark = pytest.mark.browser

PORTRAIT = {"width": 1080, "height": 1920}
PHONE = {"width": 360, "height": 780}  # a small phone's CSS pixels
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
    """make(lang): a browser context holding a fresh visit with one receipt, and the receipt's path."""
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
    """The link opens on the parent's phone (no cookie of the kiosk's visit) in the receipt's language,
    fits the phone's width, and has none of the terminal's idle reset or call for staff."""
    assert url.startswith(f"{live_server}/{lang}/status/t/"), url
    phone = context.browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        page = phone.new_page()
        response = page.goto(url)
        assert response.status == 200
        assert page.locator("html").get_attribute("lang") == lang
        assert STATUS_WORD[lang] in page.locator("[data-state]").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert page.locator("[data-idle], [data-call-staff]").count() == 0
    finally:
        phone.close()


def _on_the_roll(receipt, live_server: str, artifacts: Path, lang: str):
    """A fresh receipt's print page in print media at the roll's printable width (a screenshot kept):
    its browser context and the page."""
    context, location = receipt(lang, PRINTABLE)
    page = context.new_page()
    page.goto(live_server + location + "/print")
    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts / f"{lang}-print.png"), full_page=True)
    return context, page


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
    context, page = _on_the_roll(receipt, live_server, artifacts, lang)
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


A4_PRINTABLE = {"width": round((210 - 2 * 15) * MM), "height": 1200}  # @page A4 with 15 mm margins
# what a printout is measured by: the text (the document list) and the rest, each within a step of it
MEASURE_JS = """({body, steps, legal}) => {
    const sheet = document.querySelector('main.sheet');
    const size = e => parseFloat(getComputedStyle(e).fontSize);
    const text = size(sheet.querySelector(body));
    const ratios = {};
    for (const selector of steps) {
        for (const e of sheet.querySelectorAll(selector)) {
            ratios[selector + ' ' + e.textContent.trim().slice(0, 30)] = size(e) / text;
        }
    }
    const legalEl = sheet.querySelector(legal);
    const width = document.documentElement.clientWidth;
    const over = [...sheet.querySelectorAll('*')]
        .filter(e => e.getBoundingClientRect().right > width + 0.5)
        .map(e => e.tagName + ': ' + e.textContent.trim().slice(0, 40));
    return {
        text, ratios, legal: legalEl ? size(legalEl) : null, over,
        scroll: [document.documentElement.scrollWidth, width],
    };
}"""


def _assert_type_scale(page, what: str, body: str, steps: list[str], legal: str = "[data-legal-basis]") -> None:
    """Headings, the reference and the badge a step above the text (at most 1.4 times), the legal basis
    no larger than it, and nothing wider than the paper."""
    m = page.evaluate(MEASURE_JS, {"body": body, "steps": steps, "legal": legal})
    assert m["ratios"], what
    off = {name: round(r, 2) for name, r in m["ratios"].items() if not 1.0 <= r <= 1.4}
    assert not off, f"{what}: sizes against the text of {m['text']} px: {off}"
    if m["legal"] is not None:
        assert 10 <= m["legal"] <= m["text"], f"{what}: legal basis {m['legal']} px, text {m['text']} px"
    assert m["scroll"][0] <= m["scroll"][1], f"{what}: the page is {m['scroll'][0]} px wide on {m['scroll'][1]} px"
    assert not m["over"], f"{what}: wider than the paper: {m['over'][:5]}"


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_the_printed_receipt_has_one_type_scale_on_the_roll(receipt, live_server, artifacts, lang) -> None:
    _context, page = _on_the_roll(receipt, live_server, artifacts, lang)
    _assert_type_scale(page, "receipt", ".originals li", ["h1", "h2", "h3", ".reference-big", ".result dt"])


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_every_printed_checklist_has_one_type_scale_on_the_roll_and_on_a4(
    app, chromium, live_server, artifacts, lang
) -> None:
    """Every service, with its first category when it has them (the longest list), on both papers."""
    from kiosk.infra.catalog_ext import get_catalog

    with app.app_context():
        services = [(s.code, s.categories[0].code if s.categories else None) for s in get_catalog().services]
    for paper, viewport in (("roll", PRINTABLE), ("a4", A4_PRINTABLE)):
        context = chromium.new_context(viewport=viewport)
        page = context.new_page()
        page.emulate_media(media="print")
        for code, category in services:
            query = f"?paper={paper}" + (f"&category={category}" if category else "")
            assert page.goto(f"{live_server}/{lang}/services/{code}/print{query}").status == 200
            if code in ("grade1", "meals"):
                page.screenshot(path=str(artifacts / f"{lang}-{code}-{paper}.png"), full_page=True)
            _assert_type_scale(
                page, f"{code} on {paper}", "section.channel li, section.channel p", ["h1", "h2", "h3", ".tag"]
            )
        context.close()
