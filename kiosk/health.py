"""/healthz for the site's monitoring: does the database answer, which catalog is loaded."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from kiosk import db
from kiosk.catalog_ext import get_catalog

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    ok = db.ping()
    body = {
        "status": "ok" if ok else "failing",
        "database": "ok" if ok else "unreachable",
        "catalog_version": get_catalog().version,
    }
    return jsonify(body), 200 if ok else 503
