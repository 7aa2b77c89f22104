"""The server's memory while 4 clients post 8 MB bodies of every kind at once, beside its idle RSS.

Bodies nobody meant to send must not cost memory: before the fix one 8 MB urlencoded POST raised
the server's RSS by about 340 MB (Werkzeug splits a urlencoded body whole into Python strings) and
four at once reached 1.6 GB. Now every endpoint takes only the kinds and sizes it expects
(``kiosk/web/bodies.py``), checked from the headers before anything parses the body, and waitress keeps
a body over 512 KB in a temporary file. Goal: peak RSS less than 30 MB above idle.

The real server (``kiosk run``: waitress, 8 threads, a fresh temporary instance, the in-process demo
portal) runs in a process of its own. After a warm-up (every route once with a small body of every
kind, so templates and error pages are compiled) the idle RSS is read from ``/proc/<pid>/status``.
Then, one kind at a time, 4 client threads (each its own connection, no cookie) post an 8 MB body
of that kind to every route in the list, all at once; the peak is the server's ``VmHWM``, reset to
the current RSS before each kind (``/proc/<pid>/clear_refs``), and ``VmRSS`` polled every 5 ms as
a check. The kinds: urlencoded, multipart with a file part, multipart with one text part, JSON, raw
octet-stream. The routes: the visitor's forms, the buttons posted from cached pages, the heartbeat,
staff sign-in and the attachments upload (the one endpoint that takes a file: there a multipart body
is parsed, its file spooled to disk, and without a visit it goes no further).

Run from the repository root: ``.venv/bin/python bench/post_memory.py [--clients 4] [--megabytes 8]
[--rounds 1] [--json PATH]``. Exit status 1 if the goal is not met or any answer is a 5xx.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from _flow import LOAD_ENV, KioskServer, free_port
from _proc import clear_peak, poll_rss, proc_status
from _report import arguments, machine_line, table, write_json
from fixtures.bodies import ROUTES, bodies

GOAL_MB = 30.0


@dataclass
class KindResult:
    kind: str
    requests: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    failures: int = 0  # connection errors and timeouts
    peak_kb: int = 0  # VmHWM after the kind
    polled_peak_kb: int = 0  # the highest VmRSS seen by polling
    seconds: float = 0.0


def post_all(
    url: str, content_type: str, body: bytes, routes: list[str], answers: Counter, lock: threading.Lock
) -> int:
    """One client: the body to each route in turn, on one keep-alive connection; returns failures."""
    failures = 0
    with httpx.Client(base_url=url, timeout=120) as client:
        for route in routes:
            try:
                status = client.post(route, content=body, headers={"Content-Type": content_type}).status_code
            except httpx.HTTPError:
                failures += 1
                continue
            with lock:
                answers[str(status)] += 1
    return failures


def run_kind(url: str, pid: int, kind: str, content_type: str, body: bytes, clients: int, rounds: int) -> KindResult:
    result = KindResult(kind)
    answers: Counter = Counter()
    lock = threading.Lock()
    failures: list[int] = []
    clear_peak(pid)
    polled = [proc_status(pid)["VmRSS"]]
    stop = threading.Event()
    poller = threading.Thread(target=poll_rss, args=(pid, stop, polled), daemon=True)
    poller.start()
    started = time.perf_counter()
    threads = []
    for n in range(clients):
        routes = [ROUTES[(n + i) % len(ROUTES)] for i in range(len(ROUTES))] * rounds  # all at once, rotated
        thread = threading.Thread(
            target=lambda r=routes: failures.append(post_all(url, content_type, body, r, answers, lock))
        )
        threads.append(thread)
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    stop.set()
    poller.join()
    result.requests = clients * len(ROUTES) * rounds
    result.answers = dict(sorted(answers.items()))
    result.failures = sum(failures)
    result.peak_kb = proc_status(pid)["VmHWM"]
    result.polled_peak_kb = polled[0]
    return result


def warm_up(url: str) -> None:
    """Every route once with a small body of every kind, and the pages a visitor sees first."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for path in ("/", "/ru/services", "/ru/identify?service=meals", "/staff/login", "/healthz"):
            client.get(path)
        for content_type, body in bodies(1024).values():
            for route in ROUTES:
                client.post(route, content=body, headers={"Content-Type": content_type})


def mb(kb: int) -> float:
    return kb / 1024


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--megabytes", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=1, help="times each client posts to every route, per kind")
    args = parser.parse_args(argv)

    size = int(args.megabytes * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="post-memory-") as folder:
        server = KioskServer(Path(folder) / "instance", free_port(), {"KIOSK_PORTAL": LOAD_ENV["KIOSK_PORTAL"]})
        server.start()
        try:
            pid = server.process.pid
            warm_up(server.url)
            time.sleep(1.0)
            idle_kb = proc_status(pid)["VmRSS"]
            can_reset = clear_peak(pid)
            results = [
                run_kind(server.url, pid, kind, content_type, body, args.clients, args.rounds)
                for kind, (content_type, body) in bodies(size).items()
            ]
            after_kb = proc_status(pid)["VmRSS"]
            tracebacks = server.log_path.read_text(errors="replace").count("Traceback")
        finally:
            server.stop()

    print(
        f"{args.clients} clients at once, {args.megabytes:g} MB bodies, each client to {len(ROUTES)} routes "
        f"x {args.rounds}; {machine_line()}"
    )
    if not can_reset:
        print("(VmHWM could not be reset between kinds: the peaks are the run's so far)")
    rows = []
    for r in results:
        peak = max(r.peak_kb, r.polled_peak_kb)
        answers = ", ".join(f"{n}x {code}" for code, n in r.answers.items())
        answers += f", {r.failures} failed" if r.failures else ""
        rows.append([r.kind, r.requests, answers, mb(idle_kb), mb(peak), mb(peak - idle_kb), r.seconds])
    header = ["kind", "requests", "answers", "idle RSS MB", "peak RSS MB", "above idle MB", "seconds"]
    print(table(header, rows, words=(0, 2)))
    worst = max(max(r.peak_kb, r.polled_peak_kb) for r in results) - idle_kb
    server_errors = sum(n for r in results for code, n in r.answers.items() if code.startswith("5"))
    met = mb(worst) < GOAL_MB and server_errors == 0 and not any(r.failures for r in results)
    print(
        f"worst peak {mb(worst):.1f} MB above idle ({mb(idle_kb):.1f} MB); after the run {mb(after_kb):.1f} MB; "
        f"5xx answers {server_errors}; tracebacks in the log {tracebacks}; "
        f"goal < {GOAL_MB:g} MB above idle: {'met' if met else 'NOT MET'}"
    )
    write_json(
        args.json,
        {
            "clients": args.clients,
            "megabytes": args.megabytes,
            "routes": list(ROUTES),
            "idle_kb": idle_kb,
            "after_kb": after_kb,
            "worst_above_idle_kb": worst,
            "tracebacks": tracebacks,
            "kinds": [asdict(r) for r in results],
        },
    )
    return 0 if met and tracebacks == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
