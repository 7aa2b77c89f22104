"""From Welcome to the printed receipt in Chromium, by touch: grade 1 in Kazakh, free meals in Russian."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from fixtures.browser import card_to_form, code_on_phone, keypad, type_on_screen
from fixtures.flows import child_iin

pytestmark = pytest.mark.browser


NAMES = {"kk": "әлібек нұрлан", "ru": "иванова мария"}  # typed on the on-screen keyboard


def _walk(page, live_server: str, clock, artifacts: Path, lang: str, service: str, child: str, choices) -> str:
    """Identified by the ID card and the code, the form typed by touch, signed with the SMS code, the
    receipt printed; its reference."""
    card_to_form(page, live_server, lang, service)
    keypad(page, child)
    type_on_screen(page, "child_name", NAMES[lang], lang)
    for field, value in choices.items():
        page.locator(f'input[name="{field}"][value="{value}"]').tap()
    page.screenshot(path=str(artifacts / "1-form.png"), full_page=True)
    page.locator("form.application button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/apply/attachments$"))
    page.locator("[data-next]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/apply/check$"))
    assert NAMES[lang].split()[0].capitalize() in page.locator(".answers").inner_text()
    page.screenshot(path=str(artifacts / "2-check.png"), full_page=True)
    clock.now += dt.timedelta(seconds=61)  # a minute since the identification code
    page.locator(".consent input").tap()
    page.locator(".sign-form button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/apply/sign$"))
    keypad(page, code_on_phone(page))
    page.locator(".code-form button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/receipt/\w+$"))
    reference = page.locator("[data-reference]").inner_text()
    page.screenshot(path=str(artifacts / "3-receipt.png"), full_page=True)
    page.get_by_role("link", name=re.compile("Қолхатты басып шығару|Распечатать расписку")).tap()
    page.wait_for_url(re.compile(r"/print$"))
    page.emulate_media(media="print")
    assert page.locator(".print-controls").is_hidden()
    assert reference in page.locator(".receipt-sheet").inner_text()
    assert page.locator('.receipt-sheet [data-receipt-lang="kk"]').count() == 1
    assert page.locator('.receipt-sheet [data-receipt-lang="ru"]').count() == 1
    width = page.locator(".receipt-sheet").evaluate("e => e.getBoundingClientRect().width")
    assert width <= 80 / 25.4 * 96
    page.pdf(path=str(artifacts / "4-receipt-80mm.pdf"), width="80mm", prefer_css_page_size=False)
    page.screenshot(path=str(artifacts / "4-receipt-print.png"), full_page=True)
    return reference


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_grade1_to_the_printed_receipt(touch_page, live_server, clock, artifacts, lang) -> None:
    clock.set_local(2026, 5, 4)  # inside the 1 April - 31 August window
    child, choices = child_iin(dt.date(2020, 3, 3)), {"grade": "1", "language": lang}
    reference = _walk(touch_page, live_server, clock, artifacts, lang, "grade1", child, choices)
    assert re.fullmatch(r"\w{3}-\w{3}-\w{3}", reference)


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_free_meals_with_a_category_to_the_printed_receipt(touch_page, live_server, clock, artifacts, lang) -> None:
    child, choices = child_iin(dt.date(2016, 9, 9), "F"), {"grade": "4", "category": "low_income"}
    reference = _walk(touch_page, live_server, clock, artifacts, lang, "meals", child, choices)
    assert re.fullmatch(r"\w{3}-\w{3}-\w{3}", reference)
    receipt = touch_page.locator(".receipt-sheet").inner_text()
    assert "Предоставление бесплатного и льготного питания" in receipt  # the Russian half
    assert "тегін және жеңілдікпен тамақтандыруды ұсыну" in receipt  # the Kazakh half
