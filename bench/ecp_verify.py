"""How long the kiosk takes to check a parent's ЭЦҚ signature, beside the SMS code check it replaces.

Measured in the same run, one after another, on the same machine:

- ``sms_check``: ``codes.check_code`` for a right code and the commit that marks it used, on the
  kiosk's own SQLite database (WAL, ``synchronous=FULL``, in a fresh temporary instance): what the
  sign request spends on the SMS path before the submission is written. Codes are issued outside
  the timed part.
- ``ecp_cached``: ``ecp.verify_cms`` of an RSA-2048 CMS (SHA-256, signed attributes, the signer's
  certificate and the intermediate inside) with the OCSP answer already in the cache: parse, digest,
  signature, chain to the root, IIN, key usage, validity. The usual case: one OCSP answer per
  certificate serves ``ECP_REVOCATION_CACHE_S`` seconds.
- ``ecp_ocsp``: the same with an empty cache, the OCSP answer made and checked in-process by the
  test CA (``kiosk/portal_sim/testca.py``): the cryptography of an OCSP round trip without the network.
  A real OCSP answer from ocsp.pki.gov.kz adds its network time, which this bench cannot know.

Each measure is ``--count`` calls (after ``--warmup``); the table gives p50, p99 and the mean in
milliseconds, and each p50 as a multiple of the SMS check's.

Usage: .venv/bin/python bench/ecp_verify.py [--count 500] [--warmup 20] [--json FILE]
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import Latency, arguments, table, times, write_json
from kiosk.domain import ecp
from kiosk.portal_sim.testca import CaFetcher, DemoCa

PARENT = "880412412349"
DATA = b'{"service":"grade1","answers":{"child_iin":"190301600017"},"applicant":{"iin":"880412412349"}}'


def time_sms(count: int, warmup: int) -> list[float]:
    from kiosk import create_app, db
    from kiosk.domain import codes

    folder = tempfile.mkdtemp(prefix="bench-ecp-")
    os.environ["KIOSK_INSTANCE_PATH"] = folder
    app = create_app({"TESTING": True, "PORTAL": "demo"})
    db.upgrade(app)
    rules = codes.CodeRules(sends_per_iin=10**9, sends_per_kiosk=10**9, min_interval=dt.timedelta(0))
    now = dt.datetime.now(dt.UTC)
    seconds: list[float] = []
    with app.app_context():
        session = db.get_session()
        for i in range(count + warmup):
            subject = f"application:{i:064x}"
            issued = codes.issue_code(session, iin=PARENT, subject=subject, kiosk_id="bench", now=now, rules=rules)
            session.commit()
            started = time.perf_counter()
            result = codes.check_code(session, iin=PARENT, subject=subject, code=issued.code, now=now, rules=rules)
            session.commit()
            took = time.perf_counter() - started
            assert result is codes.Check.OK, result
            if i >= warmup:
                seconds.append(took)
        session.close()
    db.engine(app).dispose()
    return seconds


def time_ecp(count: int, warmup: int, cached: bool) -> list[float]:
    ca = DemoCa()
    person = ca.person(PARENT)
    cms = ca.sign(person, DATA)
    now = dt.datetime(2026, 5, 4, 6, tzinfo=dt.UTC)
    fetcher = CaFetcher(ca, lambda: now)
    trust = ecp.Trust((ca.root,))
    shared = ecp.Revocation(fetcher, cache_s=3600)
    seconds: list[float] = []
    for i in range(count + warmup):
        revocation = shared if cached else ecp.Revocation(fetcher, cache_s=3600)
        started = time.perf_counter()
        ecp.verify_cms(
            cms, expected=DATA, purpose=ecp.Purpose.SIGN, iin=PARENT, now=now, trust=trust, revocation=revocation
        )
        took = time.perf_counter() - started
        if i >= warmup:
            seconds.append(took)
    return seconds


def main() -> int:
    parser = arguments(__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    runs = {
        "sms_check": time_sms(args.count, args.warmup),
        "ecp_cached": time_ecp(args.count, args.warmup, cached=True),
        "ecp_ocsp": time_ecp(args.count, args.warmup, cached=False),
    }
    figures = {name: Latency.of(seconds) for name, seconds in runs.items()}
    base = figures["sms_check"].p50_ms
    print(
        table(
            ["measure", "calls", "p50 ms", "p99 ms", "mean ms", "p50 / sms"],
            [[name, f.count, f.p50_ms, f.p99_ms, f.mean_ms, times(f.p50_ms, base)] for name, f in figures.items()],
        )
    )
    rows = {
        n: {"calls": f.count, "p50_ms": f.p50_ms, "p99_ms": f.p99_ms, "mean_ms": f.mean_ms} for n, f in figures.items()
    }
    write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
