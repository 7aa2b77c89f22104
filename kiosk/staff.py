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
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import func, select

from kiosk import accounts, audit, db, sync
from kiosk.clock import utcnow
from kiosk.forms import ConfirmForm, StaffLoginForm
from kiosk.models import StaffUser, State, Submission
from kiosk.receipt import state_label
from kiosk.references import display

bp = Blueprint("staff", __name__, url_prefix="/staff")
login_manager = LoginManager()
OPEN = {"staff.login", "staff.language"}


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
    login_manager.init_app(app)
    app.register_blueprint(bp)


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    if request.endpoint in OPEN:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("staff.login"))
    now = utcnow()
    since = dt.datetime.fromisoformat(session.get("staff_since", now.isoformat()))
    seen = dt.datetime.fromisoformat(session.get("staff_seen", now.isoformat()))
    idle = dt.timedelta(seconds=current_app.config["STAFF_IDLE_S"])
    longest = dt.timedelta(seconds=current_app.config["STAFF_MAX_S"])
    if now - seen > idle or now - since > longest:
        _end_session("staff.timeout")
        flash(_("You were signed out after a time without activity. Please sign in again."))
        return redirect(url_for("staff.login"))
    session["staff_seen"] = now.isoformat()
    return None


def admin_only(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if current_user.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _end_session(action: str) -> None:
    if current_user.is_authenticated:
        s = db.get_session()
        audit.append(s, actor=current_user.username, action=action, target=current_user.username, now=utcnow())
        s.commit()
    logout_user()
    lang = session.get("lang")
    session.destroy()
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
            session.regenerate()  # a new session id at sign-in
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


@bp.get("/")
def dashboard() -> ResponseReturnValue:
    s = db.get_session()
    now = utcnow()
    counts = dict(s.execute(select(Submission.state, func.count(Submission.id)).group_by(Submission.state)).all())
    health = sync.health(s, now)
    alerts = []
    if health.oldest_waiting_s and health.oldest_waiting_s > current_app.config["STAFF_ALERT_WAITING_S"]:
        alerts.append(
            _(
                "Applications have waited more than %(num)d minutes to reach the central system.",
                num=current_app.config["STAFF_ALERT_WAITING_S"] // 60,
            )
        )
    if health.needs_staff:
        alerts.append(
            _("%(num)d applications were rejected by the central system and need you.", num=health.needs_staff)
        )
    if counts.get(State.NEEDS_VERIFICATION):
        alerts.append(
            _(
                "%(num)d applications wait for an ID card to be seen at the office.",
                num=counts[State.NEEDS_VERIFICATION],
            )
        )
    if health.backlog and (
        health.last_success_at is None
        or (now - health.last_success_at).total_seconds() > current_app.config["STAFF_ALERT_OFFLINE_S"]
    ):
        alerts.append(_("The central system has not answered for a while: applications are waiting."))
    states = [(state, state_label(state), counts.get(state, 0)) for state in State]
    return render_template(
        "staff/dashboard.html", states=states, health=health, alerts=alerts, logout_form=ConfirmForm(formdata=None)
    )


@bp.get("/users")
@admin_only
def users() -> ResponseReturnValue:
    rows = db.get_session().scalars(select(StaffUser).order_by(StaffUser.username)).all()
    return render_template("staff/users.html", users=rows, now=utcnow(), logout_form=ConfirmForm(formdata=None))


@bp.get("/audit")
@admin_only
def audit_log() -> ResponseReturnValue:
    s = db.get_session()
    from kiosk.models import AuditEntry

    entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(200)).all()
    return render_template(
        "staff/audit.html", entries=entries, problems=audit.verify(s), logout_form=ConfirmForm(formdata=None)
    )


@bp.get("/queue.csv")
def queue_csv() -> ResponseReturnValue:
    """The queue as CSV, streamed row by row: no personal data, so it may leave the office."""
    s = db.get_session()
    audit.append(s, actor=current_user.username, action="staff.export_csv", now=utcnow())
    s.commit()
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
                writer.writerow([display(row[0]), *row[1:]])
                yield out.getvalue()
                out.seek(0)
                out.truncate()

    response = Response(rows(), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=queue.csv"
    response.headers["Cache-Control"] = "no-store"
    return response
