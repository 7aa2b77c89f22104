"""SMS code rules, each with an injected clock: validity, single use, binding, failures, send limits."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from kiosk import db
from kiosk.domain.codes import Check, CodeRules, Refusal, SendRefused, check_code, issue_code, locked_until, tries_left
from kiosk.domain.iin import make_iin
from kiosk.models import SmsCode

T0 = dt.datetime(2026, 11, 22, 6, 0, tzinfo=dt.UTC)
RULES = CodeRules()
PARENT = make_iin(dt.date(1988, 4, 12), "F", 1234)
OTHER = make_iin(dt.date(1985, 11, 3), "M", 2345)
S = dt.timedelta(seconds=1)


@pytest.fixture
def s(app):
    with app.app_context():
        with db.new_session(app) as session:
            yield session


def issue(s, now=T0, iin=PARENT, subject="identify:a", kiosk="k1", rules=RULES):
    issued = issue_code(s, iin=iin, subject=subject, kiosk_id=kiosk, now=now, rules=rules)
    s.commit()
    return issued


def check(s, code, now=T0, iin=PARENT, subject="identify:a", rules=RULES):
    result = check_code(s, iin=iin, subject=subject, code=code, now=now, rules=rules)
    s.commit()
    return result


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_six_digits_stored_only_as_a_keyed_hash(s) -> None:
    issued = issue(s)
    assert len(issued.code) == 6 and issued.code.isdigit()
    row = s.scalars(select(SmsCode)).one()
    stored = " ".join(str(v) for v in (row.iin_hash, row.subject_hash, row.code_hash))
    assert issued.code not in stored and PARENT not in stored


def test_codes_come_from_secrets_and_differ(s, monkeypatch) -> None:
    calls = []
    import kiosk.domain.codes as codes_module

    real = codes_module.secrets.choice
    monkeypatch.setattr(codes_module.secrets, "choice", lambda seq: calls.append(1) or real(seq))
    issue(s)
    assert len(calls) == 6


def test_valid_for_five_minutes(s) -> None:
    issued = issue(s)
    assert check(s, issued.code, now=T0 + 5 * 60 * S - S) is Check.OK
    issued = issue(s, now=T0 + 61 * S, subject="identify:b")
    assert check(s, issued.code, now=T0 + 61 * S + 5 * 60 * S, subject="identify:b") is Check.WRONG


def test_single_use(s) -> None:
    issued = issue(s)
    assert check(s, issued.code) is Check.OK
    assert check(s, issued.code) is Check.WRONG


def test_bound_to_the_iin_and_to_what_it_signs(s) -> None:
    issued = issue(s)
    assert check(s, issued.code, iin=OTHER) is Check.WRONG
    assert check(s, issued.code, subject="application:other-hash") is Check.WRONG
    assert check(s, issued.code) is Check.OK


def test_a_new_code_replaces_the_old_one(s) -> None:
    first = issue(s)
    second = issue(s, now=T0 + 60 * S)
    if first.code != second.code:
        assert check(s, first.code, now=T0 + 61 * S) is Check.WRONG
    assert check(s, second.code, now=T0 + 62 * S) is Check.OK


def test_five_wrong_entries_end_the_code(s) -> None:
    issued = issue(s)
    for _ in range(4):
        assert check(s, wrong(issued.code)) is Check.WRONG
    assert check(s, wrong(issued.code)) is Check.LOCKED
    assert check(s, issued.code) is Check.LOCKED  # even the right code, now


def test_a_new_code_does_not_reset_the_failure_count(s) -> None:
    first = issue(s)
    for _ in range(3):
        assert check(s, wrong(first.code)) is Check.WRONG
    second = issue(s, now=T0 + 60 * S)
    assert check(s, wrong(second.code), now=T0 + 61 * S) is Check.WRONG
    assert check(s, wrong(second.code), now=T0 + 62 * S) is Check.LOCKED
    assert check(s, second.code, now=T0 + 63 * S) is Check.LOCKED
    with pytest.raises(SendRefused) as err:
        issue(s, now=T0 + 180 * S)
    assert err.value.reason is Refusal.LOCKED
    # the lock lasts the failure window, counted from the codes that failed
    third = issue(s, now=T0 + RULES.failure_window + 1 * S)
    assert check(s, third.code, now=T0 + RULES.failure_window + 2 * S) is Check.OK


def test_sixty_seconds_between_sends(s) -> None:
    issue(s)
    with pytest.raises(SendRefused) as err:
        issue(s, now=T0 + 59 * S)
    assert err.value.reason is Refusal.TOO_SOON
    assert err.value.retry_at == T0 + 60 * S
    issue(s, now=T0 + 60 * S)


def test_three_sends_per_iin_per_fifteen_minutes(s) -> None:
    for i in range(3):
        issue(s, now=T0 + i * 60 * S)
    with pytest.raises(SendRefused) as err:
        issue(s, now=T0 + 14 * 60 * S)
    assert err.value.reason is Refusal.IIN_LIMIT
    assert err.value.retry_at == T0 + 15 * 60 * S
    issue(s, now=T0 + 15 * 60 * S + S)
    issue(s, now=T0 + 15 * 60 * S, iin=OTHER)  # another person is not held up


def test_thirty_sends_per_kiosk_per_hour(s) -> None:
    people = [make_iin(dt.date(1980, 1, 1) + dt.timedelta(days=i), "M", 5) for i in range(80)]
    people = [p for p in people if p][:31]
    for i, person in enumerate(people[:30]):
        issue(s, now=T0 + i * S, iin=person)
    with pytest.raises(SendRefused) as err:
        issue(s, now=T0 + 40 * S, iin=people[30])
    assert err.value.reason is Refusal.KIOSK_LIMIT
    assert err.value.retry_at == T0 + 3600 * S  # when the oldest of the thirty leaves the hour
    issue(s, now=T0 + 40 * S, iin=people[30], kiosk="k2")  # another terminal has its own budget
    issue(s, now=T0 + 3600 * S + S, iin=people[30])


def test_limits_come_from_config(app) -> None:
    app.config.update(SMS_SENDS_PER_IIN=1, SMS_MIN_INTERVAL_S=5, SMS_CODE_TTL_S=30, SMS_CODE_MAX_FAILURES=2)
    rules = CodeRules.from_config(app.config)
    assert (rules.sends_per_iin, rules.min_interval, rules.ttl, rules.max_failures) == (1, 5 * S, 30 * S, 2)
    with app.app_context(), db.new_session(app) as s:
        issued = issue(s, rules=rules)
        assert check(s, wrong(issued.code), rules=rules) is Check.WRONG
        assert check(s, wrong(issued.code), rules=rules) is Check.LOCKED


def test_a_wrong_iin_and_a_wrong_code_get_the_same_answer(s) -> None:
    issued = issue(s)
    assert check(s, issued.code, iin=OTHER) is check(s, wrong(issued.code)) is Check.WRONG


def test_a_code_entered_right_counts_against_no_limit(s) -> None:
    """A parent identifies, then signs four applications at once: none of the five waits."""
    subjects = ["identify:visit", *(f"application:{n}" for n in range(4))]
    for i, subject in enumerate(subjects):
        now = T0 + i * 5 * S
        issued = issue(s, now=now, subject=subject)
        assert check(s, issued.code, now=now + 2 * S, subject=subject) is Check.OK
    # ten more right away would not wait either: used codes reached their owner
    for n in range(10):
        issued = issue(s, now=T0 + 30 * S, subject=f"application:more-{n}")
        assert check(s, issued.code, now=T0 + 30 * S, subject=f"application:more-{n}") is Check.OK


def test_only_a_resend_for_the_same_subject_waits(s) -> None:
    issue(s, subject="identify:a")
    issue(s, now=T0 + 1 * S, subject="application:x")  # a code for something else goes at once
    with pytest.raises(SendRefused) as err:
        issue(s, now=T0 + 30 * S, subject="application:x")
    assert err.value.reason is Refusal.TOO_SOON and err.value.retry_at == T0 + 61 * S


def test_unanswered_codes_count_per_iin_whatever_their_subject(s) -> None:
    """Pumping one phone: a new identification each time, never answered."""
    for i in range(3):
        issue(s, now=T0 + i * S, subject=f"identify:{i}")
    with pytest.raises(SendRefused) as err:
        issue(s, now=T0 + 3 * S, subject="identify:3")
    assert err.value.reason is Refusal.IIN_LIMIT and err.value.retry_at == T0 + 15 * 60 * S
    issue(s, now=T0 + 15 * 60 * S, subject="identify:4")


def test_used_codes_do_not_fill_the_kiosk_budget(s) -> None:
    people = [make_iin(dt.date(1981, 1, 1) + dt.timedelta(days=i), "F", 9) for i in range(90)]
    people = [p for p in people if p][:45]
    for i, person in enumerate(people[:40]):  # forty families an hour, each entering its code
        issued = issue(s, now=T0 + i * 60 * S, iin=person)
        assert check(s, issued.code, now=T0 + i * 60 * S + 10 * S, iin=person) is Check.OK
    for i, person in enumerate(people[40:]):  # and codes nobody enters still count
        issue(s, now=T0 + 41 * 60 * S + i * S, iin=person)
    assert len(people) == 45


def test_a_right_code_forgives_the_typos_before_it(s) -> None:
    first = issue(s, subject="identify:a")
    for _ in range(4):
        assert check(s, wrong(first.code), subject="identify:a") is Check.WRONG
    assert tries_left(s, iin=PARENT, now=T0, rules=RULES) == 1
    assert check(s, first.code, subject="identify:a") is Check.OK
    assert tries_left(s, iin=PARENT, now=T0, rules=RULES) == 5
    second = issue(s, now=T0 + S, subject="application:x")
    for _ in range(4):
        assert check(s, wrong(second.code), now=T0 + 2 * S, subject="application:x") is Check.WRONG
    assert check(s, second.code, now=T0 + 3 * S, subject="application:x") is Check.OK


def test_the_lock_ends_when_the_rule_says(s) -> None:
    first = issue(s, subject="identify:a")
    for _ in range(2):
        check(s, wrong(first.code), subject="identify:a")
    second = issue(s, now=T0 + 120 * S, subject="identify:b")
    for _ in range(3):
        check(s, wrong(second.code), now=T0 + 121 * S, subject="identify:b")
    until = locked_until(s, iin=PARENT, now=T0 + 122 * S, rules=RULES)
    assert until == T0 + RULES.failure_window  # when the first code's two failures leave the hour
    with pytest.raises(SendRefused) as err:
        issue(s, now=until - S, subject="identify:c")
    assert err.value.reason is Refusal.LOCKED and err.value.retry_at == until
    assert locked_until(s, iin=PARENT, now=until, rules=RULES) is None
    assert tries_left(s, iin=PARENT, now=until, rules=RULES) == 2
    issue(s, now=until, subject="identify:c")


def _race(app, senders: int) -> list[str]:
    """Many requests for one IIN at the same moment, each on its own connection."""
    results: list[str] = []
    barrier = threading.Barrier(senders)

    def send() -> None:
        with app.app_context(), db.new_session(app) as session:
            barrier.wait()
            try:
                issue_code(session, iin=PARENT, subject="identify:r", kiosk_id="k1", now=T0, rules=RULES)
                session.commit()
                results.append("sent")
            except SendRefused as refused:
                session.rollback()
                results.append(refused.reason.value)

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_the_limits_hold_for_concurrent_requests_on_sqlite(app) -> None:
    results = _race(app, 8)
    assert results.count("sent") == 1 and results.count("too_soon") == 7


@pytest.mark.postgres
def test_the_limits_hold_for_concurrent_requests_on_postgresql(pg_database, instance, clock) -> None:
    from kiosk import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": pg_database})
    db.upgrade(app)
    results = _race(app, 8)
    assert results.count("sent") == 1 and results.count("too_soon") == 7
    db.engine(app).dispose()
