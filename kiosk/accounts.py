"""Staff accounts: argon2 hashes, roles, and a lock after repeated failed sign-ins.

The first admin is made on the command line (``kiosk staff add NAME --role admin``); there is
never a default password.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import audit
from kiosk.models import StaffUser

ROLES = ("operator", "admin")
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 12
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to check against when the user does not exist, so timing does not tell names apart.

    Made on the first such sign-in, not at import: hashing costs as much as a sign-in (about 0.4 s
    here), which every CLI call and every start would otherwise pay.
    """
    return _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class LockRules:
    max_failures: int = 5
    lock_for: dt.timedelta = dt.timedelta(minutes=15)


class SignIn(Enum):
    OK = "ok"
    WRONG = "wrong"  # unknown user, wrong password or disabled account read the same
    LOCKED = "locked"


def add_user(session: Session, username: str, password: str, role: str, now: dt.datetime, actor: str) -> StaffUser:
    if not USERNAME.match(username):
        raise AccountError("a user name is 2-32 lower-case letters, digits, dots, dashes or underscores")
    if role not in ROLES:
        raise AccountError(f"the role is one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise AccountError(f"{username} exists already")
    user = StaffUser(
        username=username, password_hash=_hasher.hash(password), role=role, active=True, failed_logins=0, created_at=now
    )
    session.add(user)
    session.flush()
    audit.append(session, actor=actor, action="staff.add", target=username, now=now, role=role)
    return user


def authenticate(
    session: Session, username: str, password: str, now: dt.datetime, rules: LockRules = LockRules()
) -> tuple[SignIn, StaffUser | None]:
    """Check a sign-in; failures count towards the lock, and the lock is checked before the password."""
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None or not user.active:
        try:
            _hasher.verify(_dummy_hash(), password)
        except VerificationError:
            pass
        audit.append(session, actor="anonymous", action="staff.sign_in_failed", target=username[:64], now=now)
        return SignIn.WRONG, None
    locked_until = user.locked_until
    if (
        locked_until is not None
        and (locked_until if locked_until.tzinfo else locked_until.replace(tzinfo=dt.UTC)) > now
    ):
        audit.append(session, actor="anonymous", action="staff.sign_in_locked", target=username, now=now)
        return SignIn.LOCKED, None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_logins += 1
        action = "staff.sign_in_failed"
        if user.failed_logins >= rules.max_failures:
            user.locked_until = now + rules.lock_for
            user.failed_logins = 0
            action = "staff.locked"
        audit.append(session, actor="anonymous", action=action, target=username, now=now)
        return (SignIn.LOCKED if action == "staff.locked" else SignIn.WRONG), None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    audit.append(session, actor=username, action="staff.sign_in", target=username, now=now)
    return SignIn.OK, user


def set_password(session: Session, user: StaffUser, password: str, now: dt.datetime, actor: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    audit.append(session, actor=actor, action="staff.password", target=user.username, now=now)
