"""Status look-up: by the receipt's reference and the applicant's IIN, or by the QR code's token.

It shows the history and, for a refusal, the reason in the visitor's language; nothing else
(no names, no answers), so a lost receipt gives a stranger almost nothing.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from kiosk import db
from kiosk.domain.iin import InvalidIin, parse_iin
from kiosk.domain.references import display
from kiosk.domain.submissions import by_reference, find_by_reference, find_by_token
from kiosk.infra.catalog_ext import get_catalog
from kiosk.models import State, Submission
from kiosk.web import typed
from kiosk.web.codestep import iin_message
from kiosk.web.forms import StatusForm
from kiosk.web.labels import state_label

bp = Blueprint("status", __name__, url_prefix="/<lang>/status")
FOUND = "status_found"  # the reference this visit looked up with its IIN; the visit's wipe forgets it
PAGE = "status.lookup"


@bp.route("", methods=["GET", "POST"])
def lookup() -> ResponseReturnValue:
    if request.method == "GET":  # reload and Back after a refused look-up: what was typed, to correct
        return render_template("status/lookup.html", form=StatusForm(formdata=typed.kept(PAGE)), error=None)
    form = StatusForm()
    error = None
    if form.validate_on_submit() and _valid_iin(form):
        session.pop(FOUND, None)  # a new look-up: the last one's status is no longer on offer
        submission = find_by_reference(db.get_session(), form.reference.data, form.iin.data)
        if submission is not None:
            # post/redirect/get: Back and reload on the status never ask to send the form again
            session[FOUND] = submission.reference
            typed.forget(PAGE)
            return redirect(url_for("status.found"))
        error = _("No application was found with this reference and IIN. Check both and try again.")
    typed.keep(PAGE, request.form, ("reference", "iin"))
    return render_template("status/lookup.html", form=form, error=error)


def _valid_iin(form: StatusForm) -> bool:
    """A mistyped IIN is told as on every IIN field, not as "no application found"."""
    try:
        parse_iin(form.iin.data)
    except InvalidIin as invalid:
        form.iin.errors = [iin_message(invalid.problem)]
        return False
    return True


# The QR code's page opens on the parent's own phone, not at the terminal: no idle reset sending
# the phone to the kiosk's Welcome after a minute of reading, no "call staff" to a lobby far away.
ON_PHONE = {"idle": False, "on_phone": True}


@bp.get("/found")
def found() -> ResponseReturnValue:
    """The status this visit looked up: only after the reference and the IIN matched."""
    reference = session.get(FOUND)
    submission = by_reference(db.get_session(), reference) if isinstance(reference, str) else None
    if submission is None:
        return redirect(url_for("status.lookup"))
    return _show(submission)


@bp.get("/t/<token>")
def by_token(token: str) -> ResponseReturnValue:
    submission = find_by_token(db.get_session(), token)
    if submission is None:
        return render_template(
            "status/lookup.html",
            form=StatusForm(formdata=None),
            error=_("This status link is not valid. Enter the reference and your IIN instead."),
            **ON_PHONE,
        ), 404
    return _show(submission, **ON_PHONE)


def _show(submission: Submission, **page: bool) -> ResponseReturnValue:
    service = get_catalog().service(submission.service_code)
    history = []
    for event in submission.events:
        reason = (event.detail or {}).get("reason") if event.to_state == State.REFUSED else None
        history.append(
            {
                "at": event.at,
                "label": state_label(event.to_state),
                "reason": reason.get(g.lang) if isinstance(reason, dict) else None,
            }
        )
    response = render_template(
        "status/show.html",
        reference=display(submission.reference),
        service=service,
        state=state_label(submission.state),
        history=history,
        refused=submission.state == State.REFUSED,
        **page,
    )
    return response
