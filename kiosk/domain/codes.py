"""SMS codes: issued and checked by the kiosk itself, so a code can be checked even if the link
to the central system drops after sending.

Six digits from ``secrets``; only a keyed hash is stored, bound to the IIN and to the hash of what
the code signs (an identification, or one exact application). Limits against guessing and
against SMS pumping are counted in the database, so they hold across processes and restarts.

The rules, as a parent meets them (README, "SMS code rules"): the first code for a subject is
sent at once; only a resend for the same subject waits the minimum interval. The send limits
count the codes that were never entered right (resends, abandoned codes, codes a stranger asked
for): a code entered right reached the person it was meant for, so a parent who identifies once
and signs four applications meets no limit, while sends nobody answers (pumping) are capped per
IIN and per kiosk. Wrong entries count per IIN until a code is entered right.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, text, update
from sqlalchemy.orm import Session

from kiosk.clock import aware
from kiosk.infra.keys import keyed_hash
from kiosk.models import SmsCode


@dataclass(frozen=True)
class CodeRules:
    length: int = 6
    ttl: dt.timedelta = dt.timedelta(minutes=5)
    # wrong entries per IIN that lock its codes; a new code does not reset the count, a right one does
    max_failures: int = 5
    failure_window: dt.timedelta = dt.timedelta(hours=1)
    sends_per_iin: int = 3  # codes never entered right, per IIN in the window
    iin_window: dt.timedelta = dt.timedelta(minutes=15)
    min_interval: dt.timedelta = dt.timedelta(seconds=60)  # before a resend for the same subject
    sends_per_kiosk: int = 30  # codes never entered right, per kiosk in the window
    kiosk_window: dt.timedelta = dt.timedelta(hours=1)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CodeRules:
        s = dt.timedelta(seconds=1)
        return cls(
            length=config["SMS_CODE_LENGTH"],
            ttl=config["SMS_CODE_TTL_S"] * s,
            max_failures=config["SMS_CODE_MAX_FAILURES"],
            failure_window=config["SMS_FAILURE_WINDOW_S"] * s,
            sends_per_iin=config["SMS_SENDS_PER_IIN"],
            iin_window=config["SMS_SENDS_PER_IIN_WINDOW_S"] * s,
            min_interval=config["SMS_MIN_INTERVAL_S"] * s,
            sends_per_kiosk=config["SMS_SENDS_PER_KIOSK"],
            kiosk_window=config["SMS_SENDS_PER_KIOSK_WINDOW_S"] * s,
        )


class Refusal(Enum):
    TOO_SOON = "too_soon"  # a resend, less than the minimum interval after the code for the same subject
    IIN_LIMIT = "iin_limit"  # too many codes for this IIN never entered right in the window
    KIOSK_LIMIT = "kiosk_limit"  # too many codes from this kiosk never entered right in the window
    LOCKED = "locked"  # too many wrong entries for this IIN


class SendRefused(Exception):
    def __init__(self, reason: Refusal, retry_at: dt.datetime) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.retry_at = retry_at


class Check(Enum):
    OK = "ok"
    WRONG = "wrong"  # also: no code for this IIN, expired, used: the visitor cannot tell apart
    LOCKED = "locked"


@dataclass(frozen=True)
class Issued:
    code: str  # the plain code, to be sent by SMS and then forgotten
    code_id: int
    expires_at: dt.datetime
    resend_at: dt.datetime


def subject_hash(subject: str) -> str:
    """What a code signs, e.g. 'identify:<visit>' or the canonical hash of one application."""
    return hashlib.sha256(subject.encode()).hexdigest()


def _code_hash(code_id: int, iin: str, subject: str, code: str) -> str:
    return keyed_hash("sms-code", f"{code_id}:{iin}:{subject_hash(subject)}:{code}")


def _iin_hash(iin: str) -> str:
    return keyed_hash("iin", iin)


Counted = list[tuple[dt.datetime, int]]  # (issued at, wrong entries) of the codes whose failures count


def _counted_failures(session: Session, iin_h: str, now: dt.datetime, rules: CodeRules) -> Counted:
    """The codes whose wrong entries still count, oldest first: issued in the window, and after the
    newest code of this IIN that was entered right (the parent proved the phone: typos before it are
    forgiven; a new code alone forgives nothing).
    """
    since = now - rules.failure_window
    last_right = session.scalar(
        select(func.max(SmsCode.id)).where(
            SmsCode.iin_hash == iin_h, SmsCode.created_at > since, SmsCode.used_at.is_not(None)
        )
    )
    rows = session.execute(
        select(SmsCode.created_at, SmsCode.failures)
        .where(
            SmsCode.iin_hash == iin_h,
            SmsCode.created_at > since,
            SmsCode.failures > 0,
            SmsCode.id > (last_right or 0),  # ids grow with each code issued
        )
        .order_by(SmsCode.created_at)
    )
    return [(aware(created), failures) for created, failures in rows]


def _lock_ends(counted: Counted, rules: CodeRules) -> dt.datetime | None:
    """None if the count is below the limit; else when enough of the counted codes have left the
    window for it to fall below the limit (so "try again after" is the truth).
    """
    total = sum(failures for _created, failures in counted)
    if total < rules.max_failures:
        return None
    for created, failures in counted:
        total -= failures
        if total < rules.max_failures:
            return created + rules.failure_window
    return None  # not reached: the count falls to zero at the last code


def locked_until(session: Session, *, iin: str, now: dt.datetime, rules: CodeRules) -> dt.datetime | None:
    """The end of this IIN's lock after too many wrong entries, or None when it is not locked."""
    return _lock_ends(_counted_failures(session, _iin_hash(iin), now, rules), rules)


def tries_left(session: Session, *, iin: str, now: dt.datetime, rules: CodeRules) -> int:
    """How many wrong entries this IIN may still make before its codes lock."""
    used = sum(failures for _created, failures in _counted_failures(session, _iin_hash(iin), now, rules))
    return max(0, rules.max_failures - used)


def _serialise_sends(session: Session, iin_h: str, kiosk_id: str) -> None:
    """Make concurrent sends for one kiosk wait for each other, so the counts below are exact."""
    if session.get_bind().dialect.name == "postgresql":
        for key in (f"sms-kiosk:{kiosk_id}", f"sms-iin:{iin_h}"):  # always in this order: no deadlock
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
    else:  # SQLite: a write takes the database's single write lock until commit
        session.execute(text("UPDATE sms_codes SET failures = failures WHERE id = -1"))


def _unanswered(session: Session, who: Any, since: dt.datetime, limit: int) -> list[dt.datetime]:
    """The newest `limit` sends never entered right since a moment, newest first: what the send
    limits count (a code entered right reached its owner, so it is not pumping).
    """
    return [
        aware(t)
        for t in session.scalars(
            select(SmsCode.created_at)
            .where(who, SmsCode.created_at > since, SmsCode.used_at.is_(None))
            .order_by(SmsCode.created_at.desc())
            .limit(limit)
        )
    ]


def issue_code(
    session: Session, *, iin: str, subject: str, kiosk_id: str, now: dt.datetime, rules: CodeRules
) -> Issued:
    """Make a new code for this IIN and subject, or refuse by the limits. The caller commits."""
    iin_h = _iin_hash(iin)
    _serialise_sends(session, iin_h, kiosk_id)
    lock_ends = _lock_ends(_counted_failures(session, iin_h, now, rules), rules)
    if lock_ends is not None:
        raise SendRefused(Refusal.LOCKED, lock_ends)
    last_same = session.scalar(
        select(func.max(SmsCode.created_at)).where(
            SmsCode.iin_hash == iin_h,
            SmsCode.subject_hash == subject_hash(subject),
            SmsCode.created_at > now - rules.min_interval,
        )
    )
    if last_same is not None:  # a resend: the code for this subject went out moments ago
        raise SendRefused(Refusal.TOO_SOON, aware(last_same) + rules.min_interval)
    # only the newest few unanswered ones: enough to know whether a limit is reached and when it
    # frees up, so a busy window (many terminals behind one server) costs the same as a quiet one
    iin_unanswered = _unanswered(session, SmsCode.iin_hash == iin_h, now - rules.iin_window, rules.sends_per_iin)
    if len(iin_unanswered) >= rules.sends_per_iin:
        raise SendRefused(Refusal.IIN_LIMIT, iin_unanswered[-1] + rules.iin_window)
    kiosk_unanswered = _unanswered(
        session, SmsCode.kiosk_id == kiosk_id, now - rules.kiosk_window, rules.sends_per_kiosk
    )
    if len(kiosk_unanswered) >= rules.sends_per_kiosk:
        raise SendRefused(Refusal.KIOSK_LIMIT, kiosk_unanswered[-1] + rules.kiosk_window)

    code = "".join(secrets.choice("0123456789") for _ in range(rules.length))
    row = SmsCode(
        iin_hash=iin_h,
        subject_hash=subject_hash(subject),
        code_hash="",
        kiosk_id=kiosk_id,
        created_at=now,
        expires_at=now + rules.ttl,
        failures=0,
    )
    session.add(row)
    session.flush()  # the id is part of what the hash binds
    row.code_hash = _code_hash(row.id, iin, subject, code)
    session.flush()
    return Issued(code, row.id, row.expires_at, now + rules.min_interval)


def mark_undelivered(session: Session, code_id: int, now: dt.datetime) -> None:
    """The SMS never left: kept on the code's row, so the staff dashboard can say SMS are failing."""
    row = session.get(SmsCode, code_id)
    if row is not None:
        row.delivery_failed_at = now


def undelivered_since(session: Session, since: dt.datetime) -> int:
    return int(session.scalar(select(func.count(SmsCode.id)).where(SmsCode.delivery_failed_at >= since)) or 0)


def check_code(session: Session, *, iin: str, subject: str, code: str, now: dt.datetime, rules: CodeRules) -> Check:
    """Check an entered code against the newest one for this IIN and subject. The caller commits."""
    iin_h = _iin_hash(iin)
    if _lock_ends(_counted_failures(session, iin_h, now, rules), rules) is not None:
        return Check.LOCKED
    row = session.scalars(
        select(SmsCode)
        .where(SmsCode.iin_hash == iin_h, SmsCode.subject_hash == subject_hash(subject))
        .order_by(SmsCode.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return Check.WRONG
    live = row.used_at is None and aware(row.expires_at) > now and row.failures < rules.max_failures
    typed = "".join(code.split())
    unused = (SmsCode.id == row.id) & SmsCode.used_at.is_(None)
    if live and hmac.compare_digest(row.code_hash, _code_hash(row.id, iin, subject, typed)):
        # conditional update: of two requests racing with the right code, only one gets OK
        # Session.execute is typed as Result; DML without RETURNING gives a CursorResult (SQLAlchemy's own advice)
        if cast(CursorResult[Any], session.execute(update(SmsCode).where(unused).values(used_at=now))).rowcount == 1:
            return Check.OK
        return Check.WRONG
    # a used code stays used: replaying it is not a new failure to count
    session.execute(update(SmsCode).where(unused).values(failures=SmsCode.failures + 1))
    if _lock_ends(_counted_failures(session, iin_h, now, rules), rules) is not None:
        return Check.LOCKED
    return Check.WRONG
