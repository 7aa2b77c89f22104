"""The visitor's touch screens: Welcome, the services, one service's checklist and its print view."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from kiosk import db
from kiosk.clock import local_today, utcnow
from kiosk.domain import helpcalls
from kiosk.domain.catalog import window_state
from kiosk.extensions import csrf, htmx
from kiosk.infra import sessions
from kiosk.infra.catalog_ext import get_catalog
from kiosk.infra.i18n import current_language
from kiosk.web.rendering import cached_page, cached_page_or_partial
from kiosk.web.visit import wipe_visit

log = logging.getLogger(__name__)
bp = Blueprint("visitor", __name__)

PAPERS = ("a4", "roll")


@bp.get("/")
def welcome() -> ResponseReturnValue:
    # the language of a visit under way, else Kazakh: the page's own words and its <html lang>
    return cached_page("visitor/welcome.html", ("welcome", current_language()))


@bp.get("/<lang>/start")
def start() -> ResponseReturnValue:
    """The visitor chose a language on Welcome: it holds for the rest of the visit."""
    session["lang"] = g.lang
    return redirect(url_for("visitor.services"))


@bp.get("/<lang>/services")
def services() -> ResponseReturnValue:
    today = local_today()
    catalog = get_catalog()

    def context() -> dict[str, Any]:
        states = {s.code: window_state(s.window, today) for s in catalog.services}
        return {"groups": catalog.by_group(), "states": states}

    return cached_page("visitor/services.html", (g.lang, catalog.version, today), context)


def _service_context(code: str) -> dict[str, Any]:
    service = get_catalog().service(code)
    if service is None:
        abort(404)
    category = None
    category_code = request.args.get("category")
    if category_code:
        category = service.category(category_code)
        if category is None:
            abort(404)
    return {"service": service, "category": category, "state": window_state(service.window, local_today())}


@bp.get("/<lang>/services/<code>")
def service(code: str) -> ResponseReturnValue:
    context = _service_context(code)  # 404 for a service or a category the catalog does not have
    category = context["category"].code if context["category"] else None
    key = (g.lang, get_catalog().version, local_today(), code, category)
    return cached_page_or_partial("visitor/service.html", "visitor/_checklist.html", key, lambda: context)


@bp.get("/<lang>/services/<code>/print")
def print_checklist(code: str) -> ResponseReturnValue:
    paper = request.args.get("paper", "a4")
    if paper not in PAPERS:
        abort(404)
    return render_template("visitor/print.html", paper=paper, now=utcnow(), **_service_context(code))


@bp.post("/<lang>/help")
@csrf.exempt  # the button is part of cached pages, which carry no per-visit token; it only rings a bell
def call_staff() -> ResponseReturnValue:
    """The visitor wants a person: the staff dashboard shows it until someone answers."""
    screen = request.form.get("screen", "")
    s = db.get_session()
    helpcalls.call(
        s,
        kiosk_id=current_app.config["KIOSK_ID"],
        visit_id=sessions.visit_id(session),
        screen=screen if screen in current_app.view_functions else "unknown",
        lang=g.lang,
        now=utcnow(),
    )
    s.commit()
    if htmx:
        return render_template("visitor/_help.html", called=True)
    return redirect(url_for("visitor.help_page"))  # post/redirect/get: reload never rings again


@bp.get("/<lang>/help")
def help_page() -> ResponseReturnValue:
    """Call staff without script: the call this terminal has open, or the button to make one."""
    called = helpcalls.open_call(db.get_session(), current_app.config["KIOSK_ID"]) is not None
    return render_template("visitor/help.html", called=called, back=url_for("visitor.services"))


@bp.post("/reset")
@csrf.exempt  # sent by the idle timer from cached pages; it can only end the visit, never read it
def reset() -> ResponseReturnValue:
    """The idle reset: the visit is wiped on the server, its cookie dropped, the browser told to forget."""
    if not current_user.is_authenticated:  # staff have their own timeout, never this one
        s = db.get_session()
        try:
            wipe_visit()
            sessions.purge_stale(s, utcnow(), current_app.config["VISIT_TTL_S"])
            s.commit()
        except SQLAlchemyError as exc:
            if not db.is_busy(exc):
                raise
            # the next parent must get Welcome, not "try again" into this visit: the cookie goes all
            # the same, a later reset purges the visit's row (its draft's sealed photos stay, as for
            # a visit that expired)
            s.rollback()
            log.warning("idle reset while the database is busy: the visit's rows are left to expire")
    return redirect(url_for("visitor.welcome"), 303)


@bp.post("/alive")
@csrf.exempt  # carries nothing: the visit's last request time is all it changes
def alive() -> ResponseReturnValue:
    """The idle timer's heartbeat while someone is touching the screen (typing makes no request)."""
    return "", 204
