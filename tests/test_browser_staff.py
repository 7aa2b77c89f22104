"""A member of staff in Chromium: sign in, find an application, check its originals, reconcile a day."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from test_sync_faults import close_portals, kiosk_app, queue_many, sim  # noqa: F401 - fixtures

from kiosk import db
from kiosk.cli import main
from kiosk.clock import ALMATY
from kiosk.models import State, Submission
from kiosk.portal_sim.server import ServerThread

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


def test_sign_in_find_check_originals_and_reconcile(chromium, sim, instance, artifacts: Path) -> None:  # noqa: F811
    app = kiosk_app(sim.base)
    app.test_cli_runner().invoke(
        main, ["staff", "add", "aigul", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n"
    )
    queue_many(app, 1)
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
        today = dt.datetime.now(ALMATY).strftime("%d.%m.%Y")  # an Almaty day, as staff type it
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
