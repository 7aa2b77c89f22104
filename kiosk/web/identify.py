"""Identify: the visitor's ID card (or typed IIN), then an SMS code to the registered phone.

Views stay thin: the rules live in iin, mrz and codes; the visit's state lives in the
server-side session under "pending" (who is being identified) and "identity" (who was).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk import db
from kiosk.clients.portal import PortalUnavailable
from kiosk.clock import local_today, utcnow
from kiosk.domain import codes, ecp
from kiosk.domain.iin import InvalidIin, mask, parse_iin
from kiosk.domain.mrz import CardProblem, CardRefused, check_holder, parse_td1
from kiosk.extensions import forget_demo_messages, get_portal
from kiosk.infra import sessions
from kiosk.infra.catalog_ext import get_catalog
from kiosk.web import ecp as ecp_web
from kiosk.web import typed
from kiosk.web.codestep import (
    CodePage,
    card_message,
    check_message,
    code_rules,
    code_still_valid,
    iin_message,
    next_steps_page,
    render_code_page,
    send_code,
)
from kiosk.web.forms import CardForm, CodeForm, ConfirmForm, EcpForm, IinForm

bp = Blueprint("identify", __name__, url_prefix="/<lang>/identify")
log = logging.getLogger(__name__)
START = "identify.start"  # the start page: its typed IIN is kept under this name when refused

ADULT_AGE = 18


def requires_pending(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Steps after the card need a person being identified; otherwise back to the start."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not session.get("pending"):
            return redirect(url_for("identify.start"))
        return view(*args, **kwargs)

    return wrapped


@bp.get("")
def start() -> ResponseReturnValue:
    service = request.args.get("service")
    if service and get_catalog().service(service):
        if session.get("apply_for") != service:
            session["apply_for"] = service
        if service in session.get("sent", {}):  # "Apply here" again: a new application (a second child)
            session["sent"] = {code: ref for code, ref in session["sent"].items() if code != service}
    if session.get("identity"):
        # identified once per visit (Finish and the idle reset end it): the next application goes on
        chosen = get_catalog().service(session.get("apply_for") or "")
        if chosen is not None and chosen.takes_applications:
            return redirect(url_for("apply.form"))
        return redirect(url_for("identify.done"))
    # reload and Back after a refused IIN: the digits typed, to correct
    return _render_start(CardForm(), IinForm(formdata=typed.kept(START)))


def _render_start(card_form: CardForm, iin_form: IinForm, error: str | None = None) -> ResponseReturnValue:
    g.page_endpoint = START
    code = session.get("apply_for")
    service = get_catalog().service(code) if code else None
    return render_template(
        "identify/start.html",
        card_form=card_form,
        iin_form=iin_form,
        error=error,
        service=service,
        ecp=ecp_challenge(),
    )


def ecp_challenge() -> dict[str, str] | None:
    """A new one-time challenge for NCALayer to sign with the AUTH key, kept in the visit; None
    when the site installed no НУЦ root (no ЭЦҚ offered)."""
    if not ecp_web.enabled():
        return None
    nonce = secrets.token_hex(16)
    at = utcnow().replace(microsecond=0)
    session["ecp_challenge"] = {"nonce": nonce, "at": at.isoformat()}
    data = ecp.challenge_bytes(current_app.config["KIOSK_ID"], nonce, at)
    return {
        "data": base64.b64encode(data).decode(),
        "action": url_for("identify.ecp_identify"),
        "eku": ecp.AUTH_EKU,
        "csrf": EcpForm(formdata=None).csrf_token.current_token,
    }


@bp.post("/ecp")
def ecp_identify() -> ResponseReturnValue:
    """The parent signed the challenge with the AUTH key in NCALayer: the certificate says who."""
    form = EcpForm()
    challenge = session.pop("ecp_challenge", None)
    if not form.validate_on_submit() or not ecp_web.enabled():
        return _render_start(
            CardForm(formdata=None),
            IinForm(formdata=None),
            ecp_web.refusal_message(ecp.Problem.MALFORMED, ecp.Purpose.IDENTIFY),
        )
    now = utcnow()
    if not challenge or dt.datetime.fromisoformat(challenge["at"]) < now - dt.timedelta(
        seconds=current_app.config["ECP_CHALLENGE_TTL_S"]
    ):
        return _render_start(
            CardForm(formdata=None),
            IinForm(formdata=None),
            ecp_web.refusal_message(ecp.Problem.OTHER_CONTENT, ecp.Purpose.IDENTIFY),
        )
    cms = ecp.decode_b64(form.cms.data)
    expected = ecp.challenge_bytes(
        current_app.config["KIOSK_ID"], challenge["nonce"], dt.datetime.fromisoformat(challenge["at"])
    )
    setup = ecp_web.setup()
    try:
        verified = ecp.verify_cms(
            cms or b"",
            expected=expected,
            purpose=ecp.Purpose.IDENTIFY,
            iin=None,
            now=now,
            trust=setup.trust,
            revocation=setup.revocation,
            gost=setup.gost,
        )
    except ecp.Refused as refused:
        log.info("ecp identification refused: %s", refused)
        return _render_start(
            CardForm(formdata=None),
            IinForm(formdata=None),
            ecp_web.refusal_message(refused.problem, ecp.Purpose.IDENTIFY),
        )
    try:
        person = parse_iin(verified.signer.iin)
    except InvalidIin:
        return _render_start(
            CardForm(formdata=None),
            IinForm(formdata=None),
            ecp_web.refusal_message(ecp.Problem.WRONG_KEY, ecp.Purpose.IDENTIFY),
        )
    if person.age_on(local_today()) < ADULT_AGE:
        return _render_start(CardForm(formdata=None), IinForm(formdata=None), card_message(CardProblem.UNDER_18))
    log.info(
        "identity confirmed by ecp for %s (%s, revocation by %s)",
        mask(person.number),
        verified.checked_by,
        verified.revocation,
    )
    name = verified.signer.name.title() or None
    return _confirm({"iin": person.number, "name": name}, method="ecp")


@bp.post("/card")
def card() -> ResponseReturnValue:
    form = CardForm()
    if not form.validate_on_submit():
        return _render_start(form, IinForm(formdata=None), _("The card was not read. Take it out and place it again."))
    try:
        card = parse_td1(form.mrz.data)
        check_holder(card, local_today(), ADULT_AGE)
    except CardRefused as refused:
        log.info("card refused: %s", refused.problem.value)
        return _render_start(CardForm(formdata=None), IinForm(formdata=None), card_message(refused.problem))
    name = " ".join(part.title() for part in (card.given_names, card.surname) if part)
    return _begin(card.iin, source="card", name=name)


@bp.post("/iin")
def typed_iin() -> ResponseReturnValue:
    form = IinForm()
    if not form.validate_on_submit():
        return _refused_iin(form)
    try:
        iin = parse_iin(form.iin.data)
    except InvalidIin as invalid:
        form.iin.errors = [iin_message(invalid.problem)]
        return _refused_iin(form)
    if iin.age_on(local_today()) < ADULT_AGE:
        form.iin.errors = [card_message(CardProblem.UNDER_18)]
        return _refused_iin(form)
    return _begin(iin.number, source="typed", name=None)


def _refused_iin(form: IinForm) -> ResponseReturnValue:
    """The start page with the IIN's message; the visit keeps the digits for reload and Back."""
    typed.keep(START, request.form, ("iin",))
    return _render_start(CardForm(formdata=None), form)


def _begin(iin: str, *, source: str, name: str | None) -> ResponseReturnValue:
    """Ask the central system for the phone; send the first code, or offer the assisted path."""
    session.pop("identity", None)
    typed.forget(START)  # a card read or an IIN taken: nothing refused to show again
    previous = session.get("pending") or {}
    if previous.get("iin") == iin and previous.get("phone") and code_still_valid(previous.get("expires_at")):
        # the same card again while its code is still on the phone: that code still works
        session["pending"] = {**previous, "source": source, "name": name}
        return redirect(url_for("identify.code"))
    session["pending"] = {"iin": iin, "source": source, "name": name, "subject": f"identify:{secrets.token_hex(16)}"}
    try:
        phone = get_portal().phone_for(iin)
    except PortalUnavailable:
        log.warning("central system unreachable during identification of %s", mask(iin))
        return redirect(url_for("identify.help", reason="offline"))
    if phone is None:
        return redirect(url_for("identify.help", reason="no_phone"))
    session["pending"] = {**session["pending"], "phone": phone.masked}
    refused = _send_code(iin, phone)
    if refused is not None:
        if codes.locked_until(db.get_session(), iin=iin, now=utcnow(), rules=code_rules()) is not None:
            return redirect(url_for("identify.code"))  # the locked page: only what can be done next
        # a send limit: typing or reading the card again cannot help until it ends
        return next_steps_page(_("No code can be sent now"), refused, offers_assisted=True)
    return redirect(url_for("identify.code"))


def _send_code(iin: str, phone: Any) -> str | None:
    """The identification code: sent, and its times kept for the countdowns."""
    times, error = send_code(iin, phone, session["pending"]["subject"], signing=False)
    if times is not None:
        session["pending"] = {**session["pending"], **times}
    return error


@bp.get("/code")
@requires_pending
def code() -> ResponseReturnValue:
    if not session["pending"].get("phone"):
        return redirect(url_for("identify.start"))
    return _render_code(CodeForm())


# identifying by a code: the code is posted back to the page; not yet identified, the office's path is still open
CODE_PAGE = CodePage(
    "identify.code",
    resend="identify.resend",
    back="identify.start",
    title=_l("Enter the code from the SMS"),
    offers_assisted=True,
)


def _render_code(form: CodeForm, error: str | None = None) -> ResponseReturnValue:
    pending = session["pending"]
    return render_code_page(CODE_PAGE, form, error, pending, iin=pending["iin"])


@bp.post("/code")
@requires_pending
def check() -> ResponseReturnValue:
    form = CodeForm()
    if not form.validate_on_submit():
        return _render_code(form)
    pending = session["pending"]
    s = db.get_session()
    result = codes.check_code(
        s, iin=pending["iin"], subject=pending["subject"], code=form.code.data, now=utcnow(), rules=code_rules()
    )
    s.commit()
    if result is codes.Check.OK:
        log.info("identity confirmed by sms for %s", mask(pending["iin"]))
        return _confirm(pending, method="sms")
    log.info("sms code %s for %s", result.value, mask(pending["iin"]))
    return _render_code(CodeForm(formdata=None), check_message(result))


@bp.post("/resend")
@requires_pending
def resend() -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("identify.code"))
    iin = session["pending"]["iin"]
    try:
        phone = get_portal().phone_for(iin)
    except PortalUnavailable:
        return redirect(url_for("identify.help", reason="offline"))
    if phone is None:
        return redirect(url_for("identify.help", reason="no_phone"))
    refused = _send_code(iin, phone)
    if refused is not None:
        return _render_code(CodeForm(formdata=None), refused)
    flash(_("A new code has been sent."))
    return redirect(url_for("identify.code"))


@bp.get("/help")
@requires_pending
def help() -> ResponseReturnValue:  # the URL reads best as /help
    reason = request.args.get("reason")
    if reason not in ("no_phone", "offline"):
        reason = "no_phone"
    return render_template("identify/help.html", reason=reason, form=ConfirmForm(formdata=None))


@bp.post("/assisted")
@requires_pending
def assisted() -> ResponseReturnValue:
    """No code possible: the application will wait for staff to see the ID card in person."""
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("identify.help"))
    log.info("staff-assisted path chosen for %s", mask(session["pending"]["iin"]))
    return _confirm(session["pending"], method="in_person")


def _confirm(pending: dict[str, Any], *, method: str) -> ResponseReturnValue:
    forget_demo_messages(pending["iin"])
    session.pop("pending", None)
    session["identity"] = {
        "iin": pending["iin"],
        "name": pending.get("name"),
        "method": method,
        "at": utcnow().isoformat(),
    }
    sessions.current().regenerate()  # a new token once the identity is confirmed
    return redirect(url_for("identify.done"))


@bp.get("/done")
def done() -> ResponseReturnValue:
    identity = session.get("identity")
    if not identity:
        return redirect(url_for("identify.start"))
    code = session.get("apply_for")
    service = get_catalog().service(code) if code else None
    return render_template("identify/done.html", identity=identity, masked_iin=mask(identity["iin"]), service=service)
