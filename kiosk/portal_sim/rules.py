"""How the simulated central system decides, and how statuses move on with the clock.

The outcome is decided at receipt (so it cannot depend on when anyone asks) and becomes visible
over time: ``accepted`` at receipt, ``in_progress`` one step later, the outcome after two steps.
Each transition is one change row stamped with the time it was due, written in due order before
anything newer, so for a given clock and sequence of requests the feed is always the same.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.portal_sim.models import Application, Change

FINAL = ("approved", "refused")

REASONS: dict[str, dict[str, str]] = {
    "school_full": {
        "kk": "Мектепте бос орын жоқ",
        "ru": "В школе нет свободных мест",
        "en": "The school has no free places",
    },
    "collegial_decision_missing": {
        "kk": "Білім беру ұйымының алқалы басқару органының шешімі жоқ",
        "ru": "Отсутствует решение коллегиального органа управления организации образования",
        "en": "The decision of the school's collegial management body is missing",
    },
}


def decide(session: Session, kiosk_id: str, body: dict[str, Any], capacity: int) -> tuple[str, str | None]:
    """The outcome and refusal reason for a new application (called under the write lock).

    grade1: the school takes ``capacity`` pupils a school year; later applications are refused.
    meals: the "emergency" category needs the collegial body's decision attached.
    """
    service = body["service"]
    if service == "grade1":
        earlier = session.scalar(
            select(func.count())
            .select_from(Application)
            .where(
                Application.kiosk_id == kiosk_id,
                Application.service == "grade1",
                Application.school_year == body["school_year"],
            )
        )
        if (earlier or 0) >= capacity:
            return "refused", "school_full"
    if service == "meals" and body["answers"].get("category") == "emergency" and not body.get("attachments"):
        return "refused", "collegial_decision_missing"
    return "approved", None


def advance(session: Session, now: dt.datetime, step: dt.timedelta) -> int:
    """Write every transition due by ``now``, oldest first; the number written (caller commits)."""
    pending = session.scalars(
        select(Application)
        .where(Application.status.in_(("accepted", "in_progress")), Application.received_at <= now - step)
        .order_by(Application.id)
    ).all()
    due: list[tuple[dt.datetime, int, int, Application, str]] = []
    for application in pending:
        first = application.received_at + step
        final = application.received_at + 2 * step
        if application.status == "accepted":
            due.append((first, application.id, 0, application, "in_progress"))
        if now >= final:
            due.append((final, application.id, 1, application, application.outcome))
    due.sort(key=lambda item: item[:3])
    for at, _id, _order, application, status in due:
        reason = application.reason_code if status == "refused" else None
        session.add(
            Change(application=application, kiosk_id=application.kiosk_id, status=status, reason_code=reason, at=at)
        )
        application.status = status
        session.flush()  # the cursor follows the due order
    return len(due)
