"""Personal data from consent to erasure: retention, erasure by destroying keys, and the reports.

The school is the operator of the data parents give the kiosk (Law of the Republic of Kazakhstan
"On personal data and their protection", No. 94-V of 21 May 2013). This module keeps what the
kiosk holds no longer than the site's retention periods (``PRIVACY_RETENTION_DAYS``, counted from
a submission's outcome), and answers what is held, why, until when and who opened it.

Erasure is crypto-shredding: each submission's payload, attachments and consent are sealed with a
key of its own (kiosk/infra/datakeys.py), kept outside the database; destroying that key makes every copy
unreadable, in the WAL, in free pages and in old backups alike. The record stays without its
personal data: reference, service, dates, states, events; and the keyed hash of the child's IIN
that the one-per-child-per-year rule needs, until that school year has ended.

An application that has no outcome yet (waiting to be sent, with the central system, with staff)
is never erased, whatever the settings say: only approved, refused and cancelled ones are.

Plain functions over a SQLAlchemy session; no Flask.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from kiosk.domain import audit
from kiosk.domain.submissions import FINAL
from kiosk.infra.crypto import Keyring
from kiosk.models import Attachment, AuditEntry, State, Submission, SubmissionEvent

ALMATY = ZoneInfo("Asia/Almaty")
ACTOR = "privacy"  # the erasure's actor in the history and the audit log
RELEASED = "-"  # a child's IIN hash replaced after its school year: starts with this, matches no IIN
ERASE_BATCH = 500
# what each state means for the data: the report says why the kiosk still holds it
WAITING = (State.NEEDS_VERIFICATION, State.QUEUED, State.SENDING, State.RETRY_WAIT)
WITH_CENTRAL = (State.DELIVERED, State.IN_PROGRESS)


class RetentionError(ValueError):
    """A retention setting the kiosk refuses: it must never erase an application without an outcome."""


@dataclass(frozen=True)
class Retention:
    """Days a submission's personal data is kept after its outcome, per outcome."""

    days: Mapping[str, int]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Retention:
        raw = config.get("PRIVACY_RETENTION_DAYS") or {}
        days: dict[str, int] = {}
        for state, value in dict(raw).items():
            if state not in FINAL:
                raise RetentionError(
                    f"PRIVACY_RETENTION_DAYS names {state!r}: only an outcome ({', '.join(FINAL)}) starts a "
                    "retention period; an application still on its way is never erased"
                )
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RetentionError(f"PRIVACY_RETENTION_DAYS[{state!r}] must be a number of days, not {value!r}")
            days[state] = value
        return cls(days)

    def due(self, now: dt.datetime) -> Any:
        """The SQL condition of submissions whose personal data is due for erasure at ``now``."""
        per_state = [
            and_(Submission.state == state, Submission.closed_at <= now - dt.timedelta(days=days))
            for state, days in self.days.items()
        ]
        if not per_state:
            return Submission.id.is_(None)  # nothing is ever due: no retention period is set
        return and_(Submission.erased_at.is_(None), Submission.closed_at.is_not(None), or_(*per_state))

    def erase_on(self, state: str, closed_at: dt.datetime | None) -> dt.datetime | None:
        """When this submission's personal data falls due, or None while it has no outcome."""
        if closed_at is None or state not in self.days:
            return None
        return aware(closed_at) + dt.timedelta(days=self.days[state])


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes for the UTC ones stored."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def last_ended_school_year(now: dt.datetime) -> int:
    """The newest school year that has ended (2025 means 2025-2026, ended on 31 August 2026)."""
    today = aware(now).astimezone(ALMATY).date()
    return today.year - 1 if today.month >= 9 else today.year - 2


def school_year_end(year: int) -> dt.date:
    return dt.date(year + 1, 8, 31)


@dataclass
class Erasure:
    """What one run of ``erase_due`` did."""

    erased: int = 0  # submissions whose personal data was erased now
    keys_destroyed: int = 0
    released: int = 0  # one-per-child hashes released after their school year
    orphan_keys: int = 0  # keys of submissions that never committed, or erased ones left by a crash
    references: list[str] = field(default_factory=list)


def erase_due(
    make_session: Callable[[], Session],
    keyring: Keyring,
    now: dt.datetime,
    retention: Retention,
    *,
    actor: str = ACTOR,
    batch: int = ERASE_BATCH,
    limit: int | None = None,
    keep_references: bool = False,
    pause_s: float = 0.0,
) -> Erasure:
    """Erase every submission due at ``now``, batch by batch, each batch one transaction.

    In each batch the payload is emptied, the applicant's IIN hash dropped, the attachments
    deleted, an event and an audit entry written per submission, and committed; then the batch's
    keys are destroyed. A crash between the two leaves keys of erased submissions, which the sweep
    at the end of the next run destroys. Several runs at once (two workers) take different rows on
    PostgreSQL (SKIP LOCKED) and take turns on SQLite. ``pause_s`` between batches lets the
    visitors' writes in: on SQLite a batch holds the one write lock (bench/privacy_erase.py).
    """
    if keyring.datakeys is None:
        raise RuntimeError("no store for the submissions' own keys")
    result = Erasure()
    for state, days in retention.days.items():
        # one outcome at a time: each batch is a range scan of the index of the held ones
        # (state, closed_at), which stops after the batch, however many were erased before it
        cutoff = now - dt.timedelta(days=days)
        while limit is None or result.erased < limit:
            size = batch if limit is None else min(batch, limit - result.erased)
            rows = _erase_batch(make_session, state, cutoff, now, size, actor)
            if not rows:
                break
            result.keys_destroyed += keyring.datakeys.destroy(r.uuid for r in rows)
            result.erased += len(rows)
            if keep_references:
                result.references += [r.reference for r in rows]
            if pause_s:
                time.sleep(pause_s)
    result.released = release_child_hashes(make_session, now, actor=actor, batch=batch)
    result.orphan_keys = sweep_keys(make_session, keyring, now)
    _truncate_wal(make_session)
    return result


def _erase_batch(
    make_session: Callable[[], Session], state: str, cutoff: dt.datetime, now: dt.datetime, size: int, actor: str
) -> list[Any]:
    """Erase up to ``size`` submissions in ``state`` closed before ``cutoff``, in one transaction."""
    with make_session() as s:
        _secure_delete(s)
        audit.lock(s)  # the chain's lock before any row, as every writer of the chain takes them
        query = (
            select(
                Submission.id,
                Submission.uuid,
                Submission.reference,
                Submission.service_code,
                Submission.state,
                Submission.closed_at,
            )
            .where(Submission.erased_at.is_(None), Submission.state == state, Submission.closed_at <= cutoff)
            .order_by(Submission.closed_at)
            .limit(size)
        )
        if s.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Submission)
        rows = list(s.execute(query).all())
        if not rows:
            return rows
        ids = [r.id for r in rows]
        s.execute(
            update(Submission)
            .where(Submission.id.in_(ids), Submission.erased_at.is_(None))
            .values(payload="", applicant_iin_hash="", signature=None, erased_at=now)  # an ЭЦҚ names its signer
            .execution_options(synchronize_session=False)
        )
        s.execute(delete(Attachment).where(Attachment.submission_id.in_(ids)))
        s.execute(
            insert(cast(Table, SubmissionEvent.__table__)),
            [
                {
                    "submission_id": r.id,
                    "at": now,
                    "from_state": r.state,
                    "to_state": r.state,
                    "actor": ACTOR,
                    "detail": {"action": "erased"},
                }
                for r in rows
            ],
        )
        audit.append_many(
            s,
            actor=actor,
            action="privacy.erase",
            now=now,
            entries=[
                (r.reference, {"service": r.service_code, "state": r.state, "closed_on": _local_day(r.closed_at)})
                for r in rows
            ],
        )
        s.commit()
    return rows


def release_child_hashes(
    make_session: Callable[[], Session], now: dt.datetime, *, actor: str = ACTOR, batch: int = ERASE_BATCH
) -> int:
    """After its school year has ended, an erased submission no longer needs its child's IIN hash
    (the one-per-child rule is per school year): it is replaced by a random value."""
    year = last_ended_school_year(now)
    released = 0
    after = 0  # an id cursor: each batch starts where the last one ended, not at the first row again
    while True:
        with make_session() as s:
            _secure_delete(s)
            audit.lock(s)
            rows = s.execute(
                select(Submission.id, Submission.reference)
                .where(
                    Submission.id > after,
                    Submission.erased_at.is_not(None),
                    Submission.school_year <= year,
                    ~Submission.child_iin_hash.startswith(RELEASED),
                )
                .order_by(Submission.id)
                .limit(batch)
            ).all()
            if not rows:
                return released
            table = cast(Table, Submission.__table__)
            s.execute(
                update(table).where(table.c.id == bindparam("row_id")).values(child_iin_hash=bindparam("filler")),
                [{"row_id": r.id, "filler": RELEASED + secrets.token_hex(31)} for r in rows],
            )
            audit.append_many(
                s, actor=actor, action="privacy.release", now=now, entries=[(r.reference, {}) for r in rows]
            )
            s.commit()
            released += len(rows)
            after = rows[-1].id


def sweep_keys(make_session: Callable[[], Session], keyring: Keyring, now: dt.datetime) -> int:
    """Destroy keys whose submission is erased (a crash after the commit) or was never committed
    (a crash before it, an hour ago or more); how many."""
    assert keyring.datakeys is not None
    stale_before = (now - dt.timedelta(hours=1)).isoformat()
    doomed: list[str] = []
    with make_session() as s:
        for chunk in keyring.datakeys.owners():
            owners = [owner for owner, _ in chunk]
            known = {
                uid: erased
                for uid, erased in s.execute(
                    select(Submission.uuid, Submission.erased_at).where(Submission.uuid.in_(owners))
                )
            }
            for owner, created in chunk:
                if owner in known:
                    if known[owner] is not None:
                        doomed.append(owner)
                elif created < stale_before:
                    doomed.append(owner)
    return keyring.datakeys.destroy(doomed) if doomed else 0


def _secure_delete(session: Session) -> None:
    """SQLite overwrites what this connection deletes with zeros (the file keeps no readable trace
    of an emptied payload, sealed or not); PostgreSQL has no such switch: the keys do the work."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))


def _truncate_wal(make_session: Callable[[], Session]) -> None:
    """Move the WAL into the database and empty it, so the old pages do not linger there either.
    Readers in the way make this a partial checkpoint; the next run tries again."""
    with make_session() as s:
        if s.get_bind().dialect.name == "sqlite":
            s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def _local_day(moment: dt.datetime | None) -> str | None:
    return aware(moment).astimezone(ALMATY).date().isoformat() if moment else None


# The inventory: what the kiosk holds, without any personal data ----------------------------------


@dataclass
class Inventory:
    """``kiosk privacy report``: counts, never a name, an IIN or a reference."""

    holding: int  # submissions whose personal data is still held
    by_state: dict[str, int]
    by_age: dict[str, int]  # "under 30 days", "30-89 days", ... since the application
    oldest: dt.datetime | None
    erased: int
    released: int
    due_now: int
    due_by_month: dict[str, int]  # YYYY-MM in Almaty time: when the held ones fall due
    no_outcome: int  # held with no outcome yet: never erased until they have one
    site_key_sealed: int  # sealed before submissions had keys of their own: backups keep them
    keys_in_store: int
    keys_by_wrapping_key: dict[str, int]
    site_keys: list[str]
    current_site_key: str
    attachments: int
    attachment_bytes: int
    retention: dict[str, int]
    backups: list[tuple[str, dt.datetime]] = field(default_factory=list)  # (name, time) older than the retention


AGE_BANDS = ((30, "under 30 days"), (90, "30 to 89 days"), (365, "90 to 364 days"), (None, "a year or more"))


def inventory(session: Session, keyring: Keyring, now: dt.datetime, retention: Retention) -> Inventory:
    held = Submission.erased_at.is_(None)
    by_state = dict(
        session.execute(
            select(Submission.state, func.count(Submission.id)).where(held).group_by(Submission.state)
        ).all()
    )
    ages: Counter[str] = Counter()
    due_by_month: Counter[str] = Counter()
    oldest = None
    for state, created, closed in session.execute(
        select(Submission.state, Submission.created_at, Submission.closed_at).where(held)
    ):
        created = aware(created)
        oldest = created if oldest is None or created < oldest else oldest
        days = (now - created).days
        ages[next(label for limit, label in AGE_BANDS if limit is None or days < limit)] += 1
        due = retention.erase_on(state, closed)
        if due is not None:
            due_by_month[due.astimezone(ALMATY).strftime("%Y-%m")] += 1
    due_now = session.scalar(select(func.count(Submission.id)).where(retention.due(now))) or 0
    erased = session.scalar(select(func.count(Submission.id)).where(Submission.erased_at.is_not(None))) or 0
    released = session.scalar(select(func.count(Submission.id)).where(Submission.child_iin_hash.startswith(RELEASED)))
    site_sealed = session.scalar(
        select(func.count(Submission.id)).where(held, Submission.payload != "", ~Submission.payload.startswith("d:"))
    )
    attachments, size = session.execute(
        select(func.count(Attachment.id), func.coalesce(func.sum(Attachment.size), 0)).where(
            Attachment.submission_id.is_not(None)
        )
    ).one()
    assert keyring.datakeys is not None
    return Inventory(
        holding=sum(by_state.values()),
        by_state=by_state,
        by_age=dict(ages),
        oldest=oldest,
        erased=int(erased),
        released=int(released or 0),
        due_now=int(due_now),
        due_by_month=dict(sorted(due_by_month.items())),
        no_outcome=sum(n for state, n in by_state.items() if state not in FINAL),
        site_key_sealed=int(site_sealed or 0),
        keys_in_store=keyring.datakeys.count(),
        keys_by_wrapping_key=keyring.datakeys.wrapping_key_ids(),
        site_keys=sorted(keyring.keys),
        current_site_key=keyring.current,
        attachments=int(attachments or 0),
        attachment_bytes=int(size or 0),
        retention=dict(retention.days),
    )


def old_backups(
    files: Iterable[tuple[str, dt.datetime]], now: dt.datetime, retention: Retention
) -> list[tuple[str, dt.datetime]]:
    """Backups older than the longest retention period: they hold data the kiosk has erased since
    (unreadable without its destroyed keys, but still a copy the README says to delete)."""
    longest = max(retention.days.values(), default=0)
    return [(name, at) for name, at in files if now - at > dt.timedelta(days=longest)]


# One person's data: what is held, why, until when, and who opened it -----------------------------


@dataclass
class HeldSubmission:
    submission: Submission
    role: str  # "applicant" or "child": how this IIN is in it
    erase_on: dt.datetime | None  # None while it has no outcome (then it is never erased)
    reads: list[AuditEntry]  # every staff read of it, from the audit chain


READS = (
    "submission.view",
    "submission.attachment_view",
    "submission.reprint",
    "privacy.report",
)


def held_for(session: Session, iin_digest: str, retention: Retention) -> list[HeldSubmission]:
    """Every submission naming this IIN (by its keyed hash), as applicant or as child, with its reads.

    Erased ones are listed too while the child's hash still holds them: their record says what was
    erased and when. The staff CSV export names no person, so it is no read of anyone's data.
    """
    rows = session.scalars(
        select(Submission)
        .where(or_(Submission.applicant_iin_hash == iin_digest, Submission.child_iin_hash == iin_digest))
        .order_by(Submission.created_at)
    ).all()
    if not rows:
        return []
    reads: dict[str, list[AuditEntry]] = {}
    for entry in session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target.in_([r.reference for r in rows]), AuditEntry.action.in_(READS))
        .order_by(AuditEntry.id)
    ):
        reads.setdefault(entry.target or "", []).append(entry)
    return [
        HeldSubmission(
            submission=row,
            role="applicant" if row.applicant_iin_hash == iin_digest else "child",
            erase_on=retention.erase_on(row.state, row.closed_at),
            reads=reads.get(row.reference, []),
        )
        for row in rows
    ]


def record_report(session: Session, held: list[HeldSubmission], staff: str, now: dt.datetime) -> None:
    """The report printed for a parent is itself a read of each submission in it (audited)."""
    audit.append_many(
        session,
        actor=staff,
        action="privacy.report",
        now=now,
        entries=[(h.submission.reference, {}) for h in held],
    )


# A breach: the facts a report to the authority needs ---------------------------------------------


@dataclass
class Incident:
    """What ``kiosk privacy incident`` writes: counts and times, never a person's data."""

    since: dt.datetime
    until: dt.datetime
    submissions_held: int  # personal data in the database during the period
    people: int  # distinct applicants and children among them (by keyed hash)
    by_service: dict[str, int]
    reads_by_actor: dict[str, int]  # who opened personal data in the period
    failed_sign_ins: int
    locks: int
    exports: int
    erased_in_period: int
    audit_problems: list[str]
    first_entry: dt.datetime | None
    last_entry: dt.datetime | None


def incident(session: Session, since: dt.datetime, until: dt.datetime) -> Incident:
    """The facts for the period a breach may cover, from the database and the audit chain."""
    exposed = and_(Submission.created_at <= until, or_(Submission.erased_at.is_(None), Submission.erased_at >= since))
    held = session.execute(
        select(Submission.service_code, Submission.applicant_iin_hash, Submission.child_iin_hash).where(exposed)
    ).all()
    people = {h for _, a, c in held for h in (a, c) if h and not h.startswith(RELEASED)}
    in_period = and_(AuditEntry.at >= since, AuditEntry.at <= until)
    by_action = dict(
        session.execute(
            select(AuditEntry.action, func.count(AuditEntry.id)).where(in_period).group_by(AuditEntry.action)
        ).all()
    )
    reads = dict(
        session.execute(
            select(AuditEntry.actor, func.count(AuditEntry.id))
            .where(in_period, AuditEntry.action.in_(READS))
            .group_by(AuditEntry.actor)
        ).all()
    )
    first, last = session.execute(select(func.min(AuditEntry.at), func.max(AuditEntry.at)).where(in_period)).one()
    return Incident(
        since=since,
        until=until,
        submissions_held=len(held),
        people=len(people),
        by_service=dict(Counter(service for service, _, _ in held)),
        reads_by_actor=reads,
        failed_sign_ins=by_action.get("staff.sign_in_failed", 0),
        locks=by_action.get("staff.locked", 0) + by_action.get("staff.sign_in_locked", 0),
        exports=by_action.get("staff.export_csv", 0),
        erased_in_period=by_action.get("privacy.erase", 0),
        audit_problems=[p.what for p in audit.verify(session)],
        first_entry=aware(first) if first else None,
        last_entry=aware(last) if last else None,
    )
