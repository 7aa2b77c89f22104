"""The queue as staff see it: filters, search through the keyed hash, keyset pages; and the
actions on one submission, each written with its event and its audit entry in one transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from kiosk.clock import local_day_bounds
from kiosk.domain import audit
from kiosk.domain.references import normalise
from kiosk.domain.states import ACTIONS
from kiosk.domain.submissions import iin_hash, transition
from kiosk.models import State, Submission

PAGE = 50


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    service: str | None = None
    day_from: dt.date | None = None
    day_to: dt.date | None = None
    search: str | None = None


def queue_page(
    session: Session, filters: Filters, after: tuple[dt.datetime, int] | None, page: int = PAGE
) -> tuple[list[Submission], tuple[dt.datetime, int] | None]:
    """One page, newest first, and the cursor of the next: (created_at, id) keeps it fast at any depth."""
    query = select(Submission)
    if filters.state:
        query = query.where(Submission.state == filters.state)
    if filters.service:
        query = query.where(Submission.service_code == filters.service)
    if filters.day_from:  # days are Almaty days, as the school and the visitor's screens count them
        query = query.where(Submission.created_at >= local_day_bounds(filters.day_from, filters.day_from)[0])
    if filters.day_to:
        query = query.where(Submission.created_at < local_day_bounds(filters.day_to, filters.day_to)[1])
    if filters.search:
        text = "".join(filters.search.split())
        reference = normalise(text)
        if reference:
            query = query.where(Submission.reference == reference)
        elif text.isdigit() and len(text) == 12:
            digest = iin_hash(text)
            query = query.where(or_(Submission.applicant_iin_hash == digest, Submission.child_iin_hash == digest))
        else:
            return [], None
    if after is not None:
        at, last_id = after
        # a row-value comparison: both databases seek into the (created_at, id) index with it, where
        # the equivalent OR walked down from the newest row (bench/staff_queue.py)
        query = query.where(tuple_(Submission.created_at, Submission.id) < tuple_(at, last_id))
    rows = list(session.scalars(query.order_by(Submission.created_at.desc(), Submission.id.desc()).limit(page + 1)))
    more = len(rows) > page
    rows = rows[:page]
    return rows, ((rows[-1].created_at, rows[-1].id) if more else None)


class NotAllowed(Exception):
    """This action does not apply to a submission in this state."""


def act(session: Session, submission: Submission, action: str, *, staff: str, now: dt.datetime, **detail: Any) -> None:
    """Apply a staff action: the state change (if any), its event and its audit entry, uncommitted."""
    if action not in ACTIONS:
        raise NotAllowed(action)
    allowed, to_state = ACTIONS[action]
    if submission.state not in allowed:
        raise NotAllowed(f"{action} from {submission.state}")
    if action == "cancel" and not detail.get("reason"):
        raise NotAllowed("a cancellation needs a reason")
    transition(submission, to_state or submission.state, now, f"staff:{staff}", action=action, **detail)
    if to_state == State.QUEUED:
        submission.next_attempt_at = now
        submission.claimed_by = None
    elif to_state is not None:
        submission.next_attempt_at = None
    audit.append(
        session,
        actor=staff,
        action=f"submission.{action}",
        target=submission.reference,
        now=now,
        **{k: v for k, v in detail.items() if k != "reason"},
        **({"reason_given": True} if "reason" in detail else {}),
    )
