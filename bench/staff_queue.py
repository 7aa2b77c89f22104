"""The staff queue page at 1,000,000 submissions on SQLite and on PostgreSQL, p50 and p99.

Goal (the issue): the queue page, its first page, a deep keyset page and a search by IIN, at
50 ms or less of server time each, at a million rows. For each database the run:

1. makes a fresh database (SQLite: a file in a temporary instance folder, opened through the app,
   i.e. ``kiosk.db.make_engine`` with WAL, ``synchronous=FULL`` and the busy timeout; PostgreSQL:
   a database of its own made on the server at ``KIOSK_TEST_DATABASE_URL`` and dropped at the end)
   and gives it the app's schema through its migrations (``kiosk.db.upgrade``);
2. loads ``--rows`` synthetic submissions, the same ones on both (SQLite: Core
   ``insert(Submission.__table__)`` executemany in chunks of 20,000; PostgreSQL: ``COPY`` through
   psycopg), then ``ANALYZE``s (PostgreSQL: ``VACUUM ANALYZE``, what autovacuum would reach, and a
   ``CHECKPOINT``; SQLite: a WAL checkpoint), so that no write-back of the load runs meanwhile;
3. times, in process, ``staffqueue.queue_page(session, filters, after)`` inside an app context,
   with a fresh session each time (so the pool check-out, and on PostgreSQL its pre-ping, count):
   the query and the ORM's loading of the 51 rows, which is the view's database work;
4. times the whole view, ``GET /staff/queue?...`` through Flask's test client signed in as a
   member of staff (made with ``kiosk staff add --password-stdin``): the request's own session
   (a server-side visit, read and saved with a commit), the sign-in check, the query and the
   template;
5. beside them, the floors: a ``SELECT 1`` round trip and the primary-key look-up of one
   submission, each in a fresh session, on the same database in the same run.

The cases: the first page, no filters; a deep keyset page (the cursor of the row about 90% down,
the 900,000th newest of a million); a search by the IIN of a parent with a few applications; a
state and a service filter, once with a common pair (approved, meals) and once with a rare one
(needs_staff, grade1). Each is repeated ``--repeat`` times after a short warm-up, but a slow case
stops after ``--case-budget-s`` seconds (at least 20 repetitions), so the run stays short. The
query plans of the cases (``EXPLAIN QUERY PLAN``; ``EXPLAIN (ANALYZE, BUFFERS)``) are printed after
the table.

The data: about 0.3 parents per row with one to three children each, valid synthetic IINs kept
only as keyed hashes (HMAC-SHA256 with a fixed bench key, which the app is given as its
``HASH_KEY`` so that the search finds them), the 7 services the kiosk takes applications for,
one application per child, service and school year, ``created_at`` spread over two years in
``id`` order, states weighted towards delivered and approved (the moving ones only in the last
30 days), a short fixed payload (the queue page never opens it), no events (it never reads them).

Run from the repository root:
``.venv/bin/python bench/staff_queue.py [--rows 1000000] [--repeat 200] [--skip-postgres]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from _flow import ROOT  # noqa: F401 - puts tests/ on the path, for fixtures.scratch
from _report import Latency, arguments, machine_line, table, write_json
from fixtures.scratch import scratch_database
from kiosk.models import Submission

GOAL_MS = 50.0
BENCH_HASH_KEY = "staff-queue-bench-" + "0" * 46  # fixed: the same hashes on every run
PASSWORD = "bench password 1234"
CHUNK = 20_000
SERVICES = ("meals", "transport", "camp", "grade1", "transfer", "home", "special")
SERVICE_WEIGHTS = (30, 15, 15, 15, 10, 8, 7)
STATES = (
    "delivered",
    "approved",
    "in_progress",
    "refused",
    "cancelled",
    "needs_staff",
    "queued",
    "sending",
    "retry_wait",
    "needs_verification",
)
STATE_WEIGHTS = (40, 30, 10, 8, 4, 2, 2.5, 0.5, 1.5, 1.5)
RECENT_ONLY = {"queued", "sending", "retry_wait", "needs_verification"}
AT_PORTAL = {"delivered", "approved", "in_progress", "refused"}
COMMON_FILTER = ("approved", "meals")
RARE_FILTER = ("needs_staff", "grade1")
END = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=730)
# the submissions table's columns but its key, from the model: a column added there is loaded here
COLUMNS = tuple(c.name for c in Submission.__table__.columns if not c.primary_key)
PAYLOAD = "k1:" + "A" * 180  # stands for the sealed JSON; the queue page does not open it


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the synthetic data ---------------------------------------------------------------------


@dataclass
class Dataset:
    """The rows to load (in ``COLUMNS`` order) and what the cases look for in them."""

    rows: list[tuple[Any, ...]]
    search_iin: str
    search_count: int
    applicants: int
    children: int
    seconds: float


def synthetic_iins(count: int, first: dt.date, days: int) -> list[str]:
    """``count`` distinct valid IINs born within ``days`` of ``first`` (serial-major, so spread)."""
    from kiosk.domain.iin import make_iin

    out: list[str] = []
    serial = 0
    while True:
        for d in range(days):
            born = first + dt.timedelta(days=d)
            for sex in "MF":
                iin = make_iin(born, sex, serial)
                if iin is not None:
                    out.append(iin)
                    if len(out) == count:
                        return out
        serial += 1


def reference_for(index: int) -> str:
    """A unique 9-character reference in the kiosk's alphabet: ``index`` scrambled, in base 31.

    Multiplying by a number prime to 31 is a bijection modulo 31**9, so no two indexes share one.
    (The check character is not a valid one; the queue page does not check stored references.)
    """
    from kiosk.domain.references import ALPHABET, N

    value = (index * 0x5DEECE66D + 12345) % N**9
    chars = []
    for _ in range(9):
        value, digit = divmod(value, N)
        chars.append(ALPHABET[digit])
    return "".join(chars)


def make_dataset(rows: int, seed: int) -> Dataset:
    """Build ``rows`` submissions deterministically from ``seed``."""
    from kiosk.infra.keys import keyed_hash

    start = time.perf_counter()
    rng = random.Random(seed)
    n_applicants = max(1, rows * 3 // 10)
    kids = [1 + a % 3 for a in range(n_applicants)]
    first_child = [0] * n_applicants
    total = 0
    for a, k in enumerate(kids):
        first_child[a] = total
        total += k
    n_children = total
    log(f"making {n_applicants:,} parents' and {n_children:,} children's IINs and their keyed hashes")
    parent_iins = synthetic_iins(n_applicants, dt.date(1975, 1, 1), 20 * 365)
    child_iins = synthetic_iins(n_children, dt.date(2008, 1, 1), 12 * 365)
    parent_hash = [keyed_hash("iin", i, key=BENCH_HASH_KEY) for i in parent_iins]
    child_hash = [keyed_hash("iin", i, key=BENCH_HASH_KEY) for i in child_iins]

    log(f"making {rows:,} submissions")
    span_s = SPAN.total_seconds()
    offsets = sorted(rng.random() * span_s for _ in range(rows))
    origin = END - SPAN
    half = span_s / 2
    recent = span_s - 30 * 86400
    services = rng.choices(range(len(SERVICES)), SERVICE_WEIGHTS, k=rows)
    states = rng.choices(STATES, STATE_WEIGHTS, k=rows)
    langs = rng.choices(("kk", "ru", "en"), (55, 40, 5), k=rows)
    used: set[int] = set()
    per_parent: Counter[int] = Counter()
    out: list[tuple[Any, ...]] = []
    for i in range(rows):
        offset = offsets[i]
        year = 2025 if offset < half else 2026
        service = services[i]
        while True:  # one application per child, service and school year
            parent = rng.randrange(n_applicants)
            child = first_child[parent] + rng.randrange(kids[parent])
            key = ((child * len(SERVICES) + service) << 1) | (year - 2025)
            if key not in used:
                break
            service = rng.randrange(len(SERVICES))
        used.add(key)
        per_parent[parent] += 1
        state = states[i]
        if state in RECENT_ONLY and offset < recent:
            state = "delivered"
        created = origin + dt.timedelta(seconds=offset)
        updated = created + dt.timedelta(seconds=rng.randrange(5, 3 * 86400))
        if state in RECENT_ONLY:
            updated = created + dt.timedelta(seconds=rng.randrange(1, 600))
        row = {
            "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "reference": reference_for(i),
            "service_code": SERVICES[service],
            "catalog_version": "2025.09-1" if year == 2025 else "2026.11-1",
            "school_year": year,
            "state": state,
            "identity_method": "in_person" if state == "needs_verification" or i % 20 == 0 else "sms",
            "signature_method": "staff" if state == "needs_verification" or i % 20 == 0 else "sms",
            "signature": None,
            "lang": langs[i],
            "applicant_iin_hash": parent_hash[parent],
            "child_iin_hash": child_hash[child],
            "payload": PAYLOAD,
            "payload_hash": hashlib.sha256(b"payload-%d" % i).hexdigest(),
            "status_token_hash": hashlib.sha256(b"status-%d" % i).hexdigest(),
            "created_at": created,
            "updated_at": updated,
            "attempts": 0,
            "next_attempt_at": updated if state in ("queued", "retry_wait") else None,
            "last_error": "timeout" if state == "retry_wait" else None,
            "portal_reference": f"P-{i:010d}" if state in AT_PORTAL else None,
            "claimed_by": None,
            # the privacy columns (migration 0009): no outcome closed, nothing erased, consent not recorded
            "closed_at": None,
            "erased_at": None,
            "consent_version": None,
            "consent_at": None,
        }
        out.append(tuple(row[c] for c in COLUMNS))
        if (i + 1) % 250_000 == 0:
            log(f"  {i + 1:,} made")
    few = sorted(per_parent.items(), key=lambda item: (abs(item[1] - 4), item[0]))[0]
    return Dataset(
        rows=out,
        search_iin=parent_iins[few[0]],
        search_count=few[1],
        applicants=n_applicants,
        children=n_children,
        seconds=time.perf_counter() - start,
    )


# --- loading --------------------------------------------------------------------------------


def load_core(engine: Any, rows: list[tuple[Any, ...]]) -> None:
    """Core ``insert(Submission.__table__)`` executemany, one transaction per chunk."""
    from sqlalchemy import insert

    from kiosk.models import Submission

    stmt = insert(Submission.__table__)
    for at in range(0, len(rows), CHUNK):
        params = [dict(zip(COLUMNS, row, strict=True)) for row in rows[at : at + CHUNK]]
        with engine.begin() as conn:
            conn.execute(stmt, params)
        done = min(at + CHUNK, len(rows))
        if done % 200_000 == 0 or done == len(rows):
            log(f"  {done:,} inserted")


def load_copy(engine: Any, rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL ``COPY submissions (...) FROM STDIN`` through psycopg, committed per 200,000."""
    raw = engine.raw_connection()
    try:
        for at in range(0, len(rows), 200_000):
            cursor = raw.cursor()
            with cursor.copy(f"COPY submissions ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows[at : at + 200_000]:
                    copy.write_row(row)
            raw.commit()
            log(f"  {min(at + 200_000, len(rows)):,} copied")
    finally:
        raw.close()


# --- timing ---------------------------------------------------------------------------------


@dataclass
class Result:
    """One line of the table."""

    database: str
    measure: str
    case: str
    rows: int
    n: int
    p50_ms: float
    p99_ms: float
    mean_ms: float

    @property
    def goal(self) -> str:
        if self.measure.startswith("floor"):
            return ""
        return "met" if self.p99_ms <= GOAL_MS else ("p50 only" if self.p50_ms <= GOAL_MS else "MISSED")


def measure(run: Callable[[], float], repeat: int, budget_s: float, warmup: int = 3) -> list[float]:
    """Call ``run`` (which times itself) ``warmup`` times unmeasured, then up to ``repeat`` times.

    Stops early once ``budget_s`` of measured time is spent and at least 20 samples are taken.
    """
    for _ in range(warmup):
        run()
    samples: list[float] = []
    spent = 0.0
    for _ in range(repeat):
        elapsed = run()
        samples.append(elapsed)
        spent += elapsed
        if spent > budget_s and len(samples) >= 20:
            break
    return samples


def summarise(database: str, what: str, case: str, rows: int, seconds: list[float]) -> Result:
    """p50, p99 (of 200 samples the p99 is near the 2nd slowest) and mean."""
    figures = Latency.of(seconds)
    return Result(database, what, case, rows, figures.count, figures.p50_ms, figures.p99_ms, figures.mean_ms)


@dataclass
class Case:
    """One queue page to time: its filters and cursor, and what it must return."""

    name: str
    filters: Any
    after: tuple[dt.datetime, int] | None
    query: dict[str, str]
    expect_rows: int | None = None


@dataclass
class DatabaseRun:
    """Everything one database's run produced."""

    name: str
    load_s: float
    analyze_s: float
    size: str
    results: list[Result] = field(default_factory=list)
    plans: dict[str, str] = field(default_factory=dict)


def cursor_at(app: Any, depth: int) -> tuple[dt.datetime, int]:
    """The (created_at, id) of the ``depth``-th newest row: the cursor a deep page starts after."""
    from sqlalchemy import select

    from kiosk import db
    from kiosk.models import Submission

    with db.new_session(app) as s:
        row = s.execute(
            select(Submission.created_at, Submission.id)
            .order_by(Submission.created_at.desc(), Submission.id.desc())
            .offset(depth - 1)
            .limit(1)
        ).one()
    return row[0], row[1]


def make_cases(app: Any, data: Dataset) -> list[Case]:
    """The cases of the issue, and the two filter cases."""
    from kiosk.domain.staffqueue import Filters

    depth = max(1, len(data.rows) * 9 // 10)
    at, last_id = cursor_at(app, depth)
    return [
        Case("first page", Filters(), None, {}),
        Case(
            f"deep page (after the {depth:,}th newest)",
            Filters(),
            (at, last_id),
            {"after": f"{at.isoformat()}_{last_id}"},
        ),
        Case(
            f"search by IIN ({data.search_count} applications)",
            Filters(search=data.search_iin),
            None,
            {"q": data.search_iin},
            expect_rows=data.search_count,
        ),
        Case(
            "state+service: {}+{}".format(*COMMON_FILTER),
            Filters(state=COMMON_FILTER[0], service=COMMON_FILTER[1]),
            None,
            {"state": COMMON_FILTER[0], "service": COMMON_FILTER[1]},
        ),
        Case(
            "state+service: {}+{}".format(*RARE_FILTER),
            Filters(state=RARE_FILTER[0], service=RARE_FILTER[1]),
            None,
            {"state": RARE_FILTER[0], "service": RARE_FILTER[1]},
        ),
    ]


def check_page(case: Case, rows: list[Any]) -> None:
    """What a case returned must be what it asked for, or the timing means nothing."""
    if case.expect_rows is not None:
        assert len(rows) == case.expect_rows, (case.name, len(rows))
    else:
        assert len(rows) == 50, (case.name, len(rows))
    if case.filters.state:
        assert all(r.state == case.filters.state and r.service_code == case.filters.service for r in rows)
    if case.after is not None:
        assert all((r.created_at, r.id) < case.after for r in rows), case.name
    keys = [(r.created_at, r.id) for r in rows]
    assert keys == sorted(keys, reverse=True), case.name


def time_queue_page(
    app: Any, name: str, cases: list[Case], args: argparse.Namespace, floors: bool = True, budget_s: float | None = None
) -> list[Result]:
    """The floors and ``queue_page`` for every case, in an app context, a fresh session each time."""
    from sqlalchemy import text

    from kiosk import db
    from kiosk.domain import staffqueue
    from kiosk.models import Submission

    results: list[Result] = []
    rng = random.Random(7)
    budget = args.case_budget_s if budget_s is None else budget_s
    with app.app_context():

        def floor_select() -> float:
            with db.new_session(app) as s:
                t0 = time.perf_counter()
                s.execute(text("SELECT 1")).scalar_one()
                return time.perf_counter() - t0

        def floor_get() -> float:
            key = rng.randint(1, args.rows)
            with db.new_session(app) as s:
                t0 = time.perf_counter()
                row = s.get(Submission, key)
                elapsed = time.perf_counter() - t0
            assert row is not None
            return elapsed

        for what, run in (("floor: SELECT 1", floor_select), ("floor: Submission by id", floor_get)) if floors else ():
            log(f"{name}: {what}")
            results.append(summarise(name, what, "-", 1, measure(run, args.repeat, budget)))

        for case in cases:
            with db.new_session(app) as s:
                page, _ = staffqueue.queue_page(s, case.filters, case.after)
                check_page(case, page)
                returned = len(page)

            def run(case: Case = case) -> float:
                with db.new_session(app) as s:
                    t0 = time.perf_counter()
                    staffqueue.queue_page(s, case.filters, case.after)
                    return time.perf_counter() - t0

            log(f"{name}: queue_page, {case.name}")
            samples = measure(run, args.repeat, budget)
            results.append(summarise(name, "queue_page()", case.name, returned, samples))
    return results


def time_view(app: Any, name: str, cases: list[Case], args: argparse.Namespace) -> list[Result]:
    """``GET /staff/queue`` through the test client, signed in; no app context is pushed around it,
    so each request has its own (as under waitress) and closes its session at teardown."""
    from kiosk.cli import main

    runner = app.test_cli_runner()
    command = ["staff", "add", "bench", "--role", "operator", "--password-stdin"]
    added = runner.invoke(main, command, input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token is not None, "no CSRF token on the sign-in page"
    signed = client.post("/staff/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token[1]})
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/staff/"), signed.status_code
    results: list[Result] = []

    def healthz() -> float:
        t0 = time.perf_counter()
        response = client.get("/healthz")
        elapsed = time.perf_counter() - t0
        assert response.status_code == 200
        return elapsed

    log(f"{name}: floor GET /healthz")
    results.append(summarise(name, "floor: GET /healthz", "-", 1, measure(healthz, args.repeat, args.case_budget_s)))
    for case in cases:
        url = "/staff/queue" + ("?" + urlencode(case.query) if case.query else "")
        body = client.get(url).get_data(as_text=True)
        returned = body.count("data-row=")
        assert returned == (case.expect_rows if case.expect_rows is not None else 50), (url, returned)

        def run(url: str = url) -> float:
            t0 = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - t0
            assert response.status_code == 200, (url, response.status_code)
            return elapsed

        log(f"{name}: GET /staff/queue, {case.name}")
        samples = measure(run, args.repeat, args.case_budget_s)
        results.append(summarise(name, "GET /staff/queue", case.name, returned, samples))
    return results


def query_plans(app: Any, cases: list[Case]) -> dict[str, str]:
    """Each case's plan, for the very statement ``queue_page`` sends (caught on the engine)."""
    from sqlalchemy import event

    from kiosk import db
    from kiosk.domain import staffqueue

    engine = db.engine(app)
    plans: dict[str, str] = {}
    with app.app_context():
        caught: list[tuple[str, Any]] = []

        def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
            caught.append((statement, parameters))

        for case in cases:
            caught.clear()
            event.listen(engine, "before_cursor_execute", catch)
            try:
                with db.new_session(app) as s:
                    staffqueue.queue_page(s, case.filters, case.after)
            finally:
                event.remove(engine, "before_cursor_execute", catch)
            statement, parameters = next((st, p) for st, p in caught if "FROM submissions" in st)
            with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    lines = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                    depth: dict[int, int] = {0: 0}
                    out = []
                    for node, parent, _, detail in lines:
                        depth[node] = depth.get(parent, 0) + 1
                        out.append("  " * (depth[node] - 1) + detail)
                    plans[case.name] = "\n".join(out)
                else:
                    lines = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
                    plans[case.name] = "\n".join(line[0] for line in lines)
    return plans


# --- the databases --------------------------------------------------------------------------


@contextlib.contextmanager
def kiosk_app(instance: Path, url: str) -> Iterator[Any]:
    """The app on a fresh instance folder and the given database, schema through the migrations."""
    from kiosk import create_app, db

    os.environ["KIOSK_INSTANCE_PATH"] = str(instance)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "b", "PORTAL": "demo", "HASH_KEY": BENCH_HASH_KEY})
    db.upgrade(app)
    try:
        yield app
    finally:
        db.engine(app).dispose()


def run_database(name: str, app: Any, data: Dataset, args: argparse.Namespace) -> DatabaseRun:
    """Load, analyse, time and explain one database."""
    from sqlalchemy import text

    from kiosk import db

    engine = db.engine(app)
    log(f"{name}: loading {len(data.rows):,} submissions")
    t0 = time.perf_counter()
    if engine.dialect.name == "postgresql":
        load_copy(engine, data.rows)
    else:
        load_core(engine, data.rows)
    load_s = time.perf_counter() - t0
    log(f"{name}: loaded in {load_s:.1f} s")
    before: list[Result] = []
    before_plans: dict[str, str] = {}
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        if not args.skip_before_analyze:  # the app never runs ANALYZE: this is how a kiosk's file is
            cases = make_cases(app, data)
            label = f"{name}, before ANALYZE"
            before = time_queue_page(app, label, cases, args, floors=False, budget_s=args.case_budget_s / 2)
            before_plans = {f"before ANALYZE, {k}": v for k, v in query_plans(app, cases).items()}
    log(f"{name}: analysing")
    t0 = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE submissions"))
            with contextlib.suppress(Exception):  # write the load out now, not during the timings
                conn.execute(text("CHECKPOINT"))
            size = conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar_one()
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            pages = conn.execute(text("PRAGMA page_count")).scalar_one()
            page_size = conn.execute(text("PRAGMA page_size")).scalar_one()
        size = f"{pages * page_size / 2**20:.0f} MB"
    analyze_s = time.perf_counter() - t0
    log(f"{name}: analysed in {analyze_s:.1f} s, database {size}")
    run = DatabaseRun(name, load_s, analyze_s, size, results=before, plans=before_plans)
    cases = make_cases(app, data)
    run.results += time_queue_page(app, name, cases, args)
    if not args.skip_view:
        run.results += time_view(app, name, cases, args)
    run.plans.update(query_plans(app, cases))
    return run


# --- the report -----------------------------------------------------------------------------


def report(data: Dataset, runs: list[DatabaseRun], args: argparse.Namespace) -> None:
    """The table (markdown), the load times and the plans."""
    print(
        f"\n{args.rows:,} submissions ({data.applicants:,} parents, {data.children:,} children), "
        f"{dt.date.today().isoformat()}, data made in {data.seconds:.1f} s; {machine_line()}"
    )
    for run in runs:
        rate = args.rows / run.load_s if run.load_s else 0.0
        print(
            f"{run.name}: loaded in {run.load_s:.1f} s ({rate:,.0f} rows/s), "
            f"ANALYZE {run.analyze_s:.1f} s, database {run.size}"
        )
    print()
    header = ["database", "measure", "case", "rows", "n", "p50 ms", "p99 ms", f"goal p99 <= {GOAL_MS:.0f} ms"]
    cells = [
        [r.database, r.measure, r.case, r.rows, r.n, r.p50_ms, r.p99_ms, r.goal] for run in runs for r in run.results
    ]
    print(table(header, cells, words=(0, 1, 2, 7)))
    missed = [r for run in runs for r in run.results if r.goal == "MISSED" or r.goal == "p50 only"]
    print()
    if missed:
        print("Goal missed by: " + "; ".join(f"{r.database} {r.measure} {r.case}" for r in missed))
    else:
        print(f"Goal met: every case at p99 <= {GOAL_MS:.0f} ms on every database.")
    for run in runs:
        for case, plan in run.plans.items():
            print(f"\n{run.name}, {case}:\n{plan}")


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="timed repetitions per case")
    parser.add_argument("--case-budget-s", type=float, default=20.0, help="stop a slow case after this much")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-view", action="store_true", help="time queue_page() only, not GET /staff/queue")
    parser.add_argument(
        "--skip-before-analyze", action="store_true", help="do not time SQLite before ANALYZE (as the app leaves it)"
    )
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args(argv)

    pg_url = os.environ.get("KIOSK_TEST_DATABASE_URL")
    for name in list(os.environ):  # a developer's own settings must not leak into the run
        if name.startswith("KIOSK_"):
            del os.environ[name]
    if not args.skip_postgres and not pg_url:
        parser.error("KIOSK_TEST_DATABASE_URL is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")

    started = time.perf_counter()
    data = make_dataset(args.rows, args.seed)
    log(f"data made in {data.seconds:.1f} s; the IIN searched has {data.search_count} applications")
    runs: list[DatabaseRun] = []
    with tempfile.TemporaryDirectory(prefix="staff-queue-") as tmp:
        root = Path(tmp)
        url = "sqlite:///" + str(root / "sqlite" / "kiosk.sqlite3")
        with kiosk_app(root / "sqlite", url) as app:
            runs.append(run_database("SQLite", app, data, args))
        if not args.skip_postgres:
            assert pg_url is not None
            with scratch_database(pg_url, "kiosk_bench") as url, kiosk_app(root / "postgres", url) as app:
                runs.append(run_database("PostgreSQL", app, data, args))
    report(data, runs, args)
    log(f"done in {time.perf_counter() - started:.0f} s")
    databases = [{**{k: v for k, v in asdict(run).items() if k != "results"}, "results": run.results} for run in runs]
    write_json(args.json, {"rows": args.rows, "databases": databases}, default=lambda r: {**asdict(r), "goal": r.goal})
    return 0


if __name__ == "__main__":
    sys.exit(main())
