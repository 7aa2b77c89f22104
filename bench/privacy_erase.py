"""Erasing 100,000 due applications on SQLite and on PostgreSQL, and the visitor pages meanwhile.

For each database the run:

1. makes a fresh instance folder and database (SQLite: a file in the instance folder; PostgreSQL:
   a scratch database on the server at ``KIOSK_TEST_DATABASE_URL``, dropped at the end) and
   migrates it (``kiosk.db.upgrade``);
2. loads ``--due`` applications approved ``--age-days`` ago (so due under the default 90 days),
   each with its own data key in ``instance/keys/submission_keys.sqlite3`` (wrapped by the site
   key) and its payload sealed with it, a tenth of them with a 4 KB photo sealed the same way;
   plus ``--other`` applications that must stay (queued, with staff, delivered, approved last
   week);
3. serves the app with waitress (4 threads) and runs ``--clients`` visitor clients in threads,
   each in a loop with ``--think-ms`` between requests, on two pages: the checklist of a visit
   already open (reads its sealed visit from the database), and the status page of a new visitor
   (writes its visit row: an INSERT and a commit, which on SQLite waits for any other writer);
4. measures the pages for ``--seconds`` without erasure (the baseline, same run, same server),
   then while ``kiosk.jobs.privacy.erase_due`` runs in a process of its own (as ``kiosk privacy erase``
   or the worker would), timing the erasure inside that process, and the pages until it ends,
   then ``--seconds`` again without it (the baseline after: how steady the machine was);
5. checks the outcome: every due application erased and its key destroyed, the others intact,
   the audit chain whole.

Run from the repository root:
``.venv/bin/python bench/privacy_erase.py [--due 100000] [--skip-postgres]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
CHUNK = 2000
PHOTO = b"\xff\xd8\xff\xe0" + bytes(4096)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def make_app(instance: Path, url: str | None) -> Any:
    os.environ["KIOSK_INSTANCE_PATH"] = str(instance)
    from kiosk import create_app, db

    config: dict[str, Any] = {"PORTAL": "demo", "SYNC_IN_PROCESS": False}
    if url:
        config["DATABASE_URL"] = url
    app = create_app(config)
    db.upgrade(app)
    return app


def load(app: Any, due: int, other: int, age_days: int) -> None:
    """The applications, their own keys (in the key store) and their photos."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: F401 - the keyring's cipher
    from sqlalchemy import insert

    from kiosk import db
    from kiosk.domain.iin import make_iin
    from kiosk.infra.keys import keyed_hash
    from kiosk.models import Attachment, Submission

    ring = app.extensions["kiosk.keyring"]
    hash_key = app.config["HASH_KEY"]
    now = dt.datetime.now(dt.UTC)
    long_ago = now - dt.timedelta(days=age_days)
    states = ["queued", "needs_staff", "delivered", "in_progress", "needs_verification"]
    keys_db = sqlite3.connect(ring.datakeys.path)
    engine = db.engine(app)
    postgres = engine.dialect.name == "postgresql"
    total = due + other
    started = time.perf_counter()
    serial = 0
    for start in range(0, total, CHUNK):
        subs, photos, keys = [], [], []
        for i in range(start, min(start + CHUNK, total)):
            while True:
                serial += 1
                child = make_iin(
                    dt.date(2012, 1, 1) + dt.timedelta(days=serial % 3000), "MF"[serial % 2], serial // 3000
                )
                if child:
                    break
            uid = str(uuid.uuid4())
            key = secrets.token_bytes(32)
            keys.append((uid, ring.seal(key, bound_to=f"datakey:{uid}"), long_ago.isoformat()))
            payload = {
                "service": "meals",
                "applicant": {"iin": "880412412349", "name": "AIGERIM NURLANQYZY", "identity": "sms"},
                "answers": {"child_iin": child, "child_name": "Иванова Мария", "grade": "4", "category": "asp"},
                "consent": {"version": "1", "text": "Согласие на обработку персональных данных " * 20},
            }
            is_due = i < due
            state = "approved" if is_due else states[i % len(states)] if i % 5 else "approved"
            closed = long_ago if is_due else (now - dt.timedelta(days=7) if state == "approved" else None)
            subs.append(
                {
                    "uuid": uid,
                    "reference": f"B{i:09d}",
                    "service_code": "meals",
                    "catalog_version": "bench",
                    "school_year": 2026,  # the year under way: no one-per-child hash is released in this run
                    "state": state,
                    "identity_method": "sms",
                    "lang": "ru",
                    "applicant_iin_hash": keyed_hash("iin", "880412412349", key=hash_key),
                    "child_iin_hash": keyed_hash("iin", child, key=hash_key),
                    "payload": ring.seal_own(key, json.dumps(payload, ensure_ascii=False).encode(), uid),
                    "payload_hash": secrets.token_hex(32),
                    "status_token_hash": secrets.token_hex(32),
                    "created_at": long_ago - dt.timedelta(days=3),
                    "updated_at": closed or long_ago,
                    "attempts": 1,
                    "closed_at": closed,
                    "consent_version": "1",
                }
            )
            if i % 10 == 0:
                photos.append((uid, key))
        with engine.begin() as conn:
            table = Submission.__table__
            if postgres:
                conn.execute(insert(table).values(subs))
            else:
                conn.execute(insert(table), subs)
            ids = dict(
                conn.execute(
                    table.select()
                    .with_only_columns(table.c.uuid, table.c.id)
                    .where(table.c.uuid.in_([u for u, _ in photos]))
                ).all()
            )
            rows = []
            for uid, key in photos:
                sha = secrets.token_hex(32)
                rows.append(
                    {
                        "submission_id": ids[uid],
                        "kind": "image/jpeg",
                        "size": len(PHOTO),
                        "sha256": sha,
                        "sealed": ring.seal_own(key, PHOTO, sha),
                        "created_at": long_ago,
                    }
                )
            if rows:
                conn.execute(insert(Attachment.__table__), rows)
        keys_db.executemany("INSERT INTO submission_keys (uuid, wrapped, created_at) VALUES (?, ?, ?)", keys)
        keys_db.commit()
    keys_db.close()
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("ANALYZE")
    log(f"loaded {total:,} applications ({due:,} due) in {time.perf_counter() - started:.1f} s")


class Pages:
    """Visitor clients in a loop over two pages; latencies kept per page while ``recording``."""

    def __init__(self, base: str, clients: int, think_s: float) -> None:
        self.base = base
        self.think_s = think_s
        self.stop = threading.Event()
        self.recording: dict[str, list[float]] | None = None
        self.errors = 0
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(clients)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def _loop(self) -> None:
        with (
            httpx.Client(base_url=self.base, timeout=60) as visit,
            httpx.Client(base_url=self.base, timeout=60) as newcomer,
        ):
            visit.get("/ru/status")  # a visit of its own, open for the checklist page
            while not self.stop.is_set():
                for name, client, path in (
                    ("checklist (open visit)", visit, "/ru/services/meals"),
                    ("status, new visitor (writes)", newcomer, "/ru/status"),
                ):
                    t0 = time.perf_counter()
                    try:
                        if client is newcomer:
                            client.cookies.clear()  # each time someone new: a visit row is written
                        response = client.get(path)
                        ok = response.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    elapsed = (time.perf_counter() - t0) * 1000
                    recording = self.recording
                    if recording is not None:
                        recording.setdefault(name, []).append(elapsed)
                        if not ok:
                            self.errors += 1
                    time.sleep(self.think_s)

    def measure(self, until: Any) -> dict[str, list[float]]:
        self.errors = 0
        self.recording = {}
        until()
        out, self.recording = self.recording, None
        return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


ERASE = """
import os, sys, time
from kiosk import create_app, db
from kiosk.jobs import privacy
from kiosk.clock import utcnow
config = {"PORTAL": "demo"}
if os.environ.get("BENCH_URL"):
    config["DATABASE_URL"] = os.environ["BENCH_URL"]
app = create_app(config)
t0 = time.perf_counter()
result = privacy.erase_due(
    lambda: db.new_session(app), app.extensions["kiosk.keyring"], utcnow(app.config),
    privacy.Retention.from_config(app.config), actor="cli",
    batch=int(os.environ["BENCH_BATCH"]), pause_s=float(os.environ["BENCH_PAUSE_S"]),
)
print(time.perf_counter() - t0, result.erased, result.keys_destroyed, flush=True)
"""


def run(kind: str, url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import func, select

    from kiosk import db
    from kiosk.domain import audit
    from kiosk.models import AuditEntry, Submission
    from kiosk.portal_sim.server import ServerThread

    instance = Path(tempfile.mkdtemp(prefix=f"erase-{kind}-"))
    app = make_app(instance, url)
    load(app, args.due, args.other, args.age_days)
    report: dict[str, Any] = {"kind": kind}
    with ServerThread(app, threads=4) as served:
        pages = Pages(served.url, args.clients, args.think_ms / 1000)
        pages.start()
        time.sleep(2)  # warm-up
        log(f"{kind}: baseline for {args.seconds} s")
        report["baseline"] = pages.measure(lambda: time.sleep(args.seconds))
        report["baseline_errors"] = pages.errors
        log(f"{kind}: erasing")
        env = {
            **os.environ,
            "KIOSK_INSTANCE_PATH": str(instance),
            "BENCH_URL": url or "",
            "BENCH_BATCH": str(args.batch),
            "BENCH_PAUSE_S": str(args.pause_ms / 1000),
        }
        done: dict[str, str] = {}

        def erase() -> None:
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", ERASE], env=env, capture_output=True, text=True, check=True, cwd=ROOT
            )
            done["wall"] = f"{time.perf_counter() - t0:.1f}"
            done["out"] = proc.stdout.strip().splitlines()[-1]

        report["during"] = pages.measure(erase)
        report["during_errors"] = pages.errors
        log(f"{kind}: after, for {args.seconds} s")  # a second baseline: how steady the machine was
        report["after"] = pages.measure(lambda: time.sleep(args.seconds))
        report["after_errors"] = pages.errors
        pages.stop.set()
    seconds, erased, keys = done["out"].split()
    report.update(erase_s=float(seconds), erased=int(erased), keys=int(keys), wall_s=float(done["wall"]))
    with db.new_session(app) as s:
        report["left_held"] = s.scalar(select(func.count(Submission.id)).where(Submission.erased_at.is_(None)))
        report["audit_entries"] = s.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "privacy.erase")
        )
        report["audit_ok"] = audit.verify(s) == []
    report["keys_left"] = app.extensions["kiosk.keyring"].datakeys.count()
    db.engine(app).dispose()
    shutil.rmtree(instance, ignore_errors=True)  # half a gigabyte of synthetic applications
    return report


def print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n== {report['kind']}: {report['erased']:,} applications erased "
        f"(batches of {args.batch}, {args.pause_ms:g} ms pause) =="
    )
    print(
        f"erasure: {report['erase_s']:.1f} s ({report['erased'] / report['erase_s']:,.0f}/s), "
        f"{report['keys']:,} keys destroyed; whole process {report['wall_s']:.1f} s"
    )
    print(
        f"after: {report['left_held']:,} held (the {args.other:,} that must stay), {report['keys_left']:,} keys left, "
        f"{report['audit_entries']:,} erasure entries, audit chain {'intact' if report['audit_ok'] else 'BROKEN'}"
    )
    print(f"{'page':32} {'':8} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for when in ("baseline", "during", "after"):
        for page, values in report[when].items():
            print(
                f"{page:32} {when:8} {len(values):6d} {statistics.median(values):8.1f} {pct(values, 99):8.1f} "
                f"{max(values):8.1f}"
            )
    print(
        f"errors: baseline {report['baseline_errors']}, during {report['during_errors']}, "
        f"after {report['after_errors']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--other", type=int, default=5_000)
    parser.add_argument("--age-days", type=int, default=120)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--think-ms", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--batch", type=int, default=200, help="PRIVACY_ERASE_BATCH")
    parser.add_argument("--pause-ms", type=float, default=50, help="PRIVACY_ERASE_PAUSE_S, in ms")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print_report(run("SQLite", None, args), args)
    pg = os.environ.get("KIOSK_TEST_DATABASE_URL")
    if pg and not args.skip_postgres:
        from fixtures.scratch import scratch_database

        with scratch_database(pg, prefix="kiosk_bench") as url:
            print_report(run("PostgreSQL", url, args), args)
    elif not args.skip_postgres:
        print("\nPostgreSQL skipped: KIOSK_TEST_DATABASE_URL is not set")


if __name__ == "__main__":
    main()
