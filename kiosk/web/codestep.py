"""The SMS code step, shared by identification and by signing an application: issuing and sending
a code, checking it, the page that asks for it, and the messages and next steps when it cannot go on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flask import current_app, g, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_time, ngettext
from flask_babel import gettext as _

from kiosk import db
from kiosk.clients.portal import PortalUnavailable
from kiosk.clock import utcnow
from kiosk.domain import codes
from kiosk.domain.iin import IinProblem, mask
from kiosk.domain.mrz import CardProblem
from kiosk.extensions import demo_messages, send_sms
from kiosk.infra.i18n import kk_case
from kiosk.web.forms import CodeForm, ConfirmForm

log = logging.getLogger(__name__)


def code_rules() -> codes.CodeRules:
    return codes.CodeRules.from_config(current_app.config)


def card_message(problem: CardProblem) -> str:
    return {
        CardProblem.UNREADABLE: _("The card was not read. Take it out and place it again."),
        CardProblem.NOT_KAZAKH: _("Only a Kazakhstan ID card can be read here. Type your IIN instead."),
        CardProblem.MISMATCH: _("The data on this card do not agree with each other. Please ask the school office."),
        CardProblem.EXPIRED: _("This ID card has expired. Please use a valid document."),
        CardProblem.UNDER_18: _("The applicant must be 18 or older."),
    }[problem]


def iin_message(problem: IinProblem, whose: Literal["own", "child"] = "own") -> str:
    """Why a typed IIN is refused: the one message for every IIN field (the parent's, the child's,
    the status look-up's), so one mistake reads the same on every screen."""
    if problem is IinProblem.BIN:
        if whose == "child":
            return _("This is a business identification number (BIN), not a personal IIN. Type the child's IIN.")
        return _("This is a business identification number (BIN), not a personal IIN. Type your own IIN.")
    if problem is IinProblem.NOT_12_DIGITS:
        return _("An IIN has exactly 12 digits.")
    return _("This is not a valid IIN. Check the digits and try again.")


def refusal_message(refused: codes.SendRefused) -> str:
    """Why no code was sent, with the time it can be, from the rule that refused it."""
    at = kk_case(format_time(refused.retry_at, "HH:mm"), "ablative")  # "09:50-ден кейін"
    return {
        # a resend only, from the code page, whose countdown shows the same moment
        codes.Refusal.TOO_SOON: _("A new code can be asked for when the countdown below ends."),
        codes.Refusal.IIN_LIMIT: _(
            "Too many codes for this IIN were sent and not entered. A new code can be sent after %(time)s.", time=at
        ),
        codes.Refusal.KIOSK_LIMIT: _("This kiosk has sent too many codes this hour. Please ask the school office."),
        codes.Refusal.LOCKED: locked_message(refused.retry_at),
    }[refused.reason]


def locked_message(until: dt.datetime) -> str:
    return _(
        "Too many wrong codes. Codes for this IIN are locked until %(time)s. Please ask the school office for help.",
        time=kk_case(format_time(until, "HH:mm"), "dative"),  # "09:50-ге дейін"
    )


def code_still_valid(expires_at: str | None) -> bool:
    """A code sent in this visit (its expiry as kept in the session) can still be entered."""
    if not expires_at:
        return False
    return dt.datetime.fromisoformat(expires_at) > utcnow()


def send_code(iin: str, phone: Any, subject: str, *, signing: bool) -> tuple[dict[str, str] | None, str | None]:
    """Issue a code for this subject, commit, then send it: the code's times as the visit keeps them
    for the countdowns (``expires_at``, ``resend_at``), or the visitor's message why no code was sent.

    The row is committed before the SMS leaves, so a send counts against the limits even if the
    process dies right after; the code itself is only in the SMS.
    """
    s = db.get_session()
    rules = code_rules()
    try:
        issued = codes.issue_code(
            s, iin=iin, subject=subject, kiosk_id=current_app.config["KIOSK_ID"], now=utcnow(), rules=rules
        )
        s.commit()
    except codes.SendRefused as refused:
        s.rollback()
        log.info("sms code refused for %s: %s", mask(iin), refused.reason.value)
        return None, refusal_message(refused)
    text = _sms_text(issued.code, int(rules.ttl.total_seconds() // 60), signing=signing)
    try:
        send_sms(iin, phone, text, secret=issued.code)
    except PortalUnavailable:
        log.warning("sms delivery failed for %s", mask(iin))
        codes.mark_undelivered(s, issued.code_id, utcnow())
        s.commit()
        return None, _("The SMS could not be sent: the central system does not answer. Please ask the school office.")
    log.info("sms code %d sent for %s", issued.code_id, mask(iin))
    return {"expires_at": issued.expires_at.isoformat(), "resend_at": issued.resend_at.isoformat()}, None


def _sms_text(code: str, minutes: int, *, signing: bool) -> str:
    """The SMS: the code, how long it is valid, and whether it signs an application or identifies."""
    if signing:
        return ngettext(
            "School services kiosk. Code to sign your application: %(code)s. Valid for %(num)d minute. "
            "Do not tell it to anyone.",
            "School services kiosk. Code to sign your application: %(code)s. Valid for %(num)d minutes. "
            "Do not tell it to anyone.",
            minutes,
            code=code,
        )
    return ngettext(
        "School services kiosk. Your code: %(code)s. It is valid for %(num)d minute. Do not tell it to anyone.",
        "School services kiosk. Your code: %(code)s. It is valid for %(num)d minutes. Do not tell it to anyone.",
        minutes,
        code=code,
    )


def check_message(result: codes.Check) -> str:
    """A wrong code, an expired one and one for another IIN read the same."""
    if result is codes.Check.LOCKED:
        return _("Too many wrong codes. Please ask the school office for help.")
    return _("This code is not right or has expired. Check the SMS and try again, or ask for a new code.")


def locked_page(iin: str, *, offers_assisted: bool) -> ResponseReturnValue | None:
    """While too many wrong codes lock this IIN: a page with only what the parent can do next."""
    until = codes.locked_until(db.get_session(), iin=iin, now=utcnow(), rules=code_rules())
    if until is None:
        return None
    return next_steps_page(_("The code is locked"), locked_message(until), offers_assisted=offers_assisted)


def next_steps_page(title: str, message: str, *, offers_assisted: bool) -> ResponseReturnValue:
    """No code can be sent or entered for now (a lock, a send limit): no keypad, no card reader,
    only what the parent can do next (the office's path, staff, Finish)."""
    return render_template(
        "identify/locked.html",
        title=title,
        message=message,
        finish_form=ConfirmForm(formdata=None),
        assisted_form=ConfirmForm(formdata=None) if offers_assisted else None,
    )


@dataclass(frozen=True)
class CodePage:
    """One flow's code screen: the endpoint it lives at (the code is posted back to it), where a
    new code is asked for, where Back leads, its title, and whether the office's path is offered."""

    endpoint: str
    resend: str
    back: str
    title: Any  # lazy_gettext: said in the visitor's language when the page is drawn
    offers_assisted: bool = False


def render_code_page(
    page: CodePage, form: CodeForm, error: str | None, kept: Mapping[str, Any], *, iin: str
) -> ResponseReturnValue:
    """The code screen, for identifying and for signing: keypad, countdowns, tries left, demo phone.

    ``kept`` is where the visit keeps the masked phone and what send_code gave (expires_at,
    resend_at). Once too many wrong codes lock this IIN, the screen shows only what the parent can
    do next.
    """
    g.page_endpoint = page.endpoint
    locked = locked_page(iin, offers_assisted=page.offers_assisted)
    if locked is not None:
        return locked
    now = utcnow()
    rules = code_rules()
    s = db.get_session()
    expires = dt.datetime.fromisoformat(kept["expires_at"]) if kept.get("expires_at") else now
    resend = dt.datetime.fromisoformat(kept["resend_at"]) if kept.get("resend_at") else now
    left = codes.tries_left(s, iin=iin, now=now, rules=rules)
    return render_template(
        "identify/code.html",
        form=form,
        resend_form=ConfirmForm(formdata=None),
        error=error,
        phone=kept["phone"],
        expires_in=max(0, int((expires - now).total_seconds())),
        resend_in=max(0, int((resend - now).total_seconds())),
        expires_at=expires,
        tries_left=(
            ngettext("You have %(num)d try left.", "You have %(num)d tries left.", left)
            if left < rules.max_failures
            else None
        ),
        demo_messages=demo_messages(iin) if current_app.config["DEMO"] else None,
        check_url=url_for(page.endpoint),
        resend_url=url_for(page.resend),
        title=str(page.title),
        back_url=url_for(page.back),
    )
