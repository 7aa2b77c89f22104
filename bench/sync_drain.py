"""Drain 10,000 queued submissions into the simulator: the worker's rate beside the simulator's raw
accept rate, measured in the same run on the same machine.

The raw rate is a client posting the same kind of signed application bodies back to back with as
many requests in flight as the worker keeps (SYNC_CONCURRENCY); the worker also claims, decrypts
and records each delivery with its event (two commits with synchronous=FULL). Goal: the worker at
90% or more of the raw rate (issue 14; it was 80%). Usage: python bench/sync_drain.py [--count 10000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from _flow import sim_process
from _report import machine_line, percent, table
from fixtures.flows import PARENT, meals, nth_child


def body(i: int) -> dict:
    """The body the worker sends for the i-th queued submission (``fixtures.submissions.queue_meals``)."""
    answers = meals(nth_child(i))
    return {
        "service": "meals",
        "school_year": 2026,
        "submitted_at": "2026-11-22T06:00:00+00:00",
        "applicant_iin": PARENT,
        "child_iin": answers.pop("child_iin"),
        "identity": "sms",
        "signature": {"method": "sms"},
        "lang": "ru",
        "answers": answers,
        "attachments": [],
        "payload_hash": secrets.token_hex(32),
    }


def raw_rate(url: str, key: str, count: int, clients: int) -> float:
    """The simulator's own accept rate: signed posts and nothing else, ``clients`` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from kiosk.clients.portal import Accepted, HttpPortal

    portal = HttpPortal(url, "raw-1", bytes.fromhex(key))
    bodies = [body(i) for i in range(count)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda b: portal.submit(str(uuid.uuid4()), b), bodies))
    elapsed = time.perf_counter() - started
    assert all(isinstance(r, Accepted) for r in results)
    portal.close()
    return count / elapsed


def worker_rate(url: str, key: str, count: int, folder: Path, clients: int) -> tuple[float, float, int]:
    os.environ["KIOSK_INSTANCE_PATH"] = str(folder)
    from fixtures.submissions import queue_meals
    from kiosk import create_app, db
    from kiosk.jobs.sync import Worker
    from kiosk.models import State, Submission

    app = create_app({"PORTAL": "http", "PORTAL_URL": url, "PORTAL_KEY": key, "SECRET_KEY": "bench"})
    db.upgrade(app)
    queue_meals(app, count, catalog_version="bench")
    worker = Worker(app, app.extensions["kiosk.portal"], batch=50, concurrency=clients)
    started = time.perf_counter()
    sent = 0
    while True:
        n = worker.push()
        sent += n
        if n == 0:
            break
    elapsed = time.perf_counter() - started
    with app.app_context(), db.new_session(app) as s:
        delivered = s.query(Submission).filter(Submission.state == State.DELIVERED).count()
    return sent / elapsed, elapsed, delivered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--raw-count", type=int, default=None, help="posts for the raw rate (default: --count)")
    parser.add_argument("--clients", type=int, default=4, help="sends in flight, for both (the worker's default)")
    args = parser.parse_args()
    key = secrets.token_hex(32)
    with tempfile.TemporaryDirectory(prefix="kiosk-drain-") as tmp:
        tmp_path = Path(tmp)
        # each measure gets a fresh simulator: its cost per request grows with what it holds
        keys = {"kiosk-1": key, "raw-1": key}
        with sim_process(tmp_path / "sim-raw", keys) as url:
            raw = raw_rate(url, key, args.raw_count or args.count, args.clients)
        with sim_process(tmp_path / "sim-worker", keys) as url:
            rate, elapsed, delivered = worker_rate(url, key, args.count, tmp_path / "kiosk", args.clients)
            stats = httpx.get(f"{url}/admin/stats").json()
    print(f"sync drain: {args.count} submissions; kiosk SQLite with synchronous=FULL; simulator in its own process")
    print(machine_line())
    raw_n = args.raw_count or args.count
    rows = [
        [f"simulator raw accept ({args.clients} in flight)", raw_n, raw_n / raw, raw],
        ["worker drain (claim, send, record)", args.count, elapsed, rate],
    ]
    print(table(["measure", "count", "seconds", "per s"], rows))
    print(
        f"worker at {percent(rate, raw)} of the raw rate (goal: 90% or more); delivered {delivered}; "
        f"simulator holds {stats['applications']} with {stats['duplicate_rows']} duplicate rows"
    )
    return 0 if delivered == args.count and stats["duplicate_rows"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
