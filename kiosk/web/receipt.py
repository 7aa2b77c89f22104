"""The receipt (қолхат): a promise, shown only for a committed submission, in Kazakh and Russian.

One structure (kiosk.web.receipts) feeds the screen, the 80 mm print view and the ESC/POS printer
(kiosk.clients.printer), so the three never disagree.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from kiosk import db
from kiosk.clients.printer import escpos_bytes, send_to_printer
from kiosk.domain.references import display
from kiosk.domain.submissions import Erased, attachments_of, by_reference, open_payload
from kiosk.extensions import keyring
from kiosk.infra.catalog_ext import get_catalog
from kiosk.models import Submission
from kiosk.web.forms import ConfirmForm
from kiosk.web.receipts import qr_svg, receipt_parts, status_url
from kiosk.web.visit import wipe_visit

bp = Blueprint("receipt", __name__, url_prefix="/<lang>/receipt")
log = logging.getLogger(__name__)


def _own_receipt(reference: str) -> tuple[Submission, str] | None:
    """Only receipts made in this visit can be shown: the next visitor sees none of them."""
    entry = next((r for r in session.get("receipts", []) if r["reference"] == reference), None)
    if entry is None:
        return None
    submission = by_reference(db.get_session(), reference)
    return (submission, entry["token"]) if submission else None


def _context(reference: str) -> dict[str, Any] | None:
    found = _own_receipt(reference)
    if found is None:
        return None
    submission, token = found
    try:
        payload = open_payload(submission, keyring())
    except Erased:
        return None
    url = status_url(token, g.lang)
    return {
        "submission": submission,
        "parts": receipt_parts(
            submission, payload, get_catalog(), attachments_of(db.get_session(), submission), first=g.lang
        ),
        "status_url": url,
        "qr": qr_svg(url),
        "reference": display(submission.reference),
    }


@bp.get("/<reference>")
def show(reference: str) -> ResponseReturnValue:
    context = _context(reference)
    if context is None:
        return redirect(url_for("visitor.services"))
    return render_template(
        "receipt/show.html",
        form=ConfirmForm(formdata=None),
        has_printer=bool(current_app.config.get("RECEIPT_PRINTER")),
        **context,
    )


@bp.get("/<reference>/print")
def print_view(reference: str) -> ResponseReturnValue:
    context = _context(reference)
    if context is None:
        return redirect(url_for("visitor.services"))
    return render_template("receipt/print.html", **context)


@bp.post("/<reference>/escpos")
def print_escpos(reference: str) -> ResponseReturnValue:
    context = _context(reference)
    if context is None or not ConfirmForm().validate_on_submit():
        return redirect(url_for("visitor.services"))
    target = current_app.config.get("RECEIPT_PRINTER")
    if not target:  # the page shows no print button then: a stray request, not a printer fault
        flash(_("The printer does not answer. Please ask the school office to print your receipt."))
        return redirect(url_for("receipt.show", reference=reference))
    try:
        send_to_printer(target, escpos_bytes(context["parts"], context["status_url"]))
        flash(_("The receipt is being printed."))
    except Exception:  # a printer fault must not lose the receipt on screen
        log.exception("receipt printer failed")
        flash(_("The printer does not answer. Please ask the school office to print your receipt."))
    return redirect(url_for("receipt.show", reference=reference))


@bp.post("/finish")
def finish() -> ResponseReturnValue:
    """Finish: the visit is wiped on the server, with its drafts and its demo phone."""
    if ConfirmForm().validate_on_submit():
        wipe_visit()
        db.get_session().commit()
    return redirect(url_for("visitor.welcome"))
