"""One commit per request (issue 13, item 3): a domain operation flushes and leaves its transaction
to the caller (a view, the worker, the CLI), which commits once or rolls back.

Each operation runs here in a session whose commit and rollback fail the test, and what it wrote is
seen by another connection only once the caller commits.
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fixtures.flows import PARENT, child_iin
from kiosk import db
from kiosk.domain import accounts, applications, audit, codes, helpcalls, reconcile, staffqueue, submissions
from kiosk.extensions import keyring
from kiosk.infra import sessions
from kiosk.infra.catalog_ext import get_catalog
from kiosk.models import AuditEntry, HelpCall, SmsCode, StaffUser, State, Submission

PASSWORD = "correct horse battery"
CHILD = child_iin(dt.date(2016, 9, 9), "F")


@pytest.fixture
def caller(app, monkeypatch):
    """The caller's session: only the test, as the caller, may end its transaction."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("a domain operation ended its caller's transaction")

    with app.app_context(), db.new_session(app) as s:
        monkeypatch.setattr(s, "commit", refuse)
        monkeypatch.setattr(s, "rollback", refuse)
        yield s


def meals(child: str = CHILD) -> tuple[dict, str]:
    return applications.canonical_payload(
        service=get_catalog().service("meals"),
        catalog_version="t",
        year=2026,
        applicant={"iin": PARENT, "name": None, "identity": "sms"},
        answers={"child_iin": child, "child_name": "Иванова Мария", "grade": "4", "category": "asp"},
        attachments=[],
        lang="ru",
    )


def queue(s: Session, now: dt.datetime, identity: str = "sms") -> submissions.Queued:
    payload, digest = meals()
    return submissions.queue_submission(
        s, payload=payload, payload_hash=digest, identity_method=identity, lang="ru", now=now, keyring=keyring()
    )


def rows_elsewhere(app) -> dict[str, int]:
    """What another connection sees: only what was committed."""
    with db.new_session(app) as other:
        return {
            model.__tablename__: other.scalar(select(func.count()).select_from(model)) or 0
            for model in (StaffUser, SmsCode, HelpCall, Submission, AuditEntry)
        }


def test_every_operation_leaves_the_commit_to_its_caller(app, clock, caller) -> None:
    s, now = caller, clock.now
    rules = codes.CodeRules()
    user = accounts.add_user(s, "aigul", PASSWORD, "admin", now, actor="cli")
    assert accounts.authenticate(s, "aigul", PASSWORD, now)[0] is accounts.SignIn.OK
    assert accounts.authenticate(s, "aigul", "not the password", now)[0] is accounts.SignIn.WRONG
    assert accounts.authenticate(s, "nobody", "not the password", now)[0] is accounts.SignIn.WRONG
    accounts.set_password(s, user, PASSWORD + "!", now, actor="cli")
    accounts.disable(s, user, now, actor="cli")
    accounts.enable(s, user, now, actor="cli")
    accounts.unlock(s, user, now, actor="cli")
    issued = codes.issue_code(s, iin=PARENT, subject="identify", kiosk_id="kiosk-1", now=now, rules=rules)
    codes.mark_undelivered(s, issued.code_id, now)
    assert codes.check_code(s, iin=PARENT, subject="identify", code="000000", now=now, rules=rules) in (
        codes.Check.WRONG,
        codes.Check.OK,  # one in a million: the code drawn was 000000
    )
    call = helpcalls.call(s, kiosk_id="kiosk-1", visit_id=None, screen="visitor.services", lang="ru", now=now)
    assert helpcalls.answer(s, call.id, staff="aigul", now=now)
    row = queue(s, now, identity="in_person").submission
    assert row.state == State.NEEDS_VERIFICATION
    staffqueue.act(s, row, "verify_in_person", staff="aigul", now=now)
    with pytest.raises(staffqueue.NotAllowed):
        staffqueue.act(s, row, "verify_in_person", staff="aigul", now=now)
    with pytest.raises(submissions.AlreadyApplied):
        queue(s, now)
    row.state = State.DELIVERED
    reconcile.resolve(
        s, reconcile.Difference("missing_there", row.uuid, row.reference, row.state, None, None), staff="aigul", now=now
    )
    reconcile.resolve(
        s, reconcile.Difference("unknown_here", "k-1", None, None, "delivered", "P-1"), staff="aigul", now=now
    )
    audit.append(s, actor="aigul", action="submission.view", target=row.reference, now=now)
    sessions.purge_stale(s, now, 60)

    assert set(rows_elsewhere(app).values()) == {0}  # all written, flushed, none of it committed
    Session.commit(s)  # the caller's one commit
    seen = rows_elsewhere(app)
    assert seen["staff_users"] == seen["sms_codes"] == seen["help_calls"] == seen["submissions"] == 1
    assert seen["audit_log"] >= 10
    assert not audit.verify(s)


def test_a_race_lost_at_the_insert_leaves_the_rollback_to_its_caller(app, clock, caller, monkeypatch) -> None:
    """Another terminal queued the same child between the check and the insert: the unique index
    refuses this one, and the caller, whose transaction may hold more (the code's use), decides."""
    with db.new_session(app) as other:
        queue(other, clock.now)
        other.commit()
    monkeypatch.setattr(submissions, "already_applied", lambda *_: None)  # the check ran before that commit
    with pytest.raises(submissions.LostRace):
        queue(caller, clock.now)
    monkeypatch.undo()  # the caller's own rollback and look-up, as the view makes them
    caller.rollback()
    already = submissions.already_applied(caller, meals()[0])
    assert already is not None and already.reference_for(PARENT) is not None


ROOMS = Path(__file__).parent.parent / "kiosk"


@pytest.mark.parametrize("room", ["domain", "clients"])
def test_no_domain_or_client_module_ends_a_transaction(room: str) -> None:
    """The rule for the modules the test above does not run: no ``.commit()`` or ``.rollback()``."""
    found = []
    for path in sorted((ROOMS / room).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("commit", "rollback")
            ):
                found.append(f"{path.relative_to(ROOMS.parent)}:{node.lineno}")
    assert found == []
