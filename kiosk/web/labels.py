"""The words for the codes the kiosk stores, so no "meals", "submission.view" or "sms" reaches a
reader (a parent reading a status, or staff): each function gives the label in the reader's language.

A code no list here knows yet (a new audit action, say) is shown as it is rather than hidden;
tests/test_staff_console.py walks the console and fails on any code that shows.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kiosk.domain.references import display
from kiosk.domain.states import FEED_STATES, LABELS
from kiosk.infra.catalog_ext import get_catalog
from kiosk.infra.i18n import current_language


def state_label(state: str) -> str:
    """A submission's state in the reader's words (a state no label knows reads as it is)."""
    label = LABELS.get(state)  # type: ignore[call-overload]
    return _(label) if label else state


class Said(NamedTuple):
    """One code in two readers' words."""

    staff: Any
    parent: Any


# the ways a parent proves who they are that are also ways to sign, as staff read them
_BY_PARENT = {
    "sms": _l("SMS code to the registered phone"),
    "ecp": _l("EDS through NCALayer at the terminal"),
    "egov_mobile": _l("EDS in eGov Mobile (QR code)"),
}
# how the parent was identified
IDENTITY = {**_BY_PARENT, "in_person": _l("ID card at the school office")}
# how an application was signed, as staff read it and as the receipt says it to the parent
SIGNATURE = {
    "sms": Said(_BY_PARENT["sms"], _l("With the SMS code sent to your registered phone")),
    "ecp": Said(_BY_PARENT["ecp"], _l("With your EDS (ID card or key file)")),
    "egov_mobile": Said(_BY_PARENT["egov_mobile"], _l("With your EDS in eGov Mobile")),
    "staff": Said(
        _l("Not signed: staff check the ID card"), _l("Not signed at the kiosk: the school office checks your ID card")
    ),
}
# how the kiosk checked an ЭЦҚ (ecp.Verified.checked_by)
CHECKED_BY = {
    "kiosk": _l("Verified here: signature, chain to the national CA root, revocation"),
    "verifier": _l("Verified by the site's verifier service (GOST)"),
    "not_verified_here": _l("Not verified here (GOST): the central system checks it"),
}
REVOCATION = {
    "ocsp": _l("OCSP"),
    "crl": _l("revocation list (CRL)"),
    "verifier": _l("by the verifier service"),
    "none": _l("not checked here"),
}
ROLES = {"operator": _l("Operator"), "admin": _l("Administrator")}
ACTORS = {
    "visitor": _l("Visitor at the kiosk"),
    "anonymous": _l("Someone at the sign-in page"),
    "cli": _l("Kiosk command on the server"),
    "privacy": _l("Erasure after the retention period"),
}
ACTIONS = {
    "staff.add": _l("User added"),
    "staff.sign_in": _l("Signed in"),
    "staff.sign_in_failed": _l("Sign-in failed"),
    "staff.sign_in_locked": _l("Sign-in refused: locked"),
    "staff.locked": _l("Locked after failed sign-ins"),
    "staff.password": _l("Password changed"),
    "staff.disable": _l("User disabled"),
    "staff.enable": _l("User enabled again"),
    "staff.unlock": _l("User unlocked"),
    "staff.timeout": _l("Signed out after a time without activity"),
    "staff.sign_out": _l("Signed out"),
    "staff.export_csv": _l("Queue exported as CSV"),
    "staff.answer_call": _l("Answered a visitor's call"),
    "visitor.call_staff": _l("A visitor called staff"),
    "reconcile.acknowledge_unknown": _l("Reconcile: an application unknown here acknowledged"),
    "reconcile.send_again": _l("Reconcile: sent again"),
    "reconcile.take_their_status": _l("Reconcile: the central system's status taken"),
    "submission.view": _l("Application opened"),
    "submission.attachment_view": _l("Photo of a document opened"),
    "submission.reprint": _l("Receipt printed again"),
    "submission.verify_in_person": _l("ID card seen: sent on"),
    "submission.retry_now": _l("Sent again now"),
    "submission.cancel": _l("Application cancelled"),
    "submission.original_checked": _l("Original seen"),
    "submission.erased": _l("Personal data erased"),
    "privacy.erase": _l("Personal data erased"),
    "privacy.release": _l("One-per-child record released after the school year"),
    "privacy.report": _l("Personal data report printed for a parent"),
}
PROBLEMS = {
    "broken_link": _l("Does not follow the entry before it: an entry was removed or changed."),
    "changed": _l("Its content was changed after it was written."),
    "head": _l("The newest entry is not the one on record: entries were removed at the end."),
}


def service_label(code: str) -> str:
    """The service's name in the reader's language."""
    service = get_catalog().service(code)
    return service.name.get(current_language()) if service else code


def identity_label(method: str | None) -> str:
    return str(IDENTITY.get(method or "", method or ""))


def signature_label(method: str) -> str:
    said = SIGNATURE.get(method)
    return str(said.staff) if said else method


def receipt_signature_label(method: str) -> str:
    said = SIGNATURE.get(method)
    return str(said.parent) if said else method


def attachment_label(kind: str, num: int) -> str:
    """An attached file as the staff page and the receipt name it: "Photo 2" or "PDF document 2"."""
    return _("PDF document %(num)d", num=num) if kind == "application/pdf" else _("Photo %(num)d", num=num)


def checked_label(checked_by: str, revocation: str) -> str:
    """How an ЭЦҚ was checked, with where its revocation was asked."""
    checked = str(CHECKED_BY.get(checked_by, checked_by))
    if revocation in ("ocsp", "crl"):
        return _("%(checked)s (%(revocation)s)", checked=checked, revocation=REVOCATION[revocation])
    return checked


def role_label(role: str) -> str:
    return str(ROLES.get(role, role))


def actor_label(actor: str) -> str:
    """Who did it: a member of staff by user name, the system's parts by what they are."""
    if actor.startswith("staff:"):
        return actor.removeprefix("staff:")
    if actor.startswith("sync"):
        return _("Delivery to the central system")
    return str(ACTORS.get(actor, actor))


def action_label(action: str) -> str:
    """An audit action ("submission.view") or an event's action ("verify_in_person")."""
    known = ACTIONS.get(action) or ACTIONS.get(f"submission.{action}")
    if known is not None:
        return str(known)
    kind, _dot, state = action.partition(".")
    if kind == "submission" and state:  # a visitor's application queued, in the state it starts in
        return _("Application submitted: %(state)s", state=state_label(state))
    if kind == "sync" and state:
        return _("Central system: %(state)s", state=state_label(state))
    return action


def target_label(action: str, target: str | None) -> str:
    """What an audit entry is about: an application by its reference as staff read it (ABC-DEF-GHJ)."""
    if (
        target
        and action.startswith(("submission.", "sync.", "reconcile.", "privacy."))
        and action != "reconcile.acknowledge_unknown"
    ):
        return display(target)
    return target or ""


def portal_status_label(status: str) -> str:
    """The central system's status ("in_progress") in the words of the state it maps to."""
    state = FEED_STATES.get(status)
    return state_label(state) if state else status


def problem_label(kind: str, what: str) -> str:
    return str(PROBLEMS.get(kind, what))


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        service_label=service_label,
        identity_label=identity_label,
        signature_label=signature_label,
        attachment_label=attachment_label,
        checked_label=checked_label,
        role_label=role_label,
        actor_label=actor_label,
        action_label=action_label,
        portal_status_label=portal_status_label,
        target_label=target_label,
        problem_label=problem_label,
        display=display,
    )
