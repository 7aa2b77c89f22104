"""Reconcile: what the kiosk holds against the central system's listing, for a range of days.

Three kinds of difference, each with its action: missing there (send it again, same key),
unknown here (acknowledge it: the kiosk cannot invent the application), status differs (take the
central system's status, which is the truth for decisions).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import audit
from kiosk.models import State, Submission
from kiosk.submissions import transition
from kiosk.sync import FEED_STATES

# states in which the central system should already hold the application
SENT = (State.DELIVERED, State.IN_PROGRESS, State.APPROVED, State.REFUSED)


@dataclass(frozen=True)
class Difference:
    kind: str  # missing_there, unknown_here, status_differs
    key: str  # the idempotency key
    reference: str | None  # the kiosk's reference, if the kiosk has it
    here: str | None
    there: str | None
    portal_reference: str | None


def compare(session: Session, listing: list[dict[str, Any]], start: dt.date, end: dt.date) -> list[Difference]:
    """The differences for applications sent (here) or received (there) in the range."""
    since = dt.datetime.combine(start, dt.time(), dt.UTC)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
    ours = {
        s.uuid: s
        for s in session.scalars(
            select(Submission).where(
                Submission.created_at >= since, Submission.created_at < until, Submission.state.in_(SENT)
            )
        )
    }
    theirs = {item["idempotency_key"]: item for item in listing}
    out: list[Difference] = []
    for key, submission in ours.items():
        if key not in theirs:
            out.append(
                Difference(
                    "missing_there", key, submission.reference, submission.state, None, submission.portal_reference
                )
            )
    for key, item in theirs.items():
        known = ours.get(key) or session.scalars(select(Submission).where(Submission.uuid == key)).first()
        if known is None:
            out.append(Difference("unknown_here", key, None, None, item["status"], item["reference"]))
        elif FEED_STATES.get(item["status"]) != known.state:
            out.append(
                Difference("status_differs", key, known.reference, known.state, item["status"], item["reference"])
            )
    return out


def resolve(session: Session, difference: Difference, *, staff: str, now: dt.datetime) -> None:
    """Apply the difference's action with its event and audit entry; the caller commits."""
    if difference.kind == "unknown_here":
        audit.append(
            session,
            actor=staff,
            action="reconcile.acknowledge_unknown",
            target=difference.portal_reference,
            now=now,
            key=difference.key,
        )
        return
    submission = session.scalars(select(Submission).where(Submission.uuid == difference.key)).one()
    if difference.kind == "missing_there":
        to_state = State.QUEUED
        submission.next_attempt_at = now
        submission.claimed_by = None
        action = "reconcile.send_again"
    else:
        to_state = FEED_STATES[difference.there or ""]
        action = "reconcile.take_their_status"
    transition(submission, to_state, now, f"staff:{staff}", action=action)
    audit.append(session, actor=staff, action=action, target=submission.reference, now=now)
