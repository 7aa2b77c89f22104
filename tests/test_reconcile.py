"""Reconcile a day against the real simulator: each kind of difference, and its action."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid

from sqlalchemy import select
from test_sync_faults import close_portals, kiosk_app, queue_many, sim  # noqa: F401 - fixtures

from flows import soup, token
from kiosk import db
from kiosk.cli import main
from kiosk.clock import ALMATY
from kiosk.jobs.sync import Worker
from kiosk.models import State, Submission

PASSWORD = "correct horse battery"


def test_each_kind_of_difference_and_its_action(sim, instance) -> None:  # noqa: F811 - the fixture
    app = kiosk_app(sim.base)
    queue_many(app, 3)
    worker = Worker(app, app.extensions["kiosk.portal"], rng=random.Random(1))
    worker.push()  # delivered, but the feed is not pulled: the statuses will differ
    with app.app_context(), db.new_session(app) as s:
        rows = list(s.scalars(select(Submission).order_by(Submission.id)))
        assert [r.state for r in rows] == [State.DELIVERED] * 3
    queue_many(app, 1, first=3)  # a fourth the kiosk believes delivered, though it never left
    with app.app_context(), db.new_session(app) as s:
        lost = s.scalars(select(Submission).where(Submission.state == State.QUEUED)).one()
        lost.state = State.DELIVERED
        lost_reference = lost.reference
        s.commit()
    portal = app.extensions["kiosk.portal"]  # and one the kiosk never heard of
    from kiosk.clients.portal import Accepted

    stranger = portal.submit(
        str(uuid.uuid4()),
        {
            "service": "meals",
            "school_year": 2026,
            "submitted_at": "2026-11-22T06:00:00+00:00",
            "applicant_iin": "880412412349",
            "child_iin": "160909600111",
            "identity": "sms",
            "signature": {"method": "sms"},
            "lang": "ru",
            "answers": {"grade": "4"},
            "attachments": [],
            "payload_hash": "0" * 64,
        },
    )
    assert isinstance(stranger, Accepted)
    time.sleep(2.2)  # the simulator moves its statuses on (one step a second here)

    runner = app.test_cli_runner()
    runner.invoke(main, ["staff", "add", "aigul", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n")
    client = app.test_client()
    client.post(
        "/staff/login", data={"username": "aigul", "password": PASSWORD, "csrf_token": token(client, "/staff/login")}
    )
    client.get("/staff/language/en")
    today = dt.datetime.now(ALMATY).date().isoformat()  # staff pick Almaty days
    url = f"/staff/reconcile?from={today}&to={today}"
    page = soup(client.get(url))
    kinds = sorted(tr["data-difference"] for tr in page.select("[data-difference]"))
    assert kinds == ["missing_there", "status_differs", "status_differs", "status_differs", "unknown_here"]

    for tr in page.select("[data-difference]"):
        key = tr.select_one('input[name="key"]')["value"]
        client.post("/staff/reconcile", data={"key": key, "from": today, "to": today, "csrf_token": token(client, url)})
    with app.app_context(), db.new_session(app) as s:
        states = {r.reference: r.state for r in s.scalars(select(Submission))}
    assert states.pop(lost_reference) == State.QUEUED  # to be sent again, with its own key
    assert all(state in (State.IN_PROGRESS, State.APPROVED) for state in states.values())
    worker.push()  # the lost one goes now
    page = soup(client.get(url))
    remaining = [tr["data-difference"] for tr in page.select("[data-difference]")]
    assert "missing_there" not in remaining
    assert "unknown_here" in remaining  # acknowledged in the audit log, but still unknown here


def test_a_hundred_days_against_the_simulator_in_pages(sim, instance) -> None:  # noqa: F811 - the fixture
    """The simulator's listing does not page: the kiosk asks in months and checks every day of the range."""
    app = kiosk_app(sim.base)
    queue_many(app, 2)
    Worker(app, app.extensions["kiosk.portal"], rng=random.Random(1)).push()
    queue_many(app, 1, first=2)  # made today, believed delivered, never sent
    with app.app_context(), db.new_session(app) as s:
        lost = s.scalars(select(Submission).where(Submission.state == State.QUEUED)).one()
        lost.state = State.DELIVERED
        lost_reference = lost.reference
        s.commit()
    runner = app.test_cli_runner()
    runner.invoke(main, ["staff", "add", "aigul", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n")
    client = app.test_client()
    client.post(
        "/staff/login", data={"username": "aigul", "password": PASSWORD, "csrf_token": token(client, "/staff/login")}
    )
    client.get("/staff/language/ru")
    today = dt.datetime.now(ALMATY).date()
    first = today - dt.timedelta(days=99)
    page = soup(client.get(f"/staff/reconcile?from={first:%d.%m.%Y}&to={today:%d.%m.%Y}"))
    checked = page.select_one("[data-checked-range]").get_text(" ", strip=True)
    assert f"Проверено 100 дней: с {first:%d.%m.%Y} по {today:%d.%m.%Y}." in checked
    assert "Отправлено с этого терминала: 3. Получено центральной системой: 2." in checked
    [missing] = page.select('[data-difference="missing_there"]')
    assert f"{lost_reference[:3]}-{lost_reference[3:6]}-{lost_reference[6:]}" in missing.get_text()
