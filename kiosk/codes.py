"""SMS codes: issued and checked by the kiosk itself, so a code can be checked even if the link
to the central system drops after sending.

Six digits from ``secrets``; only a keyed hash is stored, bound to the IIN and to the hash of what
the code signs (an identification, or one exact application). Limits against guessing and
against SMS pumping are counted in the database, so they hold across processes and restarts.
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
from kiosk.keys import keyed_hash
from kiosk.models import SmsCode


@dataclass(frozen=True)
class CodeRules:
    length: int = 6
    ttl: dt.timedelta = dt.timedelta(minutes=5)
    max_failures: int = 5  # wrong entries that end a code; a new code does not reset the count
    failure_window: dt.timedelta = dt.timedelta(hours=1)
    sends_per_iin: int = 3
    iin_window: dt.timedelta = dt.timedelta(minutes=15)
    min_interval: dt.timedelta = dt.timedelta(seconds=60)
    sends_per_kiosk: int = 30
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
    TOO_SOON = "too_soon"  # less than the minimum interval since the last code for this IIN
    IIN_LIMIT = "iin_limit"  # too many codes for this IIN in the window
    KIOSK_LIMIT = "kiosk_limit"  # too many codes from this kiosk in the window
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


def _failures(session: Session, iin_h: str, now: dt.datetime, rules: CodeRules) -> int:
    since = now - rules.failure_window
    total = session.scalar(
        select(func.coalesce(func.sum(SmsCode.failures), 0)).where(
            SmsCode.iin_hash == iin_h, SmsCode.created_at > since
        )
    )
    return int(total or 0)


def _serialise_sends(session: Session, iin_h: str, kiosk_id: str) -> None:
    """Make concurrent sends for one kiosk wait for each other, so the counts below are exact."""
    if session.get_bind().dialect.name == "postgresql":
        for key in (f"sms-kiosk:{kiosk_id}", f"sms-iin:{iin_h}"):  # always in this order: no deadlock
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
    else:  # SQLite: a write takes the database's single write lock until commit
        session.execute(text("UPDATE sms_codes SET failures = failures WHERE id = -1"))


def issue_code(
    session: Session, *, iin: str, subject: str, kiosk_id: str, now: dt.datetime, rules: CodeRules
) -> Issued:
    """Make a new code for this IIN and subject, or refuse by the limits. The caller commits."""
    iin_h = _iin_hash(iin)
    _serialise_sends(session, iin_h, kiosk_id)
    if _failures(session, iin_h, now, rules) >= rules.max_failures:
        first_bad = session.scalar(
            select(func.min(SmsCode.created_at)).where(
                SmsCode.iin_hash == iin_h, SmsCode.failures > 0, SmsCode.created_at > now - rules.failure_window
            )
        )
        # the rows just counted hold a failure, so there is a first one; were they gone since, the lock starts now
        raise SendRefused(Refusal.LOCKED, (aware(first_bad) if first_bad else now) + rules.failure_window)
    recent = [
        aware(t)
        for t in session.scalars(
            select(SmsCode.created_at)
            .where(SmsCode.iin_hash == iin_h, SmsCode.created_at > now - rules.iin_window)
            .order_by(SmsCode.created_at)
        )
    ]
    if recent and now - recent[-1] < rules.min_interval:
        raise SendRefused(Refusal.TOO_SOON, recent[-1] + rules.min_interval)
    if len(recent) >= rules.sends_per_iin:
        raise SendRefused(Refusal.IIN_LIMIT, recent[-rules.sends_per_iin] + rules.iin_window)
    # only the newest few: enough to know whether the limit is reached and when it frees up, so a
    # busy window (many terminals behind one server, a raised limit) costs the same as a quiet one
    kiosk_newest = list(
        session.scalars(
            select(SmsCode.created_at)
            .where(SmsCode.kiosk_id == kiosk_id, SmsCode.created_at > now - rules.kiosk_window)
            .order_by(SmsCode.created_at.desc())
            .limit(rules.sends_per_kiosk)
        )
    )
    if len(kiosk_newest) >= rules.sends_per_kiosk:
        raise SendRefused(Refusal.KIOSK_LIMIT, aware(kiosk_newest[-1]) + rules.kiosk_window)

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
    if _failures(session, iin_h, now, rules) >= rules.max_failures:
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
    if _failures(session, iin_h, now, rules) >= rules.max_failures:
        return Check.LOCKED
    return Check.WRONG
