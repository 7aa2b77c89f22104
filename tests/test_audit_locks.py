"""The audit chain's lock comes before any row a transaction changes, so writers never deadlock.

A staff action changes a submission and appends to the chain; the sync worker, holding the chain's
lock for a feed page, changes the same submission. If the staff transaction flushed its row change
before waiting for the chain, each would wait for the other (PostgreSQL: "deadlock detected").
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, update

from fixtures.submissions import queue_meals
from kiosk import create_app, db
from kiosk.domain import audit
from kiosk.domain.staffqueue import act
from kiosk.models import State, Submission


@pytest.mark.postgres
def test_a_staff_action_waiting_for_the_chain_holds_no_row_lock(instance, pg_database) -> None:
    app = create_app({"TESTING": True, "PORTAL": "demo", "DATABASE_URL": pg_database})
    db.upgrade(app)
    queue_meals(app)
    now = dt.datetime.now(dt.UTC)
    errors: list[BaseException] = []
    with app.app_context(), db.new_session(app) as holder, db.new_session(app) as staff:
        submission_id = holder.scalar(select(Submission.id))
        holder.execute(update(Submission).values(state=State.NEEDS_STAFF))
        holder.commit()
        audit.append(holder, actor="sync:w1", action="sync.test", now=now)  # holds the chain's lock

        def staff_cancels() -> None:
            try:
                row = staff.get(Submission, submission_id)
                act(staff, row, "cancel", staff="aigul", now=now, reason="asked by the parent")
                staff.commit()
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)
                staff.rollback()

        worker = threading.Thread(target=staff_cancels)
        worker.start()
        worker.join(timeout=1.0)  # it now waits for the chain (and, before the fix, holds the row)
        assert worker.is_alive()
        holder.execute(update(Submission).where(Submission.id == submission_id).values(updated_at=now))
        holder.commit()
        worker.join(timeout=30)
    assert errors == []
    with app.app_context(), db.new_session(app) as s:
        assert s.get(Submission, submission_id).state == State.CANCELLED
        assert audit.verify(s) == []
    db.engine(app).dispose()
