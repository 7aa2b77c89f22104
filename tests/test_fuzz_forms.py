"""Stray requests on every route, with every body kind, in every session state: never a 500.

Runs ``bench/fuzz_forms.py`` (see its docstring) in this process with a fixed seed and a few hundred
requests: the routes from the app's url_map, the states built through the real flow, the bodies
sent as bytes over real HTTP to waitress. ``KIOSK_FUZZ_REQUESTS`` sets how many (the bench's own
default is 10,000). Asserts no answer of 500, none missing, and no traceback or ERROR record in
the app's log; and that the run really reached every state, body kind and most routes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.fuzz_forms import KINDS, STATES, print_report, run

REQUESTS = int(os.environ.get("KIOSK_FUZZ_REQUESTS", "400"))
SEED = 20261201


def check(report) -> None:
    print_report(report, "under test")
    details = report.as_dict()
    assert report.server_errors == [], details["server_error_samples"]
    assert report.no_answer == [], details["no_answer_samples"]
    assert report.tracebacks == [], details["traceback_kinds"] or details["traceback_samples"]
    assert report.error_logs == [], details["error_log_samples"]
    assert report.requests == REQUESTS
    assert set(report.by_state) == set(STATES)
    assert set(report.by_kind) == set(KINDS)
    assert details["endpoints_hit"] >= 40  # of about 48
    forms = ("POST apply.", "POST identify.", "POST status.", "POST staff.login")
    checked = sum(n for key, n in report.endpoints.items() if key.startswith(forms) and key.endswith(" 200"))
    assert checked >= 3  # forms that really checked what came, past the CSRF check, and said what was wrong


def test_every_route_every_body_every_state_on_sqlite(instance: Path) -> None:
    check(run(REQUESTS, SEED, instance, rebuild_every=200))


@pytest.mark.postgres
def test_every_route_every_body_every_state_on_postgresql(instance: Path, pg_database: str) -> None:
    check(run(REQUESTS, SEED, instance, pg_database, rebuild_every=200))
