"""A visitor's "call staff": a row the staff dashboard shows until someone answers it.

One open call per terminal is enough to bring someone over, so pressing again (or another
visitor pressing) does not add rows; the call is in the audit log with who answered and when.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.domain import audit
from kiosk.models import HelpCall


def call(
    session: Session, *, kiosk_id: str, visit_id: str | None, screen: str, lang: str, now: dt.datetime
) -> HelpCall:
    """Raise this terminal's call, or return the one already open; the caller commits."""
    existing = open_call(session, kiosk_id)
    if existing is not None:
        return existing
    row = HelpCall(kiosk_id=kiosk_id, visit_id=visit_id, screen=screen[:64], lang=lang, created_at=now)
    session.add(row)
    session.flush()
    audit.append(session, actor="visitor", action="visitor.call_staff", target=kiosk_id, now=now, screen=row.screen)
    return row


def open_call(session: Session, kiosk_id: str) -> HelpCall | None:
    """This terminal's call that nobody has answered yet, if any."""
    return session.scalars(
        select(HelpCall).where(HelpCall.kiosk_id == kiosk_id, HelpCall.answered_at.is_(None))
    ).first()


def open_calls(session: Session) -> list[HelpCall]:
    return list(session.scalars(select(HelpCall).where(HelpCall.answered_at.is_(None)).order_by(HelpCall.created_at)))


def answer(session: Session, call_id: int, *, staff: str, now: dt.datetime) -> bool:
    """Someone is on their way: the call leaves the dashboard. False when it was already answered."""
    row = session.get(HelpCall, call_id)
    if row is None or row.answered_at is not None:
        return False
    row.answered_at = now
    row.answered_by = staff
    audit.append(session, actor=staff, action="staff.answer_call", target=row.kiosk_id, now=now, call=row.id)
    return True
