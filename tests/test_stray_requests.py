"""Requests nobody meant to send: a file where text is expected, a part with no name, an id past
what the database holds. Each gets what a person gets for a missing answer, a refused request or
an address that leads nowhere, in the visitor's language; never a 500.

``tests/test_fuzz_forms.py`` throws every kind of body at every route; these are the classes it
found, each held on every form or route it applies to.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import re
import warnings

import pytest
from flask_babel import force_locale, gettext
from PIL import Image
from sqlalchemy import select
from werkzeug.routing.converters import NumberConverter

from fixtures.flows import fill_form, identify, meals, sign, soup, token
from kiosk import create_app, db
from kiosk.cli import main
from kiosk.domain.catalog import window_state
from kiosk.infra.catalog_ext import get_catalog
from kiosk.models import Attachment, HelpCall

CHILD = "160909600111"  # a child of nine (born 2016-09-09)
ANSWERS = meals(CHILD)
PASSWORD = "correct horse battery"
# past what PostgreSQL's INTEGER holds, past SQLite's, past 64 bits, and more digits than int() takes
HUGE_IDS = [str(2**31), str(2**63 - 1), str(2**63), str(2**64), str(10**30), "9" * 5000]


def ru(app, message: str) -> str:
    """The Russian a visitor reads, from the app's own catalogue."""
    with app.test_request_context(), force_locale("ru"):
        return gettext(message)


def as_file(text: str = "880412412349") -> tuple[io.BytesIO, str]:
    return io.BytesIO(text.encode()), "value.txt"


def post_multipart(client, url: str, fields: dict):
    return client.post(url, data=fields, content_type="multipart/form-data")


def text_of(response) -> str:
    return " ".join(soup(response).get_text().split())


@pytest.fixture(autouse=True)
def in_the_window(clock) -> None:
    clock.set_local(2026, 5, 4)  # grade 1 applications are open too


# --- item 17: a text field sent as a file part ---------------------------------------------------------


def test_a_file_in_the_text_fields_of_identify_and_status_reads_as_missing(client, app) -> None:
    client.get("/ru/identify?service=meals")
    csrf = token(client, "/ru/identify")
    cases = [
        ("/ru/identify/card", {"mrz": as_file()}, "The card was not read. Take it out and place it again."),
        ("/ru/identify/iin", {"iin": as_file()}, "Type your 12-digit IIN."),
        (
            "/ru/status",
            {"reference": as_file("7KP-Q4X-9MZ"), "iin": "880412412349"},
            "Type the reference from your receipt.",
        ),
        ("/ru/status", {"reference": "7KP-Q4X-9MZ", "iin": as_file()}, "Type your 12-digit IIN."),
    ]
    for url, fields, message in cases:
        response = post_multipart(client, url, {**fields, "csrf_token": csrf})
        assert response.status_code == 200, (url, response.status_code)
        assert ru(app, message) in text_of(response), url


def test_a_file_in_the_code_fields_reads_as_missing(client, app, clock) -> None:
    client.get("/ru/identify?service=meals")
    client.post("/ru/identify/iin", data={"iin": "880412412349", "csrf_token": token(client, "/ru/identify")})
    response = post_multipart(
        client, "/ru/identify/code", {"code": as_file("123456"), "csrf_token": token(client, "/ru/identify/code")}
    )
    assert response.status_code == 200
    assert ru(app, "Type the code from the SMS.") in text_of(response)

    other = app.test_client()  # and the signing code, after consent
    identify(other, "ru", "meals", clock=clock)
    fill_form(other, "ru", ANSWERS)
    consent = {"consent": as_file("y"), "csrf_token": token(other, "/ru/apply/check")}
    response = post_multipart(other, "/ru/apply/check", consent)
    assert response.status_code == 200
    assert ru(app, "Tick the box to agree to the processing of your personal data.") in text_of(response)
    clock.now += dt.timedelta(seconds=61)
    assert (
        other.post("/ru/apply/check", data={"consent": "y", "csrf_token": token(other, "/ru/apply/check")}).status_code
        == 302
    )
    response = post_multipart(
        other, "/ru/apply/sign", {"code": as_file("123456"), "csrf_token": token(other, "/ru/apply/sign")}
    )
    assert response.status_code == 200
    assert ru(app, "Type the code from the SMS.") in text_of(response)


def test_a_file_in_any_field_of_any_service_form_is_that_answer_missing(client, app, clock) -> None:
    """Every service a parent can apply for today, every field of its form."""
    identify(client, "ru", "meals", clock=clock)
    today = clock.now.date()
    with app.app_context():
        services = [s for s in get_catalog().services if s.takes_applications and window_state(s.window, today).is_open]
    assert len(services) >= 5
    for service in services:
        client.get(f"/ru/identify?service={service.code}")  # the form of this service, same identity
        page = soup(client.get("/ru/apply/form"))
        valid = {el["name"]: el.get("value", "x") for el in page.select("input[name]")}
        for name in service.form:
            fields = {**valid, name: as_file("Иванова Мария"), "csrf_token": token(client, "/ru/apply/form")}
            response = post_multipart(client, "/ru/apply/form", fields)
            assert response.status_code == 200, (service.code, name, response.status_code)
            error = soup(response).select_one(f"#{name}-error")
            assert error is not None, (service.code, name)
            assert error.get_text().strip() in (ru(app, "This answer is needed."), ru(app, "Choose one answer.")), (
                service.code,
                name,
                error.get_text(),
            )


def test_a_file_in_the_staff_sign_in_reads_as_missing(client, app) -> None:
    client.get("/staff/language/ru")
    for name, message in (("username", "Type your user name."), ("password", "Type your password.")):
        fields = {"username": "aigul", "password": PASSWORD, "csrf_token": token(client, "/staff/login")}
        response = post_multipart(client, "/staff/login", {**fields, name: as_file("aigul")})
        assert response.status_code == 200
        assert ru(app, message) in soup(response).select_one(f"#{name}-error").get_text()


def test_a_json_body_is_no_form(client, app) -> None:
    """Flask-WTF read a JSON body as the form: numbers and lists met validators made for text.

    The forms themselves read no JSON, whether or not a guard before them refuses the body's kind.
    """
    from kiosk.web.forms import StatusForm

    bodies = [{"reference": 2**64, "iin": [1, 2]}, {"reference": 1e308, "iin": None}, 5, [1], "x"]
    for body in bodies:
        with app.test_request_context("/ru/status", method="POST", json=body):
            form = StatusForm(meta={"csrf": False})
            assert not form.validate()
            assert form.reference.errors and form.iin.errors
    csrf = token(client, "/ru/status")
    for body in bodies[:2]:
        response = client.post("/ru/status", json=body, headers={"X-CSRFToken": csrf})
        assert response.status_code < 500
        if response.status_code == 200:  # no guard refused the body's kind: the form says what is missing
            assert ru(app, "Type the reference from your receipt.") in text_of(response)
    response = client.post("/ru/status", data="1e309", content_type="application/json", headers={"X-CSRFToken": csrf})
    assert response.status_code < 500


# --- item 18: a multipart part with no name --------------------------------------------------------------

NAMELESS = (
    b"--B\r\nContent-Disposition: form-data\r\n\r\nno name\r\n"
    b'--B\r\nContent-Disposition: form-data; filename="a.txt"\r\n\r\nno name either\r\n'
    b"--B--\r\n"
)


def post_rules(app) -> list[str]:
    """Every POST route of the app, its arguments filled with values that match it."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or ()):
            path = re.sub(r"<(?:[^:>]+:)?lang>", "ru", rule.rule)
            paths.append(re.sub(r"<[^>]+>", "1", path))
    return paths


def test_a_part_without_a_name_is_a_request_without_a_token_on_every_post_route(client, app) -> None:
    paths = post_rules(app)
    assert len(paths) >= 20
    for path in paths:
        response = client.post(path, data=NAMELESS, content_type="multipart/form-data; boundary=B")
        assert response.status_code < 500, path
    response = client.post("/ru/status", data=NAMELESS, content_type="multipart/form-data; boundary=B")
    assert response.status_code == 400
    assert soup(response).select_one("[data-status]")["data-status"] == "400"
    assert ru(app, "This request cannot be handled") in text_of(response)


def test_the_named_parts_beside_a_nameless_one_still_arrive(client, app) -> None:
    csrf = token(client, "/ru/status")
    body = (
        b"--B\r\nContent-Disposition: form-data\r\n\r\nno name\r\n"
        + f'--B\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'.encode()
        + b'--B\r\nContent-Disposition: form-data; name="reference"\r\n\r\nAAA-AAA-AAA\r\n'
        + b'--B\r\nContent-Disposition: form-data; name="iin"\r\n\r\n880412412349\r\n'
        + b"--B--\r\n"
    )
    response = client.post("/ru/status", data=body, content_type="multipart/form-data; boundary=B")
    assert response.status_code == 200
    page = soup(response)
    assert not page.select(".field-error"), [e.get_text() for e in page.select(".field-error")]
    assert page.select_one('input[name="reference"]')["value"] == "AAA-AAA-AAA"


def test_a_nameless_or_broken_file_part_leaves_no_file_open(client) -> None:
    """Files the parser opened for parts it then dropped or gave up on were left to the garbage collector."""
    head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
    bodies = [NAMELESS, head + b"\xff\xd8\xff" * 1000]  # a part with no name; a body cut off in a file
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for body in bodies:
            response = client.post("/ru/status", data=body, content_type="multipart/form-data; boundary=B")
            assert response.status_code == 400
            response.close()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


# --- item 19: ids past what the database holds ---------------------------------------------------------------


def test_every_number_in_an_address_is_a_row_id_the_database_can_hold(app) -> None:
    from kiosk.db import RowIdConverter

    numbers = []
    for rule in app.url_map.iter_rules():
        for converter in re.findall(r"<([^:>(]+)(?:\([^)]*\))?:[^>]+>", rule.rule):
            if issubclass(app.url_map.converters[converter], NumberConverter):
                numbers.append(rule.rule)
                assert app.url_map.converters[converter] is RowIdConverter, rule.rule
    assert len(numbers) >= 3


def _photo() -> tuple[io.BytesIO, str]:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, "PNG")
    out.seek(0)
    return out, "photo.png"


def walk_the_ids(app, clock) -> None:
    """Every id route with ids past the range: page not found; with the real id: what it always did."""
    runner = app.test_cli_runner()
    result = runner.invoke(
        main, ["staff", "add", "aigul", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    parent = app.test_client()
    not_found = ru(app, "Page not found")
    identify(parent, "ru", "meals", clock=clock)
    fill_form(parent, "ru", ANSWERS)
    for _ in range(2):
        upload = {"file": _photo(), "csrf_token": token(parent, "/ru/apply/attachments")}
        assert post_multipart(parent, "/ru/apply/attachments", upload).status_code == 302
    with app.app_context(), db.new_session(app) as s:
        first, second = s.scalars(select(Attachment.id).order_by(Attachment.id))
    csrf = token(parent, "/ru/apply/attachments")
    for huge in HUGE_IDS:
        response = parent.post(f"/ru/apply/attachments/{huge}/remove", data={"csrf_token": csrf})
        assert response.status_code == 404, huge[:30]
        assert not_found in text_of(response)
    assert parent.post(f"/ru/apply/attachments/{first}/remove", data={"csrf_token": csrf}).status_code == 302
    assert len(soup(parent.get("/ru/apply/attachments")).select("[data-file]")) == 1
    reference = sign(parent, "ru", clock).rsplit("/", 1)[1]
    parent.post("/ru/help", data={"screen": "receipt.show"})
    with app.app_context(), db.new_session(app) as s:
        call = s.scalars(select(HelpCall.id)).one()

    staff = app.test_client()
    staff.get("/staff/language/ru")
    staff.post(
        "/staff/login", data={"username": "aigul", "password": PASSWORD, "csrf_token": token(staff, "/staff/login")}
    )
    csrf = token(staff, "/staff/")
    for huge in HUGE_IDS:
        response = staff.get(f"/staff/submissions/{reference}/attachments/{huge}")
        assert response.status_code == 404, huge[:30]
        assert staff.post(f"/staff/calls/{huge}/answer", data={"csrf_token": csrf}).status_code == 404
        assert staff.get(f"/staff/queue?after=2026-05-04T06:00:00_{huge}").status_code == 200  # the first page
    assert staff.get(f"/staff/submissions/{reference}/attachments/{second}").mimetype == "image/jpeg"
    assert staff.post(f"/staff/calls/{call}/answer", data={"csrf_token": csrf}).status_code in (200, 302)
    with app.app_context(), db.new_session(app) as s:
        assert s.get(HelpCall, call).answered_at is not None


def test_ids_past_the_range_are_page_not_found_on_sqlite(app, clock) -> None:
    walk_the_ids(app, clock)


@pytest.mark.postgres
def test_ids_past_the_range_are_page_not_found_on_postgresql(pg_database, instance, clock) -> None:
    app = create_app({"TESTING": True, "CLOCK": clock, "PORTAL": "demo", "DATABASE_URL": pg_database})
    db.upgrade(app)
    try:
        walk_the_ids(app, clock)
    finally:
        db.engine(app).dispose()
