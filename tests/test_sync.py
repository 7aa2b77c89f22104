"""The sync worker's rules, against a scripted central system (httpx MockTransport, no sockets).

The fault tests against the real simulator over HTTP are in test_sync_faults.py.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import httpx
import pytest
from sqlalchemy import select

from fixtures.flows import apply, child_iin, meals
from kiosk import db
from kiosk.clients.portal import HttpPortal
from kiosk.jobs.sync import Backoff, Worker, health
from kiosk.models import State, Submission


def queue(client, clock, n: int) -> None:
    for i in range(n):
        client.post("/ru/receipt/finish", data={})
        clock.now += dt.timedelta(minutes=16)
        apply(client, "ru", "meals", meals(child_iin(dt.date(2014, 1, 1) + dt.timedelta(days=40 * i), "F")), clock)


def states(app) -> list[str]:
    with app.app_context(), db.new_session(app) as s:
        return [r.state for r in s.scalars(select(Submission).order_by(Submission.id))]


def worker(app, handler, **kw) -> Worker:
    portal = HttpPortal("http://central.test", "kiosk-1", b"k" * 32, transport=httpx.MockTransport(handler))
    return Worker(app, portal, rng=random.Random(1), **kw)


def accept_all(seen: list):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/applications/changes":
            return httpx.Response(200, json={"changes": [], "next": 0})
        body = json.loads(request.content)
        seen.append((request.headers["Idempotency-Key"], body))
        return httpx.Response(201, json={"reference": f"P-{len(seen)}", "status": "accepted"})

    return handler


def test_each_queued_submission_is_delivered_with_its_uuid_as_key(client, app, clock) -> None:
    queue(client, clock, 3)
    seen: list = []
    sent, _ = worker(app, accept_all(seen)).run_once()
    assert sent == 3 and states(app) == [State.DELIVERED] * 3
    with app.app_context(), db.new_session(app) as s:
        rows = list(s.scalars(select(Submission).order_by(Submission.id)))
        assert [k for k, _ in seen] == [r.uuid for r in rows]
        assert [r.portal_reference for r in rows] == ["P-1", "P-2", "P-3"]
        assert [e.to_state for e in rows[0].events] == [State.QUEUED, State.SENDING, State.DELIVERED]
    body = seen[0][1]
    assert body["service"] == "meals" and len(body["child_iin"]) == 12 and "child_iin" not in body["answers"]
    assert worker(app, accept_all(seen)).run_once() == (0, 0)  # nothing twice


def test_a_permanent_rejection_goes_to_staff_and_the_rest_drain(client, app, clock) -> None:
    queue(client, clock, 3)
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/changes"):
            return httpx.Response(200, json={"changes": [], "next": 0})
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(
                422,
                json={
                    "type": "about:blank",
                    "title": "Unprocessable",
                    "status": 422,
                    "detail": "answers rejected",
                    "errors": [{"field": "answers.grade", "message": "bad"}],
                },
            )
        return httpx.Response(201, json={"reference": f"P-{len(calls)}", "status": "accepted"})

    worker(app, handler).run_once()
    assert states(app) == [State.NEEDS_STAFF, State.DELIVERED, State.DELIVERED]
    with app.app_context(), db.new_session(app) as s:
        first = s.scalars(select(Submission).order_by(Submission.id)).first()
        assert first.last_error.startswith("422") and first.events[-1].detail["errors"][0]["field"] == "answers.grade"
        assert health(s, clock.now).needs_staff == 1


def test_passing_failures_back_off_and_honour_retry_after(client, app, clock) -> None:
    queue(client, clock, 1)

    def busy(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/changes"):
            return httpx.Response(503)
        return httpx.Response(429, headers={"Retry-After": "120"}, json={"type": "x", "title": "busy", "status": 429})

    w = worker(app, busy)
    w.run_once()
    assert states(app) == [State.RETRY_WAIT]
    with app.app_context(), db.new_session(app) as s:
        row = s.scalars(select(Submission)).one()
        wait = (row.next_attempt_at.replace(tzinfo=dt.UTC) - clock.now).total_seconds()
        assert wait >= 120  # never before the peer's Retry-After
    assert w.run_once() == (0, 0)  # not due yet
    clock.now += dt.timedelta(seconds=121)
    seen: list = []
    worker(app, accept_all(seen)).run_once()
    assert states(app) == [State.DELIVERED]


def test_full_jitter_stays_under_the_cap() -> None:
    rng = random.Random(7)
    b = Backoff(base=2, cap=60)
    delays = [b.delay(n, None, rng) for n in range(1, 40)]
    assert all(0 <= d <= 60 for d in delays) and max(delays) > 30
    assert b.delay(3, 90, rng) >= 90


def test_a_dead_workers_lease_runs_out_and_the_same_key_is_sent_again(client, app, clock) -> None:
    queue(client, clock, 1)
    seen: list = []
    from kiosk.jobs.sync import claim

    with app.app_context(), db.new_session(app) as s:  # a worker claims and dies before sending
        claim(s, worker="dead", now=clock.now, lease=dt.timedelta(seconds=60), limit=10)
        s.commit()
    assert worker(app, accept_all(seen)).run_once()[0] == 0  # its lease still holds
    clock.now += dt.timedelta(seconds=61)
    worker(app, accept_all(seen)).run_once()
    assert states(app) == [State.DELIVERED] and len(seen) == 1


def test_the_feed_moves_statuses_on_and_keeps_the_refusal_reason(client, app, clock) -> None:
    queue(client, clock, 2)
    seen: list = []
    worker(app, accept_all(seen)).run_once()
    with app.app_context(), db.new_session(app) as s:
        keys = [r.uuid for r in s.scalars(select(Submission).order_by(Submission.id))]
    reason = {"kk": "Орын жоқ", "ru": "Нет мест", "en": "No places"}
    feed = [
        {"cursor": 1, "idempotency_key": keys[0], "reference": "P-1", "status": "accepted", "reason": None, "at": "x"},
        {
            "cursor": 2,
            "idempotency_key": keys[0],
            "reference": "P-1",
            "status": "in_progress",
            "reason": None,
            "at": "x",
        },
        {
            "cursor": 3,
            "idempotency_key": keys[1],
            "reference": "P-2",
            "status": "in_progress",
            "reason": None,
            "at": "x",
        },
        {"cursor": 4, "idempotency_key": keys[1], "reference": "P-2", "status": "refused", "reason": reason, "at": "x"},
        {"cursor": 5, "idempotency_key": keys[0], "reference": "P-1", "status": "approved", "reason": None, "at": "x"},
    ]
    asked = []

    def handler(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after", 0))
        asked.append(after)
        page = [c for c in feed if c["cursor"] > after][:2]
        return httpx.Response(200, json={"changes": page, "next": page[-1]["cursor"] if page else after})

    w = worker(app, handler)
    while w.pull():
        pass
    assert asked[:3] == [0, 2, 4]
    assert states(app) == [State.APPROVED, State.REFUSED]
    with app.app_context(), db.new_session(app) as s:
        refused = s.scalars(select(Submission).order_by(Submission.id.desc())).first()
        assert refused.events[-1].detail["reason"] == reason


def test_metrics_in_prometheus_text(client, app, clock) -> None:
    queue(client, clock, 2)
    text = client.get("/metrics").get_data(as_text=True)
    assert "kiosk_sync_backlog 2" in text
    assert "# TYPE kiosk_sync_oldest_waiting_seconds gauge" in text


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_passing(client, app, clock, status) -> None:
    queue(client, clock, 1)
    worker(app, lambda r: httpx.Response(status)).run_once()
    assert states(app) == [State.RETRY_WAIT]


def test_the_parent_is_told_of_the_decision_by_sms_in_the_visits_language(client, app, clock) -> None:
    app.config["NOTIFY_BY_SMS"] = True
    queue(client, clock, 1)
    seen: list = []
    worker(app, accept_all(seen)).run_once()
    with app.app_context(), db.new_session(app) as s:
        row = s.scalars(select(Submission)).one()
        key, reference = row.uuid, row.reference
    sms = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/sms":
            sms.append(json.loads(request.content))
            return httpx.Response(202, json={"id": "1"})
        after = int(request.url.params.get("after", 0))
        feed = [
            {"cursor": 1, "idempotency_key": key, "reference": "P-1", "status": "approved", "reason": None, "at": "x"}
        ]
        page = [c for c in feed if c["cursor"] > after]
        return httpx.Response(200, json={"changes": page, "next": 1})

    worker(app, handler).pull()
    [message] = sms
    assert "одобрено" in message["text"] and reference[:3] in message["text"]  # the visit was in Russian


def test_a_send_late_in_its_lease_finds_a_row_taken_over_and_leaves_it(client, app, clock) -> None:
    """The bodies are opened once at the claim; a send that starts after half the lease reads its row
    again, so a submission another worker took over meanwhile is not sent twice by this one."""
    queue(client, clock, 2)
    seen: list = []
    accept = accept_all(seen)
    taken_over: list[int] = []

    def slow_then_taken(request: httpx.Request) -> httpx.Response:
        response = accept(request)
        if not taken_over:  # the first send took most of the lease; meanwhile the second row changed hands
            clock.now += dt.timedelta(seconds=40)
            with app.app_context(), db.new_session(app) as s:
                second = s.scalars(select(Submission).order_by(Submission.id.desc())).first()
                assert second is not None
                second.claimed_by = "another-worker"
                taken_over.append(second.id)
                s.commit()
        return response

    w = worker(app, slow_then_taken, lease=dt.timedelta(seconds=60), concurrency=1)
    assert w.push() == 2  # both claimed
    assert len(seen) == 1  # the second was not sent: its row is no longer this worker's
    with app.app_context(), db.new_session(app) as s:
        rows = list(s.scalars(select(Submission).order_by(Submission.id)))
        assert rows[0].state == State.DELIVERED
        assert rows[1].state == State.SENDING and rows[1].claimed_by == "another-worker"


def test_a_young_lease_sends_the_claimed_bodies_without_reading_the_rows_again(client, app, clock) -> None:
    queue(client, clock, 3)
    seen: list = []
    w = worker(app, accept_all(seen), concurrency=2)
    assert w.push() == 3
    assert states(app) == [State.DELIVERED] * 3
    assert len({key for key, _ in seen}) == 3 and w._prepared == {}  # each sent once, nothing left behind
