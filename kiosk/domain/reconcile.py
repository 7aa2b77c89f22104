"""Reconcile: what the kiosk holds against the central system's listing, for a range of days.

Three kinds of difference, each with its action: missing there (send it again, same key),
unknown here (acknowledge it: the kiosk cannot invent the application), status differs (take the
central system's status, which is the truth for decisions).

Days are Almaty days, as staff and parents count them. The contract's listing takes two dates,
both included, and says nothing of their zone (the simulator counts UTC days); it does not page
either. So the kiosk asks for one day more on each side, whatever zone the central system counts
in, in requests of at most ``PAGE_DAYS`` days each, and keeps by ``received_at`` what the central
system received within the local days. A range is checked whole, up to ``MAX_DAYS`` days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.clock import local_day_bounds
from kiosk.domain import audit
from kiosk.domain.states import FEED_STATES
from kiosk.domain.submissions import transition
from kiosk.models import State, Submission

# states in which the central system should already hold the application
SENT = (State.DELIVERED, State.IN_PROGRESS, State.APPROVED, State.REFUSED)
PAGE_DAYS = 31  # days per listing request: each answer stays bounded however long the range
MAX_DAYS = 366  # a school year and then some; a longer range gets a message, never a cut


class Lister(Protocol):
    def listing(self, start: dt.date, end: dt.date) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Difference:
    kind: str  # missing_there, unknown_here, status_differs
    key: str  # the idempotency key
    reference: str | None  # the kiosk's reference, if the kiosk has it
    here: str | None
    there: str | None
    portal_reference: str | None


@dataclass(frozen=True)
class Report:
    """One reconciliation: the days checked, both sides' counts, and what differs."""

    first: dt.date
    last: dt.date
    here: int  # applications this kiosk sent that were made in these days
    there: int  # applications the central system received from this kiosk in these days
    differences: list[Difference]

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def listing(portal: Lister, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """Everything the central system lists around the local days, asked a page of days at a time."""
    items: dict[str, dict[str, Any]] = {}
    day, end = first - dt.timedelta(days=1), last + dt.timedelta(days=1)
    while day <= end:
        page_end = min(day + dt.timedelta(days=PAGE_DAYS - 1), end)
        for item in portal.listing(day, page_end):
            items[item["idempotency_key"]] = item
        day = page_end + dt.timedelta(days=1)
    return list(items.values())


def check(session: Session, portal: Lister, first: dt.date, last: dt.date) -> Report:
    """Reconcile the local days ``first`` to ``last``, both included (the caller checks the range)."""
    differences, here, there = _compare(session, listing(portal, first, last), first, last)
    return Report(first, last, here, there, differences)


def _received_within(item: dict[str, Any], since: dt.datetime, until: dt.datetime) -> bool:
    try:
        at = dt.datetime.fromisoformat(str(item.get("received_at")))
    except ValueError:
        return True  # no usable time: better shown than hidden
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return since <= at < until


def _compare(
    session: Session, listing: list[dict[str, Any]], first: dt.date, last: dt.date
) -> tuple[list[Difference], int, int]:
    """The differences for applications made (here) or received (there) in the local days, and both counts."""
    since, until = local_day_bounds(first, last)
    ours = {
        row.uuid: row
        for row in session.execute(
            select(Submission.uuid, Submission.reference, Submission.state, Submission.portal_reference).where(
                Submission.created_at >= since, Submission.created_at < until, Submission.state.in_(SENT)
            )
        )
    }
    # the whole listing (a day either side) answers for ours: one made at 23:59 may arrive after midnight
    theirs = {item["idempotency_key"]: item for item in listing}
    received = [key for key, item in theirs.items() if _received_within(item, since, until)]
    out: list[Difference] = []
    for key, row in ours.items():
        item = theirs.get(key)
        if item is None:
            out.append(Difference("missing_there", key, row.reference, row.state, None, row.portal_reference))
        elif FEED_STATES.get(item["status"]) != row.state:
            out.append(Difference("status_differs", key, row.reference, row.state, item["status"], item["reference"]))
    for key in received:
        if key in ours:
            continue
        item = theirs[key]
        submission = session.scalars(select(Submission).where(Submission.uuid == key)).first()
        if submission is None:
            out.append(Difference("unknown_here", key, None, None, item["status"], item["reference"]))
        elif FEED_STATES.get(item["status"]) != submission.state:
            out.append(
                Difference(
                    "status_differs", key, submission.reference, submission.state, item["status"], item["reference"]
                )
            )
    return out, len(ours), len(received)


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
