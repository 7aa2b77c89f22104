"""Apply: the service's form, attachments, check your answers, sign, the receipt.

A parent signs with the SMS code, or with an ЭЦҚ: through NCALayer on the terminal (the signing
key over exactly the application's canonical bytes), or in eGov Mobile by a QR code the central
system serves. With none of these the application waits for staff to see the ID card.

The draft lives in the sealed server-side visit until it is signed; then the submission and its
first event are committed together, and only after that commit is the receipt shown.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import logging
import secrets
from collections.abc import Callable
from typing import Any, BinaryIO

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_htmx.responses import HTMXResponseClientRedirect
from sqlalchemy import delete, func, select

from kiosk import db
from kiosk.clients.portal import PortalUnavailable
from kiosk.clock import local_today, utcnow
from kiosk.domain import applications, codes, ecp, submissions
from kiosk.domain.attachments import TOTAL_BUDGET, Refused, prepare
from kiosk.domain.catalog import window_state
from kiosk.domain.iin import mask
from kiosk.domain.references import display
from kiosk.extensions import forget_demo_messages, get_portal, htmx, keyring
from kiosk.infra import sessions
from kiosk.infra.catalog_ext import get_catalog
from kiosk.infra.i18n import megabytes
from kiosk.models import Attachment
from kiosk.web import application_forms, consent, typed
from kiosk.web import ecp as ecp_web
from kiosk.web.bodies import takes_upload
from kiosk.web.codestep import CodePage, check_message, code_still_valid, locked_page, render_code_page, send_code
from kiosk.web.forms import CodeForm, ConfirmForm, ConsentForm, EcpSignForm, UploadForm
from kiosk.web.receipts import qr_svg

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


def requires_answers(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """The steps after the form (documents, check, signing) need its answers, checked and nothing
    refused since (``_answered``); else the parent goes back to the form."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not _answered():
            return redirect(url_for("apply.form"))
        return view(*args, **kwargs)

    return requires_identity(wrapped)


def _draft() -> dict[str, Any]:
    return session["draft"]


def _update_draft(**changes: Any) -> None:
    session["draft"] = {**session["draft"], **changes}


def _answered() -> bool:
    """The form was last sent valid: the draft holds checked answers and nothing typed since that
    the form refused (the steps after the form wait until the form is right again)."""
    draft = _draft()
    return bool(draft.get("answers")) and draft.get("typed") is None


def _attachments() -> list[Attachment]:
    s = db.get_session()
    return list(s.scalars(select(Attachment).where(Attachment.visit_id == _draft()["id"]).order_by(Attachment.id)))


@bp.route("/form", methods=["GET", "POST"])
@requires_identity
def form() -> ResponseReturnValue:
    service = g.service
    today = local_today()
    form_class = application_forms.form_for(service, today, g.lang)
    if request.method == "GET":
        # what the form last refused, else the checked answers: reload and Back show what was typed
        refused = _draft().get("typed")
        shown = refused if refused is not None else _draft()["answers"]
        form = application_forms.with_answers(form_class, shown)
        return render_template("apply/form.html", form=form, service=service, duplicate=None)
    form = form_class()
    duplicate = None
    if form.validate_on_submit():
        answers = application_forms.answers_of(form, service)
        year = applications.school_year(service, today)
        existing = submissions.existing_for_child(db.get_session(), service.code, answers["child_iin"], year)
        if existing is None:
            _update_draft(answers=answers, typed=None, year=year, payload_hash=None, consent_at=None)
            return redirect(
                url_for("apply.attachments") if request.args.get("back") != "check" else url_for("apply.check")
            )
        duplicate = _duplicate_notice(submissions.AlreadyApplied(existing))
    # refused: what was typed stays in the sealed visit as a draft, never as answers
    _update_draft(typed=typed.values(request.form, service.form))
    return render_template("apply/form.html", form=form, service=service, duplicate=duplicate)


@bp.route("/attachments", methods=["GET", "POST"])
@takes_upload
@requires_answers
def attachments() -> ResponseReturnValue:
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


def _consent_shown() -> None:
    """The consent's moment is when its text is shown with the application to sign: ЭЦҚ and eGov
    Mobile sign the bytes the page was drawn with, so the moment must be in them already; signing
    again later signs the same consent. A change of the answers or the files clears it."""
    if not _draft().get("consent_at"):
        _update_draft(consent_at=utcnow().isoformat())


@bp.route("/check", methods=["GET", "POST"])
@requires_answers
def check() -> ResponseReturnValue:
    draft = _draft()
    form = ConsentForm()
    error = None
    if form.validate_on_submit():
        _consent_shown()
        payload_hash = _payload()[1]
        if not _can_sign_by_code():
            # nobody proved the phone (the office's path, or an ЭЦҚ holder with no registered
            # phone) and nobody signed: the application waits for staff to see the ID card
            _update_draft(payload_hash=payload_hash)
            return _queue(payload_hash, method="staff")
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
    if error is None and request.method == "GET":
        error = EGOV_ENDINGS.get(request.args.get("egov", ""), lambda: None)()
    return _render_check(form, error)


def _render_check(form: ConsentForm, error: str | None) -> ResponseReturnValue:
    g.page_endpoint = "apply.check"
    _consent_shown()
    draft = _draft()
    service = g.service
    return render_template(
        "apply/check.html",
        form=form,
        rows=application_forms.answer_rows(service, draft["answers"], g.lang),
        service=service,
        files=_attachments(),
        error=error,
        identity=session["identity"],
        masked_iin=mask(session["identity"]["iin"]),
        signs_by_code=_can_sign_by_code(),
        consent_sections=consent.sections(service, g.lang, current_app.config),
        consent_version=consent.VERSION,
        ecp=_ecp_sign_box(),
        egov=_offers_egov(),
    )


def _ecp_sign_box() -> dict[str, str] | None:
    """What NCALayer signs on this page: exactly the application's canonical bytes, with the
    signing key (never AUTH); None when the site installed no НУЦ root."""
    if not ecp_web.enabled():
        return None
    payload = _payload()[0]
    return {
        "data": base64.b64encode(applications.canonical_bytes(payload)).decode(),
        "action": url_for("apply.sign_ecp"),
        "eku": ecp.SIGNING_EKU,
    }


def _verify_application_cms(cms: bytes | None, payload: dict[str, Any]) -> ecp.Verified:
    """The CMS checked as README "Signing with ЭЦҚ" says: over exactly this application's bytes,
    by the applicant's own signing key; raises ecp.Refused."""
    setup = ecp_web.setup()
    return ecp.verify_cms(
        cms or b"",
        expected=applications.canonical_bytes(payload),
        purpose=ecp.Purpose.SIGN,
        iin=session["identity"]["iin"],
        now=utcnow(),
        trust=setup.trust,
        revocation=setup.revocation,
        gost=setup.gost,
    )


@bp.post("/sign/ecp")
@requires_answers
def sign_ecp() -> ResponseReturnValue:
    """NCALayer signed the application's bytes: checked here, then queued like an SMS-signed one."""
    if not ecp_web.enabled():
        return redirect(url_for("apply.check"))
    form = EcpSignForm()
    if not form.validate_on_submit():
        if form.consent.errors or not form.consent.data:
            return _render_check(form, None)
        return _render_check(form, ecp_web.refusal_message(ecp.Problem.MALFORMED, ecp.Purpose.SIGN))
    payload, payload_hash = _payload()
    cms = ecp.decode_b64(form.cms.data)
    try:
        verified = _verify_application_cms(cms, payload)
    except ecp.Refused as refused:
        log.info("ecp signature on an application refused: %s", refused)
        return _render_check(form, ecp_web.refusal_message(refused.problem, ecp.Purpose.SIGN))
    assert cms is not None
    log.info(
        "application signed by ecp for %s (%s, revocation by %s)",
        mask(session["identity"]["iin"]),
        verified.checked_by,
        verified.revocation,
    )
    _update_draft(payload_hash=payload_hash)
    return _queue(payload_hash, method="ecp", signature=verified.record(cms, "ecp"))


def _can_sign_by_code() -> bool:
    """An SMS code can sign: identified by a code, or by ЭЦҚ with a phone registered for the IIN
    (an unreachable central system shows its own message when the code is sent)."""
    method = session["identity"]["method"]
    if method == "ecp":
        try:
            return get_portal().phone_for(session["identity"]["iin"]) is not None
        except PortalUnavailable:
            return True
    return method == "sms"


def _send_signing_code(subject: str) -> str | None:
    """Send a code that signs this subject; the draft keeps it only once it was sent."""
    iin = session["identity"]["iin"]
    try:
        phone = get_portal().phone_for(iin)
    except PortalUnavailable:
        return _("The SMS could not be sent: the central system does not answer. Please ask the school office.")
    if phone is None:
        return _("No mobile number is registered for your IIN in the mobile citizens database.")
    times, error = send_code(iin, phone, subject, signing=True)
    if times is not None:
        _update_draft(subject=subject, phone=phone.masked, **times)
    return error


# signing by a code: the code is posted back to the page; Back leads to the check page
SIGN_PAGE = CodePage("apply.sign", resend="apply.resend", back="apply.check", title=_l("Sign your application"))


def _render_sign(form: CodeForm, error: str | None) -> ResponseReturnValue:
    return render_code_page(SIGN_PAGE, form, error, _draft(), iin=session["identity"]["iin"])


@bp.route("/sign", methods=["GET", "POST"])
@requires_answers
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
            return _queue(payload_hash, method="sms")
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
    proved by an SMS code or an ЭЦҚ in this visit (an IIN typed on the office's path proves nobody).
    """
    identity = session["identity"]
    own = already.reference_for(identity["iin"]) if identity["method"] in ("sms", "ecp") else None
    return {"reference": display(own) if own else None}


def _already_applied(already: submissions.AlreadyApplied) -> ResponseReturnValue:
    """The form again, with the notice that this child has an application for this service already."""
    g.page_endpoint = "apply.form"  # the form shown again has its own address
    return render_template(
        "apply/form.html",
        form=application_forms.with_answers(
            application_forms.form_for(g.service, local_today(), g.lang), _draft()["answers"]
        ),
        service=g.service,
        duplicate=_duplicate_notice(already),
    )


def _queue(payload_hash: str, *, method: str, signature: dict[str, Any] | None = None) -> ResponseReturnValue:
    """Commit the submission with its first event; only then is there a receipt to show.

    ``method`` is how it was signed (sms, ecp, egov_mobile, or staff: nobody signed, staff see
    the ID card); an ЭЦҚ's CMS and its check go with it, sealed. How the parent identified (sms,
    ecp, in_person) is in the payload.
    """
    if not _answered():
        return redirect(url_for("apply.form"))  # the form refused what was typed since: nothing is signed
    payload, recomputed = _payload()
    if recomputed != payload_hash:
        return redirect(url_for("apply.check"))
    s = db.get_session()
    try:
        queued = submissions.queue_submission(
            s,
            payload=payload,
            payload_hash=payload_hash,
            signature_method=method,
            signature=signature,
            lang=g.lang,
            now=utcnow(),
            keyring=keyring(),
            visit_id=_draft()["id"],
        )
        s.commit()
    except submissions.AlreadyApplied as already:
        s.rollback()  # the code's use with it: nothing was queued, so nothing was signed
        return _already_applied(already)
    except submissions.LostRace:
        s.rollback()  # the other terminal's application is committed: this transaction now sees it
        winner = submissions.already_applied(s, payload)
        if winner is None:
            raise  # another constraint refused the row: a bug to see, not a notice to show
        return _already_applied(winner)
    submission = queued.submission
    log.info("submission %s queued (%s, %s)", submission.reference, submission.service_code, submission.state)
    forget_demo_messages(session["identity"]["iin"])
    session.pop("draft", None)
    receipts = [r for r in session.get("receipts", []) if r["reference"] != submission.reference]
    session["receipts"] = [*receipts, {"reference": submission.reference, "token": queued.status_token}]
    session["sent"] = {**session.get("sent", {}), g.service.code: submission.reference}
    sessions.current().regenerate()
    return redirect(url_for("receipt.show", reference=submission.reference))


# --- eGov Mobile by QR code, through the central system ------------------------------------------

EGOV_ENDINGS: dict[str, Callable[[], str]] = {
    "cancelled": lambda: _("Signing in eGov Mobile was cancelled. Sign another way, or try again."),
    "declined": lambda: _("You declined to sign in eGov Mobile. Sign another way, or try again."),
    "expired": lambda: _("The time to sign in eGov Mobile ran out. Sign another way, or try again."),
    "changed": lambda: _("The application changed after the QR code was shown. Please sign again."),
    "unavailable": lambda: _(
        "eGov Mobile cannot be reached: the central system does not answer. Sign another way, or ask the school office."
    ),
}


def _offers_egov() -> bool:
    """eGov Mobile needs the central system to hold the session and a root to check the CMS with."""
    return get_portal().offers_egov_signing and ecp_web.enabled()


@bp.post("/sign/egov")
@requires_answers
def sign_egov() -> ResponseReturnValue:
    """Open a signing session for exactly this application's bytes; the QR code page follows."""
    if not _offers_egov():
        return redirect(url_for("apply.check"))
    form = ConsentForm()
    if not form.validate_on_submit():
        return _render_check(form, None)
    payload, payload_hash = _payload()
    iin = session["identity"]["iin"]
    try:
        opened = get_portal().open_signing(iin, payload_hash, applications.canonical_bytes(payload), g.lang)
    except PortalUnavailable as exc:
        log.warning("eGov Mobile signing session not opened for %s: %s", mask(iin), exc)
        return _render_check(form, EGOV_ENDINGS["unavailable"]())
    until = min(opened.expires_at, utcnow() + dt.timedelta(seconds=current_app.config["EGOV_WAIT_S"]))
    _update_draft(egov={"id": opened.id, "url": opened.url, "until": until.isoformat(), "hash": payload_hash})
    return redirect(url_for("apply.egov"))


def _egov_outcome(egov: dict[str, str]) -> tuple[str, ResponseReturnValue | None]:
    """Where the session stands: ("waiting", None), ("signed", the receipt's redirect), or an
    ending ("declined", "cancelled", "expired", "changed", or a refusal's words) with None."""
    payload, payload_hash = _payload()
    if payload_hash != egov["hash"]:
        _end_egov(cancel=True)
        return "changed", None
    portal = get_portal()
    if utcnow() >= dt.datetime.fromisoformat(egov["until"]):
        _end_egov(cancel=True)
        return "expired", None
    try:
        signing = portal.signing_session(egov["id"])
    except PortalUnavailable as exc:
        log.info("eGov Mobile signing session %s not read: %s", egov["id"], exc)
        return "waiting", None  # the central system may answer at the next poll; the deadline holds
    if signing.status == "waiting":
        return "waiting", None
    if signing.status != "signed" or signing.cms is None:
        _end_egov(cancel=False)
        return (signing.status if signing.status in EGOV_ENDINGS else "expired"), None
    _end_egov(cancel=False)
    try:
        verified = _verify_application_cms(signing.cms, payload)
    except ecp.Refused as refused:
        log.info("eGov Mobile signature on an application refused: %s", refused)
        return ecp_web.refusal_message(refused.problem, ecp.Purpose.SIGN), None
    log.info("application signed in eGov Mobile by %s (%s)", mask(session["identity"]["iin"]), verified.revocation)
    return "signed", _queue(payload_hash, method="egov_mobile", signature=verified.record(signing.cms, "egov_mobile"))


def _end_egov(*, cancel: bool) -> None:
    egov = _draft().get("egov")
    _update_draft(egov=None)
    if cancel and egov:
        try:
            get_portal().cancel_signing(egov["id"])
        except PortalUnavailable:
            pass  # it expires on its own at the central system


def _render_egov(state: str, egov: dict[str, str], fragment: bool) -> ResponseReturnValue:
    g.page_endpoint = "apply.egov"
    message = EGOV_ENDINGS[state]() if state in EGOV_ENDINGS else (None if state == "waiting" else state)
    context = {
        "state": "waiting" if state == "waiting" else "ended",
        "message": message,
        "poll_s": current_app.config["EGOV_POLL_S"],
    }
    if fragment:
        return render_template("apply/_egov_status.html", **context)
    return render_template(
        "apply/egov.html",
        egov=egov,
        qr=qr_svg(egov["url"]),
        service=g.service,
        form=ConfirmForm(formdata=None),
        **context,
    )


@bp.get("/sign/egov")
@requires_identity
def egov() -> ResponseReturnValue:
    """The QR code for eGov Mobile, and where the signing stands (the page works without script:
    "I have signed" asks again)."""
    egov = _draft().get("egov")
    if not egov:
        return redirect(url_for("apply.check"))
    state, done = _egov_outcome(egov)
    if done is not None:
        return done
    return _render_egov(state, egov, fragment=False)


@bp.get("/sign/egov/status")
@requires_identity
def egov_status() -> ResponseReturnValue:
    """What htmx polls every few seconds: the status, or the receipt once the CMS arrived."""
    egov = _draft().get("egov")
    if not egov:
        return HTMXResponseClientRedirect(url_for("apply.check")) if htmx else redirect(url_for("apply.check"))
    state, done = _egov_outcome(egov)
    if not htmx:
        return done if done is not None else redirect(url_for("apply.egov"))
    if done is not None:
        location = done.headers.get("Location") if isinstance(done, Response) else None
        if location:
            return HTMXResponseClientRedirect(location)
        return done
    return _render_egov(state, egov, fragment=True)


@bp.post("/sign/egov/cancel")
@requires_identity
def egov_cancel() -> ResponseReturnValue:
    """The parent gave up at the kiosk: the session is cancelled at the central system, and the
    other ways to sign are back."""
    if ConfirmForm().validate_on_submit() and _draft().get("egov"):
        _end_egov(cancel=True)
        return redirect(url_for("apply.check", egov="cancelled"))
    return redirect(url_for("apply.check"))
