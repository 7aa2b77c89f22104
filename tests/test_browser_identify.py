"""Identify in Chromium: a synthetic card typed as a reader's keystrokes, the code on the keypad."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from kiosk.domain.mrz import compose_td1

pytestmark = pytest.mark.browser

PARENT = "880412412349"  # a demo citizen, phone +7 701 *** ** 45
CARD = compose_td1("043218765", PARENT, dt.date(2031, 5, 20), "NURLANQYZY", "AIGERIM")


def _page(chromium):
    context = chromium.new_context(viewport={"width": 1080, "height": 1920}, has_touch=True)
    return context, context.new_page()


def _tap_digits(page, digits: str) -> None:
    for digit in digits:
        page.locator(f'.keypad [data-key="{digit}"]').tap()


def test_card_keystrokes_then_code_on_the_keypad(chromium, live_server: str, artifacts: Path) -> None:
    context, page = _page(chromium)
    page.goto(live_server + "/ru/services/meals")
    page.locator("[data-apply]").tap()
    page.wait_for_url(re.compile(r"/ru/identify\?service=meals$"))
    page.screenshot(path=str(artifacts / "1-identify.png"), full_page=True)
    # the reader types the zone like a keyboard: CRLF after each line, into whatever has focus
    assert page.evaluate("document.activeElement.id") == "mrz"
    page.keyboard.type(CARD.replace("\n", "\r\n") + "\r\n", delay=2)
    page.wait_for_url(re.compile(r"/ru/identify/code$"))  # sent by itself, no button touched
    assert page.locator("[data-phone]").inner_text() == "+7 701 *** ** 45"
    sms = page.locator("[data-sms]").first.inner_text()
    code = re.search(r"\b(\d{6})\b", sms).group(1)
    page.screenshot(path=str(artifacts / "2-code.png"), full_page=True)
    _tap_digits(page, code)
    assert page.locator("#code").input_value() == code
    page.get_by_role("button", name="Подтвердить").tap()
    page.wait_for_url(re.compile(r"/ru/identify/done$"))
    assert page.locator("h1").inner_text() == "Личность подтверждена"
    assert page.locator("[data-name]").inner_text() == "Aigerim Nurlanqyzy"
    page.screenshot(path=str(artifacts / "3-done.png"), full_page=True)
    context.close()


def test_a_card_with_a_wrong_check_digit_is_not_read(chromium, live_server: str, artifacts: Path) -> None:
    context, page = _page(chromium)
    lines = CARD.split("\n")
    digit = lines[1][6]
    lines[1] = lines[1][:6] + str((int(digit) + 1) % 10) + lines[1][7:]  # the birth date's check digit
    page.goto(live_server + "/ru/identify")
    page.keyboard.type("\r\n".join(lines) + "\r\n", delay=2)
    page.wait_for_selector(".alert")
    assert "Удостоверение не прочитано" in page.locator(".alert").inner_text()
    assert page.url.endswith("/ru/identify")  # the answer takes its own GET address: Back and reload never re-post
    page.screenshot(path=str(artifacts / "bad-card.png"), full_page=True)
    context.close()


@pytest.mark.parametrize("typed", ["first-line", "noise"])
def test_a_half_read_card_gets_a_message_not_an_endless_wait(chromium, live_server: str, typed: str) -> None:
    """A card pulled out too soon types one line (or a glitch types noise): once the typing stops the
    page sends what came, and the parent reads that the card was not read, instead of "waiting"."""
    context, page = _page(chromium)
    page.goto(live_server + "/kk/identify")
    page.keyboard.type(CARD.split("\n")[0] + "\r\n" if typed == "first-line" else "@@3&", delay=2)
    page.wait_for_selector(".alert", timeout=10_000)
    assert "оқылмады" in page.locator(".alert").inner_text()  # "Жеке куәлік оқылмады…"
    assert page.evaluate("document.activeElement.id") == "mrz"  # ready for the card again
    context.close()


def test_iin_on_the_keypad_and_a_wrong_code(chromium, live_server: str) -> None:
    context, page = _page(chromium)
    page.goto(live_server + "/kk/identify")
    _tap_digits(page, PARENT[:5] + "9")
    page.locator('.keypad [data-key="back"]').first.tap()
    _tap_digits(page, PARENT[5:])
    assert page.locator("#iin").input_value() == PARENT
    page.get_by_role("button", name="Жалғастыру").tap()
    page.wait_for_url(re.compile(r"/kk/identify/code$"))
    code = re.search(r"\b(\d{6})\b", page.locator("[data-sms]").first.inner_text()).group(1)
    _tap_digits(page, f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Растау").tap()
    page.wait_for_selector(".alert")
    assert "Код қате" in page.locator(".alert").inner_text()
    context.close()
