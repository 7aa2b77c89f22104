"""The audit log: every staff action and the system's own in a hash chain.

System entries: each application queued (actor ``visitor``), each delivery, rejection and status
from the central system (actor ``sync:<worker>``), a visitor's call for staff. The worker's claims
and retries stay in the submission's history only: they say nothing staff must answer for.

Each entry's hash covers the previous entry's hash and its own content, and the newest hash is
kept beside the log, so an edited, removed or appended-behind-our-back entry shows when the chain
is checked. The database also refuses UPDATE and DELETE on the table (a trigger).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kiosk.models import AuditEntry, SyncState

GENESIS = "0" * 64
HEAD_KEY = "audit_head"


def _digest(prev: str, at: dt.datetime, actor: str, action: str, target: str | None, detail: dict[str, Any]) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    body = json.dumps(
        {"at": at.astimezone(dt.UTC).isoformat(), "actor": actor, "action": action, "target": target, "detail": detail},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev}|{body}".encode()).hexdigest()


def lock(session: Session) -> None:
    """Take the chain's lock for the rest of the transaction; taking it again is free.

    It must come before any row the transaction changes: a transaction that updated a submission
    and then waited here, while the holder waited for that submission's row, would deadlock. So
    the pending changes are not flushed first, and a caller that writes rows with explicit
    statements before it appends takes the lock before them.
    """
    with session.no_autoflush:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext('audit'))"))
        else:  # take SQLite's write lock before reading the head, so two writers never fork the chain
            session.execute(text("UPDATE sync_state SET value = value WHERE key = 'audit-lock'"))


def append(
    session: Session, *, actor: str, action: str, now: dt.datetime, target: str | None = None, **detail: Any
) -> AuditEntry:
    """Add an entry at the end of the chain, in the caller's transaction (the caller commits)."""
    lock(session)
    head = session.get(SyncState, HEAD_KEY)
    prev = head.value if head else GENESIS
    entry = AuditEntry(
        at=now,
        actor=actor,
        action=action,
        target=target,
        detail=detail,
        prev_hash=prev,
        hash=_digest(prev, now, actor, action, target, detail),
    )
    session.add(entry)
    if head is None:
        session.add(SyncState(key=HEAD_KEY, value=entry.hash))
    else:
        head.value = entry.hash
    session.flush()
    return entry


def append_many(
    session: Session, *, actor: str, action: str, now: dt.datetime, entries: list[tuple[str | None, dict[str, Any]]]
) -> None:
    """Add one entry per (target, detail) at the end of the chain in one insert: erasing 100,000
    submissions writes 100,000 entries, and one flush each would be most of the time."""
    if not entries:
        return
    from sqlalchemy import Table, insert

    lock(session)
    head = session.get(SyncState, HEAD_KEY)
    prev = head.value if head else GENESIS
    rows = []
    for target, detail in entries:
        digest = _digest(prev, now, actor, action, target, detail)
        rows.append(
            {
                "at": now,
                "actor": actor,
                "action": action,
                "target": target,
                "detail": detail,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    session.execute(insert(cast(Table, AuditEntry.__table__)), rows)  # Core: no ORM bookkeeping per row
    if head is None:
        session.add(SyncState(key=HEAD_KEY, value=prev))
    else:
        head.value = prev
    session.flush()


@dataclass(frozen=True)
class Problem:
    entry_id: int | None
    what: str
    kind: str  # broken_link, changed or head: the staff console words it in the reader's language


def verify(session: Session) -> list[Problem]:
    """Walk the chain from the start: every break, and whether the newest entry is the one on record."""
    problems: list[Problem] = []
    prev = GENESIS
    last_hash = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        if entry.prev_hash != prev:
            problems.append(
                Problem(entry.id, "does not follow the entry before it (one was removed or changed)", "broken_link")
            )
        if _digest(entry.prev_hash, entry.at, entry.actor, entry.action, entry.target, entry.detail) != entry.hash:
            problems.append(Problem(entry.id, "its content was changed after it was written", "changed"))
        prev = entry.hash
        last_hash = entry.hash
    head = session.get(SyncState, HEAD_KEY)
    if (head.value if head else GENESIS) != last_hash:
        problems.append(
            Problem(None, "the newest entry is not the one on record (entries were removed at the end)", "head")
        )
    return problems
