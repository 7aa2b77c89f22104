"""Post/redirect/get: every form that succeeds answers with a redirect, found from the app's URL map.

A page shown in answer to a POST is a POST in the browser's history: with `no-store` pages, Back
to it shows Chrome's English "Confirm Form Resubmission" and reload sends the form again (a
second call for staff, a second look-up). So every POST route is listed here with a way to make
it succeed, or with the reason it answers otherwise; a new POST route fails this test until it is.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pytest
from PIL import Image
from sqlalchemy import select

from fixtures.ecp import trust
from fixtures.flows import CARD, NO_PHONE, PARENT, apply, child_iin, demo_code, fill_form, identify, meals, soup, token
from kiosk import db
from kiosk.cli import main
from kiosk.models import Attachment, State, Submission

CHILD = child_iin(dt.date(2016, 9, 9), "F")
ANSWERS = meals(CHILD)
BLUEPRINTS = ("visitor", "identify", "apply", "receipt", "status", "staff")
PASSWORD = "correct horse battery"

# POST routes that answer a successful request with no page to keep in the history, and why
NOT_A_PAGE = {
    "visitor.alive": "the idle timer's heartbeat, sent by fetch(), never a navigation: 204 and no body",
    "staff.privacy_report": "the IIN report answers as the page to print: the IIN stays in the body, never in "
    "an address a redirect would put it in",
}


def _post(client, url: str, page: str, **data):
    return client.post(url, data={**data, "csrf_token": token(client, page)})


def _jpeg() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, "JPEG")
    out.seek(0)
    return out


def _upload(client):
    return client.post(
        "/ru/apply/attachments",
        data={"file": (_jpeg(), "photo.jpg"), "csrf_token": token(client, "/ru/apply/attachments")},
        content_type="multipart/form-data",
    )


def _at_form(client, clock) -> None:
    identify(client, "ru", "meals", clock=clock)
    assert fill_form(client, "ru", ANSWERS).status_code == 302


def _at_sign(client, clock) -> None:
    _at_form(client, clock)
    clock.now += dt.timedelta(seconds=61)
    assert _post(client, "/ru/apply/check", "/ru/apply/check", consent="y").status_code == 302


def _at_receipt(client, clock) -> str:
    return apply(client, "ru", "meals", ANSWERS, clock)


def _card(client, clock):
    client.get("/ru/identify?service=meals")

    return _post(client, "/ru/identify/card", "/ru/identify", mrz=CARD)


def _staff(client, app):
    runner = app.test_cli_runner()
    added = runner.invoke(main, ["staff", "add", "aigul", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    return _post(client, "/staff/login", "/staff/login", username="aigul", password=PASSWORD)


def _submission(app) -> Submission:
    with app.app_context(), db.new_session(app) as s:
        return s.scalars(select(Submission)).one()


def call_staff(client, app, clock):
    response = client.post("/ru/help", data={"screen": "visitor.services"})
    page = soup(client.get(response.headers["Location"]))
    assert page.select_one("[data-help-called]") is not None  # the page it leads to says so
    return response


def reset(client, app, clock):
    return client.post("/reset")


def identify_card(client, app, clock):
    return _card(client, clock)


def identify_iin(client, app, clock):
    client.get("/ru/identify?service=meals")
    return _post(client, "/ru/identify/iin", "/ru/identify", iin=PARENT)


def identify_assisted(client, app, clock):
    client.get("/ru/identify?service=meals")
    _post(client, "/ru/identify/iin", "/ru/identify", iin=NO_PHONE)
    return _post(client, "/ru/identify/assisted", "/ru/identify/help")


def apply_form(client, app, clock):
    identify(client, "ru", "meals", clock=clock)
    return fill_form(client, "ru", ANSWERS)


def apply_attachments(client, app, clock):
    _at_form(client, clock)
    return _upload(client)


def apply_remove(client, app, clock):
    _at_form(client, clock)
    _upload(client)
    with app.app_context(), db.new_session(app) as s:
        attachment = s.scalars(select(Attachment)).one()
    url = f"/ru/apply/attachments/{attachment.id}/remove"
    return _post(client, url, "/ru/apply/attachments")


def apply_check(client, app, clock):
    _at_form(client, clock)
    clock.now += dt.timedelta(seconds=61)
    return _post(client, "/ru/apply/check", "/ru/apply/check", consent="y")


def _code_from_the_phone(at: Callable, page: str) -> Callable:
    """Where ``at`` leads (a page that asks for the code sent by SMS), the code from the demo phone."""

    def recipe(client, app, clock):
        at(client, clock)
        return _post(client, page, page, code=demo_code(client, page))

    return recipe


def _sent_again(at: Callable, url: str, page: str) -> Callable:
    """Where ``at`` leads, a minute later: "send the code again"."""

    def recipe(client, app, clock):
        at(client, clock)
        clock.now += dt.timedelta(seconds=61)
        return _post(client, url, page)

    return recipe


identify_code = _code_from_the_phone(_card, "/ru/identify/code")
identify_resend = _sent_again(_card, "/ru/identify/resend", "/ru/identify/code")
apply_sign = _code_from_the_phone(_at_sign, "/ru/apply/sign")
apply_resend = _sent_again(_at_sign, "/ru/apply/sign/resend", "/ru/apply/sign")


def receipt_escpos(client, app, clock):
    location = _at_receipt(client, clock)
    return _post(client, location + "/escpos", location)


def receipt_finish(client, app, clock):
    location = _at_receipt(client, clock)
    return _post(client, "/ru/receipt/finish", location)


def status_lookup(client, app, clock):
    location = _at_receipt(client, clock)
    reference = soup(client.get(location)).select_one("[data-reference]").get_text()
    other = app.test_client()
    response = _post(other, "/ru/status", "/ru/status", reference=reference, iin=PARENT)
    page = soup(other.get(response.headers["Location"]))
    assert page.select_one("[data-state]") is not None  # the page it leads to shows the status
    return response


def staff_login(client, app, clock):
    return _staff(client, app)


def staff_logout(client, app, clock):
    _staff(client, app)
    return _post(client, "/staff/logout", "/staff/")


def staff_answer_call(client, app, clock):
    app.test_client().post("/ru/help", data={"screen": "visitor.services"})
    _staff(client, app)
    call = soup(client.get("/staff/")).select_one("[data-call] form")
    return _post(client, call["action"], "/staff/")


def staff_submission_action(client, app, clock):
    _at_receipt(client, clock)
    reference = _submission(app).reference
    _staff(client, app)
    url = f"/staff/submissions/{reference}"
    return _post(client, f"{url}/cancel", url, reason="Родитель передумал")


def staff_reconcile(client, app, clock):
    _at_receipt(client, clock)
    with app.app_context(), db.new_session(app) as s:  # the kiosk believes it delivered; the listing is empty
        row = s.scalars(select(Submission)).one()
        row.state = State.DELIVERED
        s.commit()
    app.extensions["kiosk.portal"].listing = lambda start, end: []
    _staff(client, app)
    day = clock.now.date().isoformat()
    url = f"/staff/reconcile?from={day}&to={day}"
    key = soup(client.get(url)).select_one('[data-difference] input[name="key"]')["value"]
    return _post(client, "/staff/reconcile", url, key=key, **{"from": day, "to": day})


def _with_ecp(app, clock):
    """The test CA's root installed; the CA itself, to sign with."""
    from kiosk.portal_sim.testca import DemoCa

    ca = DemoCa()
    trust(app, ca, clock)
    return ca


def identify_ecp(client, app, clock):
    import base64

    ca = _with_ecp(app, clock)
    page = soup(client.get("/ru/identify?service=meals"))
    data = base64.b64decode(page.select_one("[data-ecp]")["data-ecp-data"])
    cms = base64.b64encode(ca.sign(ca.person(PARENT, usage="auth"), data)).decode()
    csrf = page.select_one("[data-ecp-form] input[name=csrf_token]")["value"]  # a new GET: a new challenge
    return client.post("/ru/identify/ecp", data={"cms": cms, "csrf_token": csrf})


def apply_sign_ecp(client, app, clock):
    import base64

    ca = _with_ecp(app, clock)
    _at_form(client, clock)
    data = base64.b64decode(soup(client.get("/ru/apply/check")).select_one("[data-ecp]")["data-ecp-data"])
    cms = base64.b64encode(ca.sign(ca.person(PARENT, usage="sign"), data)).decode()
    return _post(client, "/ru/apply/sign/ecp", "/ru/apply/check", consent="y", cms=cms)


def _with_egov(app, clock) -> None:
    """A central system that opens eGov Mobile signing sessions (the HTTP one does; the demo one not)."""
    from kiosk.clients.portal import SigningSession

    _with_ecp(app, clock)
    portal = app.extensions["kiosk.portal"]
    session = SigningSession(
        "0" * 32, "waiting", "http://sim.invalid/phone/sign/" + "0" * 32, clock.now + dt.timedelta(minutes=5)
    )
    portal.offers_egov_signing = True
    portal.open_signing = lambda iin, payload_hash, document, lang: session
    portal.signing_session = lambda session_id: session
    portal.cancel_signing = lambda session_id: session


def apply_sign_egov(client, app, clock):
    _with_egov(app, clock)
    _at_form(client, clock)
    return _post(client, "/ru/apply/sign/egov", "/ru/apply/check", consent="y")


def apply_egov_cancel(client, app, clock):
    apply_sign_egov(client, app, clock)
    return _post(client, "/ru/apply/sign/egov/cancel", "/ru/apply/sign/egov")


RECIPES: dict[str, Callable] = {
    "identify.ecp_identify": identify_ecp,
    "apply.sign_ecp": apply_sign_ecp,
    "apply.sign_egov": apply_sign_egov,
    "apply.egov_cancel": apply_egov_cancel,
    "visitor.call_staff": call_staff,
    "visitor.reset": reset,
    "identify.card": identify_card,
    "identify.typed_iin": identify_iin,
    "identify.check": identify_code,
    "identify.resend": identify_resend,
    "identify.assisted": identify_assisted,
    "apply.form": apply_form,
    "apply.attachments": apply_attachments,
    "apply.remove_attachment": apply_remove,
    "apply.check": apply_check,
    "apply.sign": apply_sign,
    "apply.resend": apply_resend,
    "receipt.print_escpos": receipt_escpos,
    "receipt.finish": receipt_finish,
    "status.lookup": status_lookup,
    "staff.login": staff_login,
    "staff.logout": staff_logout,
    "staff.answer_call": staff_answer_call,
    "staff.submission_action": staff_submission_action,
    "staff.reconcile_view": staff_reconcile,
}


def test_every_post_route_is_known_here(app) -> None:
    posts = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and rule.endpoint.split(".")[0] in BLUEPRINTS
    }
    assert posts == set(RECIPES) | set(NOT_A_PAGE), "a POST route needs a recipe here (or a reason)"


@pytest.fixture(autouse=True)
def in_the_window(clock) -> None:
    clock.set_local(2026, 5, 4, 10)


@pytest.mark.parametrize("endpoint", sorted(RECIPES))
def test_a_post_that_succeeds_answers_with_a_redirect(client, app, clock, endpoint) -> None:
    response = RECIPES[endpoint](client, app, clock)
    assert 300 <= response.status_code < 400, (
        f"{endpoint} answered {response.status_code} to a successful POST: "
        f"{[e.get_text(' ', strip=True) for e in soup(response).select('.alert, .field-error')]}"
    )


def test_a_page_answering_a_mistake_takes_its_own_address_in_the_history(client, clock) -> None:
    """A mistake is answered on the form's page; the page names its GET address for the history (kiosk.js)."""
    identify(client, "ru", "meals", clock=clock)
    answered = soup(client.post("/ru/apply/form?back=check", data={**ANSWERS, "grade": "12"}))
    assert answered.select_one('meta[name="kiosk-page-url"]')["content"] == "/ru/apply/form?back=check"
    stranger = client.application.test_client()  # identified once per visit: a new visit identifies
    stranger.get("/ru/identify?service=meals")
    answered = soup(_post(stranger, "/ru/identify/iin", "/ru/identify", iin="123"))
    assert answered.select_one('meta[name="kiosk-page-url"]')["content"] == "/ru/identify"
    assert soup(stranger.get("/ru/identify")).select_one('meta[name="kiosk-page-url"]') is None
