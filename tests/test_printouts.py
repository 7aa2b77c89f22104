"""No paper copy of an ID card or a document's photo, and IINs masked on every printout: the
receipt (screen, print view, thermal printer), the checklist, the staff's reprint, and a staff
page printed from the browser (issue 16, item 6)."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from fixtures import documents
from fixtures.flows import PARENT, child_iin, fill_form, identify, sign, soup, token
from kiosk import db
from kiosk.cli import main
from kiosk.domain.iin import mask
from kiosk.domain.submissions import attachments_of, open_payload
from kiosk.extensions import keyring
from kiosk.infra.catalog_ext import get_catalog
from kiosk.models import Attachment, Submission
from kiosk.web.receipts import receipt_parts

CHILD = child_iin(dt.date(2016, 9, 9), "F")
PASSWORD = "correct horse battery"


def _applied_with_a_photo(client, clock) -> str:
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", {"child_iin": CHILD, "child_name": "Иванова Мария", "grade": "4", "category": "asp"})
    client.post(
        "/ru/apply/attachments",
        data={
            "csrf_token": token(client, "/ru/apply/attachments"),
            "file": (io.BytesIO(documents.phone_photo(0.3)), "id.jpg"),
        },
        content_type="multipart/form-data",
    )
    return sign(client, "ru", clock).rsplit("/", 1)[-1]


def _no_whole_iin(html: str) -> None:
    for iin in (PARENT, CHILD):
        assert iin not in html
        assert re.sub(r"\s", "", iin) not in re.sub(r"\s", "", html)


def test_every_printout_masks_the_iins_and_carries_no_photo(app, client, clock) -> None:
    reference = _applied_with_a_photo(client, clock)
    with db.new_session(app) as s:
        row = s.scalars(select(Submission)).one()
        assert s.scalars(select(Attachment).where(Attachment.submission_id == row.id)).all()  # a photo was attached

    for url in (f"/ru/receipt/{reference}", f"/ru/receipt/{reference}/print", "/ru/services/meals/print?paper=a4"):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.get_data(as_text=True)
        _no_whole_iin(html)
        assert not soup(page).select("main img"), url  # no photo of a document (the QR code is an inline SVG)
    receipt = client.get(f"/ru/receipt/{reference}/print").get_data(as_text=True)
    assert mask(PARENT) in receipt and mask(CHILD) in receipt

    # what the thermal printer draws is the same rows
    with app.app_context(), db.new_session(app) as s:
        row = s.scalars(select(Submission)).one()
        parts = receipt_parts(row, open_payload(row, keyring()), get_catalog(), attachments_of(s, row), first="ru")
    printed = " ".join(f"{label} {value}" for part in parts for label, value in part.rows)
    _no_whole_iin(printed)
    assert mask(CHILD) in printed

    # the staff's reprint, for a parent who lost the receipt
    staff = app.test_client()
    app.test_cli_runner().invoke(main, ["staff", "add", "aigul", "--password-stdin"], input=PASSWORD + "\n")
    staff.post(
        "/staff/login", data={"username": "aigul", "password": PASSWORD, "csrf_token": token(staff, "/staff/login")}
    )
    reprint = staff.get(f"/staff/submissions/{reference}/receipt")
    assert reprint.status_code == 200
    _no_whole_iin(reprint.get_data(as_text=True))
    assert not soup(reprint).select("main img")


@pytest.mark.browser
def test_a_staff_page_printed_from_the_browser_masks_the_iins_and_leaves_the_photos_out(
    app, client, clock, chromium, live_server
) -> None:
    reference = _applied_with_a_photo(client, clock)
    app.test_cli_runner().invoke(main, ["staff", "add", "aigul", "--password-stdin"], input=PASSWORD + "\n")
    page = chromium.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(live_server + "/staff/login")
    page.fill("#username", "aigul")
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/staff/$"))
    page.goto(f"{live_server}/staff/submissions/{reference}")
    screen = page.locator("main").inner_text()
    assert PARENT in screen and CHILD in screen  # staff read the whole IIN to compare it with the card
    assert page.locator(".attachments img").first.is_visible()
    page.emulate_media(media="print")
    paper = page.evaluate(
        """() => [...document.querySelectorAll('[data-applicant], [data-answer="child_iin"] dd')]
                 .map(e => getComputedStyle(e.querySelector('.iin-on-paper-masked'), '::after').content)"""
    )
    assert paper == [f'"{mask(PARENT)}"', f'"{mask(CHILD)}"']
    assert not page.locator(".iin-whole").first.is_visible()  # the whole number is not on paper at all
    assert not page.locator(".iin-whole").last.is_visible()
    assert not page.locator(".attachments img").first.is_visible()
