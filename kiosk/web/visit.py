"""The end of a visit: the session, the demo phone and the draft's photos go, so the next visitor
finds nothing of this one."""

from __future__ import annotations

from flask import g, session
from sqlalchemy import delete

from kiosk import db
from kiosk.extensions import forget_demo_messages
from kiosk.infra import sessions
from kiosk.models import Attachment


def wipe_visit() -> None:
    """End the visit: the session and the demo phone first, then the draft's photos, deleted in the
    request's transaction (the caller commits; a busy database may refuse it, the visit is gone
    from the screen and the browser all the same)."""
    draft = session.get("draft")
    for key in ("identity", "pending"):
        if session.get(key):
            forget_demo_messages(session[key]["iin"])
    sessions.current().destroy()
    g.visit_wiped = True
    if draft:
        db.get_session().execute(delete(Attachment).where(Attachment.visit_id == draft["id"]))
