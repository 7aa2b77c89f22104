"""The terminal between two visitors, in Chromium: the idle reset, Back after it, "call staff"."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.domain.mrz import compose_td1

pytestmark = pytest.mark.browser

PARENT = "880412412349"
CARD = compose_td1("043218765", PARENT, dt.date(2031, 5, 20), "NURLANQYZY", "AIGERIM")


@pytest.fixture
def quick_idle(app):
    """Seconds instead of a minute, so the test waits for the real timers in the page."""
    app.config.update(VISIT_IDLE_S=2, VISIT_IDLE_WARN_S=3)
    return app


def _identified(chromium, live_server: str):
    context = chromium.new_context(viewport={"width": 1080, "height": 1920}, has_touch=True)
    page = context.new_page()
    page.goto(live_server + "/ru/identify?service=meals")
    page.keyboard.type(CARD.replace("\n", "\r\n") + "\r\n", delay=2)
    page.wait_for_url(re.compile(r"/ru/identify/code$"))
    code = re.search(r"\b(\d{6})\b", page.locator("[data-sms]").first.inner_text()).group(1)
    for digit in code:
        page.locator(f'.keypad [data-key="{digit}"]').tap()
    page.get_by_role("button", name="Подтвердить").tap()
    page.wait_for_url(re.compile(r"/ru/identify/done$"))
    assert page.locator("[data-name]").inner_text() == "Aigerim Nurlanqyzy"
    return context, page


def test_idle_reset_then_back_shows_nothing_of_the_visit(quick_idle, chromium, live_server, artifacts: Path) -> None:
    context, page = _identified(chromium, live_server)
    before = {c["name"]: c["value"] for c in context.cookies()}["kiosk_visit"]
    dialog = page.locator("[data-idle]")
    dialog.wait_for(state="visible", timeout=6000)  # nobody touched the screen for 2 s
    assert page.locator("#idle-title").inner_text() == "Вы ещё здесь?"
    page.screenshot(path=str(artifacts / "1-still-there.png"))
    page.wait_for_url(live_server + "/", timeout=10000)  # the countdown ran out: back at Welcome
    assert page.locator("h1").inner_text()  # Welcome, ready for the next parent
    after = {c["name"]: c["value"] for c in context.cookies()}.get("kiosk_visit")
    assert after != before  # the cookie is gone or new: the old token opens nothing
    page.screenshot(path=str(artifacts / "2-welcome.png"))
    page.go_back()
    page.wait_for_load_state()
    text = page.locator("body").inner_text()
    assert "Aigerim" not in text and "Nurlanqyzy" not in text and "*** ** 45" not in text
    page.screenshot(path=str(artifacts / "3-after-back.png"))
    context.close()


def test_a_touch_keeps_the_visit(quick_idle, chromium, live_server) -> None:
    context, page = _identified(chromium, live_server)
    page.locator("[data-idle]").wait_for(state="visible", timeout=6000)
    page.get_by_role("button", name="Да, я здесь").tap()
    assert page.locator("[data-idle]").is_hidden()
    page.reload()
    assert page.locator("[data-name]").inner_text() == "Aigerim Nurlanqyzy"  # the visit is still there
    context.close()


def test_call_staff_reaches_the_dashboard(app, chromium, live_server, artifacts: Path) -> None:
    runner = app.test_cli_runner()
    added = runner.invoke(
        main, ["staff", "add", "aigul", "--role", "operator", "--password-stdin"], input="a long password 1\n"
    )
    assert added.exit_code == 0, added.output
    kiosk = chromium.new_context(viewport={"width": 1080, "height": 1920}, has_touch=True)
    page = kiosk.new_page()
    page.goto(live_server + "/ru/services/meals")
    page.get_by_role("button", name="Позвать сотрудника").tap()
    page.locator("[data-help-called]").wait_for()
    assert page.url.endswith("/ru/services/meals")  # swapped in place: the parent stays where they were
    page.screenshot(path=str(artifacts / "1-called.png"))
    desk = chromium.new_context(viewport={"width": 1440, "height": 900})
    staff = desk.new_page()
    staff.goto(live_server + "/staff/language/en")
    staff.goto(live_server + "/staff/login")
    staff.fill('input[name="username"]', "aigul")
    staff.fill('input[name="password"]', "a long password 1")
    staff.locator('button[type="submit"]').last.click()
    staff.wait_for_url(re.compile(r"/staff/$"))
    call = staff.locator("[data-call]")
    assert "asks for help" in call.inner_text()
    staff.screenshot(path=str(artifacts / "2-dashboard.png"))
    staff.get_by_role("button", name="I am on my way").click()
    staff.wait_for_load_state()
    assert staff.locator("[data-call]").count() == 0
    kiosk.close()
    desk.close()
