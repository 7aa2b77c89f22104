"""Headers on every page, the request limits in Flask and in waitress, and the end of a visit."""

from __future__ import annotations

import datetime as dt
import io
import socket

import pytest

from fixtures.flows import child_iin, fill_form, identify, meals, soup, token
from kiosk import create_app, db

# werkzeug's test client spools a big request body to a temporary file it never closes, and the
# warning about it surfaces in whichever test runs next
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")

CHILD = child_iin(dt.date(2016, 3, 3))
ANSWERS = meals(CHILD)


def _pages(app, client) -> list[str]:
    """Every GET page without arguments in every language, and the deep pages of a visit."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.startswith(("static", "vendor")):
            continue
        if set(rule.arguments) <= {"lang"}:
            urls.append(rule.rule.replace("<lang>", "ru"))
    identify(client, "ru", "meals")
    fill_form(client, "ru", ANSWERS)
    return [*urls, "/ru/services/meals", "/ru/services/meals/print", "/ru/apply/attachments", "/nope"]


def test_every_html_response_carries_the_headers(app, client) -> None:
    seen = 0
    for url in _pages(app, client):
        response = client.get(url)
        if response.mimetype != "text/html":
            continue
        seen += 1
        csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        assert "frame-ancestors 'none'" in csp, url
        assert response.headers["Cache-Control"] == "no-store", url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP: HSTS means nothing
        body = response.get_data(as_text=True)
        assert "<script>" not in body and " onclick=" not in body, url  # nothing the policy would block
    assert seen > 10


def test_hsts_only_over_tls_and_through_a_trusted_proxy(instance, clock) -> None:
    plain = create_app({"TESTING": True, "CLOCK": clock, "PORTAL": "demo"})
    assert "Strict-Transport-Security" in plain.test_client().get("/", base_url="https://kiosk.school.kz").headers
    forwarded = {"X-Forwarded-Proto": "https"}
    assert "Strict-Transport-Security" not in plain.test_client().get("/", headers=forwarded).headers  # not trusted
    proxied = create_app({"TESTING": True, "CLOCK": clock, "PORTAL": "demo", "TRUSTED_PROXIES": 1})
    assert "Strict-Transport-Security" in proxied.test_client().get("/", headers=forwarded).headers


def test_an_upload_over_the_limit_gets_a_clear_page_and_the_draft_stays(app, client) -> None:
    identify(client, "ru", "meals")
    fill_form(client, "ru", ANSWERS)
    csrf = token(client, "/ru/apply/attachments")
    big = io.BytesIO(b"\xff\xd8" + b"0" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    response = client.post(
        "/ru/apply/attachments",
        data={"file": (big, "photo.jpg"), "csrf_token": csrf},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    page = soup(response)
    assert "больше 30 МБ" in page.select_one("main").get_text()
    assert page.select_one("[data-idle]") is not None  # the idle reset still takes the screen back
    back = page.select_one("[data-back]")["href"]
    assert back == "/ru/apply/attachments"
    form = soup(client.get("/ru/apply/form"))
    assert form.select_one('input[name="child_iin"]')["value"] == CHILD  # what was entered is still there


def test_too_many_form_parts_or_too_long_a_field_is_413(app, client) -> None:
    client.get("/ru/identify?service=meals")
    csrf = token(client, "/ru/identify")
    multipart = {"csrf_token": csrf, **{f"f{i}": "x" for i in range(app.config["MAX_FORM_PARTS"] + 1)}}
    assert client.post("/ru/identify/iin", data=multipart, content_type="multipart/form-data").status_code == 413
    long = {"csrf_token": csrf, "iin": "1" * (app.config["MAX_FORM_MEMORY_SIZE"] + 1)}
    assert client.post("/ru/identify/iin", data=long, content_type="multipart/form-data").status_code == 413


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(4096)


def test_waitress_refuses_an_oversized_request_before_reading_it(app) -> None:
    from kiosk.cli import waitress_options
    from kiosk.portal_sim.server import ServerThread

    with ServerThread(app, **waitress_options(app)) as served:
        port = int(served.url.rsplit(":", 1)[1])
        size = app.config["RUN_MAX_BODY"] + 1
        head = f"POST /ru/apply/attachments HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
        assert _raw(port, head + b"0" * 1024).startswith(b"HTTP/1.1 413")  # only 1 KB of it was sent
        huge_header = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (app.config["RUN_MAX_HEADER_BYTES"] + 1)
        assert _raw(port, huge_header + b"\r\n\r\n").split(b" ")[1] in (b"400", b"431")
        assert _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200")


def test_behind_the_proxy_waitress_passes_on_that_the_request_came_over_tls(app) -> None:
    from kiosk.cli import waitress_options
    from kiosk.portal_sim.server import ServerThread

    for hops, hsts in ((0, False), (1, True)):
        proxied = create_app({"TESTING": True, "PORTAL": "demo", "TRUSTED_PROXIES": hops})
        with ServerThread(proxied, **waitress_options(proxied)) as served:
            port = int(served.url.rsplit(":", 1)[1])
            answer = _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\n\r\n")
        assert (b"Strict-Transport-Security" in answer) is hsts, hops


def test_the_reset_wipes_the_visit_and_the_old_cookie_opens_nothing(app, client) -> None:
    identify(client, "ru", "meals")
    fill_form(client, "ru", ANSWERS)
    old = client.get_cookie("kiosk_visit").value
    response = client.post("/reset")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert client.get_cookie("kiosk_visit") is None
    thief = app.test_client()
    thief.set_cookie("kiosk_visit", old)
    for url in ("/ru/apply/form", "/ru/apply/check", "/ru/identify/done", "/ru/apply/attachments"):
        answer = thief.get(url, follow_redirects=True).get_data(as_text=True)
        assert CHILD not in answer and "Иванова" not in answer and "880412412349" not in answer, url
    with app.app_context(), db.new_session(app) as s:
        import hashlib

        from kiosk.models import Visit

        assert s.get(Visit, hashlib.sha256(old.encode()).hexdigest()) is None  # gone from the server


def test_finish_also_tells_the_browser_to_forget(app, client) -> None:
    identify(client, "ru", "meals")
    csrf = token(client, "/ru/apply/form")
    response = client.post("/ru/receipt/finish", data={"csrf_token": csrf})
    assert response.status_code == 302 and client.get_cookie("kiosk_visit") is None
    assert response.headers.get("Clear-Site-Data") == '"cache", "cookies", "storage"'


def test_a_visit_nobody_reset_expires_on_the_server_unless_the_screen_is_touched(app, client, clock) -> None:
    identify(client, "ru", "meals")
    fill_form(client, "ru", ANSWERS)
    ttl = app.config["VISIT_TTL_S"]
    for _ in range(4):  # typing on the on-screen keyboard: the idle timer's heartbeat every 30 s or so
        clock.now += dt.timedelta(seconds=ttl * 0.8)
        assert client.post("/alive").status_code == 204
    assert soup(client.get("/ru/apply/form")).select_one('input[name="child_iin"]')["value"] == CHILD
    clock.now += dt.timedelta(seconds=ttl + 1)  # the browser died: no heartbeat, no reset
    response = client.get("/ru/apply/form")
    assert response.status_code == 302 and CHILD not in response.get_data(as_text=True)
    with app.app_context(), db.new_session(app) as s:
        from kiosk.models import Visit

        assert s.query(Visit).count() == 0


def test_the_reset_never_signs_staff_out(app, client) -> None:
    from kiosk.cli import main

    runner = app.test_cli_runner()
    runner.invoke(main, ["staff", "add", "aigul", "--role", "admin", "--password-stdin"], input="long password 1\n")
    client.post(
        "/staff/login",
        data={"username": "aigul", "password": "long password 1", "csrf_token": token(client, "/staff/login")},
    )
    client.post("/reset")
    assert client.get("/staff/").status_code == 200
