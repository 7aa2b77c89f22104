"""The worker against the real simulator over HTTP, with faults: nothing lost, nothing twice.

Each test runs for applications signed with the SMS code, with ЭЦҚ (NCALayer) and in eGov Mobile
(the long ones with all three in one queue): the queue and the delivery are one code for all
three, and an ЭЦҚ's CMS must reach the central system once and byte for byte as the kiosk sealed
it, whatever the faults did to its requests."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from fixtures.app import Clock
from fixtures.sim import KEY
from fixtures.submissions import SIGNED, kept_signatures, queue_meals
from kiosk import db
from kiosk.jobs.sync import Backoff, Worker
from kiosk.models import State, Submission

ARRIVED = (State.DELIVERED, State.IN_PROGRESS, State.APPROVED, State.REFUSED)


@pytest.fixture(params=SIGNED)
def signed(request) -> dict:
    """How the test's applications are signed (``queue_meals``' arguments): the SMS code, or the
    simulator's test CA for the parent, which the simulator then checks as the central system does."""
    if request.param == "sms":
        return {}
    sim = request.getfixturevalue("sim_on_clock" if "sim_on_clock" in request.fixturenames else "sim")
    return {"method": request.param, "signer": sim.ecp}


def queue_signed_every_way(app, sim, n: int) -> None:
    """``n`` applications, a third signed each way, in one queue (for the long tests: one run
    covers all three)."""
    third = n // 3
    queue_meals(app, n - 2 * third)
    queue_meals(app, third, first=n - 2 * third, method="ecp", signer=sim.ecp)
    queue_meals(app, third, first=n - third, method="egov_mobile", signer=sim.ecp)


def arrived_intact(sim, app, unsent: int = 0) -> None:
    """Each application the central system stored carries the signature the kiosk sealed with it:
    the same method, the same CMS bytes, one row per application (``unsent``: refused ones)."""
    kept = kept_signatures(app)
    stored = sim.signatures()
    assert len(stored) == len(kept) - unsent
    assert stored == {key: kept[key] for key in stored}
    assert all((cms is not None) == (method != "sms") for method, cms in stored.values())


def arrived(app) -> int:
    """Submissions the central system has: delivered, or already further on by its feed."""
    return sum(states(app).get(s, 0) for s in ARRIVED)


def states(app) -> dict[str, int]:
    with app.app_context(), db.new_session(app) as s:
        out: dict[str, int] = {}
        for state in s.scalars(select(Submission.state)):
            out[state] = out.get(state, 0) + 1
        return out


def drain(app, worker: Worker, rounds: int = 400) -> None:
    """Run the worker until nothing is waiting, moving the app's clock past every backoff."""
    clock = app.config["CLOCK"] = app.config.get("CLOCK") or Clock(dt.datetime.now(dt.UTC))
    for _ in range(rounds):
        worker.run_once()
        left = states(app)
        if not any(left.get(s) for s in (State.QUEUED, State.RETRY_WAIT, State.SENDING)):
            return
        clock.now += dt.timedelta(seconds=worker.backoff.cap + worker.lease.total_seconds() + 1)
    raise AssertionError(f"not drained: {states(app)}")


def test_thirty_percent_errors_and_timeouts_all_delivered_once(sim, kiosk_app) -> None:
    app = kiosk_app(sim.base)
    queue_signed_every_way(app, sim, 60)
    sim.faults(error_rate=0.2, timeout_rate=0.1, timeout_sleep_s=1.5, seed=3)
    worker = Worker(
        app,
        app.extensions["kiosk.portal"],
        rng=random.Random(3),
        lease=dt.timedelta(seconds=5),
        backoff=Backoff(base=1, cap=8),
    )
    drain(app, worker)
    sim.faults()
    stats = sim.stats()
    assert arrived(app) == 60
    assert stats["applications"] == 60 and stats["duplicate_rows"] == 0
    assert sum(v for k, v in stats["requests"].items() if str(k) != "201") > 0  # faults really happened
    arrived_intact(sim, app)


def test_commit_then_drop_the_reply_the_resend_is_deduplicated(sim, kiosk_app, signed) -> None:
    app = kiosk_app(sim.base)
    queue_meals(app, 5, **signed)
    clock = app.config["CLOCK"] = Clock(dt.datetime.now(dt.UTC))
    sim.faults(drop_after_commit_rate=1.0)
    worker = Worker(app, app.extensions["kiosk.portal"], rng=random.Random(1), backoff=Backoff(base=1, cap=2))
    worker.push()  # sends only: the feed would tell us too, which is the next test's business
    assert states(app) == {State.RETRY_WAIT: 5}
    assert sim.stats()["applications"] == 5  # stored there, but the reply never came
    sim.faults()
    clock.now += dt.timedelta(seconds=10)
    worker.push()
    stats = sim.stats()
    assert states(app) == {State.DELIVERED: 5}
    assert stats["applications"] == 5 and stats["duplicate_rows"] == 0 and stats["replays"] == 5
    with app.app_context(), db.new_session(app) as s:
        assert all(r.portal_reference for r in s.scalars(select(Submission)))
    arrived_intact(sim, app)


def test_a_lost_reply_is_also_learnt_from_the_changes_feed(sim, kiosk_app, signed) -> None:
    app = kiosk_app(sim.base)
    queue_meals(app, 3, **signed)
    sim.faults(drop_after_commit_rate=1.0)
    worker = Worker(app, app.extensions["kiosk.portal"], rng=random.Random(1), backoff=Backoff(base=600, cap=600))
    worker.run_once()  # every reply lost; the feed then says they were accepted
    sim.faults()
    assert arrived(app) == 3
    assert sim.stats()["applications"] == 3 and sim.stats()["replays"] == 0
    arrived_intact(sim, app)


def test_a_422_goes_to_staff_and_the_rest_drain(sim, kiosk_app, signed) -> None:
    app = kiosk_app(sim.base)
    queue_meals(app, 6, oversized={2}, **signed)
    worker = Worker(app, app.extensions["kiosk.portal"], rng=random.Random(1))
    drain(app, worker)
    assert arrived(app) == 5 and states(app)[State.NEEDS_STAFF] == 1
    with app.app_context(), db.new_session(app) as s:
        stuck = s.scalars(select(Submission).where(Submission.state == State.NEEDS_STAFF)).one()
        assert stuck.last_error.startswith("422")
        assert stuck.events[-1].detail["errors"]
    arrived_intact(sim, app, unsent=1)


def test_statuses_come_back_through_the_feed(sim_on_clock, kiosk_app, clock, signed) -> None:
    app = kiosk_app(sim_on_clock.base, CLOCK=clock)
    queue_meals(app, 3, **signed)
    worker = Worker(app, app.extensions["kiosk.portal"], rng=random.Random(1))
    drain(app, worker)
    clock.now += dt.timedelta(seconds=2)  # the simulator's two steps (of a second here): in progress, decided
    worker.pull()
    assert states(app) == {State.APPROVED: 3}
    arrived_intact(sim_on_clock, app)


def test_the_worker_killed_again_and_again_loses_nothing_and_sends_nothing_twice(sim, kiosk_app, instance) -> None:
    app = kiosk_app(sim.base)
    n = int(os.environ.get("KIOSK_KILL_COUNT", "60"))
    queue_signed_every_way(app, sim, n)
    sim.faults(latency_ms=60)  # one at a time, slowly: the kills land in the middle of the drain
    env = {
        **os.environ,
        "KIOSK_INSTANCE_PATH": str(instance),
        "KIOSK_PORTAL": "http",
        "KIOSK_PORTAL_URL": sim.base,
        "KIOSK_PORTAL_KEY": KEY,
        "KIOSK_SYNC_LEASE_S": "2",
        "KIOSK_SYNC_BATCH": "5",
        "KIOSK_SYNC_IDLE_S": "0.2",
    }
    rng = random.Random(5)
    kills = 0
    deadline = time.time() + 120
    while time.time() < deadline and (kills < 3 or arrived(app) < n):
        worker = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "sync"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(1.2, 3.0))  # a start takes about a second: kill during the drain
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
            kills += 1
        worker.wait()
    # one last clean run to finish whatever the last kill left behind
    subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "sync", "--once"], env=env, check=True, timeout=60, capture_output=True
    )
    time.sleep(2.1)  # a lease of the last killed worker runs out
    subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "sync", "--once"], env=env, check=True, timeout=60, capture_output=True
    )
    stats = sim.stats()
    assert kills >= 3
    assert arrived(app) == n
    assert stats["applications"] == n and stats["duplicate_rows"] == 0
    arrived_intact(sim, app)


@pytest.mark.postgres
def test_four_workers_on_postgresql_deliver_each_exactly_once(sim, kiosk_app, pg_database) -> None:
    app = kiosk_app(sim.base, pg_database)
    n = 200
    queue_signed_every_way(app, sim, n)
    sim.faults(latency_ms=5)
    portal = app.extensions["kiosk.portal"]
    workers = [Worker(app, portal, worker_id=f"w{i}", batch=5, rng=random.Random(i)) for i in range(4)]
    sent = [0] * 4

    failures: list[str] = []

    def run(i: int) -> None:
        try:
            for _ in range(200):
                got, _ = workers[i].run_once()
                sent[i] += got
                if got == 0 and arrived(app) == n:
                    return
        except Exception as exc:  # reported by the assertion below, with its trace
            import traceback

            failures.append(traceback.format_exc())
            raise AssertionError(str(exc)) from exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    stats = sim.stats()
    assert arrived(app) == n
    assert stats["applications"] == n and stats["duplicate_rows"] == 0 and stats["replays"] == 0
    assert sum(sent) == n and all(x > 0 for x in sent)  # all four took a share
    arrived_intact(sim, app)
    db.engine(app).dispose()
