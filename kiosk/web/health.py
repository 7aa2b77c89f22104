"""/healthz for the site's monitoring: does the database answer, is its schema the code's, which
catalog is loaded; and no other page while the schema is not the code's."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from kiosk import db
from kiosk.clock import utcnow
from kiosk.infra.catalog_ext import get_catalog
from kiosk.jobs import sync
from kiosk.web.errors import OutOfService

bp = Blueprint("health", __name__)


# what a server whose database cannot serve this code still answers: itself, and the files a page needs
SERVED_WHILE_OUT = frozenset({"health.healthz", "static", "vendor.static"})


@bp.before_app_request
def _refuse_until_migrated() -> None:
    """Every page but /healthz is "out of service" until the schema is the code's (kiosk db upgrade)."""
    if current_app.extensions.get("kiosk.db.schema_ok") or request.endpoint in SERVED_WHILE_OUT:
        return
    problem = db.schema_problem()
    if problem:
        raise OutOfService(problem)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    ok = db.ping()
    problem = db.schema_problem() if ok else None
    body = {
        "status": "ok" if ok and not problem else "failing",
        "database": "ok" if ok else "unreachable",
        "catalog_version": get_catalog().version,
    }
    if problem:
        body["schema"] = problem
    return jsonify(body), 200 if ok and not problem else 503


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    """Prometheus text format: what the sync worker has left to do and when it last got through."""
    h = sync.health(db.get_session(), utcnow())
    lines = [
        "# HELP kiosk_sync_backlog Submissions waiting to reach the central system.",
        "# TYPE kiosk_sync_backlog gauge",
        f"kiosk_sync_backlog {h.backlog}",
        "# HELP kiosk_sync_oldest_waiting_seconds Age of the oldest submission still waiting.",
        "# TYPE kiosk_sync_oldest_waiting_seconds gauge",
        f"kiosk_sync_oldest_waiting_seconds {h.oldest_waiting_s or 0:.0f}",
        "# HELP kiosk_sync_last_success_timestamp_seconds When the central system last answered.",
        "# TYPE kiosk_sync_last_success_timestamp_seconds gauge",
        f"kiosk_sync_last_success_timestamp_seconds {h.last_success_at.timestamp() if h.last_success_at else 0:.0f}",
        "# HELP kiosk_submissions_needing_staff Submissions the central system rejected.",
        "# TYPE kiosk_submissions_needing_staff gauge",
        f"kiosk_submissions_needing_staff {h.needs_staff}",
    ]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
