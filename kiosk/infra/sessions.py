"""Server-side visitor sessions: the cookie carries a random token, the data stays in the database.

Flask's default session is a signed cookie that anyone can read and nobody can revoke; a kiosk
shared by strangers needs a visit that can be destroyed on the server. Rows are written only when
the session changes, so browsing the catalog costs no write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import Any, cast

from flask import Flask, Request, Response
from flask import session as request_session
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import CursorResult, delete, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.datastructures import CallbackDict

from kiosk import db
from kiosk.clock import aware, utcnow
from kiosk.extensions import keyring
from kiosk.infra.crypto import CannotDecrypt
from kiosk.models import Visit

log = logging.getLogger(__name__)


class VisitSession(CallbackDict, SessionMixin):
    def __init__(self, data: dict[str, Any] | None = None, token: str | None = None) -> None:
        def on_update(_self: CallbackDict) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.token = token
        self.modified = False
        self.destroyed = False
        self.touch = False  # unchanged, but its last request is to be noted (the server-side expiry)

    def destroy(self) -> None:
        """End the visit: the row is deleted and the browser gets a new, empty cookie."""
        self.clear()
        self.destroyed = True
        self.modified = True

    def regenerate(self) -> None:
        """Keep the data under a new token (at sign-in), so a token seen before is worthless."""
        self.destroyed = True
        self.modified = True


def current() -> VisitSession:
    """The request's session, typed as what VisitSessionInterface opens (``destroy``, ``regenerate``)."""
    if not isinstance(request_session, VisitSession):
        raise RuntimeError("the app's session interface is not VisitSessionInterface")
    return request_session


# a visit that only reads is still noted as alive, at most this often (one small UPDATE)
TOUCH_AFTER_S = 20


def purge_stale(session: Session, now: dt.datetime, ttl_s: float) -> int:
    """Delete the visits nobody ended (their data is sealed, but it need not be kept at all)."""
    cutoff = now - dt.timedelta(seconds=ttl_s)
    deleted = cast(CursorResult[Any], session.execute(delete(Visit).where(Visit.last_seen_at < cutoff)))
    return deleted.rowcount or 0


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def visit_id(session: Any) -> str | None:
    """The visit's row key (a hash of its token), to flag a visit without holding its cookie."""
    token = getattr(session, "token", None)
    return _key(token) if token else None


class VisitSessionInterface(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> VisitSession:
        if "HTTP_COOKIE" not in request.environ:
            return VisitSession()  # most catalog requests: nothing to parse, nothing to read
        token = request.cookies.get(self.get_cookie_name(app))
        if not token or len(token) > 100:
            return VisitSession()
        if db.schema_problem(app):
            return VisitSession()  # no visit can be read: every page is "out of service" (kiosk/web/health.py)
        with db.new_session(app) as s:
            visit = s.get(Visit, _key(token))
            if visit is None:
                return VisitSession()
            try:
                data = keyring().open_json(visit.data, bound_to=visit.id)
            except CannotDecrypt:
                return VisitSession()
            quiet = (utcnow() - aware(visit.last_seen_at)).total_seconds()
            if quiet > app.config["VISIT_TTL_S"] and "_user_id" not in data:
                # the terminal's browser never reset this visit (a crash, no script): it is over, and
                # save_session deletes its row and the cookie
                expired = VisitSession(token=token)
                expired.destroy()
                return expired
            session = VisitSession(data, token)
            session.touch = quiet > TOUCH_AFTER_S
            return session

    def save_session(self, app: Flask, session: VisitSession, response: Response) -> None:  # type: ignore[override]
        """Write the visit; a busy database fails the request ("try again") only when data would be lost."""
        try:
            self._save(app, session, response)
        except SQLAlchemyError as exc:
            if db.is_busy(exc) and not session.modified:
                log.info("visit not marked alive, the database is busy: the next request does it")
                return
            if db.is_busy(exc) and session.destroyed and not session:
                # a wipe (Finish, the idle reset): the browser forgets the visit all the same, and the
                # server refuses its row after VISIT_TTL_S and purges it
                log.warning("visit row not deleted, the database is busy: it expires")
                response.delete_cookie(
                    self.get_cookie_name(app), path=self.get_cookie_path(app), domain=self.get_cookie_domain(app)
                )
                return
            session.modified = session.touch = False  # Flask saves again after the error page: once is enough
            raise

    def _save(self, app: Flask, session: VisitSession, response: Response) -> None:
        if not session.modified:
            if session.touch and session.token:
                with db.new_session(app) as s:
                    s.execute(update(Visit).where(Visit.id == _key(session.token)).values(last_seen_at=utcnow()))
                    s.commit()
            return
        name = self.get_cookie_name(app)
        now = utcnow()
        with db.new_session(app) as s:
            if session.token and session.destroyed:
                old = s.get(Visit, _key(session.token))
                if old is not None:
                    s.delete(old)
                session.token = None
            if not session:
                s.commit()
                if session.destroyed or session.token:
                    response.delete_cookie(name, path=self.get_cookie_path(app), domain=self.get_cookie_domain(app))
                return
            if session.token is None:
                session.token = secrets.token_urlsafe(32)
                key = _key(session.token)
                s.add(Visit(id=key, created_at=now, last_seen_at=now, data=keyring().seal_json(dict(session), key)))
            else:
                visit = s.get(Visit, _key(session.token)) or Visit(id=_key(session.token), created_at=now)
                visit.last_seen_at = now
                visit.data = keyring().seal_json(dict(session), visit.id)
                s.add(visit)
            s.commit()
        response.vary.add("Cookie")
        response.set_cookie(
            name,
            session.token,
            httponly=self.get_cookie_httponly(app),
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
        )
