"""Error pages in the visitor's language; no input ever ends in a bare 500."""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

from kiosk.bodies import is_upload

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    if request.path.startswith("/healthz") or request.accept_mimetypes.best == "application/json":
        return {"status": exc.code, "title": exc.name}, exc.code or 500
    # a file refused as too large goes back to the form it came from, where the draft is still waiting
    back = request.path if exc.code == 413 and is_upload() else None
    if back:
        g.page_endpoint = request.endpoint  # the language buttons lead back there too
    return render_template("errors/error.html", code=exc.code, back=back), exc.code or 500


def _unexpected(exc: Exception) -> ResponseReturnValue:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _http_error(InternalServerError())
