"""HTTP latency and throughput of the services page and the checklist fragment under waitress.

The kiosk's swaps must feel instant on the lobby terminal, so the figure that matters is how the
checklist fragment compares with the cheapest page the same stack can serve: a bare Flask route
registered on the same app and measured in the same run against the same server (the floor).
Comparing with the floor, not with an absolute number, makes the result mean the same on a laptop
and on the kiosk's own box. Goal: the fragment at 50% or more of the floor's requests per second.

The server (waitress, 8 threads) runs in a process of its own so the load generator does not share
its GIL; the clients are threads, each on its own keep-alive connection, sending requests back to
back. The floor is measured first and last and reported as the mean of both runs, so a drift over
the run (CPU frequency, a noisy neighbour) weighs on every page alike.

Run from the repository root: ``.venv/bin/python bench/http_pages.py [--seconds 10] [--clients 8]
[--warmup 2] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import multiprocessing.connection
import os
import queue
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _report import machine, machine_line, percent, percentile, table

SERVER_THREADS = 8
FLOOR_PATH = "/_bench/floor"
SERVICES_PATH = "/ru/services"
FRAGMENT_PATH = "/ru/services/meals?category=asp"
FRAGMENT_HEADERS = {"HX-Request": "true", "HX-Target": "checklist"}
GOAL_PERCENT = 50.0


@dataclass(frozen=True)
class Target:
    """One URL under load: what the table calls it, what is requested and with which headers."""

    label: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


FLOOR = Target("floor (bare Flask)", FLOOR_PATH)
SERVICES = Target("services page", SERVICES_PATH)
FRAGMENT = Target("checklist fragment", FRAGMENT_PATH, FRAGMENT_HEADERS)


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
    error_samples: list[str] = field(default_factory=list)


# --- the server process -----------------------------------------------------------------------


def serve(instance_path: str, port_queue: mp.Queue) -> None:  # type: ignore[type-arg]
    """Build, migrate and serve the app in this (spawned) process; report the bound port."""
    # a developer's own KIOSK_* settings (a PostgreSQL URL, say) must not change what is measured
    for name in [n for n in os.environ if n.startswith("KIOSK_")]:
        del os.environ[name]
    os.environ["KIOSK_INSTANCE_PATH"] = instance_path

    import logging

    import waitress

    # "Task queue depth is N" on nearly every request would bury the report; a real error still shows
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    from kiosk import create_app, db

    app = create_app({"SECRET_KEY": "bench"})
    db.upgrade(app)
    app.add_url_rule(FLOOR_PATH, "bench_floor", lambda: "ok")
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


def start_server(instance_path: str, timeout: float = 60.0) -> tuple[mp.Process, int]:
    """Start the server in a spawned process (its own interpreter, its own GIL); wait for its port."""
    ctx = mp.get_context("spawn")
    port_queue = ctx.Queue()
    proc = ctx.Process(target=serve, args=(instance_path, port_queue), name="bench-waitress", daemon=True)
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


# --- the load generator -----------------------------------------------------------------------


def fetch(port: int, target: Target) -> tuple[int, bytes]:
    """One request on a fresh connection, for the checks before measuring."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", target.path, headers=target.headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check_responses(port: int) -> None:
    """Measure only what the kiosk really answers: 200s, a full page, and a fragment without <html."""
    for target in (FLOOR, SERVICES, FRAGMENT):
        status, body = fetch(port, target)
        if status != 200:
            raise RuntimeError(f"{target.label}: GET {target.path} answered {status}, expected 200")
        if target is FLOOR and body != b"ok":
            raise RuntimeError(f"{target.label}: unexpected body {body[:80]!r}")
        if target is SERVICES and b"<html" not in body:
            raise RuntimeError(f"{target.label}: not a full page (no <html)")
        if target is FRAGMENT and b"<html" in body:
            raise RuntimeError(f"{target.label}: the htmx request got the whole page, not the fragment")


def _client(
    port: int,
    target: Target,
    start: threading.Barrier,
    stop_at: list[float],
    latencies: list[float],
    errors: list[str],
) -> None:
    """Send requests back to back on one keep-alive connection until the shared deadline."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    perf = time.perf_counter
    request, path, headers = conn.request, target.path, target.headers
    start.wait()
    deadline = stop_at[0]
    try:
        while perf() < deadline:
            t0 = perf()
            try:
                request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()  # http.client reconnects on the next request
                continue
            latencies.append(perf() - t0)
            if response.status != 200:
                errors.append(f"HTTP {response.status}")
    finally:
        conn.close()


def run_phase(port: int, target: Target, seconds: float, clients: int) -> tuple[PhaseResult, list[float]]:
    """Load one URL with `clients` concurrent connections for `seconds`; the figures and sorted latencies (s)."""
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]
    per_client: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []  # list.append is atomic under the GIL
    threads = [
        threading.Thread(target=_client, args=(port, target, start, stop_at, per_client[i], errors), daemon=True)
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
    result = PhaseResult(
        label=target.label,
        requests=len(latencies),
        errors=len(errors),
        seconds=elapsed,
        rps=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.5) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        client_cpu_cores=cpu / elapsed,
        error_samples=sorted(set(errors))[:5],
    )
    return result, latencies


def merge(label: str, runs: list[PhaseResult], latencies: list[float]) -> PhaseResult:
    """Several runs of one URL as one row: summed counts, mean rate, percentiles of all samples."""
    return PhaseResult(
        label=label,
        requests=sum(r.requests for r in runs),
        errors=sum(r.errors for r in runs),
        seconds=sum(r.seconds for r in runs),
        rps=statistics.fmean(r.rps for r in runs),
        p50_ms=percentile(latencies, 0.5) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        client_cpu_cores=statistics.fmean(r.client_cpu_cores for r in runs),
        error_samples=sorted({e for r in runs for e in r.error_samples})[:5],
    )


# --- the report -------------------------------------------------------------------------------


def print_table(rows: list[PhaseResult]) -> None:
    """One line per measured window."""
    header = ["URL", "requests", "rps", "p50 ms", "p99 ms", "errors", "client CPU cores"]
    print(table(header, [[r.label, r.requests, r.rps, r.p50_ms, r.p99_ms, r.errors, r.client_cpu_cores] for r in rows]))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per URL and run (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients (default 8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each URL (default 2)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.clients < 1 or args.warmup < 0:
        parser.error("--seconds must be > 0, --clients >= 1, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Serve, check, measure floor / services / fragment / floor, print; the server always ends."""
    args = parse_args(argv)
    # a plain `kill` then unwinds through the finally below, which stops the server process
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    facts = machine()
    print(f"machine: {machine_line(facts)}")
    print(
        f"params: waitress threads={SERVER_THREADS} (own process), clients={args.clients} keep-alive, "
        f"warm-up {args.warmup:g} s + {args.seconds:g} s measured per URL; order: floor, services, fragment, floor"
    )
    order = (FLOOR, SERVICES, FRAGMENT, FLOOR)
    runs: list[PhaseResult] = []
    floor_latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        proc, port = start_server(str(Path(tmp) / "instance"))
        try:
            check_responses(port)
            for target in order:
                if args.warmup:
                    run_phase(port, target, args.warmup, args.clients)
                result, latencies = run_phase(port, target, args.seconds, args.clients)
                runs.append(result)
                if target is FLOOR:
                    floor_latencies.extend(latencies)
                print(f"  measured {target.label}: {result.rps:.1f} rps", flush=True)
        finally:
            stop_server(proc)
    floor_runs = [r for r in runs if r.label == FLOOR.label]
    floor = merge("floor (mean of 2 runs)", floor_runs, sorted(floor_latencies))
    services = next(r for r in runs if r.label == SERVICES.label)
    fragment = next(r for r in runs if r.label == FRAGMENT.label)
    rows = [
        PhaseResult(**{**asdict(floor_runs[0]), "label": "floor, run 1"}),
        services,
        fragment,
        PhaseResult(**{**asdict(floor_runs[1]), "label": "floor, run 2"}),
        floor,
    ]
    print()
    print_table(rows)
    fragment_pct = 100 * fragment.rps / floor.rps
    services_pct = 100 * services.rps / floor.rps
    drift_pct = 100 * abs(floor_runs[1].rps - floor_runs[0].rps) / floor.rps
    print()
    print(f"checklist fragment: {percent(fragment.rps, floor.rps)} of the floor's rps")
    print(f"services page:      {percent(services.rps, floor.rps)} of the floor's rps")
    print(f"floor drift between its two runs: {drift_pct:.1f}%" + ("  (noisy machine?)" if drift_pct > 10 else ""))
    met = fragment_pct >= GOAL_PERCENT
    print(f"goal: fragment >= {GOAL_PERCENT:g}% of floor: {'met' if met else 'not met'}")
    total_errors = sum(r.errors for r in runs)
    if total_errors:
        print(f"errors: {total_errors}")
        for r in runs:
            for e in r.error_samples:
                print(f"  {r.label}: {e}")

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": facts,
                    "params": {
                        "seconds": args.seconds,
                        "clients": args.clients,
                        "warmup": args.warmup,
                        "server_threads": SERVER_THREADS,
                        "order": [t.label for t in order],
                    },
                    "runs": [asdict(r) for r in runs],
                    "floor": asdict(floor),
                    "fragment_pct_of_floor": fragment_pct,
                    "services_pct_of_floor": services_pct,
                    "floor_drift_pct": drift_pct,
                    "goal_percent": GOAL_PERCENT,
                    "goal_met": met,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"figures written to {args.json}")
    return 1 if total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
