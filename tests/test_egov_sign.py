"""eGov Mobile by QR code, server side, against the simulator over HTTP: the session holds exactly
the application's bytes; the kiosk stops waiting at its deadline; a CMS the kiosk cannot trust is
refused like one from NCALayer; without a central system that opens sessions, no QR code is offered."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re

import httpx
import pytest
from sqlalchemy import func, select

from fixtures.ecp import trust
from fixtures.flows import child_iin, fill_form, soup, token
from kiosk import db
from kiosk.models import Submission
from kiosk.portal_sim.testca import DemoCa

PARENT = "880412412349"
GRADE1 = {"child_iin": child_iin(dt.date(2020, 3, 3)), "child_name": "А Б", "grade": "1", "language": "ru"}


@pytest.fixture
def kiosk(sim_url: str, instance, ca: DemoCa, clock, kiosk_app):
    clock.set_local(2026, 5, 4)
    app = kiosk_app(sim_url, CLOCK=clock, PORTAL_TIMEOUT_S=5.0, EGOV_WAIT_S=60)
    trust(app, ca, clock)
    return app


def _to_qr(client, sim_url: str) -> str:
    """Identified by the IIN and the code on the simulator's phone, grade 1 filled, the QR code shown."""
    client.get("/ru/identify?service=grade1")
    client.post("/ru/identify/iin", data={"iin": PARENT, "csrf_token": token(client, "/ru/identify")})
    code = re.search(r"\b(\d{6})\b", httpx.get(f"{sim_url}/phone/{PARENT}").text).group(1)
    client.post("/ru/identify/code", data={"code": code, "csrf_token": token(client, "/ru/identify/code")})
    assert fill_form(client, "ru", GRADE1).status_code == 302
    check = soup(client.get("/ru/apply/check"))
    assert check.select_one('[data-sign="egov_mobile"]')
    response = client.post("/ru/apply/sign/egov", data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")})
    assert response.status_code == 302 and response.location.endswith("/ru/apply/sign/egov")
    return soup(client.get("/ru/apply/sign/egov")).select_one("[data-egov-url]")["data-egov-url"]


def _count(app) -> int:
    with app.app_context(), db.new_session(app) as s:
        return s.scalar(select(func.count(Submission.id))) or 0


def test_the_phone_gets_exactly_the_applications_bytes(kiosk, sim_url) -> None:
    client = kiosk.test_client()
    url = _to_qr(client, sim_url)
    page = httpx.get(url).text
    assert "grade1" in page and "2026" in page
    sha = re.search(r"<code>([0-9a-f]{64})</code>", page).group(1)
    ncalayer_bytes = base64.b64decode(soup(client.get("/ru/apply/check")).select_one("[data-ecp]")["data-ecp-data"])
    assert hashlib.sha256(ncalayer_bytes).hexdigest() == sha  # the same bytes NCALayer would sign


def test_the_kiosk_stops_waiting_at_its_deadline(kiosk, sim_url, clock) -> None:
    client = kiosk.test_client()
    url = _to_qr(client, sim_url)
    clock.now += dt.timedelta(seconds=kiosk.config["EGOV_WAIT_S"] + 1)
    fragment = client.get("/ru/apply/sign/egov/status", headers={"HX-Request": "true"})
    assert 'data-egov-state="ended"' in fragment.get_data(as_text=True)
    assert "Время на подпись в eGov Mobile истекло" in soup(fragment).select_one(".alert").text
    assert "hx-trigger" not in fragment.get_data(as_text=True)  # the polling stops
    assert 'data-signing-status="cancelled"' in httpx.get(url).text  # and the phone can no longer sign
    assert client.get("/ru/apply/sign/egov").location.endswith("/ru/apply/check")


def test_a_cms_from_an_untrusted_ca_is_refused(kiosk, sim_url, clock) -> None:
    other = DemoCa(name="OTHER")
    trust(kiosk, other, clock)
    client = kiosk.test_client()
    url = _to_qr(client, sim_url)
    httpx.post(url, data={"answer": "sign"})
    page = soup(client.get("/ru/apply/sign/egov"))
    assert "выдан не Национальным удостоверяющим центром" in page.select_one(".alert").text
    assert _count(kiosk) == 0


def test_signed_on_the_phone_goes_to_the_receipt_without_script(kiosk, sim_url) -> None:
    client = kiosk.test_client()
    url = _to_qr(client, sim_url)
    assert 'data-egov-state="waiting"' in client.get("/ru/apply/sign/egov").get_data(as_text=True)
    httpx.post(url, data={"answer": "sign"})
    response = client.get("/ru/apply/sign/egov")  # "I have signed: check now"
    assert response.status_code == 302 and "/ru/receipt/" in response.location
    assert _count(kiosk) == 1


def test_no_qr_code_without_a_central_system_that_opens_sessions(app, client, clock, ca: DemoCa) -> None:
    from fixtures.flows import identify

    clock.set_local(2026, 5, 4)
    trust(app, ca, clock)
    identify(client, "ru", "grade1", clock=clock)
    fill_form(client, "ru", GRADE1)
    page = soup(client.get("/ru/apply/check"))
    assert page.select_one("[data-ecp]") and not page.select_one('[data-sign="egov_mobile"]')
    response = client.post("/ru/apply/sign/egov", data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")})
    assert response.status_code == 302 and response.location.endswith("/ru/apply/check")


def test_the_demo_kiosk_trusts_its_simulators_test_ca_from_qr_code_to_delivery(instance) -> None:
    """``make run`` on its defaults: the kiosk with the simulator inside it offers eGov Mobile, takes
    the CMS the simulator's phone page signs with its test CA, and the simulator accepts it in turn."""
    import socket

    from fixtures.flows import identify, meals
    from kiosk import create_app
    from kiosk.cli import start_embedded_simulator
    from kiosk.jobs.sync import Worker

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app({"TESTING": True, "SIM_PORT": port})  # no PORTAL, no DEMO: the defaults
    assert app.config["PORTAL"] == "embedded" and app.config["DEMO"] is True
    db.upgrade(app)
    served = start_embedded_simulator(app)
    try:
        client = app.test_client()
        identify(client, "ru", "meals")  # the card, and the code on the demo phone
        assert fill_form(client, "ru", meals(child_iin(dt.date(2016, 9, 9), "F"))).status_code == 302
        assert soup(client.get("/ru/apply/check")).select_one('[data-sign="egov_mobile"]')
        response = client.post(
            "/ru/apply/sign/egov", data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")}
        )
        assert response.location.endswith("/ru/apply/sign/egov")
        url = soup(client.get("/ru/apply/sign/egov")).select_one("[data-egov-url]")["data-egov-url"]
        assert url.startswith(f"{served.url}/phone/sign/")
        httpx.post(url, data={"answer": "sign"})  # the demo parent signs on the simulated phone
        response = client.get("/ru/apply/sign/egov")
        assert response.status_code == 302 and "/ru/receipt/" in response.location, soup(response).select_one(".alert")
        assert _count(app) == 1
        Worker(app, app.extensions["kiosk.portal"]).run_once()
        assert httpx.get(f"{served.url}/admin/stats").json()["signatures"] == {"egov_mobile": 1}
    finally:
        served.stop()
        app.extensions["kiosk.portal"].close()
        db.engine(app).dispose()
