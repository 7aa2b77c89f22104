"""Identify with ЭЦҚ, server side: the challenge, its single use, the refusals' words, the CSP."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest
from flask import Flask

from fixtures.ecp import trust
from fixtures.flows import child_iin, soup
from kiosk.domain import ecp
from kiosk.portal_sim.testca import DemoCa
from kiosk.web.ecp import refusal_message

PARENT = "880412412349"


@pytest.fixture
def with_ecp(app: Flask, ca: DemoCa, clock) -> Flask:
    trust(app, ca, clock)
    return app


def _challenge(client, lang: str = "ru") -> tuple[bytes, str]:
    page = soup(client.get(f"/{lang}/identify"))
    box = page.select_one("[data-ecp]")
    return base64.b64decode(box["data-ecp-data"]), page.select_one("[data-ecp-form] input[name=csrf_token]")["value"]


def _post(client, cms: bytes, token: str, lang: str = "ru"):
    return client.post(f"/{lang}/identify/ecp", data={"cms": base64.b64encode(cms).decode(), "csrf_token": token})


def test_no_root_installed_no_ecp_offered(client) -> None:
    response = client.get("/ru/identify")
    assert soup(response).select_one("[data-ecp]") is None
    assert "127.0.0.1:13579" not in response.headers["Content-Security-Policy"]


def test_with_a_root_the_csp_names_ncalayer_and_nothing_else(with_ecp, client) -> None:
    csp = client.get("/ru/identify").headers["Content-Security-Policy"]
    assert re.search(r"connect-src 'self' wss://127\.0\.0\.1:13579(;|$)", csp)


def test_the_auth_key_identifies_and_the_challenge_is_single_use(with_ecp, client, ca: DemoCa) -> None:
    data, token = _challenge(client)
    assert b"kiosk=kiosk-1" in data
    cms = ca.sign(ca.person(PARENT, usage="auth", surname="НҰРЛАНҚЫЗЫ", given="АЙГЕРІМ"), data)
    response = _post(client, cms, token)
    assert response.status_code == 302 and response.location.endswith("/ru/identify/done")
    done = soup(client.get("/ru/identify/done"))
    assert done.select_one("[data-method]")["data-method"] == "ecp"
    assert done.select_one("[data-name]").text == "Нұрланқызы Айгерім"
    # the same CMS again, in another visit (a replay), proves nothing: its challenge is not that visit's
    other = with_ecp.test_client()
    _data, token = _challenge(other)
    again = _post(other, cms, token)
    assert again.status_code == 200
    assert "Эта подпись поставлена не под этим запросом" in soup(again).select_one(".alert").text


def test_a_childs_certificate_does_not_identify(with_ecp, client, ca: DemoCa) -> None:
    data, token = _challenge(client)
    child = ca.person(child_iin(dt.date(2012, 3, 3)), usage="auth")
    page = soup(_post(client, ca.sign(child, data), token))
    assert "18" in page.select_one(".alert").text


@pytest.mark.parametrize("cms", [b"", b"garbage", b"\x30\x80"])
def test_garbage_is_a_message_not_a_500(with_ecp, client, cms: bytes) -> None:
    _data, token = _challenge(client)
    response = _post(client, cms, token)
    assert response.status_code == 200
    assert soup(response).select_one(".alert").text.strip()


def test_not_base64_at_all(with_ecp, client) -> None:
    _data, token = _challenge(client)
    response = client.post("/kk/identify/ecp", data={"cms": "%%% not base64 %%%", "csrf_token": token})
    assert "Қолтаңба оқылмады" in soup(response).select_one(".alert").text


def test_every_refusal_has_its_own_words_in_each_language(app: Flask) -> None:
    from flask_babel import force_locale

    pairs = [(p, ecp.Purpose.SIGN) for p in ecp.Problem] + [(ecp.Problem.WRONG_KEY, ecp.Purpose.IDENTIFY)]
    for lang in ("kk", "ru", "en"):
        with app.test_request_context(f"/{lang}/identify"), force_locale(lang):
            words = [refusal_message(p, purpose) for p, purpose in pairs]
        assert len(set(words)) == len(words), lang
        if lang != "en":  # translated, not the English source
            with app.test_request_context("/en/identify"), force_locale("en"):
                english = [refusal_message(p, purpose) for p, purpose in pairs]
            assert not set(words) & set(english), lang
