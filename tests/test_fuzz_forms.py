"""Malformed posts to every form: whatever arrives, the answer is never a 500.

Hypothesis makes the bodies: the form's own fields with hostile values, unknown fields, missing
fields, huge and odd Unicode strings. KIOSK_FUZZ_EXAMPLES sets how many per form (CI: a few
hundred in all; bench/fuzz_forms.py: 10,000).
"""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import CHILD_FIELDS, child_iin, identify, token

EXAMPLES = int(os.environ.get("KIOSK_FUZZ_EXAMPLES", "40"))

hostile = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "0" * 5000,
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "%s%n",
            "\u202e",
            "880412412349",
            "190315500012",
            "１２３",
            "12.5",
            "-1",
            "1e308",
            "nan",
            "y",
            "on",
        ]
    ),
    st.integers(-(10**20), 10**20).map(str),
)

FORMS = {
    "/ru/identify/card": ["mrz"],
    "/ru/identify/iin": ["iin"],
    "/ru/identify/code": ["code"],
    "/ru/identify/resend": [],
    "/ru/identify/assisted": [],
    "/ru/apply/form": CHILD_FIELDS["meals"],
    "/ru/apply/check": ["consent"],
    "/ru/apply/sign": ["code"],
    "/ru/apply/sign/resend": [],
    "/ru/status": ["reference", "iin"],
    "/kk/status": ["reference", "iin"],
    "/en/services/meals": ["category"],
}


def bodies(fields: list[str]):
    known = st.fixed_dictionaries({}, optional={f: hostile for f in fields})
    extra = st.dictionaries(st.text(min_size=1, max_size=20), hostile, max_size=4)
    return st.tuples(known, extra, st.booleans()).map(lambda t: ({**t[1], **t[0]}, t[2]))


@pytest.fixture
def visit(app, clock):
    """A visit part-way through an application, so the apply forms are really processed."""
    clock.set_local(2026, 5, 4)
    client = app.test_client()
    identify(client, "ru", "meals", clock=clock)
    client.post(
        "/ru/apply/form",
        data={
            "child_iin": child_iin(dt.date(2016, 9, 9), "F"),
            "child_name": "Иванова Мария",
            "grade": "4",
            "category": "asp",
            "csrf_token": token(client, "/ru/apply/form"),
        },
    )
    return client


@pytest.mark.parametrize("url", list(FORMS))
def test_malformed_posts_never_get_a_500(visit, url: str) -> None:
    csrf = token(visit, "/ru/apply/check")

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(bodies(FORMS[url]))
    def post(body) -> None:
        data, with_token = body
        if with_token:
            data = {**data, "csrf_token": csrf}
        response = visit.post(url, data=data)
        assert response.status_code < 500, (url, data, response.status_code)

    post()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.binary(max_size=4096), st.text(max_size=40))
def test_malformed_uploads_never_get_a_500(visit, raw: bytes, name: str) -> None:
    csrf = token(visit, "/ru/apply/check")
    for content in (raw, b"\x89PNG\r\n\x1a\n" + raw, b"\xff\xd8\xff" + raw, b"%PDF-" + raw, b"%PDF-" + raw + b"%%EOF"):
        response = visit.post(
            "/ru/apply/attachments",
            data={"file": (io.BytesIO(content), name or "f"), "csrf_token": csrf},
            content_type="multipart/form-data",
        )
        assert response.status_code < 500


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.text(max_size=200))
def test_malformed_addresses_never_get_a_500(client, path: str) -> None:
    from urllib.parse import quote

    for url in (
        f"/{quote(path)}",
        f"/ru/services/{quote(path)}",
        f"/kk/status/t/{quote(path)}",
        f"/ru/receipt/{quote(path)}",
        f"/ru/services/meals?category={quote(path)}",
    ):
        assert client.get(url).status_code < 500
