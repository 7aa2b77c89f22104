"""The signature travels with the application: the worker sends the method and the CMS, the
simulator checks the CMS over the application's bytes with the test CA, staff see who signed with
which certificate and how it was checked."""

from __future__ import annotations

import base64
import datetime as dt

from sqlalchemy import select

from fixtures.ecp import trust
from fixtures.flows import child_iin, fill_form, identify, meals, soup, token
from fixtures.staff import sign_in
from fixtures.submissions import queue_one
from kiosk import db
from kiosk.extensions import keyring
from kiosk.jobs.sync import Worker, application_body
from kiosk.models import State, Submission
from kiosk.portal_sim.testca import DemoCa

PARENT = "880412412349"


def _queue_signed(app, n: int, sign) -> None:
    """An application per ``n``, its CMS made by ``sign(canonical bytes)`` (None: SMS-signed)."""

    def record(signed: bytes) -> dict | None:
        if sign is None:
            return None
        return {"method": "ecp", "cms": base64.b64encode(sign(signed)).decode(), "signer": {}, "checked_by": "kiosk"}

    with app.test_request_context("/ru/"), db.new_session(app) as s:
        queue_one(
            s,
            meals(child_iin(dt.date(2012, 1, 1) + dt.timedelta(days=n))),
            now=dt.datetime.now(dt.UTC),
            signature=record,
        )
        s.commit()


def _delivered(app) -> dict[str, tuple[str, str | None]]:
    with app.app_context(), db.new_session(app) as s:
        return {
            r.child_iin_hash: (r.state, r.last_error) for r in s.scalars(select(Submission).order_by(Submission.id))
        }


def test_the_cms_goes_with_the_application_and_the_simulator_checks_it(
    sim_url, instance, ca: DemoCa, kiosk_app
) -> None:
    import httpx

    app = kiosk_app(sim_url)
    signer = ca.person(PARENT, usage="sign")
    stranger = DemoCa(name="OTHER")  # a CA the central system does not trust
    cases = [
        lambda data: ca.sign(signer, data),  # good
        lambda data: ca.sign(signer, data + b" "),  # over other bytes
        lambda data: ca.sign(ca.person(PARENT, usage="auth"), data),  # the AUTH key
        lambda data: ca.sign(ca.person("851103323454", usage="sign"), data),  # another person
        lambda data: ca.sign(signer, data, detached=True),  # nothing shows what was signed
        lambda data: stranger.sign(stranger.person(PARENT, usage="sign"), data),  # unknown root
        None,  # an SMS-signed one beside them
    ]
    for n, case in enumerate(cases):
        _queue_signed(app, n, case)
    with app.app_context(), db.new_session(app) as s:
        first = s.scalars(select(Submission).order_by(Submission.id)).first()
        body = application_body(first, keyring())
    assert body["signature"]["method"] == "ecp" and body["identity"] == "ecp"
    assert body["signature"]["checked_by"] == "kiosk" and base64.b64decode(body["signature"]["cms"])
    Worker(app, app.extensions["kiosk.portal"]).run_once()
    results = list(_delivered(app).values())
    assert results[0] == (State.DELIVERED, None)
    assert results[-1] == (State.DELIVERED, None)
    for state, error in results[1:-1]:
        assert state == State.NEEDS_STAFF
        assert error.startswith("422") and "signature" in error
    stats = httpx.get(f"{sim_url}/admin/stats").json()
    assert stats["signatures"] == {"ecp": 1, "sms": 1}


def test_staff_see_who_signed_with_which_certificate(app, client, clock, staff) -> None:
    ca = DemoCa()
    clock.set_local(2026, 5, 4)
    trust(app, ca, clock)
    identify(client, "ru", "grade1", clock=clock)
    fill_form(
        client, "ru", {"child_iin": child_iin(dt.date(2020, 3, 3)), "child_name": "А Б", "grade": "1", "language": "ru"}
    )
    page = soup(client.get("/ru/apply/check"))
    data = base64.b64decode(page.select_one("[data-ecp]")["data-ecp-data"])
    signer = ca.person(PARENT, usage="sign", surname="НҰРЛАНҚЫЗЫ", given="АЙГЕРІМ")
    response = client.post(
        "/ru/apply/sign/ecp",
        data={
            "cms": base64.b64encode(ca.sign(signer, data)).decode(),
            "consent": "y",
            "csrf_token": token(client, "/ru/apply/check"),
        },
    )
    reference = response.location.rsplit("/", 1)[-1]
    staff_client = app.test_client()
    sign_in(staff_client, lang="ru")
    view = soup(staff_client.get(f"/staff/submissions/{reference}"))
    assert view.select_one("[data-signature-method]").text == "ЭЦП через NCALayer на терминале"
    assert view.select_one("[data-signer]").text.strip() == f"НҰРЛАНҚЫЗЫ АЙГЕРІМ {PARENT}"
    assert view.select_one("[data-serial]").text == f"{signer.cert.serial_number:x}"
    assert "SERIALNUMBER=IIN880412412349" in view.select_one("[data-subject]").text
    assert view.select_one("[data-issuer]").text.startswith("ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ")
    assert (
        view.select_one("[data-checked-by]").text
        == "Проверено здесь: подпись, цепочка до корневого сертификата НУЦ, отзыв (OCSP)"
    )


def test_staff_read_a_gost_signature_as_not_verified_here(app, client, staff) -> None:
    """What a GOST key without a verifier service leaves: staff read it was not verified here."""
    with app.test_request_context("/ru/"), db.new_session(app) as s:
        record = {
            "method": "ecp",
            "cms": "MIIB",
            "signer": {"iin": PARENT, "name": "Т", "serial": "1f", "issuer": "ҰКО (GOST)", "subject": "CN=Т"},
            "signed_at": None,
            "checked_by": "not_verified_here",
            "revocation": "none",
        }
        reference = queue_one(
            s,
            meals(child_iin(dt.date(2012, 1, 1)), child_name="А"),
            now=dt.datetime.now(dt.UTC),
            signature=lambda _signed: record,
        ).reference
        s.commit()
    sign_in(client, lang="ru")
    view = soup(client.get(f"/staff/submissions/{reference}"))
    assert view.select_one("[data-checked-by]").text == "Не проверено здесь (ГОСТ): проверяет центральная система"
