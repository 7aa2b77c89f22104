"""ЭЦҚ in Chromium: identify through a stand-in NCALayer (tests/fixtures/ncalayer_standin.py) signing with a
test PKCS#12 from the test CA, in Kazakh and in Russian, then apply for grade 1 to the receipt,
signed with the SMS code or with the signing key; NCALayer absent, cancelled (on identify and on
the sign step, where the SMS code then signs), answering garbage; an expired key refused with its
own message."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterator

import pytest

from fixtures.browser import grade1_to_check, keypad
from fixtures.ecp import trust
from fixtures.flows import child_iin
from fixtures.ncalayer_standin import StandIn
from kiosk.domain import ecp
from kiosk.portal_sim.testca import DemoCa

pytestmark = pytest.mark.browser

PARENT = "880412412349"  # a demo citizen with a registered phone (+7 701 *** ** 45)
PASSWORD = b"Qwerty12"


@pytest.fixture(scope="module")
def parent_keys(ca: DemoCa) -> list[bytes]:
    """The two key files НУЦ issues a person: AUTH and the signing key."""
    chain = [ca.intermediate]
    return [
        ca.person(PARENT, usage="auth", surname="НҰРЛАНҚЫЗЫ", given="АЙГЕРІМ").p12(PASSWORD, chain),
        ca.person(PARENT, usage="sign", surname="НҰРЛАНҚЫЗЫ", given="АЙГЕРІМ").p12(PASSWORD, chain),
    ]


@pytest.fixture
def standin(parent_keys: list[bytes]) -> Iterator[StandIn]:
    server = StandIn(parent_keys, PASSWORD)
    yield server
    server.close()


@pytest.fixture
def with_ecp(app, ca: DemoCa, standin: StandIn, clock):
    """The app trusts the test CA's root and asks its in-process OCSP responder; NCALayer is the stand-in."""
    app.config["NCALAYER_URL"] = standin.url
    trust(app, ca, clock)
    return app


@pytest.fixture
def context_options() -> dict:
    # the stand-in's TLS certificate is its own, as NCALayer's is on a terminal (where its installer
    # makes the system trust it); the test context does not check it
    return {"ignore_https_errors": True}


@pytest.fixture
def page(touch_page):
    return touch_page


WORDS = {
    "kk": {"button": "ЭЦҚ арқылы қол қою (жеке куәлік немесе кілт файлы)", "done": "Жеке басыңыз расталды"},
    "ru": {"button": "Подписать ЭЦП (удостоверение личности или файл ключа)", "done": "Личность подтверждена"},
}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_identify_with_ecp_then_grade1_to_the_receipt(
    with_ecp, live_server, page, standin, clock, artifacts, lang
) -> None:
    clock.set_local(2026, 5, 4)
    page.goto(f"{live_server}/{lang}/identify?service=grade1")
    page.screenshot(path=str(artifacts / "1-identify.png"), full_page=True)
    page.get_by_role("button", name=WORDS[lang]["button"]).tap()
    page.wait_for_url(re.compile(rf"/{lang}/identify/done$"))
    assert page.locator("h1").inner_text() == WORDS[lang]["done"]
    assert page.locator("[data-name]").inner_text() == "Нұрланқызы Айгерім"
    [request] = standin.requests
    assert (request["module"], request["method"], request["args"]["format"]) == (
        "kz.gov.pki.knca.basics",
        "sign",
        "cms",
    )
    assert request["args"]["signerParams"]["extKeyUsageOids"] == [ecp.AUTH_EKU]
    assert request["args"]["allowedStorages"] == ["AKKZIDCardStore", "PKCS12"]
    assert request["args"]["locale"] == lang
    page.screenshot(path=str(artifacts / "2-done.png"), full_page=True)
    # the application, signed with the SMS code to the phone registered for the IIN the certificate named
    page.locator("[data-continue]").tap()
    grade1_to_check(page, lang)
    page.locator(".consent input").tap()
    page.locator(".sign-form button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/apply/sign$"))
    code = re.search(r"\b(\d{6})\b", page.locator("[data-sms]").first.inner_text()).group(1)
    keypad(page, code)
    page.locator(".code-form button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/receipt/\w+$"))
    assert re.fullmatch(r"\w{3}-\w{3}-\w{3}", page.locator("[data-reference]").inner_text())
    page.screenshot(path=str(artifacts / "3-receipt.png"), full_page=True)


OUTCOMES = {
    "absent": {
        "kk": "NCALayer бұл терминалда іске қосылмаған",
        "ru": "NCALayer не запущен на этом терминале",
    },
    "cancel": {"kk": "Қол қоюдан бас тартылды", "ru": "Подписание отменено"},
    "garbage": {"kk": "Қолтаңба оқылмады", "ru": "Подпись не прочитана"},
}


@pytest.mark.parametrize("lang", ["kk", "ru"])
@pytest.mark.parametrize("mode", ["absent", "cancel", "garbage"])
def test_ncalayer_absent_cancelled_or_garbage(with_ecp, live_server, page, standin, artifacts, mode, lang) -> None:
    if mode == "absent":
        with_ecp.config["NCALAYER_URL"] = "wss://127.0.0.1:9"  # nothing listens there
    standin.mode = mode
    page.goto(f"{live_server}/{lang}/identify")
    page.get_by_role("button", name=WORDS[lang]["button"]).tap()
    where = ".alert" if mode == "garbage" else "[data-ecp-status]"
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel) || {}).textContent?.includes(text)",
        arg=[where, OUTCOMES[mode][lang]],
    )
    assert page.url.endswith(f"/{lang}/identify")
    assert page.locator("#iin").is_visible()  # the SMS way is still there
    assert page.get_by_role("button", name=WORDS[lang]["button"]).is_enabled()  # and ЭЦҚ can be tried again
    page.screenshot(path=str(artifacts / f"{mode}.png"), full_page=True)


def test_an_expired_key_file_is_refused_in_the_parents_language(app, ca: DemoCa, live_server, page, clock) -> None:
    old = ca.person(
        PARENT,
        usage="auth",
        not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )
    server = StandIn([old.p12(PASSWORD, [ca.intermediate])], PASSWORD)
    try:
        app.config["NCALAYER_URL"] = server.url
        trust(app, ca, clock)
        page.goto(f"{live_server}/ru/identify")
        page.get_by_role("button", name=WORDS["ru"]["button"]).tap()
        page.wait_for_selector(".alert")
        assert "Срок действия этого сертификата истёк" in page.locator(".alert").inner_text()
    finally:
        server.close()


def _grade1_to_check(page, live_server, lang: str) -> None:
    """Identify with the AUTH key, fill in grade 1, and stop at "Check your answers"."""
    page.goto(f"{live_server}/{lang}/identify?service=grade1")
    page.get_by_role("button", name=WORDS[lang]["button"]).tap()
    page.wait_for_url(re.compile(rf"/{lang}/identify/done$"))
    page.locator("[data-continue]").tap()
    grade1_to_check(page, lang)


SIGNED = {"kk": "ЭЦҚ-мен (жеке куәлік немесе кілт файлы)", "ru": "Вашей ЭЦП (удостоверение личности или файл ключа)"}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_grade1_signed_with_ecp_to_the_receipt(with_ecp, live_server, page, standin, clock, artifacts, lang) -> None:
    clock.set_local(2026, 5, 4)
    _grade1_to_check(page, live_server, lang)
    sign = page.get_by_role("button", name=WORDS[lang]["button"])
    assert page.locator('[data-sign="sms"]').is_visible()  # beside the SMS code
    sign.tap()  # consent not ticked yet: the page says so before NCALayer asks for a PIN
    assert page.locator("[data-ecp-status]").get_attribute("data-ecp-outcome") == "consent"
    assert len(standin.requests) == 1  # only the identification
    page.locator(".consent input").tap()
    page.screenshot(path=str(artifacts / "1-check.png"), full_page=True)
    sign.tap()
    page.wait_for_url(re.compile(rf"/{lang}/receipt/\w+$"))
    request = standin.requests[-1]
    assert request["args"]["signerParams"]["extKeyUsageOids"] == [ecp.SIGNING_EKU]  # the signing key, not AUTH
    assert request["args"]["locale"] == lang
    signed = json.loads(base64.b64decode(request["args"]["data"]))
    assert signed["service"] == "grade1" and signed["applicant"]["iin"] == PARENT
    assert signed["answers"]["child_iin"] == child_iin(dt.date(2020, 3, 3))
    assert re.fullmatch(r"\w{3}-\w{3}-\w{3}", page.locator("[data-reference]").inner_text())
    for part_lang in ("kk", "ru"):
        assert SIGNED[part_lang] in page.locator(f'[data-receipt-lang="{part_lang}"]').inner_text()
    page.screenshot(path=str(artifacts / "2-receipt.png"), full_page=True)


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_the_parent_cancels_signing_and_the_sms_code_signs(
    with_ecp, live_server, page, standin, clock, artifacts, lang
) -> None:
    clock.set_local(2026, 5, 4)
    _grade1_to_check(page, live_server, lang)
    page.locator(".consent input").tap()
    standin.mode = "cancel"
    page.get_by_role("button", name=WORDS[lang]["button"]).tap()
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel) || {}).textContent?.includes(text)",
        arg=["[data-ecp-status]", OUTCOMES["cancel"][lang]],
    )
    assert page.url.endswith(f"/{lang}/apply/check")
    assert page.get_by_role("button", name=WORDS[lang]["button"]).is_enabled()  # ЭЦҚ can be tried again
    page.screenshot(path=str(artifacts / "1-cancelled.png"), full_page=True)
    page.locator('[data-sign="sms"]').tap()  # and the SMS code is still there
    page.wait_for_url(re.compile(rf"/{lang}/apply/sign$"))
    code = re.search(r"\b(\d{6})\b", page.locator("[data-sms]").first.inner_text()).group(1)
    keypad(page, code)
    page.locator(".code-form button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/receipt/\w+$"))
    sms = {"kk": "Тіркелген телефоныңызға жіберілген SMS-кодпен", "ru": "SMS-кодом, отправленным на ваш"}
    assert sms[lang] in page.locator(f'[data-receipt-lang="{lang}"]').inner_text()
