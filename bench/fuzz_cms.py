"""Hostile CMS bytes against the ЭЦҚ verifier: every answer is a verdict or a refusal, never a crash.

Starts from real CMS made by the test CA (kiosk/portal_sim/testca.py: attached and detached, with and
without the intermediate, the AUTH key and the signing key) and mutates them: bit flips, cuts,
inserted bytes, spliced halves of two CMS, lengths rewritten to huge or zero, random bytes. Each
is checked by ``kiosk.domain.ecp.verify_cms`` as the kiosk checks a parent's signature (OCSP answered by
the test CA in-process). Anything but ``Verified`` or ``Refused`` is a failure: the exit status is
1, and the first few inputs are printed in base64. The table counts the answers by problem.

Usage: .venv/bin/python bench/fuzz_cms.py [--count 20000] [--seed 1] [--json FILE]
``tests/test_ecp.py`` runs a shorter fuzz (hypothesis) on every test run.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import arguments, write_json
from kiosk.domain import ecp
from kiosk.portal_sim.testca import CaFetcher, DemoCa

NOW = dt.datetime(2026, 5, 4, 6, 0, tzinfo=dt.UTC)
PARENT = "880412412349"
DATA = b'{"service":"grade1","answers":{"child_iin":"190301600017"}}'


def seeds(ca: DemoCa) -> list[bytes]:
    signer = ca.person(PARENT)
    auth = ca.person(PARENT, usage="auth")
    return [
        ca.sign(signer, DATA),
        ca.sign(signer, DATA, detached=True),
        ca.sign(signer, DATA, chain=False),
        ca.sign(auth, DATA),
    ]


def mutate(rng: random.Random, pool: list[bytes]) -> bytes:
    cms = bytearray(rng.choice(pool))
    kind = rng.choice(["flip", "cut", "insert", "splice", "length", "random", "truncate"])
    if kind == "random":
        return rng.randbytes(rng.randint(0, 4096))
    if kind == "truncate":
        return bytes(cms[: rng.randint(0, len(cms))])
    if kind == "splice":
        other = rng.choice(pool)
        return bytes(cms[: rng.randint(0, len(cms))] + other[rng.randint(0, len(other)) :])
    for _ in range(rng.randint(1, 6)):
        if not cms:
            break
        where = rng.randrange(len(cms))
        if kind == "flip":
            cms[where] ^= 1 << rng.randrange(8)
        elif kind == "cut":
            del cms[where : where + rng.randint(1, 32)]
        elif kind == "insert":
            cms[where:where] = rng.randbytes(rng.randint(1, 16))
        else:  # a DER length byte (0x8N form or short form) rewritten
            cms[where] = rng.choice([0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x88, 0xFF])
    return bytes(cms)


def main() -> int:
    parser = arguments(__doc__)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    ca = DemoCa()
    pool = seeds(ca)
    revocation = ecp.Revocation(CaFetcher(ca, lambda: NOW), cache_s=3600)
    trust = ecp.Trust((ca.root,))
    answers: Counter[str] = Counter()
    crashes: list[tuple[bytes, str]] = []
    started = time.perf_counter()
    for _ in range(args.count):
        cms = mutate(rng, pool)
        try:
            ecp.verify_cms(
                cms, expected=DATA, purpose=ecp.Purpose.SIGN, iin=PARENT, now=NOW, trust=trust, revocation=revocation
            )
            answers["verified"] += 1
        except ecp.Refused as refused:
            answers[refused.problem.value] += 1
        except Exception:
            answers["CRASH"] += 1
            crashes.append((cms, traceback.format_exc(limit=4)))
    took = time.perf_counter() - started
    print(f"{args.count} mutated CMS in {took:.1f} s (seed {args.seed})")
    print(f"{'answer':<20}{'count':>8}")
    for answer, count in answers.most_common():
        print(f"{answer:<20}{count:>8}")
    for cms, trace in crashes[:3]:
        print("CRASH on", base64.b64encode(cms).decode()[:200], "\n", trace)
    write_json(args.json, {"count": args.count, "seconds": took, "answers": dict(answers)})
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
