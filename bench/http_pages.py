"""HTTP throughput and latency of the visitor's pages under waitress, each beside the floor.

The floor is a bare Flask app (one route answering ``ok``) under waitress with the same threads, in
a process of its own: what the framework and the server cost with nothing of the kiosk in them.
A page's figure is its requests per second as a share of the floor's and its p99 as a multiple of
the floor's, both measured in the same run, so the result means the same on a laptop and on the
kiosk's own box. Goal (issue 14): every visitor page at 0.75 or more of the floor's rate, with a
p99 at most 1.5 times the floor's. A second line keeps the older measure: a bare route added to
the kiosk's own app, which already pays the kiosk's per-request hooks.

The load comes from ``wrk`` when it is installed (``apt-get install wrk``: a C client, so the
generator takes little of the two cores the server shares with it), else from Python threads
(one keep-alive connection each, requests back to back), which take a larger share. The floor is
measured before and after every page, and each page is held to the mean of the two runs around
it, so a neighbour's load that comes and goes weighs on both sides of each ratio alike.

Run from the repository root: ``.venv/bin/python bench/http_pages.py [--seconds 10] [--clients 8]
[--warmup 2] [--rounds 1] [--generator wrk|python] [--gzip] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import multiprocessing.connection
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _report import arguments, machine, machine_line, percentile, write_json

SERVER_THREADS = 8
IN_APP_FLOOR_PATH = "/_bench/floor"
FRAGMENT_HEADERS = {"HX-Request": "true", "HX-Target": "checklist"}
GOAL_RATE = 0.75  # of the floor's requests per second
GOAL_P99 = 1.5  # times the floor's p99


@dataclass(frozen=True)
class Target:
    """One URL under load: what the table calls it, which server, what is requested, with which headers."""

    label: str
    server: str  # "floor" or "kiosk"
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    page: bool = True  # a visitor page, held to the goal


FLOOR = Target("floor: bare Flask", "floor", "/", page=False)
PAGES = (
    Target("Welcome", "kiosk", "/"),
    Target("services page", "kiosk", "/ru/services"),
    Target("one service", "kiosk", "/ru/services/meals"),
    Target("checklist fragment", "kiosk", "/ru/services/meals?category=asp", FRAGMENT_HEADERS),
    Target("/healthz", "kiosk", "/healthz", page=False),
    Target("in-app floor route", "kiosk", IN_APP_FLOOR_PATH, page=False),
)


@dataclass
class PhaseResult:
    """The figures of one URL over one measured window."""

    label: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    client_cpu_cores: float
    bytes_per_response: float = 0.0
    error_samples: list[str] = field(default_factory=list)


# --- the server processes ---------------------------------------------------------------------


def serve_floor(_instance_path: str, port_queue: mp.Queue) -> None:  # type: ignore[type-arg]
    """The floor: a Flask app with one route and nothing else, under waitress with the kiosk's threads."""
    import logging

    from flask import Flask

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    app = Flask("floor")
    app.add_url_rule("/", "floor", lambda: "ok")
    _serve(app, port_queue)


def serve_kiosk(instance_path: str, port_queue: mp.Queue) -> None:  # type: ignore[type-arg]
    """Build, migrate and serve the kiosk in this (spawned) process; report the bound port."""
    # a developer's own KIOSK_* settings (a PostgreSQL URL, say) must not change what is measured
    for name in [n for n in os.environ if n.startswith("KIOSK_")]:
        del os.environ[name]
    os.environ["KIOSK_INSTANCE_PATH"] = instance_path

    import logging

    # "Task queue depth is N" on nearly every request would bury the report; a real error still shows
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    from kiosk import create_app, db

    app = create_app({"SECRET_KEY": "bench", "RUN_THREADS": SERVER_THREADS})
    db.upgrade(app)
    app.add_url_rule(IN_APP_FLOOR_PATH, "bench_floor", lambda: "ok")
    _serve(app, port_queue)


def _serve(app: Any, port_queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import waitress

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=SERVER_THREADS)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    port_queue.put(server.effective_port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass


def _exit_with_parent() -> None:
    """End the server when the benchmark goes, even killed: a leftover server would skew the next run."""
    parent = mp.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)


def start_server(
    target: Callable[[str, mp.Queue], None],  # type: ignore[type-arg]
    instance_path: str,
    timeout: float = 60.0,
) -> tuple[mp.Process, int]:
    """Start a server in a spawned process (its own interpreter, its own GIL); wait for its port."""
    ctx = mp.get_context("spawn")
    port_queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(instance_path, port_queue), name="bench-waitress", daemon=True)
    proc.start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            return proc, port_queue.get(timeout=0.5)
        except queue.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"the server process exited with code {proc.exitcode} before serving") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start within {timeout:.0f} s") from None


def stop_server(proc: mp.Process) -> None:
    """End the server process, forcibly if it does not go within a few seconds."""
    if proc.is_alive():
        proc.terminate()
        proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join(5)


# --- the load generators ----------------------------------------------------------------------


def fetch(port: int, target: Target, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request on a fresh connection, for the checks before measuring."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", target.path, headers={**headers, **target.headers})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check_responses(ports: dict[str, int], headers: dict[str, str]) -> None:
    """Measure only what the servers really answer: 200s, full pages, and a fragment without <html."""
    for target in (FLOOR, *PAGES):
        status, body = fetch(ports[target.server], target, headers)
        if status != 200:
            raise RuntimeError(f"{target.label}: GET {target.path} answered {status}, expected 200")
        if "gzip" in headers.get("Accept-Encoding", "") and body[:2] == b"\x1f\x8b":
            import gzip

            body = gzip.decompress(body)
        if not target.page:
            continue
        fragment = target.headers is FRAGMENT_HEADERS
        if fragment and b"<html" in body:
            raise RuntimeError(f"{target.label}: the htmx request got the whole page, not the fragment")
        if not fragment and b"<html" not in body:
            raise RuntimeError(f"{target.label}: not a full page (no <html)")


def _client(
    port: int,
    target: Target,
    headers: dict[str, str],
    start: threading.Barrier,
    stop_at: list[float],
    latencies: list[float],
    errors: list[str],
    sizes: list[int],
) -> None:
    """Send requests back to back on one keep-alive connection until the shared deadline."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    perf = time.perf_counter
    request, path = conn.request, target.path
    start.wait()
    deadline = stop_at[0]
    try:
        while perf() < deadline:
            t0 = perf()
            try:
                request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()  # http.client reconnects on the next request
                continue
            latencies.append(perf() - t0)
            sizes.append(len(body))
            if response.status != 200:
                errors.append(f"HTTP {response.status}")
    finally:
        conn.close()


def run_python(port: int, target: Target, headers: dict[str, str], seconds: float, clients: int) -> PhaseResult:
    """Load one URL with `clients` threads, each on its keep-alive connection, for `seconds`."""
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]
    per_client: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []  # list.append is atomic under the GIL
    sizes: list[int] = []
    all_headers = {**headers, **target.headers}
    threads = [
        threading.Thread(
            target=_client, args=(port, target, all_headers, start, stop_at, per_client[i], errors, sizes), daemon=True
        )
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0  # includes the requests in flight at the deadline
    cpu = time.process_time() - cpu0
    latencies = sorted(x for lst in per_client for x in lst)
    return PhaseResult(
        label=target.label,
        requests=len(latencies),
        errors=len(errors),
        seconds=elapsed,
        rps=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.5) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        client_cpu_cores=cpu / elapsed,
        bytes_per_response=statistics.fmean(sizes) if sizes else 0.0,
        error_samples=sorted(set(errors))[:5],
    )


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _WRK_UNITS[unit]


def run_wrk(port: int, target: Target, headers: dict[str, str], seconds: float, clients: int) -> PhaseResult:
    """Load one URL with wrk (2 threads, `clients` connections, `seconds`); its figures parsed."""
    cmd = ["wrk", "-t2", f"-c{clients}", f"-d{seconds:g}s", "--latency"]
    for name, value in {**headers, **target.headers}.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(f"http://127.0.0.1:{port}{target.path}")
    usage0 = os.times()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    usage1 = os.times()
    cpu = (usage1.children_user - usage0.children_user) + (usage1.children_system - usage0.children_system)
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out)
    requests = int(done.group(1))  # type: ignore[union-attr]
    elapsed = _wrk_ms(done.group(2) + done.group(3)) / 1000  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _wrk_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _wrk_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    per_response = 0.0
    if transfer and rps:
        scale = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[transfer.group(2)]
        per_response = float(transfer.group(1)) * scale / rps  # headers included, unlike the Python client
    errors: list[str] = []
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        errors += [f"non-2xx/3xx: {bad.group(1)}"] * int(bad.group(1))
    sock = re.search(r"Socket errors: (.*)", out)
    if sock:
        counts = [int(n) for n in re.findall(r"\d+", sock.group(1))]
        errors += [f"socket errors: {sock.group(1).strip()}"] * sum(counts)
    return PhaseResult(
        label=target.label,
        requests=requests,
        errors=len(errors),
        seconds=elapsed,
        rps=rps,
        p50_ms=p50,
        p99_ms=p99,
        client_cpu_cores=cpu / elapsed,
        bytes_per_response=per_response,
        error_samples=sorted(set(errors))[:5],
    )


def merge(label: str, runs: list[PhaseResult]) -> PhaseResult:
    """The floor's runs as one row: summed counts, mean rate and mean percentiles."""
    return PhaseResult(
        label=label,
        requests=sum(r.requests for r in runs),
        errors=sum(r.errors for r in runs),
        seconds=sum(r.seconds for r in runs),
        rps=statistics.fmean(r.rps for r in runs),
        p50_ms=statistics.fmean(r.p50_ms for r in runs),
        p99_ms=statistics.fmean(r.p99_ms for r in runs),
        client_cpu_cores=statistics.fmean(r.client_cpu_cores for r in runs),
        bytes_per_response=statistics.fmean(r.bytes_per_response for r in runs),
        error_samples=sorted({e for r in runs for e in r.error_samples})[:5],
    )


# --- the report -------------------------------------------------------------------------------


def print_table(rows: list[PhaseResult], floor: PhaseResult) -> None:
    """A plain table: one line per measured window, with its rate and p99 against the floor."""
    head = (
        f"{'URL':<22} {'requests':>9} {'rps':>8} {'p50 ms':>7} {'p99 ms':>7} {'x floor rps':>11}"
        f" {'x floor p99':>11} {'bytes':>7} {'errors':>6} {'client':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.label:<22} {r.requests:>9} {r.rps:>8.1f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f}"
            f" {r.rps / floor.rps:>11.2f} {r.p99_ms / floor.p99_ms:>11.2f} {r.bytes_per_response:>7.0f}"
            f" {r.errors:>6} {r.client_cpu_cores:>6.2f}c"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per URL and run (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive connections (default 8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each URL (default 2)")
    parser.add_argument(
        "--generator",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="the load generator (default: wrk when installed)",
    )
    parser.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip (as browsers do)")
    parser.add_argument("--rounds", type=int, default=1, help="times the whole sequence runs (default 1)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if args.seconds <= 0 or args.clients < 1 or args.warmup < 0:
        parser.error("--seconds must be > 0, --clients >= 1, --warmup >= 0")
    if args.generator == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), or use --generator python")
    return args


def main(argv: list[str] | None = None) -> int:
    """Serve both, check, measure floor / pages / floor, print; the servers always end."""
    args = parse_args(argv)
    # a plain `kill` then unwinds through the finally below, which stops the server processes
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    facts = {**machine(), "load_average": os.getloadavg()}  # the load: how busy the machine was, beside its facts
    print(f"machine: {machine_line(facts)}; load average {', '.join(f'{x:.1f}' for x in facts['load_average'])}")
    headers = {"Accept-Encoding": "gzip"} if args.gzip else {}
    print(
        f"params: waitress threads={SERVER_THREADS}, the floor and the kiosk each in its own process; "
        f"{args.generator}, {args.clients} keep-alive connections, warm-up {args.warmup:g} s + "
        f"{args.seconds:g} s measured per URL; {'gzip asked' if args.gzip else 'no compression asked'}"
    )
    run = run_wrk if args.generator == "wrk" else run_python
    # the floor before and after every page: each page is held to the floor measured around it, so a
    # neighbour's load that comes and goes over the run weighs on both sides of each ratio alike
    order = [FLOOR]
    for _round in range(args.rounds):
        for target in PAGES:
            order += [target, FLOOR]
    runs: list[PhaseResult] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        procs: list[mp.Process] = []
        try:
            floor_proc, floor_port = start_server(serve_floor, tmp)
            procs.append(floor_proc)
            kiosk_proc, kiosk_port = start_server(serve_kiosk, str(Path(tmp) / "instance"))
            procs.append(kiosk_proc)
            ports = {"floor": floor_port, "kiosk": kiosk_port}
            check_responses(ports, headers)
            for target in order:
                port = ports[target.server]
                if args.warmup:
                    run(port, target, headers, args.warmup, args.clients)
                result = run(port, target, headers, args.seconds, args.clients)
                runs.append(result)
                print(f"  measured {target.label}: {result.rps:.1f} rps, p99 {result.p99_ms:.2f} ms", flush=True)
        finally:
            for proc in procs:
                stop_server(proc)
    floor_runs = runs[0::2]
    floor = merge(f"floor (mean of {len(floor_runs)} runs)", floor_runs)
    ratios: dict[str, list[tuple[float, float]]] = {t.label: [] for t in PAGES}
    rows: list[PhaseResult] = []
    for i in range(1, len(runs), 2):
        page, around = runs[i], merge("floor around it", [runs[i - 1], runs[i + 1]])
        ratios[page.label].append((page.rps / around.rps, page.p99_ms / around.p99_ms))
        rows.append(page)
    rows.append(floor)
    print()
    print_table(rows, floor)
    spread = 100 * (max(r.rps for r in floor_runs) - min(r.rps for r in floor_runs)) / floor.rps
    print()
    print("each page against the floor measured just before and after it (median of the rounds):")
    verdicts = {}
    summary: dict[str, dict[str, float]] = {}
    for target in PAGES:
        rate = statistics.median(r for r, _ in ratios[target.label])
        p99 = statistics.median(p for _, p in ratios[target.label])
        summary[target.label] = {"rate": rate, "p99": p99}
        met = rate >= GOAL_RATE and p99 <= GOAL_P99
        if target.page:
            verdicts[target.label] = met
        note = f"goal {'met' if met else 'NOT met'}" if target.page else "not a visitor page"
        print(f"{target.label:<22} {rate:.2f} of the floor's rate, p99 {p99:.2f} times the floor's: {note}")
    print(
        f"the floor's {len(floor_runs)} runs spread over {spread:.0f}% of their mean"
        + ("  (a noisy machine: read the ratios, not the rates)" if spread > 10 else "")
    )
    print(f"goal: every visitor page >= {GOAL_RATE:g} of the floor's rps and p99 <= {GOAL_P99:g} x the floor's")
    total_errors = sum(r.errors for r in runs)
    if total_errors:
        print(f"errors: {total_errors}")
        for r in runs:
            for e in r.error_samples:
                print(f"  {r.label}: {e}")

    if args.json:
        write_json(
            args.json,
            {
                "machine": facts,
                "params": {
                    "seconds": args.seconds,
                    "clients": args.clients,
                    "warmup": args.warmup,
                    "generator": args.generator,
                    "gzip": args.gzip,
                    "server_threads": SERVER_THREADS,
                    "rounds": args.rounds,
                    "order": [t.label for t in order],
                },
                "runs": [asdict(r) for r in runs],
                "floor": asdict(floor),
                "floor_spread_pct": spread,
                "against_floor": summary,
                "goal": {"rate": GOAL_RATE, "p99": GOAL_P99},
                "goal_met": verdicts,
            },
        )
        print(f"figures written to {args.json}")
    return 1 if total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
