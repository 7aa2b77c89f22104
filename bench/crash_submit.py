"""Crash the server while parents apply, and check that no application is lost or stored twice.

A receipt is a promise: the kiosk shows it only after the submission is committed, and a child
can have one application per service per school year. This script holds the kiosk to both under
the worst a lobby box meets, the power going out at any moment: a killer thread SIGKILLs the real
server process (``kiosk run``, waitress, SQLite in WAL with ``synchronous=FULL``) at random moments
and starts it again on the same instance folder and port, while clients walk the whole flow over
real HTTP (identify with an SMS code, the meals form, consent, the signing code, the receipt).
A share of the children (``--ecp-share``, half by default) are signed with ЭЦҚ instead of the
code: the kiosk trusts a test CA made for the run (its root in the instance's ``ecp/``, its OCSP
answered by this script over HTTP), and the client posts the CMS over the bytes the check page
gives NCALayer, as the page's script does.

A client whose request fails (connection error, timeout, 5xx) starts the flow again with a new
visit (a new cookie jar), as a parent would. When the crash came after the commit, the retry meets
the form's duplicate message, and the reference it names is taken as this child's: that is the
point, the row must not be written twice. At the end, with the server stopped, the database file is
opened read-only and checked: every reference a receipt showed has exactly one row, no child has
two rows for one service and year, the rows are exactly the children whose flow ended (none
orphaned, none lost), every row has its first event, and SQLite's integrity check passes; then
every row's signature method is the one its child signed with, and every ЭЦҚ row's sealed CMS,
opened with the instance's keys, still verifies over that row's application for its parent.

Run from the repository root:
``.venv/bin/python bench/crash_submit.py --count 1000 [--kill-every-min 0.3] [--kill-every-max 2.0]
[--clients 2] [--ecp-share 0.5] [--seed N] [--json out.json] [--keep]``. Exit status 0 only when every check passes.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import queue
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from _flow import (
    LOAD_ENV,
    SIGN_STEP,
    Child,
    FlowError,
    KioskServer,
    Parent,
    ServerGone,
    Visit,
    free_port,
    healthy,
    make_people,
    tidy_up,
)
from _report import arguments, write_json
from kiosk.domain import ecp
from kiosk.infra.keys import keyed_hash
from kiosk.portal_sim.testca import CaFetcher, DemoCa, Person

# --- the run -------------------------------------------------------------------------------------


@dataclass
class ChildResult:
    iin: str
    method: str = "sms"  # how this child's application is signed: sms or ecp
    kind: str | None = None  # receipt, duplicate, or None when the flow never ended
    reference: str | None = None
    attempts: int = 0
    sign_interrupted: int = 0  # times the sign request got no answer
    references_redirected: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class Tally:
    """What the clients saw, guarded by a lock: clients are threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    retries: int = 0
    server_gone: int = 0
    sign_interrupted: int = 0  # the POST /apply/sign failed: the commit may or may not have happened
    flow_errors: int = 0
    by_stage: dict[str, int] = field(default_factory=dict)

    def gone(self, stage: str) -> None:
        with self.lock:
            self.retries += 1
            self.server_gone += 1
            self.by_stage[stage] = self.by_stage.get(stage, 0) + 1
            if stage == SIGN_STEP:
                self.sign_interrupted += 1

    def flow_error(self) -> None:
        with self.lock:
            self.retries += 1
            self.flow_errors += 1


def run_child(
    server: KioskServer,
    parent: Parent,
    child: Child,
    tally: Tally,
    timeout: float,
    max_flow_errors: int,
    abort: threading.Event,
    ecp_sign: Callable[[bytes], bytes] | None = None,
) -> ChildResult:
    """Walk the flow until a receipt or the duplicate message; start again on any failure.
    ``ecp_sign``: the parent signs with ЭЦҚ (the CMS it makes), not with the code."""
    result = ChildResult(child.iin, "ecp" if ecp_sign else "sms")
    while not abort.is_set():
        result.attempts += 1
        starts = server.starts
        with Visit(server.url, child.lang, timeout) as visit:
            try:
                visit.identify(parent)
                outcome = visit.apply(child, ecp_sign)
            except ServerGone:
                tally.gone(visit.stage)
                result.sign_interrupted += visit.stage == SIGN_STEP
                if visit.redirected_to:
                    result.references_redirected.append(visit.redirected_to)
                wait_for_server(server, abort)
                continue
            except FlowError as exc:
                if server.starts != starts:  # restarted between two requests: the demo phone forgot
                    tally.gone(f"{visit.stage} (restarted mid-visit)")
                    continue
                tally.flow_error()
                result.problems.append(str(exc))
                if len(result.problems) >= max_flow_errors:
                    return result
                continue
            if outcome.kind == "receipt":
                try:  # ends the visit; the receipt was already shown, so a crash here changes nothing
                    visit.finish()
                except (ServerGone, FlowError):
                    pass
        result.kind, result.reference = outcome.kind, outcome.reference
        if outcome.redirected_to:
            result.references_redirected.append(outcome.redirected_to)
        return result
    return result


def wait_for_server(server: KioskServer, abort: threading.Event) -> None:
    """Poll ``/healthz`` so a retry starts when the server is back, not in a busy loop of refusals."""
    while not abort.is_set() and not healthy(server.url):
        time.sleep(0.05)


def killer(server: KioskServer, rng: random.Random, low: float, high: float, done: threading.Event) -> None:
    """SIGKILL the server every ``low``-``high`` seconds of uptime, then start it again."""
    try:
        while not done.wait(rng.uniform(low, high)):
            server.crash_and_restart()
    except Exception as exc:  # reported and ends the run
        server.error = f"{type(exc).__name__}: {exc}"
        done.set()


class TestCa:
    """The run's test CA (never НУЦ's): the kiosk trusts its root, this script answers its OCSP
    over HTTP (``ECP_OCSP_URL``), and it issues each parent's signing key (one RSA key shared by
    all the parents' certificates, so a thousand parents cost one key generation)."""

    def __init__(self) -> None:
        self.ca = DemoCa(name="BENCH")
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._people: dict[str, Person] = {}
        self._lock = threading.Lock()
        ca = self.ca

        class Ocsp(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                answer = ca.ocsp_answer(body, dt.datetime.now(dt.UTC))
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Ocsp)
        self.ocsp_url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, name="ocsp", daemon=True).start()

    def install(self, instance: Path) -> None:
        """The root in the kiosk's ``ecp/`` folder, where a site puts НУЦ's."""
        (instance / "ecp").mkdir(parents=True, exist_ok=True)
        (instance / "ecp" / "bench-test-root.pem").write_bytes(self.ca.pem_roots())

    def signer(self, iin: str) -> Callable[[bytes], bytes]:
        """NCALayer with this parent's signing key: the CMS over the bytes it is given."""
        with self._lock:
            person = self._people.get(iin) or self.ca.person(iin, usage="sign", key=self._key)
            self._people[iin] = person
        return lambda data: self.ca.sign(person, data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify_signatures(instance: Path, test_ca: TestCa | None, results: list[ChildResult]) -> dict[str, Any]:
    """Each row's method is its child's; each ЭЦҚ row's sealed CMS, opened with the instance's keys,
    verifies over that row's application for its parent (the server must be stopped)."""
    from sqlalchemy import select

    from kiosk import create_app, db
    from kiosk.domain.applications import canonical_bytes
    from kiosk.domain.submissions import open_payload, open_signature
    from kiosk.extensions import keyring
    from kiosk.models import Submission

    os.environ["KIOSK_INSTANCE_PATH"] = str(instance)
    app = create_app({"PORTAL": "demo"})
    hash_key = app.config["HASH_KEY"]
    method_of = {keyed_hash("iin", r.iin, hash_key): r.method for r in results}
    wrong_method, broken = [], []
    methods: dict[str, int] = {}
    with app.app_context(), db.new_session(app) as s:
        for row in s.scalars(select(Submission)):
            methods[row.signature_method] = methods.get(row.signature_method, 0) + 1
            if method_of.get(row.child_iin_hash) != row.signature_method:
                wrong_method.append(row.reference)
            kept = open_signature(row, keyring())
            if (kept is not None) != (row.signature_method == "ecp"):
                broken.append(row.reference)
            elif kept is not None and test_ca is not None:
                payload = open_payload(row, keyring())
                try:
                    ecp.verify_cms(
                        base64.b64decode(kept["cms"]),
                        expected=canonical_bytes(payload),
                        purpose=ecp.Purpose.SIGN,
                        iin=payload["applicant"]["iin"],
                        now=dt.datetime.now(dt.UTC),
                        trust=ecp.Trust((test_ca.ca.root,)),
                        revocation=ecp.Revocation(CaFetcher(test_ca.ca, lambda: dt.datetime.now(dt.UTC))),
                    )
                except ecp.Refused as refused:
                    broken.append(f"{row.reference}: {refused}")
    db.engine(app).dispose()
    return {
        "signature_methods": dict(sorted(methods.items())),
        "checks": {
            "every row's signature method is the one its child signed with": not wrong_method,
            "every ЭЦҚ row's sealed CMS verifies over its application": not broken,
        },
        "examples": {"wrong_method": wrong_method[:5], "broken_signature": broken[:5]},
    }


def verify(db_path: Path, hash_key: str, results: list[ChildResult]) -> dict[str, Any]:
    """Check the database file against what the clients saw; the server must be stopped."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows = conn.execute(
            "SELECT id, reference, child_iin_hash, service_code, school_year FROM submissions"
        ).fetchall()
        twins = conn.execute(
            "SELECT child_iin_hash, service_code, school_year, COUNT(*) FROM submissions "
            "GROUP BY child_iin_hash, service_code, school_year HAVING COUNT(*) > 1"
        ).fetchall()
        without_event = conn.execute(  # the first event (from no state) is committed with the row
            "SELECT s.reference FROM submissions s LEFT JOIN submission_events e "
            "ON e.submission_id = s.id AND e.from_state IS NULL GROUP BY s.id HAVING COUNT(e.id) != 1"
        ).fetchall()
    finally:
        conn.close()
    by_reference: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_reference.setdefault(row[1], []).append(row)
    ended = [r for r in results if r.kind is not None]
    unfinished = [r.iin for r in results if r.kind is None]
    shown = [r.reference for r in results if r.kind == "receipt"]
    shown_missing = [ref for ref in shown if ref not in by_reference]
    shown_twice = [ref for ref in shown if len(by_reference.get(ref, [])) > 1]
    # each child's reference must be a row for that very child (the keyed hash of its IIN)
    wrong_child = [
        r.iin
        for r in ended
        if not by_reference.get(r.reference or "")
        or by_reference[r.reference or ""][0][2] != keyed_hash("iin", r.iin, hash_key)
    ]
    # a retry after a crash must name the reference the sign request had already redirected to
    changed = [r.iin for r in ended if r.references_redirected and r.reference not in r.references_redirected]
    ended_hashes = {keyed_hash("iin", r.iin, hash_key) for r in ended}
    orphans = [row[1] for row in rows if row[2] not in ended_hashes]
    references_repeated = sorted({r.reference for r in ended if sum(x.reference == r.reference for x in ended) > 1})
    checks = {
        "sqlite integrity_check is ok": integrity == "ok",
        "every child's flow ended in a receipt or the duplicate message": not unfinished,
        "every shown reference has exactly one row": not shown_missing and not shown_twice,
        "no child has two rows for one service and school year": not twins,
        "rows == children whose flow ended": len(rows) == len(ended),
        "every child's reference is a row for that child": not wrong_child,
        "no row for a child whose flow did not end (orphans)": not orphans,
        "no two children share a reference": not references_repeated,
        "a retry names the reference the sign redirect named": not changed,
        "every row has exactly one first event": not without_event,
    }
    return {
        "rows": len(rows),
        "children_ended": len(ended),
        "receipts_shown": len(shown),
        "recovered_by_duplicate": sum(r.kind == "duplicate" for r in ended),
        # the sign request got no answer and no redirect was ever seen: did the commit happen?
        "sign_interrupted_committed": sum(
            r.sign_interrupted > 0 and r.kind == "duplicate" and not r.references_redirected for r in ended
        ),
        "sign_interrupted_not_committed": sum(
            r.sign_interrupted > 0 and (r.kind == "receipt" or bool(r.references_redirected)) for r in ended
        ),
        "unfinished": len(unfinished),
        "lost": len(unfinished) + len(wrong_child),  # a shown reference without its row is a wrong_child too
        "duplicated": len(shown_twice) + sum(t[3] - 1 for t in twins) + len(references_repeated),
        "orphans": len(orphans),
        "integrity": integrity,
        "rows_without_one_first_event": len(without_event),
        "checks": checks,
        "examples": {
            "unfinished": unfinished[:5],
            "shown_missing": shown_missing[:5],
            "wrong_child": wrong_child[:5],
            "orphans": orphans[:5],
            "changed_reference": changed[:5],
            "problems": [p for r in results for p in r.problems][:5],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--count", type=int, default=1000, help="applications, one per child (default 1000)")
    parser.add_argument("--kill-every-min", type=float, default=0.3, help="shortest uptime before a kill, s")
    parser.add_argument("--kill-every-max", type=float, default=2.0, help="longest uptime before a kill, s")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients (threads), default 2")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s (default 10)")
    parser.add_argument(
        "--ecp-share", type=float, default=0.5, help="share of the children signed with ЭЦҚ, not the code (0.5)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a random one, printed)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance folder")
    args = parser.parse_args(argv)
    if args.count < 1 or args.clients < 1 or not 0 < args.kill_every_min <= args.kill_every_max:
        parser.error("need --count >= 1, --clients >= 1 and 0 < --kill-every-min <= --kill-every-max")
    if not 0 <= args.ecp_share <= 1:
        parser.error("need 0 <= --ecp-share <= 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    families = make_people(args.count, rng)
    by_ecp = random.Random(seed + 2)  # its own stream: the same seed gives the same people either way
    ecp_children = {kid.iin for _parent, kids in families for kid in kids if by_ecp.random() < args.ecp_share}

    workdir = Path(tempfile.mkdtemp(prefix="kiosk-crash-"))
    test_ca = TestCa() if ecp_children else None
    env = {**LOAD_ENV, "KIOSK_ECP_OCSP_URL": test_ca.ocsp_url} if test_ca else LOAD_ENV
    server = KioskServer(workdir / "instance", free_port(), env)
    if test_ca:
        test_ca.install(server.instance)
    done, abort = threading.Event(), threading.Event()
    tally = Tally()
    results: list[ChildResult] = []
    results_lock = threading.Lock()
    work: queue.Queue[tuple[Parent, list[Child]]] = queue.Queue()
    for family in families:
        work.put(family)

    def client() -> None:
        # one parent's children go through one client, one after the other, as at a kiosk
        while not abort.is_set():
            try:
                parent, kids = work.get_nowait()
            except queue.Empty:
                return
            for kid in kids:
                ecp_sign = test_ca.signer(parent.iin) if test_ca and kid.iin in ecp_children else None
                outcome = run_child(server, parent, kid, tally, args.timeout, 5, abort, ecp_sign)
                with results_lock:
                    results.append(outcome)

    print(
        f"crash_submit: {args.count} applications, {len(families)} parents, {args.clients} client(s), "
        f"{len(ecp_children)} signed with ЭЦҚ, kill every {args.kill_every_min}-{args.kill_every_max} s of uptime, "
        f"seed {seed}",
        flush=True,
    )
    started = time.monotonic()
    kill_thread = threading.Thread(
        target=killer, args=(server, random.Random(seed + 1), args.kill_every_min, args.kill_every_max, done)
    )
    clients = [threading.Thread(target=client) for _ in range(args.clients)]
    try:
        server.start()
        kill_thread.start()
        for thread in clients:
            thread.start()
        while any(t.is_alive() for t in clients):
            if done.is_set():  # the killer could not start the server again
                abort.set()
            for thread in clients:
                thread.join(0.5)
    except KeyboardInterrupt:
        abort.set()
        print("interrupted", file=sys.stderr)
    finally:
        abort.set()
        done.set()
        if kill_thread.is_alive():
            kill_thread.join()
        for thread in clients:
            thread.join()
        server.stop()
    elapsed = time.monotonic() - started

    killer_error = server.error
    hash_key = (server.instance / "hash_key").read_text().strip()
    everyone = results + missing_results(families, results, ecp_children)
    verdict = verify(server.instance / "kiosk.sqlite3", hash_key, everyone)
    signatures = verify_signatures(server.instance, test_ca, everyone)
    if test_ca:
        test_ca.close()
    verdict["checks"].update(signatures.pop("checks"))
    verdict["examples"].update(signatures.pop("examples"))
    verdict.update(signatures)
    if killer_error:
        verdict["checks"]["the server always came back after a kill"] = False
    summary = {
        "count": args.count,
        "parents": len(families),
        "clients": args.clients,
        "seed": seed,
        "elapsed_s": round(elapsed, 1),
        "applications_per_s": round(len(results) / elapsed, 2) if elapsed else 0.0,
        "kills": server.kills,
        "kills_per_100_applications": round(100 * server.kills / args.count, 1),
        "retries": tally.retries,
        "server_gone": tally.server_gone,
        "server_gone_by_stage": dict(sorted(tally.by_stage.items())),
        "sign_interrupted": tally.sign_interrupted,
        "flow_errors": tally.flow_errors,
        "killer_error": killer_error,
        **verdict,
    }
    summary["ok"] = all(summary["checks"].values())
    print_summary(summary)
    write_json(args.json, summary)
    tidy_up(server, workdir, keep=args.keep or not summary["ok"])
    return 0 if summary["ok"] else 1


def missing_results(
    families: list[tuple[Parent, list[Child]]], results: list[ChildResult], ecp_children: set[str]
) -> list[ChildResult]:
    """Children no client got to (an aborted run): they count as unfinished."""
    seen = {r.iin for r in results}
    return [
        ChildResult(kid.iin, "ecp" if kid.iin in ecp_children else "sms")
        for _parent, kids in families
        for kid in kids
        if kid.iin not in seen
    ]


def print_summary(s: dict[str, Any]) -> None:
    print()
    print(f"applications        {s['count']} ({s['parents']} parents, {s['clients']} clients), seed {s['seed']}")
    print(f"elapsed             {s['elapsed_s']} s ({s['applications_per_s']} applications/s)")
    print(f"server kills        {s['kills']} ({s['kills_per_100_applications']} per 100 applications)")
    print(f"flow retries        {s['retries']} (server gone {s['server_gone']}, unexpected pages {s['flow_errors']})")
    print(f"  gone during       {', '.join(f'{k} {v}' for k, v in s['server_gone_by_stage'].items()) or '-'}")
    print(
        f"sign interrupted    {s['sign_interrupted']} (POST /apply/sign or /apply/sign/ecp got no answer): "
        f"{s['sign_interrupted_committed']} had committed (the retry met the duplicate message), "
        f"{s['sign_interrupted_not_committed']} had not (the retry signed anew)"
    )
    print(f"receipts shown      {s['receipts_shown']}")
    print(f"duplicate message   {s['recovered_by_duplicate']} (committed before the crash, found on the retry)")
    print(f"rows in submissions {s['rows']} for {s['children_ended']} children whose flow ended")
    print(f"signed              {', '.join(f'{k} {v}' for k, v in s['signature_methods'].items()) or '-'}")
    print(f"lost {s['lost']}, duplicated {s['duplicated']}, orphans {s['orphans']}, integrity {s['integrity']}")
    if s["killer_error"]:
        print(f"killer stopped: {s['killer_error']}")
    for name, passed in s["checks"].items():
        print(f"  [{'ok' if passed else 'FAIL'}] {name}")
    for name, examples in s["examples"].items():
        if examples:
            print(f"  {name}: {examples}")
    print("PASS" if s["ok"] else "FAIL")


if __name__ == "__main__":
    sys.exit(main())
