"""Request bodies: every endpoint takes only the kinds and sizes it expects, checked before parsing.

Werkzeug reads a urlencoded body whole and splits it into Python strings (an 8 MB one raised the
server's memory by about 340 MB), and its form limits (``MAX_FORM_MEMORY_SIZE``,
``MAX_FORM_PARTS``) apply to multipart only. So the first request hook, before Flask-WTF's CSRF
check or any view touches ``request.form``, looks at the headers alone: a kind the endpoint does
not take is 415, a declared length over its limit is 413 (the visitor's error page either way),
and ``request.max_content_length`` holds the stream to the limit whatever the header said.

Every endpoint takes a form (urlencoded or multipart) of up to ``MAX_FORM_BODY``; the one marked
``@takes_upload`` also takes a multipart body with one document's file, up to
``MAX_CONTENT_LENGTH``. No endpoint of the kiosk takes JSON or raw bytes (the heartbeat posts
nothing; the central system's simulator is an app of its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request

from kiosk.extensions import csrf

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# the upload form: its CSRF token and the file, with room to spare
UPLOAD_PARTS = 4

View = TypeVar("View", bound=Callable[..., Any])


def takes_upload(view: View) -> View:
    """Mark the view that takes one document's file: multipart bodies up to MAX_CONTENT_LENGTH."""
    view.takes_upload = True  # type: ignore[attr-defined]
    return view


def init_app(app: Flask) -> None:
    """The body check must run before any other request hook that may parse the form.

    Flask-WTF's own hook is off (``WTF_CSRF_CHECK_DEFAULT``): ``check_request`` runs its check
    after the body's, and only for the methods that carry a form, so a GET pays for neither.
    """
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_SIZE"] + app.config["MAX_FORM_BODY"]
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(check_request)


def check_request() -> None:
    """The body's kind and size, then the form's CSRF token (``@csrf.exempt`` views excepted)."""
    refuse_unexpected_body()
    config = current_app.config
    if request.method in config["WTF_CSRF_METHODS"] and config["WTF_CSRF_ENABLED"]:
        csrf.protect(apply_exemptions=True)


def refuse_unexpected_body() -> None:
    """413 or 415 for a body the endpoint does not take; else cap what Werkzeug may read of it."""
    environ = request.environ
    if environ.get("CONTENT_LENGTH", "0") in ("", "0") and "HTTP_TRANSFER_ENCODING" not in environ:
        return  # no body (a GET): nothing to check, and no header to parse
    if request.url_rule is None:
        return  # 404 or 405 answers next, and nothing reads the body of a request without a view
    length = request.content_length
    if not length and "Transfer-Encoding" not in request.headers:
        return  # no body: one is announced by its length or as chunked (waitress turns chunked into a length)
    limit, parts = _limits(request.mimetype)
    if limit is None:
        abort(415)
    if length is not None and length > limit:
        abort(413)
    request.max_content_length = limit
    request.max_form_parts = parts


def is_upload() -> bool:
    """Whether this request is multipart to the endpoint that takes a document's file."""
    view = current_app.view_functions.get(request.endpoint or "")
    return request.mimetype == MULTIPART and getattr(view, "takes_upload", False)


def _limits(kind: str) -> tuple[int | None, int]:
    config = current_app.config
    if is_upload():
        return config["MAX_CONTENT_LENGTH"], UPLOAD_PARTS
    if kind in (URLENCODED, MULTIPART):
        return config["MAX_FORM_BODY"], config["MAX_FORM_PARTS"]
    return None, 0
