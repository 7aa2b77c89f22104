"""Drain 10,000 queued submissions into the simulator: the worker's rate beside the simulator's raw
accept rate, measured in the same run on the same machine.

The raw rate is a client posting the same kind of signed application bodies back to back with as
many requests in flight as the worker keeps (SYNC_CONCURRENCY); the worker also claims, decrypts
and records each delivery with its event (two commits with synchronous=FULL). Goal: the worker at
80% or more of the raw rate. Usage: python bench/sync_drain.py [--count 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from kiosk.extensions import keyring

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sim(folder: Path, key: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "kiosk"),
            "portal-sim",
            "--port",
            str(port),
            "--instance",
            str(folder),
            "--kiosk-key",
            f"kiosk-1={key}",
            "--kiosk-key",
            f"raw-1={key}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/admin/stats", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the simulator did not start")


def body(i: int) -> dict:
    from kiosk.domain.iin import make_iin

    child = None
    serial = 1
    while child is None:
        child = make_iin(dt.date(2010, 1, 1) + dt.timedelta(days=i % 3000), "F", (i // 3000) * 10 + serial)
        serial += 1
    return {
        "service": "meals",
        "school_year": 2026,
        "submitted_at": "2026-11-22T06:00:00+00:00",
        "applicant_iin": "880412412349",
        "child_iin": child,
        "identity": "sms",
        "signature": {"method": "sms"},
        "lang": "ru",
        "answers": {"child_name": "Иванова Мария", "grade": "4", "category": "asp"},
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
    from kiosk import create_app, db
    from kiosk.domain import applications
    from kiosk.domain.submissions import queue_submission
    from kiosk.infra.catalog_ext import get_catalog
    from kiosk.jobs.sync import Worker
    from kiosk.models import State, Submission

    app = create_app({"PORTAL": "http", "PORTAL_URL": url, "PORTAL_KEY": key, "SECRET_KEY": "bench"})
    db.upgrade(app)
    now = dt.datetime.now(dt.UTC)
    with app.test_request_context("/ru/"), db.new_session(app) as s:
        service = get_catalog().service("meals")
        for i in range(count):
            b = body(i)
            payload, digest = applications.canonical_payload(
                service=service,
                catalog_version="bench",
                year=2026,
                applicant={"iin": b["applicant_iin"], "name": None, "identity": "sms"},
                answers={"child_iin": b["child_iin"], **b["answers"]},
                attachments=[],
                lang="ru",
            )
            queue_submission(
                s, payload=payload, payload_hash=digest, identity_method="sms", lang="ru", now=now, keyring=keyring()
            )
        s.commit()
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
        sim, url = start_sim(tmp_path / "sim-raw", key)
        try:
            raw = raw_rate(url, key, args.raw_count or args.count, args.clients)
        finally:
            sim.terminate()
            sim.wait(10)
        sim, url = start_sim(tmp_path / "sim-worker", key)
        try:
            rate, elapsed, delivered = worker_rate(url, key, args.count, tmp_path / "kiosk", args.clients)
            stats = httpx.get(f"{url}/admin/stats").json()
        finally:
            sim.terminate()
            sim.wait(10)
    print(
        f"sync drain: {args.count} submissions; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; "
        "kiosk SQLite with synchronous=FULL; simulator in its own process"
    )
    print(f"{'measure':44} {'count':>7} {'seconds':>8} {'per s':>8}")
    raw_n = args.raw_count or args.count
    label = f"simulator raw accept ({args.clients} in flight)"
    print(f"{label:44} {raw_n:>7} {raw_n / raw:>8.1f} {raw:>8.1f}")
    print(f"{'worker drain (claim, send, record)':44} {args.count:>7} {elapsed:>8.1f} {rate:>8.1f}")
    print(
        f"worker at {100 * rate / raw:.0f}% of the raw rate (goal: 80% or more); delivered {delivered}; "
        f"simulator holds {stats['applications']} with {stats['duplicate_rows']} duplicate rows"
    )
    return 0 if delivered == args.count and stats["duplicate_rows"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
