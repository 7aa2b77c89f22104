"""The staff console at /staff: sign-in, the dashboard, users (admins), the audit log, CSV export.

Every view is behind ``before_request``, so no visitor session and no fragment endpoint reaches
staff data. Sessions are the same server-side visits as the kiosk's, renewed at sign-in, ended
after 15 minutes idle or 8 hours in all.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Callable, Iterator
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_htmx.responses import HTMXResponseClientRedirect, HTMXResponseStopPolling
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk import db
from kiosk.clients.portal import PortalUnavailable
from kiosk.clock import local_time, local_today, utcnow
from kiosk.domain import accounts, audit, codes, helpcalls, reconcile, staffqueue, states
from kiosk.domain.iin import mask
from kiosk.domain.references import display
from kiosk.domain.submissions import (
    Erased,
    attachments_of,
    by_reference,
    open_attachment,
    open_payload,
    open_signature,
)
from kiosk.extensions import get_portal, htmx, keyring
from kiosk.infra import sessions
from kiosk.infra.catalog_ext import get_catalog
from kiosk.infra.i18n import current_language
from kiosk.jobs import sync
from kiosk.models import Attachment, AuditEntry, StaffUser, State, Submission
from kiosk.web import application_forms, labels
from kiosk.web.forms import ConfirmForm, StaffLoginForm
from kiosk.web.labels import state_label
from kiosk.web.receipts import document_line, receipt_parts
from kiosk.web.rendering import render_page_or_partial

bp = Blueprint("staff", __name__, url_prefix="/staff")
login_manager = LoginManager()
# the remember-me cookie (never set here, but cleared at sign-out if a browser brings one): staff only
bp.after_request(login_manager._update_remember_cookie)
OPEN = {"staff.login", "staff.language"}
STAFF_SEEN_EVERY_S = 30


class StaffPrincipal:
    """What Flask-Login keeps of a staff member for one request."""

    def __init__(self, user: StaffUser) -> None:
        self.id = user.id
        self.username = user.username
        self.role = user.role
        self.is_authenticated = True
        self.is_active = user.active
        self.is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)


@login_manager.user_loader
def _load(user_id: str) -> StaffPrincipal | None:
    if not user_id.isdigit():
        return None
    user = db.get_session().get(StaffUser, int(user_id))
    return StaffPrincipal(user) if user is not None and user.active else None


def init_app(app: Flask) -> None:
    # Flask-Login without its app-wide hooks: a visitor's page never loads a user. current_user is
    # the lazy proxy, read only by the templates that name it (the staff layout)
    app.login_manager = login_manager  # type: ignore[attr-defined]
    app.jinja_env.globals["current_user"] = current_user
    app.register_blueprint(bp)
    app.jinja_env.globals["state_label"] = state_label
    app.jinja_env.globals["mask_iin"] = mask
    labels.init_app(app)


@bp.context_processor
def _layout_forms() -> dict[str, Any]:
    """The layout's sign-out button, on every staff page (the sign-in page too, when signed in)."""
    return {"logout_form": ConfirmForm(formdata=None)}


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    if request.endpoint in OPEN:
        return None
    if not current_user.is_authenticated:
        return _to_login()
    now = utcnow()
    since = dt.datetime.fromisoformat(session.get("staff_since", now.isoformat()))
    seen = dt.datetime.fromisoformat(session.get("staff_seen", now.isoformat()))
    idle = dt.timedelta(seconds=current_app.config["STAFF_IDLE_S"])
    longest = dt.timedelta(seconds=current_app.config["STAFF_MAX_S"])
    if now - seen > idle or now - since > longest:
        _end_session("staff.timeout")
        flash(_("You were signed out after a time without activity. Please sign in again."))
        return _to_login()
    # a page refreshing itself is not someone at the desk; and half a minute's precision is plenty for a
    # 15-minute timeout, so most staff pages write nothing to the session
    if not request.headers.get("X-Kiosk-Poll") and now - seen > dt.timedelta(seconds=STAFF_SEEN_EVERY_S):
        session["staff_seen"] = now.isoformat()
    return None


def _to_login() -> ResponseReturnValue:
    """To the sign-in page; a fragment's request navigates the whole page instead of swapping it in."""
    if htmx:
        return HTMXResponseClientRedirect(url_for("staff.login"))
    return redirect(url_for("staff.login"))


def admin_only(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if current_user.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def record_read(action: str, target: str | None = None) -> None:
    """The one write a GET makes: a staff member opened personal data (an application, a photo, a
    reprint, the queue's export). The entry is committed before the data leaves, so nothing is
    shown that the audit log does not tell of."""
    s = db.get_session()
    audit.append(s, actor=current_user.username, action=action, target=target, now=utcnow())
    s.commit()


def _end_session(action: str) -> None:
    if current_user.is_authenticated:
        s = db.get_session()
        audit.append(s, actor=current_user.username, action=action, target=current_user.username, now=utcnow())
        s.commit()
    logout_user()
    lang = session.get("lang")
    sessions.current().destroy()
    if lang:
        session["lang"] = lang


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = StaffLoginForm()
    error = None
    if form.validate_on_submit():
        s = db.get_session()
        rules = accounts.LockRules(
            current_app.config["STAFF_MAX_FAILURES"], dt.timedelta(seconds=current_app.config["STAFF_LOCK_S"])
        )
        result, user = accounts.authenticate(s, form.username.data, form.password.data, utcnow(), rules)
        s.commit()
        if result is accounts.SignIn.OK and user is not None:
            sessions.current().regenerate()  # a new session id at sign-in
            login_user(StaffPrincipal(user))
            now = utcnow().isoformat()
            session["staff_since"] = session["staff_seen"] = now
            return redirect(url_for("staff.dashboard"))
        error = (
            _("Too many failed attempts: this account is locked for a while. An admin can unlock it.")
            if result is accounts.SignIn.LOCKED
            else _("The user name or the password is not right.")
        )
    return render_template("staff/login.html", form=form, error=error)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        _end_session("staff.sign_out")
    return redirect(url_for("staff.login"))


@bp.get("/language/<code>")
def language(code: str) -> ResponseReturnValue:
    """Staff pages have no language in their address; the choice is kept in the session."""
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    return redirect(url_for("staff.dashboard"))


def _alerts(s: Session, now: dt.datetime, counts: dict[str, int], health: sync.Health) -> list[str]:
    """What needs a person now, in the reader's language."""
    config = current_app.config
    alerts = []
    if health.oldest_waiting_s and health.oldest_waiting_s > config["STAFF_ALERT_WAITING_S"]:
        alerts.append(
            ngettext(
                "Applications have waited more than %(num)d minute to reach the central system.",
                "Applications have waited more than %(num)d minutes to reach the central system.",
                config["STAFF_ALERT_WAITING_S"] // 60,
            )
        )
    if health.needs_staff:
        alerts.append(
            ngettext(
                "%(num)d application was rejected by the central system and needs you.",
                "%(num)d applications were rejected by the central system and need you.",
                health.needs_staff,
            )
        )
    if counts.get(State.NEEDS_VERIFICATION):
        alerts.append(
            ngettext(
                "%(num)d application waits for an ID card to be seen at the office.",
                "%(num)d applications wait for an ID card to be seen at the office.",
                counts[State.NEEDS_VERIFICATION],
            )
        )
    if health.backlog and (
        health.last_success_at is None
        or (now - health.last_success_at).total_seconds() > config["STAFF_ALERT_OFFLINE_S"]
    ):
        alerts.append(_("The central system has not answered for a while: applications are waiting."))
    failed = codes.undelivered_since(s, now - dt.timedelta(seconds=config["STAFF_ALERT_SMS_S"]))
    if failed:
        alerts.append(
            ngettext(
                "%(num)d SMS code could not be sent %(period)s: parents cannot sign.",
                "%(num)d SMS codes could not be sent %(period)s: parents cannot sign.",
                failed,
                period=ngettext(
                    "in the last %(num)d minute", "in the last %(num)d minutes", config["STAFF_ALERT_SMS_S"] // 60
                ),
            )
        )
    return alerts


def _dashboard_parts() -> dict[str, Any]:
    """The alerts and calls, shared by the page and its refreshing fragment."""
    s = db.get_session()
    now = utcnow()
    counts = dict(s.execute(select(Submission.state, func.count(Submission.id)).group_by(Submission.state)).all())
    health = sync.health(s, now)
    return {
        "counts": counts,
        "health": health,
        "alerts": _alerts(s, now, counts, health),
        "calls": helpcalls.open_calls(s),
        "form": ConfirmForm(formdata=None),
    }


@bp.get("/")
def dashboard() -> ResponseReturnValue:
    parts = _dashboard_parts()
    states = [(state, state_label(state), parts["counts"].get(state, 0)) for state in State]
    return render_page_or_partial("staff/dashboard.html", "staff/_alerts.html", states=states, **parts)


@bp.post("/calls/<id:call_id>/answer")
def answer_call(call_id: int) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    s = db.get_session()
    if helpcalls.answer(s, call_id, staff=current_user.username, now=utcnow()):
        s.commit()
    return redirect(url_for("staff.dashboard"))


@bp.get("/users")
@admin_only
def users() -> ResponseReturnValue:
    now = utcnow()
    rows = [(user, accounts.state(user, now)) for user in accounts.all_users(db.get_session())]
    return render_template("staff/users.html", users=rows)


@bp.get("/audit")
@admin_only
def audit_log() -> ResponseReturnValue:
    s = db.get_session()
    entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(200)).all()
    return render_template("staff/audit.html", entries=entries, problems=audit.verify(s))


@bp.get("/queue.csv")
def queue_csv() -> ResponseReturnValue:
    """The queue as CSV, streamed row by row: no personal data, so it may leave the office."""
    record_read("staff.export_csv")
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["reference", "service", "state", "identity", "created_at", "updated_at", "attempts", "portal_reference"]
        )
        with db.new_session(app) as stream:
            query = select(
                Submission.reference,
                Submission.service_code,
                Submission.state,
                Submission.identity_method,
                Submission.created_at,
                Submission.updated_at,
                Submission.attempts,
                Submission.portal_reference,
            ).order_by(Submission.id)
            for row in stream.execute(query.execution_options(yield_per=500)):
                # Almaty wall time with its offset, the day the school and the queue filter count
                created, updated = (local_time(t).isoformat(sep=" ", timespec="seconds") for t in row[4:6])
                writer.writerow([display(row[0]), *row[1:4], created, updated, *row[6:]])
                yield out.getvalue()
                out.seek(0)
                out.truncate()

    response = Response(rows(), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=queue.csv"
    response.headers["Cache-Control"] = "no-store"
    return response


DAY_FORMATS = ("%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d")  # what staff type, and the ISO the pages link with
YEARS = range(2000, 2100)  # beyond these a "day" is a typing slip, and would overflow at the day's edges


def _parse_day(text: str) -> dt.date | None:
    for pattern in DAY_FORMATS:
        try:
            day = dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        return day if day.year in YEARS else None
    return None


def _days(problems: list[str]) -> tuple[dt.date | None, dt.date | None, dict[str, str]]:
    """The address's ``from`` and ``to`` days, as typed (DD.MM.YYYY or ISO) and as understood.

    A value that is not a day, or a range that runs backwards, adds a message to ``problems``
    instead of being replaced by some other day: staff must never read results for days they did
    not ask for. Empty means "not given".
    """
    typed = {name: (request.values.get(name) or "").strip()[:40] for name in ("from", "to")}
    days = []
    for raw in typed.values():
        day = _parse_day(raw) if raw else None
        if raw and day is None:
            problems.append(
                _(
                    "“%(value)s” is not a date: type the day as %(format)s, for example %(example)s.",
                    value=raw,
                    format=_("DD.MM.YYYY"),
                    example=format_date(local_today(), "dd.MM.yyyy"),
                )
            )
        days.append(day)
    first, last = days
    if first and last and last < first:
        problems.append(
            _(
                "The first day, %(first)s, comes after the last day, %(last)s: put the earlier day first.",
                first=format_date(first, "dd.MM.yyyy"),
                last=format_date(last, "dd.MM.yyyy"),
            )
        )
    return first, last, typed


def _filters(problems: list[str]) -> tuple[staffqueue.Filters, dict[str, str]]:
    first, last, typed = _days(problems)
    state = request.args.get("state") or None
    service = request.args.get("service") or None
    filters = staffqueue.Filters(
        state=state if state in set(State) else None,
        service=service if service and get_catalog().service(service) else None,
        day_from=first,
        day_to=last,
        search=(request.args.get("q") or "").strip()[:40] or None,
    )
    return filters, typed


def _cursor() -> tuple[dt.datetime, int] | None:
    raw = request.args.get("after", "")
    at, _, last = raw.rpartition("_")
    try:
        after = dt.datetime.fromisoformat(at)
    except ValueError:
        return None
    last_id = db.row_id(last)
    return (after, last_id) if last_id is not None else None


@bp.get("/queue")
def queue() -> ResponseReturnValue:
    problems: list[str] = []
    filters, typed = _filters(problems)
    rows, following = staffqueue.queue_page(db.get_session(), filters, _cursor()) if not problems else ([], None)
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
    next_url = url_for("staff.queue", **args, after=f"{following[0].isoformat()}_{following[1]}") if following else None
    moving = any(r.state in states.MOVING for r in rows)
    if htmx and not moving:
        return HTMXResponseStopPolling(render_template("staff/_queue_rows.html", rows=rows, moving=moving))
    return render_page_or_partial(
        "staff/queue.html",
        "staff/_queue_rows.html",
        rows=rows,
        next_url=next_url,
        moving=moving,
        filters=filters,
        typed=typed,
        problems=problems,
        states=[(s, state_label(s)) for s in State],
        services=get_catalog().services,
    )


def _submission_or_404(reference: str) -> Submission:
    """The application staff opened by its reference; a reference the kiosk does not hold is a 404."""
    row = by_reference(db.get_session(), reference)
    if row is None:
        abort(404)
    return row


@bp.get("/submissions/<reference>")
def submission(reference: str) -> ResponseReturnValue:
    row = _submission_or_404(reference)
    try:
        payload = open_payload(row, keyring())
    except Erased:
        return render_template("staff/submission.html", row=row, erased=True, actions=states.ACTIONS)
    signature = open_signature(row, keyring())
    if signature and signature.get("signed_at"):  # shown in Almaty time, as every time on the staff side
        signature = {**signature, "signed_at": dt.datetime.fromisoformat(signature["signed_at"])}
    service = get_catalog().service(row.service_code)
    # every document the receipt told the parent to show in original, for this channel and situation
    channel = service.kiosk_channel if service else None
    category = service.category(payload["answers"].get("category", "")) if service else None
    originals = [i for i in channel.checklist(category) if i.original] if channel is not None else []
    checked = {e.detail.get("document"): e for e in row.events if (e.detail or {}).get("action") == "original_checked"}
    answers = application_forms.answer_rows(service, payload["answers"], current_language())
    attachments = attachments_of(db.get_session(), row)
    record_read("submission.view", row.reference)
    return render_template(
        "staff/submission.html",
        row=row,
        attachments=attachments,
        payload=payload,
        signature=signature,
        answers=answers,
        service=service,
        originals=originals,
        document_line=document_line,
        checked=checked,
        actions=states.ACTIONS,
        form=ConfirmForm(formdata=None),
    )


@bp.get("/submissions/<reference>/attachments/<id:attachment_id>")
def attachment(reference: str, attachment_id: int) -> ResponseReturnValue:
    """One photo or scan, opened for staff only; every look is in the audit log."""
    s = db.get_session()
    row = by_reference(s, reference)
    item = s.get(Attachment, attachment_id)
    if row is None or item is None or item.submission_id != row.id:
        abort(404)
    try:
        data = open_attachment(row, item, keyring())
    except Erased:
        abort(404)
    record_read("submission.attachment_view", row.reference)
    response = Response(data, mimetype=item.kind)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = f"inline; filename={row.reference}-{item.id}.{item.kind.split('/')[1]}"
    return response


@bp.post("/submissions/<reference>/<action>")
def submission_action(reference: str, action: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit() or action not in states.ACTIONS:
        abort(400)
    s = db.get_session()
    row = _submission_or_404(reference)
    detail: dict[str, str] = {}
    if action == "cancel":
        detail["reason"] = (request.form.get("reason") or "").strip()[:500]
        if not detail["reason"]:
            flash(_("Write why the application is cancelled, then cancel it."), "error")
            return redirect(url_for("staff.submission", reference=reference))
    if action == "original_checked":
        detail["document"] = (request.form.get("document") or "")[:64]
    try:
        staffqueue.act(s, row, action, staff=current_user.username, now=utcnow(), **detail)
        s.commit()
    except staffqueue.NotAllowed:
        s.rollback()
        flash(_("This action does not apply to this application now."), "error")
    return redirect(url_for("staff.submission", reference=reference))


@bp.route("/reconcile", methods=["GET", "POST"])
def reconcile_view() -> ResponseReturnValue:
    """Reconcile the days staff ask for, whole; a day that is not one or a backward range gets a message."""
    problems: list[str] = []
    first, last, typed = _days(problems)
    today = local_today()
    first, last = first or last or today, last or first or today  # one day given: that day
    if not problems and (last - first).days + 1 > reconcile.MAX_DAYS:
        problems.append(
            ngettext(
                "At most %(num)d day can be checked at once: choose a shorter range.",
                "At most %(num)d days can be checked at once: choose a shorter range.",
                reconcile.MAX_DAYS,
            )
        )
    report = None
    error = None
    if not problems:
        s = db.get_session()
        portal = get_portal()
        try:
            report = reconcile.check(s, portal, first, last) if hasattr(portal, "listing") else None
        except PortalUnavailable:
            report = None
        if report is None:
            error = _("The central system does not answer: reconciling is not possible now.")
        elif request.method == "POST" and ConfirmForm().validate_on_submit():
            chosen = next((d for d in report.differences if d.key == request.form.get("key")), None)
            if chosen is not None:
                reconcile.resolve(s, chosen, staff=current_user.username, now=utcnow())
                s.commit()
                flash(_("Done."))
            days: dict[str, Any] = {"from": first.isoformat(), "to": last.isoformat()}
            return redirect(url_for("staff.reconcile_view", **days))
    return render_template(
        "staff/reconcile.html",
        start=first,
        end=last,
        typed=typed if problems else {},
        problems=problems,
        report=report,
        error=error,
        form=ConfirmForm(formdata=None),
    )


@bp.route("/privacy", methods=["GET", "POST"])
def privacy_report() -> ResponseReturnValue:
    """What the kiosk holds about one person (and their children), why, until when, who opened it:
    printed for a parent who asks, once staff have seen their ID card. The IIN is posted, never put
    in an address (where logs would keep it), and shown masked on the page and on paper."""
    from kiosk.domain.iin import InvalidIin, parse_iin
    from kiosk.domain.submissions import FINAL, iin_hash
    from kiosk.jobs import privacy
    from kiosk.web import consent
    from kiosk.web.forms import IinForm

    form = IinForm()
    report = None
    if form.validate_on_submit():
        try:
            number = parse_iin(form.iin.data).number
        except InvalidIin:
            form.iin.errors = [_("This is not a valid IIN: check the 12 digits on the ID card.")]
        else:
            s = db.get_session()
            retention = privacy.Retention.from_config(current_app.config)
            held = privacy.held_for(s, iin_hash(number), retention)
            photos = dict(
                s.execute(
                    select(Attachment.submission_id, func.count(Attachment.id))
                    .where(Attachment.submission_id.in_([h.submission.id for h in held]))
                    .group_by(Attachment.submission_id)
                ).all()
            )
            lang = current_language()
            rows = []
            for h in held:
                service = get_catalog().service(h.submission.service_code)
                rows.append(
                    {
                        "held": h,
                        "data": consent.data_items(service, lang)[:-1] if service else [],  # photos: counted
                        "photos": photos.get(h.submission.id, 0),
                        "final": h.submission.state in FINAL,
                    }
                )
            privacy.record_report(s, held, current_user.username, utcnow())
            s.commit()
            retention_days = current_app.config.get("PRIVACY_RETENTION_DAYS") or {}
            report = {
                "masked": mask(number),
                "rows": rows,
                "operator": consent.operator_line(current_app.config, lang),
                "decided": max(retention_days.get("approved", 0), retention_days.get("refused", 0)),
                "cancelled": retention_days.get("cancelled", 0),
                "printed_at": utcnow(),
            }
            form = IinForm(formdata=None)  # the number is not left in the page
    return render_template("staff/privacy.html", form=form, report=report)


@bp.get("/submissions/<reference>/receipt")
def reprint(reference: str) -> ResponseReturnValue:
    """The receipt again, for a parent who lost it: without the QR code, whose token only the parent had."""
    row = _submission_or_404(reference)
    try:
        payload = open_payload(row, keyring())
        parts = receipt_parts(
            row, payload, get_catalog(), attachments_of(db.get_session(), row), first=row.lang, qr=False
        )
    except Erased:
        flash(_("This application's personal data was erased: its receipt cannot be printed again."), "error")
        return redirect(url_for("staff.submission", reference=reference))
    record_read("submission.reprint", row.reference)
    response = render_template(
        "staff/reprint.html",
        submission=row,
        parts=parts,
        qr=None,
        reference=display(row.reference),
        back_url=url_for("staff.submission", reference=reference),
    )
    return response
