"""Sign an application with ЭЦҚ, server side: exactly the application's canonical bytes, the
signing key (an AUTH key refused with its own words), the CMS sealed with the submission, the
method recorded; and an application of a parent with no registered phone goes on signed, not to
the office's queue."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select

from fixtures.ecp import trust
from fixtures.flows import NO_PHONE, child_iin, fill_form, identify, soup, token
from kiosk import db
from kiosk.domain import applications, ecp
from kiosk.domain.submissions import open_payload, open_signature
from kiosk.extensions import keyring
from kiosk.models import State, Submission
from kiosk.portal_sim.testca import DemoCa

PARENT = "880412412349"
CHILD6 = child_iin(dt.date(2020, 3, 3))
GRADE1 = {"child_iin": CHILD6, "child_name": "Нұрлан Әлібек", "grade": "1", "language": "kk"}


@pytest.fixture
def with_ecp(app: Flask, ca: DemoCa, clock) -> Flask:
    clock.set_local(2026, 5, 4)  # grade 1 applications are open
    trust(app, ca, clock)
    return app


def _to_check(client, lang: str, clock) -> tuple[bytes, str]:
    """Identified by card and SMS, the form filled: what the check page gives NCALayer to sign."""
    identify(client, lang, "grade1", clock=clock)
    assert fill_form(client, lang, GRADE1).status_code == 302
    page = soup(client.get(f"/{lang}/apply/check"))
    box = page.select_one("[data-ecp]")
    assert box["data-ecp-eku"] == ecp.SIGNING_EKU  # the signing key, never AUTH
    assert box["data-ecp-action"].endswith(f"/{lang}/apply/sign/ecp")
    assert box["data-ecp-locale"] == lang  # NCALayer's window speaks the parent's language
    return base64.b64decode(box["data-ecp-data"]), page.select_one("form.sign-form input[name=csrf_token]")["value"]


def _post(client, lang: str, cms: bytes, csrf: str, consent: bool = True):
    data = {"cms": base64.b64encode(cms).decode(), "csrf_token": csrf}
    if consent:
        data["consent"] = "y"
    return client.post(f"/{lang}/apply/sign/ecp", data=data)


def _rows(app) -> list[Submission]:
    with app.app_context(), db.new_session(app) as s:
        return list(s.scalars(select(Submission)))


def test_signed_with_the_signing_key_over_the_applications_bytes(with_ecp, client, ca: DemoCa, clock) -> None:
    data, csrf = _to_check(client, "kk", clock)
    signer = ca.person(PARENT, usage="sign", surname="НҰРЛАНҚЫЗЫ", given="АЙГЕРІМ")
    cms = ca.sign(signer, data)
    response = _post(client, "kk", cms, csrf)
    assert response.status_code == 302 and "/kk/receipt/" in response.location
    [row] = _rows(with_ecp)
    assert (row.state, row.signature_method, row.identity_method) == (State.QUEUED, "ecp", "ecp")
    with with_ecp.app_context():
        payload = open_payload(row, keyring())
        kept = open_signature(row, keyring())
    # what NCALayer signed is exactly the canonical bytes of what was queued
    assert data == applications.canonical_bytes(payload)
    assert row.signature is not None and "НҰРЛАНҚЫЗЫ" not in row.signature  # sealed at rest
    assert base64.b64decode(kept["cms"]) == cms
    assert kept["method"] == "ecp" and kept["checked_by"] == "kiosk" and kept["revocation"] == "ocsp"
    assert kept["signer"]["serial"] == f"{signer.cert.serial_number:x}"
    assert kept["signer"]["iin"] == PARENT and "SERIALNUMBER=IIN880412412349" in kept["signer"]["subject"]
    receipt = soup(client.get(response.location))
    assert "ЭЦҚ" in receipt.select_one('[data-receipt-lang="kk"]').text
    assert "ЭЦП" in receipt.select_one('[data-receipt-lang="ru"]').text


def test_an_auth_key_never_signs_an_application(with_ecp, client, ca: DemoCa, clock) -> None:
    data, csrf = _to_check(client, "ru", clock)
    response = _post(client, "ru", ca.sign(ca.person(PARENT, usage="auth"), data), csrf)
    assert response.status_code == 200
    assert "это ключ аутентификации (AUTH)" in soup(response).select_one(".alert").text
    assert _rows(with_ecp) == []
    assert soup(response).select_one("[data-ecp]")  # ЭЦҚ can be tried again, and the SMS code stays
    assert soup(response).select_one('[data-sign="sms"]')


def test_a_signature_over_other_bytes_is_refused(with_ecp, client, ca: DemoCa, clock) -> None:
    data, csrf = _to_check(client, "ru", clock)
    signer = ca.person(PARENT, usage="sign")
    other = data.replace(CHILD6.encode(), child_iin(dt.date(2020, 4, 4)).encode())
    assert other != data
    for cms in (ca.sign(signer, other), ca.sign(signer, other, detached=True)):
        response = _post(client, "ru", cms, csrf)
        assert response.status_code == 200
        assert "Эта подпись поставлена не под этим запросом" in soup(response).select_one(".alert").text
    # the application changed after NCALayer signed it (another tab, Back and Change): refused too
    cms = ca.sign(signer, data)
    assert fill_form(client, "ru", {**GRADE1, "child_name": "Иванова Мария"}).status_code == 302
    response = _post(client, "ru", cms, token(client, "/ru/apply/check"))
    assert "Эта подпись поставлена не под этим запросом" in soup(response).select_one(".alert").text
    assert _rows(with_ecp) == []


def test_another_persons_key_and_no_consent_are_refused(with_ecp, client, ca: DemoCa, clock) -> None:
    data, csrf = _to_check(client, "kk", clock)
    stranger = ca.person("851103323454", usage="sign")
    response = _post(client, "kk", ca.sign(stranger, data), csrf)
    assert "Бұл сертификат басқа адамға тиесілі" in soup(response).select_one(".alert").text
    response = _post(client, "kk", ca.sign(ca.person(PARENT, usage="sign"), data), csrf, consent=False)
    assert response.status_code == 200 and soup(response).select_one(".field-error")
    assert _rows(with_ecp) == []


@pytest.mark.parametrize("cms", [b"", b"garbage", b"\x30\x80"])
def test_garbage_is_a_message_not_a_500(with_ecp, client, clock, cms: bytes) -> None:
    _data, csrf = _to_check(client, "kk", clock)
    response = _post(client, "kk", cms, csrf)
    assert response.status_code == 200
    assert soup(response).select_one(".alert").text.strip()
    assert _rows(with_ecp) == []


def test_no_phone_signed_with_ecp_goes_on_without_the_office(with_ecp, client, ca: DemoCa, clock) -> None:
    """The parent this is for: no registered phone, yet the application goes on signed."""
    client.get("/ru/identify?service=grade1")
    client.post("/ru/identify/iin", data={"iin": NO_PHONE, "csrf_token": token(client, "/ru/identify")})
    client.post("/ru/identify/assisted", data={"csrf_token": token(client, "/ru/identify/help")})
    assert fill_form(client, "ru", GRADE1).status_code == 302
    page = soup(client.get("/ru/apply/check"))
    assert page.select_one('[data-sign="staff"]') and page.select_one('[data-sign="ecp"]')
    data = base64.b64decode(page.select_one("[data-ecp]")["data-ecp-data"])
    csrf = page.select_one("form.sign-form input[name=csrf_token]")["value"]
    response = _post(client, "ru", ca.sign(ca.person(NO_PHONE, usage="sign"), data), csrf)
    assert response.status_code == 302
    [row] = _rows(with_ecp)
    assert (row.state, row.signature_method) == (State.QUEUED, "ecp")


def test_sms_and_office_paths_record_their_method(app, client, clock) -> None:
    from fixtures.flows import apply, apply_assisted

    clock.set_local(2026, 5, 4)
    apply(client, "ru", "grade1", GRADE1, clock)
    other = app.test_client()
    apply_assisted(
        other,
        "ru",
        {"child_iin": child_iin(dt.date(2016, 9, 9), "F"), "child_name": "А Б", "grade": "4", "category": "asp"},
    )
    methods = sorted((r.signature_method, r.identity_method, r.signature) for r in _rows(app))
    assert methods == [("sms", "sms", None), ("staff", "in_person", None)]


def test_no_root_no_ecp_on_the_sign_step(app, client, clock) -> None:
    clock.set_local(2026, 5, 4)
    identify(client, "ru", "grade1", clock=clock)
    fill_form(client, "ru", GRADE1)
    page = soup(client.get("/ru/apply/check"))
    assert page.select_one("[data-ecp]") is None
    response = client.post(
        "/ru/apply/sign/ecp", data={"cms": "x", "consent": "y", "csrf_token": token(client, "/ru/apply/check")}
    )
    assert response.status_code == 302 and _rows(app) == []
