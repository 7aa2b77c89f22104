"""One visit in Chromium, by touch, with the default SMS rules: a parent identifies once and applies
for free meals and a camp for each of two children, without ever waiting for a code.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from fixtures.browser import card_to_form, code_on_phone, keypad, type_on_screen
from fixtures.flows import MEALS_CAMP, SIBLINGS
from kiosk.domain.codes import CodeRules

pytestmark = pytest.mark.browser


def _sign(page, artifacts: Path, shot: str) -> str:
    page.locator(".consent input").tap()
    page.locator(".sign-form button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/ru/apply/sign$"))
    assert page.locator(".alert").count() == 0  # the code went at once: nothing to wait for
    if shot:
        # the wait before "send again" is a clock that counts down from the time really left
        wait = page.locator("[data-resend-wait] [data-countdown]")
        assert wait.inner_text() == "1:00"
        page.wait_for_function("el => el.textContent === '0:58'", arg=wait.element_handle())
        assert page.locator("[data-resend-wait]").inner_text().startswith("Новый код можно запросить через 0:5")
        page.screenshot(path=str(artifacts / shot), full_page=True)
    keypad(page, code_on_phone(page))
    page.locator(".code-form button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/ru/receipt/\w+$"))
    return page.locator("[data-reference]").inner_text()


def test_two_children_two_services_each_identifying_once(touch_page, live_server, app, clock, artifacts) -> None:
    assert CodeRules.from_config(app.config) == CodeRules()
    page = touch_page
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    card_to_form(page, live_server, "ru", "meals")

    references = []
    for n, (child, name, grade) in enumerate(SIBLINGS):
        for service, choices in MEALS_CAMP.items():
            if references:  # the next application: from the receipt, through the services
                page.locator("[data-another]").tap()
                page.wait_for_url(re.compile(r"/ru/services$"))
                page.locator(f'a.card[data-service="{service}"]').tap()
                page.locator("[data-apply]").tap()
            page.wait_for_url(re.compile(r"/ru/apply/form$"))  # no second identification
            clock.now += dt.timedelta(seconds=10)  # a parent's pace: seconds, not minutes
            keypad(page, child)
            type_on_screen(page, "child_name", name, "ru")
            for field, value in {"grade": grade, **choices}.items():
                page.locator(f'input[name="{field}"][value="{value}"]').tap()
            page.locator("form.application button[type=submit]").tap()
            page.wait_for_url(re.compile(r"/ru/apply/attachments$"))
            page.locator("[data-next]").tap()
            page.wait_for_url(re.compile(r"/ru/apply/check$"))
            clock.now += dt.timedelta(seconds=10)
            references.append(_sign(page, artifacts, "sign-countdown.png" if not references else ""))
            page.screenshot(path=str(artifacts / f"receipt-{n}-{service}.png"), full_page=True)

    assert len(set(references)) == 4
    assert sum(url.endswith("/ru/identify/card") for url in posts) == 1
    assert not any(url.endswith("/resend") for url in posts)
