"""Latency of the sign-and-queue request beside the two floors it cannot beat: fsync and HTTP.

``POST /<lang>/apply/sign`` is the moment a parent waits on: the SMS code is checked (and marked
used, one commit), the submission and its first event are inserted and committed together
(``synchronous=FULL``: the receipt is a promise, so the row must be on disk first), and the visit
is saved under a new token (a third commit). Whether that is slow only means something next to
what the same machine does with no application work, so the same run measures:

- the fsync floor: a bare ``sqlite3`` INSERT + COMMIT of a submission of the same size and its
  event, into the kiosk's own tables (made from ``kiosk.models``) in a fresh database file with WAL
  and ``synchronous=FULL``, in the same folder (same disk) as the server's database, as many
  commits as there are applications (``_floor.py``);
- the HTTP floor: ``GET /healthz`` (one ``SELECT 1``) by the same client on the same keep-alive
  connection, once after every application.

The server is ``kiosk run`` (waitress, 8 threads) in a process of its own, on a fresh instance,
with the SMS limits lifted; the clients walk the whole flow over real HTTP (``_flow.Visit``)
and time only the sign request, client-side. One phase of ``--count`` applications per value of
``--clients`` (default one client, sequential; ``--clients 4`` has four threads, each with its own
visits, apply at once; ``--clients 1 4`` runs both, one after the other, on the same server).

Run from the repository root:
``.venv/bin/python bench/sign_queue.py [--count 300] [--clients 1 4] [--warmup 10] [--json PATH]``.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _floor import FsyncFloor, row_bytes
from _flow import LOAD_ENV, Child, KioskServer, Parent, Visit, free_port, make_people
from _report import Latency, arguments, machine, machine_line, table, times, write_json

SIGN = "POST /<lang>/apply/sign"
HEALTHZ = "GET /healthz (HTTP floor)"
FSYNC = "SQLite INSERT+COMMIT (fsync floor)"


@dataclass
class Row:
    """One line of the table: what was timed, by how many clients (0: none), and its latency figures."""

    measure: str
    clients: int
    latency: Latency


def run_phase(
    url: str, work: list[tuple[Parent, Child]], clients: int, timeout: float
) -> tuple[list[float], list[float], float]:
    """Apply for every child in ``work`` with ``clients`` threads; sign and healthz timings.

    Any failure stops the run: without crashes every flow must end in a receipt.
    """
    signs: list[float] = []
    floors: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []
    # one parent's children stay with one client: two visits of one parent at once would share the
    # demo phone, and the newest SMS there could be the other visit's code
    families: dict[str, list[tuple[Parent, Child]]] = {}
    for parent, child in work:
        families.setdefault(parent.iin, []).append((parent, child))
    shares: list[list[tuple[Parent, Child]]] = [[] for _ in range(clients)]
    for family in families.values():
        min(shares, key=len).extend(family)

    def client(share: list[tuple[Parent, Child]]) -> None:
        try:
            for parent, child in share:
                with Visit(url, child.lang, timeout) as visit:
                    visit.identify(parent)
                    outcome = visit.apply(child)
                    if outcome.kind != "receipt" or outcome.sign_seconds is None:
                        raise RuntimeError(f"no receipt for a new child: {outcome}")
                    visit.finish()
                    started = time.perf_counter()
                    response = visit.client.get("/healthz")
                    floor = time.perf_counter() - started
                    if response.status_code != 200:
                        raise RuntimeError(f"/healthz answered {response.status_code}")
                with lock:
                    signs.append(outcome.sign_seconds)
                    floors.append(floor)
        except Exception as exc:  # reported by the main thread
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(share,)) for share in shares if share]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; first: {errors[0]}")
    return signs, floors, time.monotonic() - started


def fsync_floor(folder: Path, commits: int, size: int) -> list[float]:
    """Seconds per durable commit of a submission of ``size`` bytes and its event (after ten unmeasured)."""
    floor = FsyncFloor(folder, size)
    try:
        for _ in range(10):  # they warm the file up
            floor.commit()
        return [floor.commit() for _ in range(commits)]
    finally:
        floor.close()


def print_table(rows: list[Row], meta: dict[str, Any]) -> None:
    print()
    print(
        f"sign-and-queue latency: {meta['count']} applications per phase; {machine_line(meta['machine'])}; "
        f"database in {meta['folder']}"
    )
    header = ["measure", "clients", "count", "mean ms", "p50 ms", "p99 ms"]
    cells = [
        [r.measure, r.clients or "-", r.latency.count, r.latency.mean_ms, r.latency.p50_ms, r.latency.p99_ms]
        for r in rows
    ]
    print(table(header, cells))
    floor = next(r.latency for r in rows if r.measure == FSYNC)
    print(f"(fsync floor row: {meta['row_bytes']} bytes, the size of a submission with its first event)")
    for r in rows:
        if r.measure == SIGN:
            http = next(h.latency for h in rows if h.measure == HEALTHZ and h.clients == r.clients)
            print(
                f"{r.clients} client(s): sign p50 = {times(r.latency.p50_ms, floor.p50_ms)} the fsync floor's p50, "
                f"{r.latency.p50_ms - http.p50_ms:.2f} ms above the HTTP floor's p50; "
                f"{meta['phases'][str(r.clients)]['applications_per_s']:.1f} whole applications/s"
            )


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--count", type=int, default=300, help="applications per phase (default 300)")
    parser.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=[1],
        help="concurrent clients, one phase per value (default 1; e.g. --clients 4, or --clients 1 4)",
    )
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured applications first (default 10)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s (default 10)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary instance goes (its disk)")
    args = parser.parse_args(argv)
    if args.count < 2 or min(args.clients) < 1 or args.warmup < 0:
        parser.error("need --count >= 2, --clients >= 1, --warmup >= 0")

    phases = list(dict.fromkeys(args.clients))
    total = args.warmup + args.count * len(phases)
    people = [(parent, kid) for parent, kids in make_people(total, random.Random(7)) for kid in kids]
    warmup, rest = people[: args.warmup], people[args.warmup :]

    workdir = Path(tempfile.mkdtemp(prefix="kiosk-sign-", dir=args.dir))
    server = KioskServer(workdir / "instance", free_port(), LOAD_ENV)
    rows: list[Row] = []
    meta: dict[str, Any] = {
        "count": args.count,
        "machine": machine(),
        "folder": str(workdir),
        "phases": {},
    }
    try:
        server.start()
        print(f"sign_queue: server on {server.url}, {args.warmup} warm-up applications", flush=True)
        run_phase(server.url, warmup, 1, args.timeout)
        for i, clients in enumerate(phases):
            work = rest[i * args.count : (i + 1) * args.count]
            print(f"  {len(work)} applications with {clients} client(s) ...", flush=True)
            signs, floors, seconds = run_phase(server.url, work, clients, args.timeout)
            rows += [Row(SIGN, clients, Latency.of(signs)), Row(HEALTHZ, clients, Latency.of(floors))]
            meta["phases"][str(clients)] = {"seconds": round(seconds, 2), "applications_per_s": len(work) / seconds}
        server.stop()
        size = row_bytes(server.instance / "kiosk.sqlite3")
        print(f"  {args.count} bare SQLite commits of {size} bytes ...", flush=True)
        rows.append(Row(FSYNC, 0, Latency.of(fsync_floor(workdir, args.count, size))))
        meta["row_bytes"] = size
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows, meta)
    write_json(args.json, {"rows": [asdict(r) for r in rows], **meta})
    return 0


if __name__ == "__main__":
    sys.exit(main())
