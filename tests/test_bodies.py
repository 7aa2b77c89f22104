"""Bodies nobody meant to send: refused by kind and size before anything parses them, with the
visitor's page in their language; and a file too large, sent anyway, meets Flask's page, not waitress's."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from bs4 import BeautifulSoup
from werkzeug.formparser import FormDataParser

from fixtures.bodies import ROUTES, UPLOAD, bodies
from fixtures.flows import child_iin, fill_form, identify, meals, soup
from kiosk.cli import waitress_options
from kiosk.portal_sim.server import ServerThread

MB = 1024 * 1024
EIGHT_MB = 8 * MB
ANSWERS = meals(child_iin(dt.date(2016, 3, 3)))


def _bodies(size: int) -> dict[str, tuple[str, bytes]]:
    """Every kind the bench posts, and text and no type at all."""
    filler = b"x" * size
    return {**bodies(size), "text": ("text/plain", filler), "no type": ("", filler)}


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int | None]]:
    """Every body Werkzeug's form parser is asked to parse: (kind, length)."""
    seen: list[tuple[str, int | None]] = []
    parse = FormDataParser.parse

    def probe(self, stream, mimetype, content_length, options=None):
        seen.append((mimetype, content_length))
        return parse(self, stream, mimetype, content_length, options)

    monkeypatch.setattr(FormDataParser, "parse", probe)
    return seen


def _lang(route: str) -> str:
    return "ru" if route.startswith("/ru/") else "kk"  # no language in the address: the default


@pytest.mark.parametrize("route", ROUTES)
def test_8_mb_of_any_kind_is_refused_before_it_is_parsed(client, parsed, route: str) -> None:
    for kind, (content_type, body) in _bodies(EIGHT_MB).items():
        headers = {"Content-Type": content_type} if content_type else {}
        answer = client.post(route, data=body, headers=headers)
        expected = 415 if kind in ("JSON", "octet-stream", "text", "no type") else 413
        if route == UPLOAD and kind.startswith("multipart"):
            # the one endpoint that takes a file parses it (spooled to disk); a text part that long
            # is still refused, and a file without a visit and its token goes nowhere
            assert answer.status_code in (400, 413), (kind, answer.status_code)
            continue
        assert answer.status_code == expected, (route, kind, answer.status_code)
        page = soup(answer)
        assert page.html["lang"] == _lang(route), (route, kind)
        title = page.select_one("main h1").get_text()
        if route.startswith("/staff/"):  # the console's own page, its way back into the console
            assert title == {413: "Жіберу үшін тым үлкен", 415: "Бұл сұрауды орындау мүмкін емес"}[expected], title
            assert page.select_one('main a[href^="/staff/"]') is not None, (route, kind)
            continue
        assert (
            title == {"ru": "Этот запрос не может быть выполнен", "kk": "Бұл сұрауды орындау мүмкін емес"}[_lang(route)]
        ), (route, kind, title)
        assert page.select_one('main a[href$="/services"]') is not None  # the way back
        assert page.select_one("[data-idle]") is not None  # and the idle reset
    refused_unparsed = [p for p in parsed if not (route == UPLOAD and p[0] == "multipart/form-data")]
    assert refused_unparsed == []


@pytest.mark.parametrize("route", ROUTES)
def test_the_forms_a_visitor_sends_still_get_through(client, parsed, route: str) -> None:
    """A form of the usual kind and size is parsed: the limit is above the longest real form."""
    fields = {f"field{i}": "Әлібек-Нұрлан Ёлкина Һ" * 9 for i in range(20)}  # 20 fields of ~200 letters
    answer = client.post(route, data=fields)
    assert answer.status_code not in (413, 415, 500), answer.status_code
    if route not in ("/reset", "/alive", "/ru/help"):  # these take no form at all
        assert parsed and parsed[-1][0] == "application/x-www-form-urlencoded"
    assert client.post("/alive").status_code == 204  # the heartbeat posts nothing


def test_a_file_too_large_sent_anyway_gets_the_visitors_page_not_waitresss(app, client, clock) -> None:
    """The page refuses a file over the limit before sending; sent anyway (no script, an old page), the
    largest body waitress takes is still answered by Flask, in the visitor's language, with the way back."""
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", ANSWERS)
    cookie = client.get_cookie("kiosk_visit").value
    with ServerThread(app, **waitress_options(app)) as served, httpx.Client(base_url=served.url, timeout=120) as web:
        web.cookies.set("kiosk_visit", cookie)
        just_under_waitress = app.config["RUN_MAX_BODY"] - 64 * 1024
        answer = web.post(UPLOAD, files={"file": ("scan.png", b"\x89PNG" + b"0" * just_under_waitress)})
        assert answer.status_code == 413
        assert "Request Entity Too Large" not in answer.text
        page = BeautifulSoup(answer.text, "html.parser")
        assert page.html["lang"] == "ru"
        assert "Этот файл больше 30 МБ" in page.select_one("main").get_text()
        assert page.select_one("[data-back]")["href"] == UPLOAD
        assert page.select_one("[data-idle]") is not None
        back = web.get(UPLOAD)
        assert back.status_code == 200 and "Фотографии документов" in back.text


def test_a_chunked_body_is_held_to_the_same_limits(live_server: str) -> None:
    """Without a Content-Length (chunked), waitress counts the body and tells Flask its length."""

    def chunks():
        for _ in range(128):  # 8 MB
            yield b"iin=" + b"1" * 65532

    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = httpx.post(live_server + "/ru/identify/iin", content=chunks(), headers=headers, timeout=60)
    assert answer.status_code == 413
    assert BeautifulSoup(answer.text, "html.parser").html["lang"] == "ru"
    as_json = {"Content-Type": "application/json"}
    assert httpx.post(live_server + "/alive", content=iter([b"{}"]), headers=as_json).status_code == 415
