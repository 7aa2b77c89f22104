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

from kiosk.clock import aware
from kiosk.domain import audit, dialect
from kiosk.infra.keys import keyed_hash
from kiosk.models import SignInThrottle, StaffUser

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


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")


def add_user(session: Session, username: str, password: str, role: str, now: dt.datetime, actor: str) -> StaffUser:
    """A new account, in the caller's transaction; AccountError says which rule it breaks."""
    if not USERNAME.match(username):
        raise AccountError("a user name is 2-32 lower-case letters, digits, dots, dashes or underscores")
    if role not in ROLES:
        raise AccountError(f"the role is one of {', '.join(ROLES)}")
    _check_password(password)
    if by_name(session, username) is not None:
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
    """Check a sign-in; failures count towards the lock, and the lock is checked before the password.

    A name that is no active account (unknown, or disabled) counts its failures and locks the same
    way, in ``SignInThrottle``, and its password is checked against a dummy hash at the same cost:
    neither the words, nor the try at which the lock comes, nor the time tell which names exist.
    """
    user = by_name(session, username)
    account = user if user is not None and user.active else None
    counter: StaffUser | SignInThrottle = account or _throttle(session, username)
    target = username[:64]
    if counter.locked_until is not None and aware(counter.locked_until) > now:
        audit.append(session, actor="anonymous", action="staff.sign_in_locked", target=target, now=now)
        return SignIn.LOCKED, None
    if _password_matches(account.password_hash if account else _dummy_hash(), password) and account is not None:
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = _hasher.hash(password)
        account.failed_logins = 0
        account.locked_until = None
        audit.append(session, actor=username, action="staff.sign_in", target=username, now=now)
        return SignIn.OK, account
    counter.failed_logins = (counter.failed_logins or 0) + 1
    action = "staff.sign_in_failed"
    if counter.failed_logins >= rules.max_failures:
        counter.locked_until = now + rules.lock_for
        counter.failed_logins = 0
        action = "staff.locked"
    audit.append(session, actor="anonymous", action=action, target=target, now=now)
    return (SignIn.LOCKED if action == "staff.locked" else SignIn.WRONG), None


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _throttle(session: Session, username: str) -> SignInThrottle:
    """The counter of a name that is no account; made at its first failure (two at once make one)."""
    name_hash = keyed_hash("staff-name", username)
    row = {"name_hash": name_hash, "failed_logins": 0}
    session.execute(dialect.insert(session, SignInThrottle).values(row).on_conflict_do_nothing())
    throttle = session.get(SignInThrottle, name_hash)
    assert throttle is not None
    return throttle


def by_name(session: Session, username: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(StaffUser.username == username)).first()


def all_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def state(user: StaffUser, now: dt.datetime) -> str:
    """disabled, locked (by failed sign-ins, until its time) or active."""
    if not user.active:
        return "disabled"
    if user.locked_until is not None and aware(user.locked_until) > now:
        return "locked"
    return "active"


def set_password(session: Session, user: StaffUser, password: str, now: dt.datetime, actor: str) -> None:
    """A new password; the lock and the count of failed sign-ins start afresh."""
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    audit.append(session, actor=actor, action="staff.password", target=user.username, now=now)


def disable(session: Session, user: StaffUser, now: dt.datetime, actor: str) -> None:
    """The account can no longer sign in; its entries in the audit log stay under its name."""
    user.active = False
    audit.append(session, actor=actor, action="staff.disable", target=user.username, now=now)


def enable(session: Session, user: StaffUser, now: dt.datetime, actor: str) -> None:
    user.active = True
    audit.append(session, actor=actor, action="staff.enable", target=user.username, now=now)


def unlock(session: Session, user: StaffUser, now: dt.datetime, actor: str) -> None:
    """Lift the lock after failed sign-ins before its time, and start the count again."""
    user.locked_until = None
    user.failed_logins = 0
    audit.append(session, actor=actor, action="staff.unlock", target=user.username, now=now)
