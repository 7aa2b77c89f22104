"""eGov Mobile by QR code in Chromium, through the simulator over HTTP: the kiosk opens a signing
session for the application's bytes, shows the QR code and polls; the demo parent signs on the
simulator's phone page (its test CA) and the kiosk goes on to the receipt by itself; the worker
then delivers the CMS and the simulator checks it. And the parent who cancels, or declines on
the phone, is back at the other ways to sign."""

from __future__ import annotations

import re

import httpx
import pytest

from fixtures.browser import grade1_to_check, keypad
from fixtures.ecp import trust
from kiosk.jobs.sync import Worker
from kiosk.portal_sim.server import ServerThread
from kiosk.portal_sim.testca import DemoCa

pytestmark = pytest.mark.browser

PARENT = "880412412349"


@pytest.fixture
def kiosk(sim_url: str, instance, ca: DemoCa, clock, kiosk_app):
    clock.set_local(2026, 5, 4)  # grade 1 applications are open
    app = kiosk_app(sim_url, CLOCK=clock, PORTAL_TIMEOUT_S=5.0, EGOV_POLL_S=1)
    trust(app, ca, clock)
    with ServerThread(app, threads=4) as served:
        yield app, served.url


@pytest.fixture
def page(touch_page):
    return touch_page


@pytest.fixture
def phone(chromium):
    """The demo parent's phone: what the QR code opens."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    yield context.new_page()
    context.close()


def _to_check(page, base: str, sim_url: str, lang: str) -> None:
    """The IIN typed, the code read from the simulator's phone, grade 1 filled in, the consent ticked."""
    page.goto(f"{base}/{lang}/identify?service=grade1")
    keypad(page, PARENT)
    page.locator(".iin-way button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/identify/code$"))
    texts = httpx.get(f"{sim_url}/phone/{PARENT}").text
    keypad(page, re.search(r"\b(\d{6})\b", texts).group(1))
    page.locator(".code-form button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/identify/done$"))
    page.locator("[data-continue]").tap()
    grade1_to_check(page, lang)
    page.locator(".consent input").tap()


BUTTON = {"kk": "eGov Mobile арқылы қол қою (QR-код)", "ru": "Подписать в eGov Mobile (QR-код)"}
SIGNED = {"kk": "eGov Mobile қосымшасындағы ЭЦҚ-мен", "ru": "Вашей ЭЦП в приложении eGov Mobile"}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_egov_mobile_qr_signing_through_the_simulator_to_the_receipt(
    kiosk, sim_url, page, phone, artifacts, lang
) -> None:
    app, base = kiosk
    _to_check(page, base, sim_url, lang)
    page.get_by_role("button", name=BUTTON[lang]).tap()
    page.wait_for_url(re.compile(rf"/{lang}/apply/sign/egov$"))
    assert page.locator(".egov-qr svg.qr-code").is_visible()
    assert page.locator("[data-egov-state]").get_attribute("data-egov-state") == "waiting"
    page.screenshot(path=str(artifacts / "1-qr.png"), full_page=True)
    # the phone opens what the QR code carries: the simulator's eGov Mobile page for this session
    url = page.locator("[data-egov-url]").get_attribute("data-egov-url")
    assert url.startswith(sim_url + "/phone/sign/")
    phone.goto(url)
    assert "grade1" in phone.locator("main").inner_text()
    phone.get_by_role("button", name="Sign").tap()
    phone.wait_for_selector('[data-signing-status="signed"]')
    phone.screenshot(path=str(artifacts / "2-phone.png"), full_page=True)
    # the kiosk's page asks again by itself and goes on to the receipt
    page.wait_for_url(re.compile(rf"/{lang}/receipt/\w+$"), timeout=20000)
    for part in ("kk", "ru"):
        assert SIGNED[part] in page.locator(f'[data-receipt-lang="{part}"]').inner_text()
    page.screenshot(path=str(artifacts / "3-receipt.png"), full_page=True)
    # the CMS travels with the application and the central system checks it
    Worker(app, app.extensions["kiosk.portal"]).run_once()
    stats = httpx.get(f"{sim_url}/admin/stats").json()
    assert stats["signatures"] == {"egov_mobile": 1}
    assert stats["applications"] == 1


CANCELLED = {
    "kk": "eGov Mobile арқылы қол қою тоқтатылды",
    "ru": "Подписание в eGov Mobile отменено",
}
DECLINED = {
    "kk": "Сіз eGov Mobile арқылы қол қоюдан бас тарттыңыз",
    "ru": "Вы отказались подписать в eGov Mobile",
}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_the_parent_cancels_at_the_kiosk_or_declines_on_the_phone(kiosk, sim_url, page, phone, artifacts, lang) -> None:
    app, base = kiosk
    _to_check(page, base, sim_url, lang)
    page.get_by_role("button", name=BUTTON[lang]).tap()
    page.wait_for_url(re.compile(rf"/{lang}/apply/sign/egov$"))
    url = page.locator("[data-egov-url]").get_attribute("data-egov-url")
    page.locator("[data-egov-cancel]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/apply/check\?egov=cancelled$"))
    assert CANCELLED[lang] in page.locator(".alert").inner_text()
    assert page.locator('[data-sign="sms"]').is_visible()  # the other ways are back
    phone.goto(url)  # the phone comes too late: the session is closed
    assert phone.locator("[data-signing-status]").get_attribute("data-signing-status") == "cancelled"
    # a new QR code; this time the parent declines on the phone
    page.locator(".consent input").check()
    page.get_by_role("button", name=BUTTON[lang]).tap()
    page.wait_for_url(re.compile(rf"/{lang}/apply/sign/egov$"))
    phone.goto(page.locator("[data-egov-url]").get_attribute("data-egov-url"))
    phone.get_by_role("button", name="Decline").tap()
    page.wait_for_selector('[data-egov-state="ended"]', timeout=20000)
    assert DECLINED[lang] in page.locator(".alert").inner_text()
    page.screenshot(path=str(artifacts / "declined.png"), full_page=True)
    page.locator("[data-egov-back]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/apply/check$"))
    assert httpx.get(f"{sim_url}/admin/stats").json()["applications"] == 0
