"""The sync worker: delivers each queued application to the central system exactly once, and
brings its status back.

At-least-once sending made exactly-once by the submission's uuid as the Idempotency-Key: a
worker claims due submissions with a lease (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so several
workers never take the same row; SQLite: one writer at a time), commits the claim, sends, and
records the outcome with its event in one transaction. A worker killed mid-send leaves a lease
that runs out; the next worker sends again with the same key and the central system answers with
the same reference. Passing failures back off with full jitter up to a cap and honour
Retry-After; a permanent rejection goes to staff (needs_staff) and never blocks the rest.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session

from kiosk import db
from kiosk.clients.portal import Accepted, Change, HttpPortal, PortalUnavailable, Rejected, RetryLater
from kiosk.clock import aware, utcnow
from kiosk.domain import audit, dialect
from kiosk.domain.references import display
from kiosk.domain.states import DUE_STATES, FEED_STATES, ORDER, WAITING_STATES
from kiosk.domain.submissions import open_payload, open_signature, transition
from kiosk.infra.crypto import Keyring
from kiosk.models import State, Submission, SubmissionEvent, SyncState

log = logging.getLogger(__name__)

ERASE_TURN_BATCHES = 25  # erasure batches per turn of the loop, so deliveries never wait long for it


@dataclass(frozen=True)
class Backoff:
    base: float = 2.0
    cap: float = 600.0

    def delay(self, attempts: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^n)], but never before
        the peer's Retry-After."""
        jittered = rng.uniform(0, min(self.cap, self.base * 2 ** min(attempts, 30)))
        return max(jittered, retry_after or 0.0)


def claim(session: Session, *, worker: str, now: dt.datetime, lease: dt.timedelta, limit: int) -> list[int]:
    """Take up to ``limit`` due submissions for this worker; the caller commits, then sends."""
    due = or_(
        Submission.state.in_(DUE_STATES) & (Submission.next_attempt_at <= now),
        (Submission.state == State.SENDING) & (Submission.next_attempt_at <= now),  # a dead worker's lease
    )
    query = select(Submission).where(due).order_by(Submission.next_attempt_at, Submission.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    for submission in rows:
        reclaimed = submission.state == State.SENDING
        transition(
            submission,
            State.SENDING,
            now,
            f"sync:{worker}",
            attempt=submission.attempts + 1,
            **({"reclaimed_from": submission.claimed_by} if reclaimed else {}),
        )
        submission.claimed_by = worker
        submission.next_attempt_at = now + lease
    session.flush()
    return [s.id for s in rows]


def _prepare(submission: Submission, keyring: Keyring) -> tuple[dict[str, Any], int, str, str]:
    """What a send needs of its row: the body, this attempt's number, the idempotency key, the reference."""
    return application_body(submission, keyring), submission.attempts + 1, submission.uuid, submission.reference


def application_body(submission: Submission, keyring: Keyring) -> dict[str, Any]:
    """What the contract's Application schema asks for, from the sealed payload and signature.

    An ЭЦҚ travels as its CMS (base64), whose content is the payload's canonical bytes: the
    central system checks it against ``payload_hash`` itself.
    """
    payload = open_payload(submission, keyring)
    answers = dict(payload["answers"])
    child = answers.pop("child_iin")
    signature: dict[str, Any] = {"method": submission.signature_method}
    kept = open_signature(submission, keyring)
    if kept is not None:
        signature.update(cms=kept["cms"], checked_by=kept["checked_by"])
    return {
        "service": submission.service_code,
        "school_year": submission.school_year,
        "submitted_at": aware(submission.created_at).isoformat(),
        "applicant_iin": payload["applicant"]["iin"],
        "child_iin": child,
        "identity": submission.identity_method,
        "signature": signature,
        "lang": submission.lang,
        "answers": answers,
        "attachments": payload.get("attachments", []),
        "payload_hash": submission.payload_hash,
    }


@dataclass
class Worker:
    """One worker: ``run_once`` drains what is due now; ``run`` loops until told to stop."""

    app: Flask
    portal: HttpPortal
    worker_id: str = "worker-1"
    batch: int = 20
    lease: dt.timedelta = dt.timedelta(seconds=60)
    backoff: Backoff = Backoff()
    idle_sleep: float = 1.0
    rng: random.Random = field(default_factory=random.Random)
    concurrency: int = 1  # sends in flight at once; each keeps its own lease and its own transaction

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.keyring: Keyring = self.app.extensions["kiosk.keyring"]
        self._prepared: dict[int, tuple[dict[str, Any], int, str, str]] = {}
        self._trust_until = dt.datetime.min.replace(tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return utcnow(self.app.config)

    def push(self) -> int:
        """Claim, send and record one batch; returns how many were sent."""
        claimed_at = self.now()
        with self.app.app_context(), db.new_session(self.app) as s:
            ids = claim(s, worker=self.worker_id, now=claimed_at, lease=self.lease, limit=self.batch)
            s.commit()
            # the bodies from the rows the claim read (still in the session: no query), opened once here
            # instead of each send reading its row again
            self._prepared = {i: _prepare(s.get_one(Submission, i), self.keyring) for i in ids}
        # a send that starts this late reads its row first: is the lease still ours?
        self._trust_until = claimed_at + self.lease / 2
        self._answered: dt.datetime | None = None
        if self.concurrency <= 1:
            for submission_id in ids:
                if self.stop.is_set():
                    break  # the lease brings the rest back to whoever runs next
                self._send_one(submission_id)
        else:  # the network wait of one send overlaps the database work of another
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"sync-{self.worker_id}") as pool:
                list(pool.map(self._send_one_unless_stopped, ids))
        self._prepared = {}
        if self._answered is not None:  # once a batch: the dashboard's "last success"
            with self.app.app_context(), db.new_session(self.app) as s:
                _set(s, "last_success_at", self._answered.isoformat())
                s.commit()
        return len(ids)

    def _send_one_unless_stopped(self, submission_id: int) -> None:
        if not self.stop.is_set():
            self._send_one(submission_id)

    def _send_one(self, submission_id: int) -> None:
        with self.app.app_context(), db.new_session(self.app) as s:
            mine = (
                (Submission.id == submission_id)
                & (Submission.state == State.SENDING)
                & (Submission.claimed_by == self.worker_id)
            )
            prepared = self._prepared.pop(submission_id, None)
            if prepared is None or self.now() > self._trust_until:
                submission = s.scalars(select(Submission).where(mine)).first()
                if submission is None:
                    return  # another worker took it over after our lease ran out
                prepared = _prepare(submission, self.keyring)
                s.rollback()  # nothing is held while the request is on the network
            body, attempts, key, reference = prepared
            result = self.portal.submit(key, body)
            now = self.now()
            values: dict[str, Any] = {"attempts": attempts, "claimed_by": None, "updated_at": now}
            if isinstance(result, Accepted):
                to_state = State.DELIVERED
                detail: dict[str, Any] = {"portal_reference": result.reference}
                values.update(portal_reference=result.reference, next_attempt_at=None, last_error=None)
                self._answered = now
            elif isinstance(result, Rejected):
                to_state = State.NEEDS_STAFF
                detail = {"status": result.status, "detail": result.detail[:500], "errors": result.errors[:20]}
                values.update(next_attempt_at=None, last_error=f"{result.status}: {result.detail}"[:1000])
                self._answered = now  # the central system answered
                log.warning("submission %s rejected by the central system: %s", reference, result.status)
            else:
                assert isinstance(result, RetryLater)
                delay = self.backoff.delay(attempts, result.retry_after, self.rng)
                to_state = State.RETRY_WAIT
                detail = {"reason": result.reason, "retry_in_s": round(delay, 1)}
                values.update(next_attempt_at=now + dt.timedelta(seconds=delay), last_error=result.reason[:1000])
            if to_state != State.RETRY_WAIT:
                audit.lock(s)  # before the row's lock, as every writer of the chain takes them
            # a conditional update: if our lease ran out meanwhile, the new holder's record stands
            changed = s.execute(update(Submission).where(mine).values(state=to_state, **values))
            moved = cast(CursorResult[Any], changed).rowcount
            if moved == 1:
                s.add(
                    SubmissionEvent(
                        submission_id=submission_id,
                        at=now,
                        from_state=State.SENDING,
                        to_state=to_state,
                        actor=f"sync:{self.worker_id}",
                        detail=detail,
                    )
                )
                if to_state != State.RETRY_WAIT:  # an outcome; the retries stay in the history
                    audit.append(
                        s,
                        actor=f"sync:{self.worker_id}",
                        action=f"sync.{to_state}",
                        target=reference,
                        now=now,
                        **{k: v for k, v in detail.items() if k in ("portal_reference", "status")},
                    )
            s.commit()

    def pull(self) -> int:
        """Apply the central system's status changes after our cursor; returns how many."""
        with self.app.app_context(), db.new_session(self.app) as s:
            cursor = int(_get(s, "changes_cursor") or 0)
        try:
            changes, next_cursor = self.portal.changes(cursor)
        except PortalUnavailable as exc:
            log.info("changes feed not reachable: %s", exc)
            return 0
        if not changes:
            return 0
        notices: list[tuple[str, str, str, str]] = []
        with self.app.app_context(), db.new_session(self.app) as s:
            audit.lock(s)  # each change is audited: the chain's lock before any row, as in _send_one
            for change in changes:
                moved = apply_change(s, change, self.now(), self.worker_id)
                if moved is not None and moved.state in (State.APPROVED, State.REFUSED):
                    payload = open_payload(moved, self.keyring)
                    notices.append((payload["applicant"]["iin"], moved.lang, moved.reference, moved.state))
            _set(s, "changes_cursor", str(next_cursor))
            _set(s, "last_success_at", self.now().isoformat())
            s.commit()
        if self.app.config.get("NOTIFY_BY_SMS"):
            for iin, lang, reference, state in notices:  # after the commit: a failed SMS loses no status
                self._notify(iin, lang, reference, state)
        return len(changes)

    def _notify(self, iin: str, lang: str, reference: str, state: str) -> None:
        """Tell the parent of the decision, in the language of the visit."""
        with self.app.test_request_context(f"/{lang}/"), force_locale(lang):
            if state == State.APPROVED:
                text = _("Your application %(ref)s is approved. School services kiosk.", ref=display(reference))
            else:
                text = _(
                    "Your application %(ref)s is refused; the reason is on the status page. School services kiosk.",
                    ref=display(reference),
                )
            try:
                self.portal.send_sms(iin, text)
            except PortalUnavailable:
                log.warning("decision SMS for %s not sent", reference)

    def run_once(self) -> tuple[int, int]:
        """Drain everything due now, then pull the feed once: for --once and for tests."""
        sent = 0
        while not self.stop.is_set():
            n = self.push()
            sent += n
            if n == 0:
                break
        return sent, self.pull()

    def erase_if_due(self) -> int | None:
        """Once every PRIVACY_ERASE_EVERY_S for the whole site (the first worker to claim the turn):
        erase the personal data whose retention has run out. How many, or None when not its turn."""
        from kiosk.jobs import privacy

        every = self.app.config.get("PRIVACY_ERASE_EVERY_S") or 0
        if every <= 0:
            return None
        now = self.now()
        with self.app.app_context(), db.new_session(self.app) as s:
            last = _get(s, "privacy_erased_at")
            if last is not None and now - dt.datetime.fromisoformat(last) < dt.timedelta(seconds=every):
                return None
            # the turn is claimed with a conditional write, so two workers do not both start a run
            if last is None:
                _set(s, "privacy_erased_at", now.isoformat())
            else:
                claimed = s.execute(
                    update(SyncState)
                    .where(SyncState.key == "privacy_erased_at", SyncState.value == last)
                    .values(value=now.isoformat())
                )
                if cast(CursorResult[Any], claimed).rowcount != 1:
                    s.rollback()
                    return None
            s.commit()
        batch = self.app.config.get("PRIVACY_ERASE_BATCH", privacy.ERASE_BATCH)
        turn = batch * ERASE_TURN_BATCHES
        with self.app.app_context():
            result = privacy.erase_due(
                lambda: db.new_session(self.app),
                self.keyring,
                now,
                privacy.Retention.from_config(self.app.config),
                batch=batch,
                limit=turn,
                pause_s=self.app.config.get("PRIVACY_ERASE_PAUSE_S", 0.0),
            )
        if result.erased >= turn:
            # more is due (a first run over a long backlog): deliveries go on, then the next turn
            with self.app.app_context(), db.new_session(self.app) as s:
                _set(s, "privacy_erased_at", (now - dt.timedelta(seconds=every)).isoformat())
                s.commit()
        if result.erased or result.released:
            log.info("erased the personal data of %d applications (%d released)", result.erased, result.released)
        return result.erased

    def run(self) -> None:
        log.info("sync worker %s started", self.worker_id)
        while not self.stop.is_set():
            try:
                self.erase_if_due()
            except Exception:  # erasure is tried again at the next turn; delivery goes on
                log.exception("sync worker %s: erasing what is due failed", self.worker_id)
            try:
                sent = self.push()
                pulled = self.pull()
            except Exception:  # a bad moment must not end the worker
                log.exception("sync worker %s: a round failed; trying again", self.worker_id)
                sent = pulled = 0
            if sent == 0 and pulled == 0:
                self.stop.wait(self.idle_sleep)
        log.info("sync worker %s stopped", self.worker_id)

    def stop_on_signals(self) -> None:
        """SIGTERM and SIGINT end the loop after the current request, so nothing is half-recorded."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())


def apply_change(session: Session, change: Change, now: dt.datetime, worker: str) -> Submission | None:
    """Move a submission on by one feed entry; the submission when it moved, else None."""
    submission = session.scalars(select(Submission).where(Submission.uuid == change.idempotency_key)).first()
    target = FEED_STATES.get(change.status)
    if submission is None or target is None:
        return None
    if ORDER.get(target, 0) <= ORDER.get(State(submission.state), 0) and submission.state != State.NEEDS_STAFF:
        return None  # already there or further on: feeds may repeat
    if submission.state == State.CANCELLED:
        return None
    if submission.portal_reference is None:
        submission.portal_reference = change.reference  # the reply was lost, the feed tells us
    submission.next_attempt_at = None
    submission.claimed_by = None
    detail: dict[str, Any] = {"portal_reference": change.reference, "cursor": change.cursor}
    if change.reason:
        detail["reason"] = change.reason
    transition(submission, target, now, f"sync:{worker}", **detail)
    audit.append(
        session,
        actor=f"sync:{worker}",
        action=f"sync.{target}",
        target=submission.reference,
        now=now,
        cursor=change.cursor,
    )
    return submission


def _get(session: Session, key: str) -> str | None:
    row = session.get(SyncState, key)
    return row.value if row else None


def _set(session: Session, key: str, value: str) -> None:
    """An upsert: several workers may write the same key for the first time at once."""
    upsert = dialect.insert(session, SyncState).values(key=key, value=value)
    session.execute(upsert.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


@dataclass(frozen=True)
class Health:
    backlog: int
    oldest_waiting_s: float | None
    last_success_at: dt.datetime | None
    needs_staff: int


def health(session: Session, now: dt.datetime) -> Health:
    """For the staff dashboard and /metrics: how much waits, for how long, when it last worked."""
    backlog, oldest = session.execute(
        select(func.count(Submission.id), func.min(Submission.created_at)).where(Submission.state.in_(WAITING_STATES))
    ).one()
    needs_staff = session.scalar(select(func.count(Submission.id)).where(Submission.state == State.NEEDS_STAFF))
    last = _get(session, "last_success_at")
    return Health(
        backlog=int(backlog or 0),
        oldest_waiting_s=(now - aware(oldest)).total_seconds() if oldest else None,
        last_success_at=dt.datetime.fromisoformat(last) if last else None,
        needs_staff=int(needs_staff or 0),
    )
