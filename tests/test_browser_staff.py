"""A member of staff in Chromium: sign in, find an application, check its originals, reconcile a day."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from fixtures.flows import apply, child_iin, meals
from fixtures.staff import PASSWORD, add_staff
from fixtures.submissions import queue_meals
from kiosk import db
from kiosk.clock import ALMATY
from kiosk.models import State, Submission
from kiosk.portal_sim.server import ServerThread

pytestmark = pytest.mark.browser


def test_sign_in_find_check_originals_and_reconcile(chromium, sim_on_clock, kiosk_app, clock, artifacts: Path) -> None:
    clock.now = dt.datetime(2026, 11, 23, 0, 30, tzinfo=ALMATY).astimezone(dt.UTC)  # 19:30 UTC the day before
    app = kiosk_app(sim_on_clock.base, CLOCK=clock)
    add_staff(app)
    queue_meals(app)
    with app.app_context(), db.new_session(app) as s:  # the kiosk believes it delivered, the simulator never got it
        row = s.scalars(select(Submission)).one()
        row.state = State.DELIVERED
        reference = row.reference
        s.commit()
    shown = f"{reference[:3]}-{reference[3:6]}-{reference[6:]}"
    with ServerThread(app, threads=4) as served:
        context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="ru-RU")
        page = context.new_page()
        page.goto(served.url + "/staff/language/ru")
        page.wait_for_url(re.compile(r"/staff/login$"))
        page.fill("#username", "aigul")
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Войти").click()
        page.wait_for_url(re.compile(r"/staff/$"))
        page.screenshot(path=str(artifacts / "1-dashboard.png"), full_page=True)

        page.get_by_role("link", name="Очередь", exact=True).click()
        page.fill('input[name="q"]', shown)
        page.get_by_role("button", name="Показать").click()
        page.get_by_role("link", name=shown).click()
        page.wait_for_url(re.compile(rf"/staff/submissions/{reference}$"))
        first = page.locator("[data-original]").first
        first.get_by_role("button").click()
        page.wait_for_selector("[data-checked]")
        assert "aigul" in page.locator("[data-checked]").first.inner_text()
        page.screenshot(path=str(artifacts / "2-submission.png"), full_page=True)

        page.get_by_role("link", name="Сверка", exact=True).click()
        today = clock.now.astimezone(ALMATY).strftime("%d.%m.%Y")  # an Almaty day, as staff type it
        page.fill('input[name="from"]', today)
        page.fill('input[name="to"]', today)
        page.get_by_role("button", name="Показать").click()
        assert page.locator("[data-difference]").count() == 1
        assert page.locator('[data-difference="missing_there"]').count() == 1
        page.screenshot(path=str(artifacts / "3-reconcile.png"), full_page=True)
        page.locator("[data-resolve]").click()
        page.wait_for_selector("[data-agree]")
        page.screenshot(path=str(artifacts / "4-resolved.png"), full_page=True)
        context.close()
    with app.app_context(), db.new_session(app) as s:
        assert s.scalars(select(Submission)).one().state == State.QUEUED  # it goes again, with its key


WORDS = {
    "kk": {
        "sign_in": "Кіру",
        "queue": "Кезек",
        "show": "Көрсету",
        "reconcile": "Салыстыру",
        "seen": "Белгілеу: түпнұсқа көрілді",
    },
    "ru": {
        "sign_in": "Войти",
        "queue": "Очередь",
        "show": "Показать",
        "reconcile": "Сверка",
        "seen": "Отметить: оригинал проверен",
    },
}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_the_console_in_chromium_reads_as_staff_read(chromium, app, live_server, clock, artifacts, lang) -> None:
    """Answers under their labels, days typed as DD.MM.YYYY, buttons a mouse and a finger can hit."""
    clock.set_local(2026, 5, 4)
    add_staff(app)
    answers = meals(child_iin(dt.date(2016, 9, 9), "F"), category="orphan")
    reference = apply(app.test_client(), lang, "meals", answers, clock).rsplit("/", 1)[-1]
    shown = f"{reference[:3]}-{reference[3:6]}-{reference[6:]}"
    app.extensions["kiosk.portal"].listing = lambda start, end: []
    words = WORDS[lang]

    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale=f"{lang}-KZ")
    page = context.new_page()
    page.goto(f"{live_server}/staff/language/{lang}")
    page.fill("#username", "aigul")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name=words["sign_in"]).click()
    page.wait_for_url(re.compile(r"/staff/$"))

    page.get_by_role("link", name=words["queue"], exact=True).click()
    day = page.locator('input[name="from"]')
    assert day.get_attribute("placeholder") == {"kk": "КК.АА.ЖЖЖЖ", "ru": "ДД.ММ.ГГГГ"}[lang]
    day.fill("04.05.2026")
    page.fill('input[name="to"]', "2026-05-04")  # ISO is understood too
    page.get_by_role("button", name=words["show"]).click()
    assert page.locator('input[name="to"]').input_value() == "04.05.2026"
    assert page.locator("[data-row]").count() == 1
    page.screenshot(path=str(artifacts / "1-queue.png"), full_page=True)
    page.get_by_role("link", name=shown).click()
    page.wait_for_url(re.compile(rf"/staff/submissions/{reference}$"))
    assert page.locator("[data-answer]").count() == 4  # every answer the parent gave
    assert "Иванова Мария" in page.locator('[data-answer="child_name"]').inner_text()

    # every control in the page: at least 44 x 44 CSS px, the "Mark: original seen" button first of all
    seen = page.get_by_role("button", name=words["seen"]).first
    box = seen.bounding_box()
    assert box and box["width"] >= 44 and box["height"] >= 44, box
    for control in page.locator("main button, main input:not([type=hidden]), main select, main a.big-button").all():
        box = control.bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44, (control.evaluate("e => e.outerHTML"), box)
    page.screenshot(path=str(artifacts / "2-application.png"), full_page=True)
    seen.click()
    page.wait_for_selector("[data-checked]")

    page.get_by_role("link", name=words["reconcile"], exact=True).click()
    page.fill('input[name="from"]', "10.05.2026")
    page.fill('input[name="to"]', "01.05.2026")
    page.get_by_role("button", name=words["show"]).click()
    problem = page.locator("[data-problem]").inner_text()
    assert "10.05.2026" in problem and "01.05.2026" in problem
    assert page.locator("[data-agree]").count() == 0
    page.screenshot(path=str(artifacts / "3-reversed.png"), full_page=True)
    page.fill('input[name="from"]', "01.03.2026")
    page.fill('input[name="to"]', "04.05.2026")
    page.get_by_role("button", name=words["show"]).click()
    assert "65" in page.locator("[data-checked-range]").inner_text()  # all 65 days, not one
    for control in page.locator("main button, main input:not([type=hidden])").all():
        box = control.bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44, (control.evaluate("e => e.outerHTML"), box)
    page.screenshot(path=str(artifacts / "4-reconcile.png"), full_page=True)
    context.close()
