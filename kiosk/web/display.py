"""Display modes for the visitor's screens: high contrast, large text, the lowered screen.

Each is a toggle on every visitor screen and holds for the visit: it is kept in the visit's
server-side session, so Finish (and the idle reset), which wipe the visit, bring the next visitor
back to the default display. The toggles are buttons of a GET form: they work without JavaScript,
need no CSRF token (so pages from the rendered-page cache stay shareable), and change nothing but
how this visit's pages look. `/display?contrast=on&next=/kk/services` sets a mode and goes back.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

# the order of the toggles on screen and of the classes on <body>
MODES = ("contrast", "large", "low")
SESSION_KEY = "display"

bp = Blueprint("display", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(lambda: {"display_modes": current_modes(), "display_next": here})


def current_modes() -> tuple[str, ...]:
    """The modes this visit has switched on, in a fixed order (part of the rendered-page cache key)."""
    chosen = session.get(SESSION_KEY) or ()
    return tuple(m for m in MODES if m in chosen)


def here() -> str:
    """This page's own address, or that of the page it stands for.

    A toggle comes back to it, and a page shown in answer to a form (its mistakes to correct)
    takes it as its place in the browser's history, so Back and reload fetch it again.
    """
    query = request.query_string.decode("utf-8", "replace")
    if request.method == "GET":
        return request.path + ("?" + query if query else "")
    shown = g.get("page_endpoint")  # a form posted back shows a page that has its own address
    if shown:
        return url_for(shown)
    rule = request.url_rule
    if rule is not None and rule.methods and "GET" in rule.methods:
        return request.path + ("?" + query if query else "")
    return url_for("visitor.services") if "lang" in session else url_for("visitor.welcome")


def safe_next(target: str | None) -> str:
    """Only a path on this site: no scheme, no host, no `//host` or `/\\host`, no control characters."""
    fallback = url_for("visitor.welcome")
    if not target or len(target) > 2000 or any(ord(c) < 32 or c == "\\" for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return fallback
    if parts.path == url_for("display.toggle"):
        return fallback
    return target


@bp.get("/display")
def toggle() -> ResponseReturnValue:
    """`?contrast=on`, `?large=off`...: set each mode named, keep the others, go back to `next`."""
    modes = set(current_modes())
    for mode in MODES:
        value = request.args.get(mode)
        if value == "on":
            modes.add(mode)
        elif value == "off":
            modes.discard(mode)
    chosen = [m for m in MODES if m in modes]
    if chosen:
        session[SESSION_KEY] = chosen
    elif SESSION_KEY in session:
        del session[SESSION_KEY]
    response = redirect(safe_next(request.args.get("next")), code=303)
    response.headers["Cache-Control"] = "no-store"
    return response
