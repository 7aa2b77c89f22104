"""Apply: the service's form, attachments, check your answers, sign with the SMS code, the receipt.

The draft lives in the sealed server-side visit until it is signed; then the submission and its
first event are committed together, and only after that commit is the receipt shown.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
from collections.abc import Callable
from typing import Any, BinaryIO

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, func, select

from kiosk import applications, codes, consent, db, sessions, sms, submissions
from kiosk.attachments import TOTAL_BUDGET, Refused, prepare
from kiosk.bodies import takes_upload
from kiosk.catalog import window_state
from kiosk.catalog_ext import get_catalog
from kiosk.clock import local_today, utcnow
from kiosk.crypto import keyring
from kiosk.forms import CodeForm, ConfirmForm, ConsentForm, UploadForm
from kiosk.i18n import megabytes
from kiosk.identify import check_message, code_still_valid, locked_page, render_code_page, send_code
from kiosk.iin import mask
from kiosk.models import Attachment
from kiosk.portal import PortalUnavailable, get_portal
from kiosk.references import display

bp = Blueprint("apply", __name__, url_prefix="/<lang>/apply")
log = logging.getLogger(__name__)


def _service():
    code = session.get("apply_for")
    service = get_catalog().service(code) if code else None
    if service is None or not service.takes_applications:
        return None
    return service


def requires_identity(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Applying needs a chosen service that is open and a confirmed identity."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        service = _service()
        if service is None:
            return redirect(url_for("visitor.services"))
        if not window_state(service.window, local_today()).is_open:
            return redirect(url_for("visitor.service", code=service.code))
        if not session.get("identity"):
            return redirect(url_for("identify.start", service=service.code))
        draft = session.get("draft")
        if not draft or draft.get("service") != service.code:
            sent = session.get("sent", {}).get(service.code)
            if sent is not None:
                # Back after signing: this application was sent, its receipt says so (not an empty form);
                # "Apply here" on the service page starts the next one (identify.start forgets this)
                return redirect(url_for("receipt.show", reference=sent))
            session["draft"] = {"service": service.code, "id": secrets.token_hex(16), "answers": {}}
        g.service = service
        return view(*args, **kwargs)

    return wrapped


def _draft() -> dict[str, Any]:
    return session["draft"]


def _update_draft(**changes: Any) -> None:
    session["draft"] = {**session["draft"], **changes}


def _attachments() -> list[Attachment]:
    s = db.get_session()
    return list(s.scalars(select(Attachment).where(Attachment.visit_id == _draft()["id"]).order_by(Attachment.id)))


@bp.route("/form", methods=["GET", "POST"])
@requires_identity
def form() -> ResponseReturnValue:
    service = g.service
    today = local_today()
    form_class = applications.form_for(service, today, g.lang)
    answers = _draft()["answers"]
    form = applications.with_answers(form_class, answers) if request.method == "GET" else form_class()
    duplicate = None
    if form.validate_on_submit():
        answers = applications.answers_of(form, service)
        year = applications.school_year(service, today)
        existing = submissions.existing_for_child(db.get_session(), service.code, answers["child_iin"], year)
        if existing is None:
            _update_draft(answers=answers, year=year, payload_hash=None, consent_at=None)
            return redirect(
                url_for("apply.attachments") if request.args.get("back") != "check" else url_for("apply.check")
            )
        duplicate = _duplicate_notice(submissions.AlreadyApplied(existing))
    return render_template("apply/form.html", form=form, service=service, duplicate=duplicate)


@bp.route("/attachments", methods=["GET", "POST"])
@takes_upload
@requires_identity
def attachments() -> ResponseReturnValue:
    if not _draft().get("answers"):
        return redirect(url_for("apply.form"))
    upload = UploadForm()
    error = None
    if request.method == "POST":
        # "Continue" submits the upload form too, so a file chosen and not yet added is never lost
        going_on = request.form.get("next") == "check"
        if going_on and not request.files.get("file"):
            return redirect(url_for("apply.check"))
        if upload.validate_on_submit():
            try:
                error = _store_upload(upload.file.data.stream)
            finally:
                upload.file.data.close()
        else:
            error = _("Choose a photo or a PDF file.")
        if error is None:
            return redirect(url_for("apply.check" if going_on else "apply.attachments"))
    files = _attachments()
    used = sum(a.size for a in files)
    return render_template(
        "apply/attachments.html",
        upload=upload,
        files=files,
        used=used,
        budget=TOTAL_BUDGET,
        error=error,
        remove_form=ConfirmForm(formdata=None),
        service=g.service,
    )


def _store_upload(upload: BinaryIO) -> str | None:
    """Keep the prepared file, or say why not; the upload itself is never stored."""
    s = db.get_session()
    used = s.scalar(select(func.coalesce(func.sum(Attachment.size), 0)).where(Attachment.visit_id == _draft()["id"]))
    left = TOTAL_BUDGET - int(used or 0)
    try:
        prepared = prepare(upload, left)
    except Refused as refused:
        return {
            "not_document": _("This file is not a photo or a PDF document."),
            "damaged": _("This file is damaged and cannot be opened."),
            "too_many_pixels": _(
                "This picture has too many pixels to open. Scan the page again at 300 dpi, "
                "or take a photo of the document instead."
            ),
            "too_large": _(
                "This file does not fit in the %(left)s left of %(total)s for this application.",
                left=megabytes(left),
                total=megabytes(TOTAL_BUDGET, 0),
            ),
        }[refused.reason]
    s.add(
        Attachment(
            visit_id=_draft()["id"],
            kind=prepared.kind,
            size=len(prepared.data),
            sha256=prepared.sha256,
            sealed=keyring().seal(prepared.data, bound_to=prepared.sha256),
            created_at=utcnow(),
        )
    )
    s.commit()
    _update_draft(payload_hash=None, consent_at=None)
    return None


@bp.post("/attachments/<id:attachment_id>/remove")
@requires_identity
def remove_attachment(attachment_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        s = db.get_session()
        s.execute(delete(Attachment).where(Attachment.id == attachment_id, Attachment.visit_id == _draft()["id"]))
        s.commit()
        _update_draft(payload_hash=None, consent_at=None)
    return redirect(url_for("apply.attachments"))


def _payload() -> tuple[dict[str, Any], str]:
    """The application as it will be signed, with the consent given on the check page (if it was)."""
    identity = session["identity"]
    draft = _draft()
    agreed_at = draft.get("consent_at")
    return applications.canonical_payload(
        service=g.service,
        catalog_version=get_catalog().version,
        year=draft["year"],
        applicant={"iin": identity["iin"], "name": identity.get("name"), "identity": identity["method"]},
        answers=draft["answers"],
        attachments=[a.sha256 for a in _attachments()],
        lang=g.lang,
        consent=consent.record(g.service, g.lang, current_app.config, dt.datetime.fromisoformat(agreed_at))
        if agreed_at
        else None,
    )


@bp.route("/check", methods=["GET", "POST"])
@requires_identity
def check() -> ResponseReturnValue:
    draft = _draft()
    if not draft.get("answers"):
        return redirect(url_for("apply.form"))
    form = ConsentForm()
    error = None
    if form.validate_on_submit():
        if not draft.get("consent_at"):
            # the moment of consent is kept with the draft: signing again later signs the same consent
            _update_draft(consent_at=utcnow().isoformat())
            draft = _draft()
        payload_hash = _payload()[1]
        if session["identity"]["method"] != "sms":
            _update_draft(payload_hash=payload_hash)
            return _queue(payload_hash)
        subject = f"application:{payload_hash}"
        if draft.get("subject") == subject and draft.get("phone") and code_still_valid(draft.get("expires_at")):
            return redirect(url_for("apply.sign"))  # Back, then Sign again: the code sent still signs it
        error = _send_signing_code(subject)
        if error is None:
            _update_draft(payload_hash=payload_hash)
            return redirect(url_for("apply.sign"))
        locked = locked_page(session["identity"]["iin"], offers_assisted=False)
        if locked is not None:
            return locked
    service = g.service
    return render_template(
        "apply/check.html",
        form=form,
        rows=applications.answer_rows(service, draft["answers"], g.lang),
        service=service,
        files=_attachments(),
        error=error,
        identity=session["identity"],
        masked_iin=mask(session["identity"]["iin"]),
        consent_sections=consent.sections(service, g.lang, current_app.config),
        consent_version=consent.VERSION,
    )


def _send_signing_code(subject: str) -> str | None:
    """Send a code that signs this subject; the draft keeps it only once it was sent."""
    iin = session["identity"]["iin"]
    try:
        phone = get_portal().phone_for(iin)
    except PortalUnavailable:
        return _("The SMS could not be sent: the central system does not answer. Please ask the school office.")
    if phone is None:
        return _("No mobile number is registered for your IIN in the mobile citizens database.")
    issued, error = send_code(
        iin,
        phone,
        subject,
        lambda code, minutes: ngettext(
            "School services kiosk. Code to sign your application: %(code)s. Valid for %(num)d minute. "
            "Do not tell it to anyone.",
            "School services kiosk. Code to sign your application: %(code)s. Valid for %(num)d minutes. "
            "Do not tell it to anyone.",
            minutes,
            code=code,
        ),
    )
    if issued is not None:
        _update_draft(
            subject=subject,
            phone=phone.masked,
            expires_at=issued.expires_at.isoformat(),
            resend_at=issued.resend_at.isoformat(),
        )
    return error


def _render_sign(form: CodeForm, error: str | None) -> ResponseReturnValue:
    g.page_endpoint = "apply.sign"
    draft = _draft()
    return render_code_page(
        form,
        error,
        phone=draft["phone"],
        expires_at=draft.get("expires_at"),
        resend_at=draft.get("resend_at"),
        iin=session["identity"]["iin"],
        check_url=url_for("apply.sign"),
        resend_url=url_for("apply.resend"),
        title=_("Sign your application"),
        back_url=url_for("apply.check"),
    )


@bp.route("/sign", methods=["GET", "POST"])
@requires_identity
def sign() -> ResponseReturnValue:
    draft = _draft()
    if not draft.get("subject") or not draft.get("phone"):
        return redirect(url_for("apply.check"))
    form = CodeForm()
    error = None
    if request.method == "POST" and form.validate_on_submit():
        payload_hash = _payload()[1]
        if f"application:{payload_hash}" != draft["subject"]:
            # the application changed after the code was sent: the code signs the old one only
            _update_draft(subject=None, payload_hash=None)
            return redirect(url_for("apply.check"))
        s = db.get_session()
        result = codes.check_code(
            s,
            iin=session["identity"]["iin"],
            subject=draft["subject"],
            code=form.code.data,
            now=utcnow(),
            rules=codes.CodeRules.from_config(current_app.config),
        )
        if result is codes.Check.OK:
            # the code's use and the submission commit together: a crash between them burns nothing
            return _queue(payload_hash)
        s.commit()
        error = check_message(result)
        form = CodeForm(formdata=None)
    return _render_sign(form, error)


@bp.post("/sign/resend")
@requires_identity
def resend() -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit() and _draft().get("subject"):
        error = _send_signing_code(_draft()["subject"])
        if error is not None:
            return _render_sign(CodeForm(formdata=None), error)
    return redirect(url_for("apply.sign"))


def _duplicate_notice(already: submissions.AlreadyApplied) -> dict[str, str | None]:
    """What the "already applied" notice may say: the reference only to the parent who applied,
    proved by an SMS code in this visit (an IIN typed on the office's path proves nobody).
    """
    identity = session["identity"]
    own = already.reference_for(identity["iin"]) if identity["method"] == "sms" else None
    return {"reference": display(own) if own else None}


def _queue(payload_hash: str) -> ResponseReturnValue:
    """Commit the submission with its first event; only then is there a receipt to show."""
    payload, recomputed = _payload()
    if recomputed != payload_hash:
        return redirect(url_for("apply.check"))
    s = db.get_session()
    try:
        queued = submissions.queue_submission(
            s,
            payload=payload,
            payload_hash=payload_hash,
            identity_method=session["identity"]["method"],
            lang=g.lang,
            now=utcnow(),
            keyring=keyring(),
            visit_id=_draft()["id"],
        )
        s.commit()
    except submissions.AlreadyApplied as already:
        s.rollback()
        g.page_endpoint = "apply.form"  # the form shown again has its own address
        return render_template(
            "apply/form.html",
            form=applications.with_answers(
                applications.form_for(g.service, local_today(), g.lang), _draft()["answers"]
            ),
            service=g.service,
            duplicate=_duplicate_notice(already),
        )
    submission = queued.submission
    log.info("submission %s queued (%s, %s)", submission.reference, submission.service_code, submission.state)
    sms.forget_demo_messages(session["identity"]["iin"])
    session.pop("draft", None)
    receipts = [r for r in session.get("receipts", []) if r["reference"] != submission.reference]
    session["receipts"] = [*receipts, {"reference": submission.reference, "token": queued.status_token}]
    session["sent"] = {**session.get("sent", {}), g.service.code: submission.reference}
    sessions.current().regenerate()
    return redirect(url_for("receipt.show", reference=submission.reference))
