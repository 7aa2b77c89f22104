"""The attachments step in Chromium, by touch: the file button in the visitor's language, real photos
and scans, an 11 MB PDF, and a file over the limit, which never ends on a page without a way back."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from fixtures import documents
from fixtures.flows import child_iin, fill_form, identify, meals

pytestmark = pytest.mark.browser

COOKIE = "kiosk_visit"
ANSWERS = meals(child_iin(dt.date(2016, 3, 3)))


@pytest.fixture
def visit_page(touch_page, client, clock, live_server):
    """A portrait touch screen showing the test client's visit, identified and past the form."""
    identify(client, "kk", "meals", clock=clock)
    fill_form(client, "kk", ANSWERS)
    touch_page.context.add_cookies([{"name": COOKIE, "value": client.get_cookie(COOKIE).value, "url": live_server}])
    return touch_page


def _file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _add(page, path: Path) -> None:
    """Tap the button, pick the file in the chooser, tap "Add this file"."""
    box = page.locator('label[for="file"]').bounding_box()
    with page.expect_file_chooser() as chooser:  # a finger on the button touches the control over it
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    chooser.value.set_files(str(path))
    assert page.locator("[data-file-chosen]").inner_text() == path.name
    with page.expect_navigation():
        page.locator("form[data-upload] button[type=submit]").tap()


def _send_unchecked(page, path: Path) -> None:
    """Send the file as a page whose check did not run would (an old page, no script)."""
    page.locator("#file").evaluate("i => i.replaceWith(i.cloneNode())")  # the same control, no listeners
    page.locator("#file").set_input_files(str(path))
    with page.expect_navigation():
        page.locator("form[data-upload]").evaluate("f => f.submit()")  # no submit event either


def test_the_file_button_speaks_the_visitors_language_and_takes_real_scans(
    visit_page, live_server, tmp_path, artifacts
) -> None:
    page = visit_page
    page.goto(live_server + "/kk/apply/attachments")
    button = page.locator('label[for="file"]')
    assert button.inner_text() == "Файлды таңдау"
    native = page.locator("#file")
    assert native.evaluate("e => getComputedStyle(e).opacity") == "0"  # its English text is never seen
    box, over = button.bounding_box(), native.bounding_box()
    assert over["width"] >= box["width"] and over["height"] >= box["height"]  # a tap on the button is on it
    native.focus()  # from the keyboard too: the control takes the focus, the button shows it
    assert button.evaluate("b => getComputedStyle(b).outlineStyle") == "solid"
    # Space on the focused native control opens the chooser (the browser's own behaviour; waiting
    # for that event from a key press timed out now and then on a loaded machine, so not asserted)
    assert page.evaluate("document.activeElement.type") == "file"
    page.screenshot(path=str(artifacts / "1-empty.png"), full_page=True)

    _add(page, _file(tmp_path, "IMG_0001.jpg", documents.phone_photo(0.3)))
    _add(page, _file(tmp_path, "scan.png", documents.png_scan()))  # 15 MB from the flatbed
    assert page.locator("[data-file]").count() == 2
    assert re.search(r"· \d,\d\d МБ$", page.locator("[data-file] span").first.inner_text())
    assert re.search(r"5 МБ ішінен \d,\d\d МБ пайдаланылды", page.locator("#budget-text").inner_text())

    # an 11 MB PDF of three colour pages: sent (it is under the limit of one file), then refused
    # by the budget, in Kazakh, on the same page with its way back and on
    pdf = documents.scanned_pdf(3, 300)
    assert 10.5 * documents.MB < len(pdf) < 12 * documents.MB
    _add(page, _file(tmp_path, "scan-11mb.pdf", pdf))
    assert page.url.endswith("/kk/apply/attachments")
    assert "сыймайды" in page.locator(".alert:not([hidden])").inner_text()
    assert page.locator("[data-file]").count() == 2
    assert page.locator("[data-next]").is_visible() and page.get_by_role("link", name="Артқа").is_visible()
    page.screenshot(path=str(artifacts / "2-refused-by-the-budget.png"), full_page=True)
    page.locator("#file").set_input_files(_file(tmp_path, "IMG_0002.jpg", documents.phone_photo(0.3)))
    assert page.locator("[data-upload-error]").count() == 0  # the message was about the file before
    assert page.locator("[data-file-chosen]").inner_text() == "IMG_0002.jpg"


def test_continue_after_choosing_a_file_adds_it_and_goes_on(visit_page, live_server, tmp_path, artifacts) -> None:
    """The parent chooses a file and taps the big "Continue" instead of "Add this file": the file is
    added, then the check page counts it; the same with the page's script gone (no JS)."""
    page = visit_page
    page.goto(live_server + "/kk/apply/attachments")
    box = page.locator('label[for="file"]').bounding_box()
    with page.expect_file_chooser() as chooser:
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    chooser.value.set_files(str(_file(tmp_path, "IMG_0001.jpg", documents.phone_photo(0.3))))
    with page.expect_navigation():
        page.locator("[data-next]").tap()
    assert page.url.endswith("/kk/apply/check")
    page.screenshot(path=str(artifacts / "1-check-counts-the-file.png"), full_page=True)
    photos = page.locator(".answer", has_text="Құжаттардың фотосуреттері").locator("dd").first
    assert photos.inner_text() == "1"

    page.goto(live_server + "/kk/apply/attachments")
    page.locator("#file").evaluate("i => i.replaceWith(i.cloneNode())")  # no script's listeners
    page.locator("#file").set_input_files(str(_file(tmp_path, "scan.pdf", documents.scanned_pdf(1))))
    with page.expect_navigation():
        page.locator("[data-next]").tap()
    assert page.url.endswith("/kk/apply/check")
    assert photos.inner_text() == "2"

    page.goto(live_server + "/kk/apply/attachments")  # nothing chosen: Continue just goes on
    with page.expect_navigation():
        page.locator("[data-next]").tap()
    assert page.url.endswith("/kk/apply/check") and photos.inner_text() == "2"


def test_a_file_over_the_limit_is_refused_in_the_visitors_language(
    visit_page, live_server, tmp_path, artifacts, app
) -> None:
    page = visit_page
    page.goto(live_server + "/kk/apply/attachments")
    # over the most one file may be (MAX_UPLOAD_SIZE), and over the largest body the server reads
    huge = _file(tmp_path, "scan-600dpi.png", b"\x89PNG\r\n\x1a\n" + bytes(app.config["MAX_CONTENT_LENGTH"]))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    # the page refuses it before a byte is sent
    page.locator("#file").set_input_files(str(huge))
    refused = page.locator("[data-file-refused]")
    assert refused.is_visible() and "30 МБ-тан үлкен" in refused.inner_text()
    assert page.locator("[data-file-chosen]").inner_text() == ""
    assert page.locator("#file").evaluate("e => e.files.length") == 0  # nothing of it can be sent
    assert posts == []
    page.screenshot(path=str(artifacts / "1-refused-by-the-page.png"), full_page=True)

    # a page whose check did not run (an old page, no script): the server's answer is the visitor's
    # page, in Kazakh, with the way back, not waitress's raw English one
    _send_unchecked(page, huge)
    assert page.locator("html").get_attribute("lang") == "kk"
    assert "30 МБ-тан үлкен" in page.locator("main").inner_text()
    assert "Request Entity Too Large" not in page.content()
    page.screenshot(path=str(artifacts / "2-refused-by-the-server.png"), full_page=True)
    assert page.locator('#langs a[hreflang="ru"]').get_attribute("href") == "/ru/apply/attachments"
    with page.expect_navigation():  # the 413 page has the step's own address: wait for the new page
        page.locator("[data-back]").tap()
    assert page.url.endswith("/kk/apply/attachments")
    assert page.locator("h1").inner_text() == "Құжаттардың фотосуреттері"

    # and the idle reset still takes the screen back to the start from the error page
    app.config.update(VISIT_IDLE_S=1, VISIT_IDLE_WARN_S=1)
    _send_unchecked(page, huge)
    assert page.locator("[data-status]").get_attribute("data-status") == "413"
    page.wait_for_url(re.compile(r"^http://[^/]+/$"), timeout=20_000)  # Welcome
