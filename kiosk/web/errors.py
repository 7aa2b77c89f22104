"""Error pages in the visitor's language (staff pages under /staff/); no input ever ends in a bare 500.

A database in the way is not a bug: a busy one (another writer held it past the busy timeout)
answers 503 "try again" with ``Retry-After``, and one the server cannot use (its schema behind the
code, or not answering) answers 503 "out of service"; both without a traceback.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, g, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from kiosk import db
from kiosk.web.bodies import is_upload
from kiosk.web.forms import ConfirmForm

log = logging.getLogger(__name__)


class DatabaseBusy(ServiceUnavailable):
    """Another writer kept the database longer than a visitor should wait: try again in a moment."""

    kind = "busy"

    def __init__(self) -> None:
        super().__init__(retry_after=5)


class OutOfService(ServiceUnavailable):
    """The database cannot serve this code (schema behind the migrations, or not answering)."""

    kind = "out_of_service"

    def __init__(self, reason: str) -> None:
        super().__init__(description=reason, retry_after=60)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.register_error_handler(Exception, _unexpected)


def database_page(exc: BaseException) -> HTTPException | None:
    """The page for a database error that is no bug (busy, schema behind, not answering), else None."""
    if db.is_busy(exc):
        log.warning("database busy on %s %s: %s", request.method, request.path, getattr(exc, "orig", None) or exc)
        return DatabaseBusy()
    problem = db.schema_problem()
    if problem:
        log.warning("out of service on %s %s: %s", request.method, request.path, problem)
        return OutOfService(problem)
    return None


def _again(fallback: str = "visitor.services") -> str:
    """Where "Try again" goes: this page, or for a form the page it was sent from (else ``fallback``)."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    came_from = urlsplit(request.referrer or "")
    if came_from.netloc == request.host and came_from.path:
        return came_from.path + (f"?{came_from.query}" if came_from.query else "")
    return url_for(fallback)


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    code = exc.code or 500
    kind = getattr(exc, "kind", None)
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    if request.path.startswith("/healthz") or request.accept_mimetypes.best == "application/json":
        return {"status": exc.code, "title": exc.name}, code, headers
    if _in_console():
        return _staff_error(code, kind), code, headers
    # a file refused as too large goes back to the form it came from, where the draft is still waiting
    back = request.path if exc.code == 413 and is_upload() else None
    if back:
        g.page_endpoint = request.endpoint  # the language buttons lead back there too
    again = _again() if kind else None
    return render_template("errors/error.html", code=exc.code, back=back, kind=kind, again=again), code, headers


# What staff read for each error: a title and what to do; the way back is the page's links
STAFF_PAGES = {
    "busy": (
        _l("The kiosk is busy"),
        _l(
            "The database was busy and this step was not done. Nothing saved before is lost. "
            "Try again in a few seconds."
        ),
    ),
    "out_of_service": (
        _l("The kiosk is out of service"),
        _l("The database cannot serve the console now. The server's log says why; tell the administrator."),
    ),
    400: (
        _l("This request cannot be handled"),
        _l("The form was out of date or incomplete. Open the page again and repeat what you did."),
    ),
    403: (_l("Not for your role"), _l("This page is for administrators. Ask an administrator if you need it.")),
    404: (
        _l("Page not found"),
        _l("The console has no such page or application. Look the application up in the queue by its reference."),
    ),
    405: (
        _l("This request cannot be handled"),
        _l("This address is not opened that way. Use the console's own links and buttons."),
    ),
    413: (
        _l("Too large to send"),
        _l("What was sent is larger than the console takes. Open the page again and repeat what you did."),
    ),
    415: (
        _l("This request cannot be handled"),
        _l("The console does not take what was sent. Use the console's own forms."),
    ),
    503: (_l("The console cannot answer now"), _l("Try again in a moment. If it goes on, tell the administrator.")),
    500: (
        _l("Something went wrong"),
        _l("Nothing saved before is lost. Try again; if it happens again, tell the administrator."),
    ),
}


def _in_console() -> bool:
    """Whether the request was for the staff console: its errors are staff pages, whatever the route."""
    return request.path == "/staff" or request.path.startswith("/staff/")


def _staff_error(code: int, kind: str | None) -> str:
    """The error in the staff layout and language, with the way back into the console (never the
    visitor's "choose a service")."""
    try:
        signed_in = bool(current_user.is_authenticated)
    except SQLAlchemyError:  # the database that failed the page cannot tell who is signed in either
        db.get_session().rollback()
        signed_in = False
    title, said = STAFF_PAGES.get(kind or code) or STAFF_PAGES[400 if code < 500 else 500]
    return render_template(
        "errors/staff.html",
        code=code,
        kind=kind,
        title=title,
        said=said,
        again=_again("staff.dashboard") if kind else None,
        staff_signed_in=signed_in,
        logout_form=ConfirmForm(formdata=None),
    )


def _server_error(exc: InternalServerError) -> ResponseReturnValue:
    """Flask's 500 for an error outside a view (loading or saving the visit): a database in the way
    gets its own page; anything else was logged by Flask already."""
    original = exc.original_exception
    page = database_page(original) if isinstance(original, SQLAlchemyError) else None
    return _http_error(page or exc)


def _database_error(exc: SQLAlchemyError) -> ResponseReturnValue:
    page = database_page(exc)
    return _http_error(page) if page else _unexpected(exc)


def _unexpected(exc: Exception) -> ResponseReturnValue:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _http_error(InternalServerError())
