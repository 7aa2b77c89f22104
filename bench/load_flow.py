"""Many terminals, one server: the whole visitor flow in a loop, per-step latency, errors and memory.

One real server (``kiosk run`` in a process of its own: waitress with its threads, a fresh temporary
instance folder, SMS limits lifted through ``KIOSK_SMS_*``) serves N simulated terminals. Each
terminal is a thread with its own httpx client, so its own cookie jar and keep-alive connection,
and walks what a parent does at the lobby kiosk, over and over, with a think time before each tap:

    welcome, a language (and the redirect to the services), the services, one service's checklist,
    a situation tapped on it (the htmx swap: ``HX-Request``), identify by a typed IIN, the code from
    the demo phone, the done page, the application form, the attachments page, check and consent
    (the signing code is sent), sign, the receipt, finish.

Now and then (``--status-share``) the next visitor at a terminal only looks up the status of an
application made there earlier, by its reference and the applicant's IIN. Every application has a
new parent and a new child (valid synthetic IINs, distinct within the run), so the
one-application-per-child rule refuses none. A redirect is followed at once, as a browser does;
the think time (``--think``, default 0.5-2 s, uniform, seeded) comes before each user action, and
``--think 0`` makes it a stress run.

It reports per step (one HTTP request each): count, p50, p99 and max latency (client side, by
``time.perf_counter``, the body read), errors (4xx/5xx answers, connection failures and timeouts,
and answers that are not what the flow expects: no code on the phone, a redirect elsewhere);
flows completed; the server process's RSS (``VmRSS`` of ``/proc/<pid>/status``) after warm-up and
after the load, with its peak; the server's and this script's CPU, and the machine's load average.
The baselines, measured in the same run, first idle after warm-up and then under the load: the
HTTP floor, ``GET /healthz`` (no cookie, no visit; one database ping) from a probe of its own four
times a second; the fsync floor, a bare SQLite INSERT + COMMIT (WAL, ``synchronous=FULL``) of a
900-byte row in a database of its own beside the kiosk's, twice a second.

Run from the repository root: ``.venv/bin/python bench/load_flow.py [--terminals 50] [--seconds 300]
[--think 0.5-2] [--portal demo|embedded] [--processes N] [--postgres URL] [--seed N] [--json PATH]``,
or ``--quick`` (5 terminals, 20 s, think 0-0.2 s) as ``tests/test_load_flow.py`` runs it. Exit
status 1 if there was any error. With ``--processes N`` every process is a ``kiosk run`` on the
same instance folder and database, and each visit goes to the next process (a visit stays on one:
the demo portal's phone is in the memory of the process that sent the code).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import kiosk
from _floor import FsyncFloor
from _flow import (
    CATEGORIES,
    FIRST_NAMES,
    FORM_CATEGORIES,
    LANGS,
    LOAD_ENV,
    NO_PHONE,
    SERVICE,
    SURNAMES,
    Child,
    FlowError,
    KioskServer,
    Parent,
    ServerGone,
    Stopped,
    Visit,
    free_port,
    page_problem,
    tidy_up,
    valid_iins,
)
from _proc import proc_cpu_seconds, proc_status
from _report import Latency, arguments, machine, machine_line, percentile, table, write_json
from kiosk.domain.references import display

HX_HEADERS = {"HX-Request": "true", "HX-Target": "checklist"}
HEALTHZ = "/healthz"
PROBE_INTERVAL_S = 0.25
FSYNC_INTERVAL_S = 0.5
FSYNC_ROW_BYTES = 900  # about a submission with its first event
IDLE_BASELINE_REQUESTS = 200
RSS_SAMPLE_INTERVAL_S = 5.0
# The steps in the order a visitor meets them: one HTTP request each.
STEPS = (
    "welcome",
    "language (redirect)",
    "services",
    "service checklist",
    "checklist swap (htmx)",
    "identify page",
    "identify: post IIN",
    "code page",
    "code: post",
    "identified page",
    "form page",
    "form: post",
    "attachments page",
    "check page",
    "check: consent, SMS sent",
    "sign page",
    "sign: post (commit)",
    "receipt page",
    "finish: post",
    "status page",
    "status: look up",
    "status page (found)",
)
BASELINE_IDLE = "GET /healthz, idle (baseline)"
BASELINE_LOADED = "GET /healthz, under the load (baseline)"
# the steps that commit most (an SMS code is issued, or the submission): their p50 minute by minute
WATCHED = ("identify: post IIN", "check: consent, SMS sent", "sign: post (commit)")
FSYNC_IDLE = "SQLite INSERT+COMMIT, idle (fsync floor)"
FSYNC_LOADED = "SQLite INSERT+COMMIT, under the load (fsync floor)"


# --- what was measured -------------------------------------------------------------------------


@dataclass
class StepStats:
    latencies: list[float] = field(default_factory=list)
    ended: list[float] = field(default_factory=list)  # time.monotonic() at each answer, for the minutes
    errors: int = 0

    def add(self, seconds: float) -> None:
        self.latencies.append(seconds)
        self.ended.append(time.monotonic())


@dataclass
class Record:
    """One terminal's figures, kept apart (no lock on the hot path) and merged at the end."""

    steps: dict[str, StepStats] = field(default_factory=dict)
    flows: int = 0  # applications whose receipt was shown and the visit finished
    flow_times: list[float] = field(default_factory=list)  # monotonic time each one ended
    status_lookups: int = 0
    abandoned: int = 0  # visits given up after an error
    error_samples: list[str] = field(default_factory=list)

    def step(self, name: str) -> StepStats:
        stats = self.steps.get(name)
        if stats is None:
            stats = self.steps[name] = StepStats()
        return stats

    def error(self, name: str, message: str) -> None:
        self.step(name).errors += 1
        if len(self.error_samples) < 20:
            self.error_samples.append(f"{name}: {message}")


def summarise(latencies: list[float], errors: int) -> dict[str, Any]:
    figures = Latency.of(latencies)
    ms = (
        (round(figures.p50_ms, 2), round(figures.p99_ms, 2), round(figures.max_ms, 2)) if figures.count else (None,) * 3
    )
    return {"count": figures.count, "p50_ms": ms[0], "p99_ms": ms[1], "max_ms": ms[2], "errors": errors}


# --- the people: a new parent and a new child for every application -----------------------------


@dataclass(frozen=True)
class Applicant:
    parent_iin: str
    child_iin: str


class People:
    """Distinct valid IINs, handed out under a lock: terminals are threads."""

    def __init__(self, seed: int) -> None:
        offset = random.Random(seed).randrange(0, 5000)
        serials = range(offset, offset + 2000)
        # the simulator (``--portal embedded``) gives no phone to an IIN whose serial ends in 0
        self._parents = (
            iin
            for iin in valid_iins(dt.date(1975, 1, 1), 7300, "F", serials)
            if int(iin[7:11]) % 10 and iin != NO_PHONE
        )
        self._children = valid_iins(dt.date(2010, 1, 1), 3650, "M", serials)  # 7 to 16 years old
        self._lock = threading.Lock()

    def next(self) -> Applicant:
        with self._lock:
            return Applicant(next(self._parents), next(self._children))


# --- one terminal ----------------------------------------------------------------------------------


def parse_think(text: str) -> tuple[float, float]:
    """``0.5-2`` (uniform between) or ``1`` (fixed) or ``0``, in seconds."""
    low, _, high = text.partition("-")
    a, b = float(low), float(high or low)
    if not 0 <= a <= b:
        raise argparse.ArgumentTypeError(
            f"think time {text!r}: want LOW-HIGH seconds with 0 <= LOW <= HIGH, or one value"
        )
    return a, b


class Terminal:
    """A lobby terminal: one browser (client, cookie jar, connection) and the visitors who use it."""

    def __init__(
        self,
        index: int,
        base_url: str | list[str],
        people: People,
        rng: random.Random,
        think: tuple[float, float],
        status_share: float,
        stop: threading.Event,
        timeout: float,
    ) -> None:
        self.index = index
        # several servers (--processes): each visit goes to the next one. Not each request: the demo
        # portal's phone, which shows the SMS code, lives in the memory of the process that sent it
        self.urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_url = self.urls[0]
        self.turn = index
        self.server = self.urls[self.turn % len(self.urls)]
        self.people = people
        self.rng = rng
        self.think_range = think
        self.status_share = status_share
        self.stop = stop
        self.record = Record()
        self.applications: list[tuple[str, str]] = []  # (reference, parent's IIN) made here
        self.clients = [
            httpx.Client(
                base_url=url,
                timeout=timeout,
                follow_redirects=False,
                headers={"User-Agent": f"load_flow terminal {index}"},
            )
            for url in self.urls
        ]
        self.client = self.clients[self.turn % len(self.clients)]

    # the loop

    def run(self, first_delay: float = 0.0, visits: int | None = None) -> None:
        """Visitors one after another until stopped (or ``visits`` of them, for the warm-up)."""
        try:
            self.pause(first_delay)
            done = 0
            while visits is None or done < visits:
                done += 1
                self.turn += 1
                self.server = self.urls[self.turn % len(self.urls)]
                self.client = self.clients[self.turn % len(self.clients)]
                visit = Visit(
                    self.server,
                    self.rng.choice(LANGS),
                    client=self.client,
                    timed=lambda step, seconds: self.record.step(step).add(seconds),
                    think=self.think,
                    stop=self.stop,
                    browser=True,
                )
                try:
                    if self.applications and self.rng.random() < self.status_share:
                        self.status_visit(visit)
                    else:
                        self.application_visit(visit)
                except (ServerGone, FlowError) as exc:  # the visit is given up and the next one starts
                    self.record.error(visit.stage, str(exc))
                    self.record.abandoned += 1
                    self.client.cookies.clear()  # the next visitor starts a fresh visit
                    self.think()
        except Stopped:
            pass

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def run_until_stopped(self, first_delay: float) -> None:
        try:
            self.run(first_delay)
        finally:
            self.close()

    def pause(self, seconds: float) -> None:
        if seconds > 0 and self.stop.wait(seconds):
            raise Stopped
        if self.stop.is_set():
            raise Stopped

    def think(self) -> None:
        low, high = self.think_range
        self.pause(self.rng.uniform(low, high) if high > 0 else 0.0)

    # the visits

    def application_visit(self, visit: Visit) -> None:
        lang = visit.lang
        who = self.people.next()
        visit.start()
        self.think()
        visit.get("service checklist", f"/{lang}/services/{SERVICE}")
        self.think()
        category = self.rng.choice(CATEGORIES)
        fragment = visit.get(
            "checklist swap (htmx)", f"/{lang}/services/{SERVICE}?category={category}", headers=HX_HEADERS
        )
        if "<html" in fragment.text or f'data-category="{category}"' not in fragment.text:
            raise FlowError("not the checklist fragment for this category")
        self.think()
        visit.identify(Parent(who.parent_iin, None))
        name = f"{self.rng.choice(SURNAMES)} {self.rng.choice(FIRST_NAMES)}"
        grade, situation = str(self.rng.randint(1, 11)), self.rng.choice(FORM_CATEGORIES)
        outcome = visit.apply(Child(who.child_iin, name, grade, situation, lang))
        if outcome.kind != "receipt":
            raise FlowError(f"a new child's form named an earlier application, {outcome.reference}")
        visit.finish()  # the redirect to Welcome is the next visit's first request
        self.applications.append((outcome.reference, who.parent_iin))
        self.record.flows += 1
        self.record.flow_times.append(time.monotonic())

    def status_visit(self, visit: Visit) -> None:
        """A parent back to see how an application made at this terminal is doing."""
        lang = visit.lang
        reference, parent_iin = self.rng.choice(self.applications)
        visit.start()
        self.think()
        _page, token = visit.page("status page", f"/{lang}/status")
        self.think()  # types the reference and the IIN
        data = {"reference": display(reference), "iin": parent_iin}
        visit.expect_redirect(visit.post("status: look up", f"/{lang}/status", data, token), f"/{lang}/status/found")
        response = visit.get("status page (found)", f"/{lang}/status/found")
        if display(reference) not in response.text or "data-state" not in response.text:
            raise FlowError(page_problem(response.text))
        self.record.status_lookups += 1
        self.client.cookies.clear()  # the kiosk's idle timeout: the next visitor starts afresh


# --- the server process, from outside ------------------------------------------------------------------


def healthz_idle(url: str, count: int) -> list[float]:
    latencies = []
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.get(HEALTHZ).raise_for_status()
            latencies.append(time.perf_counter() - started)
    return latencies


def probe(url: str, stop: threading.Event, stats: StepStats, errors: list[str]) -> None:
    """``GET /healthz`` four times a second on a connection of its own, until stopped."""
    with httpx.Client(base_url=url, timeout=30.0) as client:
        while not stop.wait(PROBE_INTERVAL_S):
            started = time.perf_counter()
            try:
                status = client.get(HEALTHZ).status_code
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            stats.add(time.perf_counter() - started)
            if status != 200:
                errors.append(f"HTTP {status}")


def sample_server(pid: int, database: Path, started: float, stop: threading.Event, samples: list[dict]) -> None:
    """Every few seconds: the server's RSS, and the database file and its WAL (does a checkpoint keep up?)."""
    wal = database.with_name(database.name + "-wal")
    while not stop.wait(RSS_SAMPLE_INTERVAL_S):
        try:
            samples.append(
                {
                    "t": round(time.monotonic() - started, 1),
                    "rss_kib": proc_status(pid)["VmRSS"],
                    "db_bytes": database.stat().st_size,
                    "wal_bytes": wal.stat().st_size if wal.exists() else 0,
                }
            )
        except OSError:
            return


def p50_by_minute(stats: StepStats, started: float, minutes: int) -> list[float | None]:
    """The median latency of the answers in each minute of the load, ms (None for an empty minute)."""
    buckets: list[list[float]] = [[] for _ in range(minutes)]
    for seconds, ended in zip(stats.latencies, stats.ended, strict=True):
        buckets[min(max(int((ended - started) // 60), 0), minutes - 1)].append(seconds)
    return [round(percentile(sorted(b), 0.5) * 1000, 1) if b else None for b in buckets]


def server_log_counts(log: Path) -> dict[str, int]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return {
        "waitress_queue_depth_warnings": text.count("Task queue depth"),
        "unhandled_exceptions": text.count("Exception on /"),  # Flask's line for an answer of 500
        "database_is_locked": text.count("OperationalError) database is locked"),
    }


def sync_backlog(url: str) -> int | None:
    """What the in-process sync worker still has to send (``--portal embedded``), from /metrics."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=10.0).text
    except httpx.HTTPError:
        return None
    match = re.search(r"^kiosk_sync_backlog (\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def source_of_code() -> dict[str, Any]:
    """Which kiosk code was measured: the package's folder and, in a git checkout, the commit."""
    tree = Path(kiosk.__file__).resolve().parent.parent
    info: dict[str, Any] = {"tree": str(tree), "commit": None, "dirty": None}
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "kiosk", "templates", "static", "migrations"],
            cwd=tree,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        info["dirty"] = bool(changed.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    return info


# --- the run -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--terminals", type=int, default=50, help="simulated terminals (threads), default 50")
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the load, default 300")
    parser.add_argument(
        "--think", type=parse_think, default=(0.5, 2.0), help="think time before each tap, LOW-HIGH s (default 0.5-2)"
    )
    parser.add_argument("--status-share", type=float, default=0.2, help="share of visitors who look up a status")
    parser.add_argument("--ramp", type=float, default=None, help="terminals start within this many s (default 5)")
    parser.add_argument("--portal", choices=("demo", "embedded"), default="demo", help="KIOSK_PORTAL (default demo)")
    parser.add_argument("--server-threads", type=int, default=None, help="waitress threads (default RUN_THREADS, 8)")
    parser.add_argument(
        "--processes", type=int, default=1, help="kiosk run processes sharing the load and the database (default 1)"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server (postgresql+psycopg://user@host/db) to make a scratch database on, dropped after",
    )
    parser.add_argument("--warmup-flows", type=int, default=3, help="unmeasured applications before (default 3)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s (default 30)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a random one, printed)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance folder")
    parser.add_argument("--quick", action="store_true", help="5 terminals, 20 s, think 0-0.2 s (the test's run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.terminals, args.seconds, args.think, args.status_share = 5, 20.0, (0.0, 0.2), 0.3
    if args.ramp is None:
        args.ramp = 1.0 if args.quick else 5.0
    if args.terminals < 1 or args.seconds <= 0 or not 0 <= args.status_share <= 1:
        parser.error("need --terminals >= 1, --seconds > 0 and 0 <= --status-share <= 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)

    env = dict(LOAD_ENV)
    if args.portal == "embedded":  # the simulator in the server process, its sync worker too
        env.update({"KIOSK_PORTAL": "embedded", "KIOSK_SIM_PORT": str(free_port())})
    if args.server_threads:
        env["KIOSK_RUN_THREADS"] = str(args.server_threads)
    workdir = Path(tempfile.mkdtemp(prefix="kiosk-load-"))
    stack = contextlib.ExitStack()
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from fixtures.scratch import scratch_database

        env["KIOSK_DATABASE_URL"] = stack.enter_context(scratch_database(args.postgres, "kiosk_bench"))
    # one instance folder (its keys and secret) for every process: they share the visits
    servers = [KioskServer(workdir / "instance", free_port(), env) for _ in range(args.processes)]
    for n, extra in enumerate(servers[1:], start=2):
        extra.log_path = extra.instance / f"server-{n}.log"
    server = servers[0]
    urls = [s.url for s in servers]
    people = People(seed)
    think_text = f"{args.think[0]:g}-{args.think[1]:g} s" if args.think[1] else "0 (stress)"
    print(
        f"load_flow: {args.terminals} terminals for {args.seconds:g} s, think {think_text}, "
        f"status share {args.status_share:g}, portal {args.portal}, seed {seed}; {args.processes} server "
        f"process(es) on {'PostgreSQL' if args.postgres else 'SQLite'}",
        flush=True,
    )
    stop = threading.Event()
    try:
        started = time.monotonic()
        for each in servers:  # the first makes the keys and the schema, the others find them
            each.start()
        pids = [each.process.pid for each in servers if each.process is not None]
        pid = pids[0]
        print(f"server pid(s) {pids} up in {time.monotonic() - started:.1f} s on {', '.join(urls)}", flush=True)

        # warm-up: every language once (imports, templates, caches, the first connections), unmeasured
        warm = Terminal(-1, urls, people, random.Random(seed - 1), (0.0, 0.0), 0.0, threading.Event(), 30.0)
        warm.run(visits=args.warmup_flows)
        warm.status_share = 1.0
        warm.run(visits=1)
        warm.close()
        if warm.record.abandoned or warm.record.flows < args.warmup_flows or warm.record.status_lookups < 1:
            print(f"warm-up failed: {warm.record.error_samples[:5]}", file=sys.stderr)
            return 1
        before = proc_status(pid)
        idle = healthz_idle(server.url, IDLE_BASELINE_REQUESTS)
        floor = FsyncFloor(workdir, FSYNC_ROW_BYTES)
        fsync_idle = [floor.commit() for _ in range(IDLE_BASELINE_REQUESTS)]
        print(f"warm-up done: RSS {before['VmRSS'] / 1024:.1f} MiB, {before['Threads']} threads", flush=True)

        terminals = [
            Terminal(
                i,
                urls,
                people,
                random.Random(seed * 1000 + i),
                args.think,
                args.status_share,
                stop,
                args.timeout,
            )
            for i in range(args.terminals)
        ]
        ramp = random.Random(seed + 1)
        threads = [
            threading.Thread(target=t.run_until_stopped, args=(ramp.uniform(0, args.ramp),), name=f"terminal-{t.index}")
            for t in terminals
        ]
        probe_stats = StepStats()
        probe_errors: list[str] = []
        fsync_loaded: list[float] = []
        samples: list[dict] = []
        database = server.instance / "kiosk.sqlite3"
        helpers = [
            threading.Thread(target=probe, args=(server.url, stop, probe_stats, probe_errors), name="probe"),
            threading.Thread(target=sample_server, args=(pid, database, time.monotonic(), stop, samples), name="rss"),
            threading.Thread(target=floor.every, args=(FSYNC_INTERVAL_S, stop, fsync_loaded), name="fsync"),
        ]
        load_average_before = os.getloadavg()
        cpu_server_0, cpu_client_0 = sum(proc_cpu_seconds(p) for p in pids), time.process_time()
        load_started = time.monotonic()
        for thread in helpers + threads:
            thread.start()
        try:
            stop.wait(args.seconds)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
        stop.set()
        for thread in threads + helpers:
            thread.join()
        load_seconds = time.monotonic() - load_started
        cpu_server = sum(proc_cpu_seconds(p) for p in pids) - cpu_server_0
        cpu_client = time.process_time() - cpu_client_0
        after = proc_status(pid)
        load_average_after = os.getloadavg()
        floor.close()
        backlog = sync_backlog(server.url) if args.portal == "embedded" else None
    finally:
        stop.set()
        for each in servers:
            each.stop()
        stack.close()

    merged: dict[str, StepStats] = {name: StepStats() for name in STEPS}
    every = StepStats()
    for t in terminals:
        for name, stats in t.record.steps.items():
            for into in (merged[name], every):
                into.latencies.extend(stats.latencies)
                into.ended.extend(stats.ended)
            merged[name].errors += stats.errors
    steps = {name: summarise(stats.latencies, stats.errors) for name, stats in merged.items()}
    all_latencies = every.latencies
    flow_times = sorted(x - load_started for t in terminals for x in t.record.flow_times)
    minutes = max(1, math.ceil(load_seconds / 60 - 0.05))  # a last second or two joins the last minute
    per_minute = [0] * minutes
    for x in flow_times:
        per_minute[min(int(x // 60), minutes - 1)] += 1
    db_bytes = sum(p.stat().st_size for p in server.instance.glob("kiosk.sqlite3*"))
    by_minute = {name: p50_by_minute(stats, load_started, minutes) for name, stats in merged.items()}
    by_minute["all steps"] = p50_by_minute(every, load_started, minutes)
    by_minute[BASELINE_LOADED] = p50_by_minute(probe_stats, load_started, minutes)
    errors = sum(s["errors"] for s in steps.values()) + len(probe_errors)
    results: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "code": source_of_code(),
        "terminals": args.terminals,
        "seconds": round(load_seconds, 1),
        "think_s": list(args.think),
        "status_share": args.status_share,
        "ramp_s": args.ramp,
        "portal": args.portal,
        "server_threads": args.server_threads or 8,
        "processes": args.processes,
        "database": "postgresql" if args.postgres else "sqlite",
        "seed": seed,
        "flows_completed": sum(t.record.flows for t in terminals),
        "flows_per_minute": per_minute,
        "status_lookups": sum(t.record.status_lookups for t in terminals),
        "visits_abandoned": sum(t.record.abandoned for t in terminals),
        "requests": len(all_latencies),
        "requests_per_s": round(len(all_latencies) / load_seconds, 1),
        "errors": errors,
        "error_samples": [e for t in terminals for e in t.record.error_samples][:20] + probe_errors[:5],
        "steps": steps,
        "all_steps": summarise(all_latencies, 0),
        "baseline": {
            BASELINE_IDLE: summarise(idle, 0),
            BASELINE_LOADED: summarise(probe_stats.latencies, len(probe_errors)),
            FSYNC_IDLE: summarise(fsync_idle, 0),
            FSYNC_LOADED: summarise(fsync_loaded, 0),
        },
        "load_average": {
            "before": [round(x, 2) for x in load_average_before],
            "after": [round(x, 2) for x in load_average_after],
        },
        "rss_kib": {
            "before": before["VmRSS"],
            "after": after["VmRSS"],
            "peak_before": before["VmHWM"],
            "peak": after["VmHWM"],
        },
        "p50_ms_by_minute": by_minute,
        "server_samples": samples,
        "wal_bytes_max": max((x["wal_bytes"] for x in samples), default=0),
        "server_threads_os": {"before": before["Threads"], "after": after["Threads"]},
        "server_cpu_cores": round(cpu_server / load_seconds, 2),
        "client_cpu_cores": round(cpu_client / load_seconds, 2),
        "database_bytes": db_bytes,
        "sync_backlog_after": backlog,
        "server_log": server_log_counts(server.log_path),
    }
    results["ok"] = errors == 0
    print_results(results)
    write_json(args.json, results)
    tidy_up(server, workdir, keep=args.keep or not results["ok"])
    return 0 if results["ok"] else 1


def print_results(r: dict[str, Any]) -> None:
    think = f"{r['think_s'][0]:g}-{r['think_s'][1]:g} s" if r["think_s"][1] else "0"
    print()
    print(
        f"{r['terminals']} terminals, {r['seconds']} s, think {think}, portal {r['portal']}, "
        f"waitress {r['server_threads']} threads, {r['processes']} process(es) on {r['database']}, "
        f"seed {r['seed']}; {machine_line(r['machine'])}"
    )
    print()
    named = [*r["steps"].items(), ("all steps", r["all_steps"]), *r["baseline"].items()]
    cells = [[name, s["count"], s["p50_ms"], s["p99_ms"], s["max_ms"], s["errors"]] for name, s in named]
    print(table(["step", "count", "p50 ms", "p99 ms", "max ms", "errors"], cells))
    print()
    mib = {k: v / 1024 for k, v in r["rss_kib"].items()}
    print(
        f"flows completed     {r['flows_completed']} (per minute: {', '.join(map(str, r['flows_per_minute']))}), "
        f"status look-ups {r['status_lookups']}, visits abandoned {r['visits_abandoned']}"
    )
    print(f"requests            {r['requests']} ({r['requests_per_s']}/s), errors {r['errors']}")
    minutes = len(r["flows_per_minute"])
    if minutes > 1:
        print(f"{'p50 ms by minute of the load':<48} " + " | ".join(f"{m + 1:>6}" for m in range(minutes)))
        for name in ("all steps", *WATCHED, BASELINE_LOADED):
            cells = " | ".join(f"{x:>6}" if x is not None else "     -" for x in r["p50_ms_by_minute"][name])
            print(f"  {name:<46} {cells}")
    print(
        f"server RSS (first)  before {mib['before']:.1f} MiB, after {mib['after']:.1f} MiB "
        f"({mib['after'] - mib['before']:+.1f}); peak (VmHWM) {mib['peak_before']:.1f} after warm-up, "
        f"{mib['peak']:.1f} MiB after the load; "
        f"threads {r['server_threads_os']['before']} -> {r['server_threads_os']['after']}"
    )
    print(
        f"CPU                 server {r['server_cpu_cores']} cores, this script {r['client_cpu_cores']} cores; "
        f"machine load average {r['load_average']['before'][0]} before, {r['load_average']['after'][0]} after"
    )
    log = r["server_log"]
    print(
        f"server log          {log['waitress_queue_depth_warnings']} waitress queue-depth warnings, "
        f"{log['unhandled_exceptions']} unhandled exceptions ({log['database_is_locked']} 'database is locked'); "
        f"database {r['database_bytes'] / 2**20:.1f} MiB at the end, WAL up to {r['wal_bytes_max'] / 2**20:.1f} MiB"
    )
    if r["sync_backlog_after"] is not None:
        print(f"sync backlog after  {r['sync_backlog_after']}")
    for sample in r["error_samples"][:10]:
        print(f"  error: {sample}")
    print("PASS" if r["ok"] else "FAIL")


if __name__ == "__main__":
    sys.exit(main())
