"""Personal data from consent to erasure (issue 16): erasure by destroying each application's own
key, what it leaves, what it never touches, and the copies it reaches (WAL, free pages, backups)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from fixtures.flows import PARENT, child_iin, meals, soup
from fixtures.staff import sign_in_staff
from fixtures.submissions import queue_one
from kiosk import create_app, db
from kiosk.cli import main
from kiosk.domain import audit
from kiosk.domain.iin import mask
from kiosk.domain.submissions import (
    AlreadyApplied,
    Erased,
    existing_for_child,
    open_payload,
    open_signature,
    transition,
)
from kiosk.extensions import keyring
from kiosk.infra.crypto import CannotDecrypt, Keyring
from kiosk.jobs import privacy
from kiosk.jobs.backup import backup_sqlite
from kiosk.models import Attachment, AuditEntry, State, Submission, SubmissionEvent

CHILD = child_iin(dt.date(2016, 2, 2), "F")
OTHER_CHILD = child_iin(dt.date(2015, 3, 3))
PHOTO = b"\xff\xd8\xff\xe0" + b"a photo of a health certificate " * 200
RETENTION = privacy.Retention({"approved": 90, "refused": 90, "cancelled": 30})


def make(
    app, child: str, *, state: str = State.QUEUED, photo: bytes | None = None, now: dt.datetime, ecp: dict | None = None
) -> str:
    """An application for meals, straight into the queue (with a photo the parent attached), then
    moved to ``state`` as the central system or staff would; its reference."""
    with app.test_request_context("/ru/"), db.new_session(app) as s:
        ring = keyring()
        shas = []
        if photo is not None:
            sha = hashlib.sha256(photo).hexdigest()
            s.add(
                Attachment(
                    visit_id="visit-1",
                    kind="image/jpeg",
                    size=len(photo),
                    sha256=sha,
                    sealed=ring.seal(photo, bound_to=sha),
                    created_at=now,
                )
            )
            s.flush()
            shas.append(sha)
        row = queue_one(
            s,
            meals(child),
            now=now,
            year=2025,
            applicant_name="AIGERIM NURLANQYZY",
            attachments=shas,
            signature=lambda _signed: ecp,
            visit_id="visit-1",
        )
        if state != State.QUEUED:
            transition(row, state, now, "sync:test")
        s.commit()
        return row.reference


def row_of(app, reference: str) -> Submission:
    with db.new_session(app) as s:
        row = s.scalars(select(Submission).where(Submission.reference == reference)).one()
        s.expunge(row)
        return row


def erase(app, now: dt.datetime) -> privacy.Erasure:
    return privacy.erase_due(lambda: db.new_session(app), app.extensions["kiosk.keyring"], now, RETENTION)


def every_key_fails(ring: Keyring, token: str, bound_to: str, owner: str) -> bool:
    """Neither the application's own key nor any site key the kiosk holds opens it."""
    attempts = [lambda: ring.open(token, bound_to, owner)]
    body = token.partition(":")[2]
    for key_id in ring.keys:
        attempts.append(lambda key_id=key_id: ring.open(f"{key_id}:{body}", bound_to))
    for attempt in attempts:
        try:
            attempt()
        except CannotDecrypt:
            continue
        return False
    return True


def sealed_copies(app, reference: str) -> tuple[str, str, list[tuple[str, str]]]:
    with db.new_session(app) as s:
        row = s.scalars(select(Submission).where(Submission.reference == reference)).one()
        files = [(a.sealed, a.sha256) for a in s.scalars(select(Attachment).where(Attachment.submission_id == row.id))]
        return row.uuid, row.payload, files


@pytest.fixture
def closed(app, clock):
    """An application approved on 4 May 2026 with a photo, and one refused the same day."""
    approved = make(app, CHILD, state=State.APPROVED, photo=PHOTO, now=clock.now)
    refused = make(app, OTHER_CHILD, state=State.REFUSED, now=clock.now)
    return approved, refused


def test_erasure_makes_the_payload_and_photos_unreadable_with_every_key_the_kiosk_holds(app, clock, closed) -> None:
    approved, _ = closed
    uid, payload, files = sealed_copies(app, approved)
    ring = app.extensions["kiosk.keyring"]
    assert payload.startswith("d:") and files and all(f.startswith("d:") for f, _ in files)
    assert ring.open(files[0][0], files[0][1], owner=uid) == PHOTO  # the application's own key opens it today

    clock.now += dt.timedelta(days=89)
    assert erase(app, clock.now).erased == 0  # not yet: 90 days after the decision
    clock.now += dt.timedelta(days=2)
    result = erase(app, clock.now)
    assert result.erased == 2 and result.keys_destroyed == 2

    assert every_key_fails(ring, payload, uid, uid)
    assert all(every_key_fails(ring, token, sha, uid) for token, sha in files)
    row = row_of(app, approved)
    with pytest.raises(Erased):
        open_payload(row, ring)
    with db.new_session(app) as s:
        assert s.scalars(select(Attachment).where(Attachment.submission_id == row.id)).all() == []


def test_erasure_leaves_the_record_and_the_one_per_child_rule_and_writes_its_audit_entry(app, clock, closed) -> None:
    approved, refused = closed
    before = row_of(app, approved)
    clock.now += dt.timedelta(days=91)
    erase(app, clock.now)
    after = row_of(app, approved)
    # reference, service, dates, states stay; the applicant's IIN hash goes
    assert (after.reference, after.service_code, after.state, after.school_year) == (
        before.reference,
        "meals",
        State.APPROVED,
        2025,
    )
    assert after.created_at == before.created_at and after.closed_at == before.closed_at
    assert after.erased_at is not None and after.payload == "" and after.applicant_iin_hash == ""
    with app.test_request_context("/ru/"), db.new_session(app) as s:
        # the same child cannot apply for meals twice in the school year 2025-2026
        assert existing_for_child(s, "meals", CHILD, 2025).reference == approved
        with pytest.raises(AlreadyApplied):
            make(app, CHILD, now=clock.now)
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erase")).all()
        assert sorted(e.target for e in entries) == sorted([approved, refused])
        assert all(CHILD not in str(e.detail) and PARENT not in str(e.detail) for e in entries)
        assert audit.verify(s) == []
        events = s.scalars(select(SubmissionEvent).where(SubmissionEvent.submission_id == after.id)).all()
        assert events[-1].detail == {"action": "erased"} and events[-1].actor == "privacy"

    # after 31 August 2026 the school year is over: the child's hash is released too
    clock.set_local(2026, 9, 1)
    result = erase(app, clock.now)
    assert result.released == 2
    with app.test_request_context("/ru/"), db.new_session(app) as s:
        assert existing_for_child(s, "meals", CHILD, 2025) is None
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "privacy.release")) is not None


def test_an_application_without_an_outcome_is_never_erased(app, clock) -> None:
    waiting = {
        state: make(app, child_iin(dt.date(2014, 1, 1) + dt.timedelta(days=i)), state=state, photo=PHOTO, now=clock.now)
        for i, state in enumerate(
            [State.QUEUED, State.NEEDS_STAFF, State.RETRY_WAIT, State.DELIVERED, State.IN_PROGRESS]
        )
    }
    clock.now += dt.timedelta(days=3 * 365)  # years later, still without an outcome
    assert erase(app, clock.now).erased == 0
    ring = app.extensions["kiosk.keyring"]
    for reference in waiting.values():
        row = row_of(app, reference)
        assert row.erased_at is None and open_payload(row, ring)["applicant"]["iin"] == PARENT
    with pytest.raises(privacy.RetentionError):
        privacy.Retention.from_config({"PRIVACY_RETENTION_DAYS": {"needs_staff": 30}})


def test_a_backup_taken_before_the_erasure_cannot_open_the_erased_application(app, clock, closed, tmp_path) -> None:
    approved, _ = closed
    kept = make(app, child_iin(dt.date(2014, 5, 5)), photo=PHOTO + b"2", now=clock.now)  # still queued
    copy = tmp_path / "before.sqlite3"
    backup_sqlite(Path(db.engine(app).url.database), copy)
    clock.now += dt.timedelta(days=91)
    erase(app, clock.now)

    ring = app.extensions["kiosk.keyring"]  # every key the kiosk holds after the erasure
    old = sqlite3.connect(copy)
    tokens = {
        reference: (
            uid,
            payload,
            [
                (s, h)
                for s, h in old.execute(
                    "SELECT a.sealed, a.sha256 FROM attachments a JOIN submissions s ON a.submission_id = s.id "
                    "WHERE s.reference = ?",
                    (reference,),
                )
            ],
        )
        for reference, uid, payload in old.execute("SELECT reference, uuid, payload FROM submissions")
    }
    old.close()
    uid, payload, files = tokens[approved]
    assert payload.startswith("d:") and files
    assert every_key_fails(ring, payload, uid, uid)
    assert all(every_key_fails(ring, token, sha, uid) for token, sha in files)
    uid, payload, files = tokens[kept]  # the backup still restores what was not erased
    assert ring.open_json(payload, uid, owner=uid)["applicant"]["iin"] == PARENT


TOKEN = re.compile(rb"(?:k\d+|d):[A-Za-z0-9+/]{40,}={0,2}")


def openable_copies(
    paths: list[Path], ring: Keyring, bindings: list[tuple[str, str | None]], secrets_: list[bytes]
) -> int:
    """Sealed values in the raw bytes of these files that a key the kiosk holds opens and that hold
    one of ``secrets_`` (the person's IINs, their photo)."""
    found = 0
    for path in paths:
        if not path.exists():
            continue
        for match in set(TOKEN.findall(path.read_bytes())):
            token = match.decode()
            for bound_to, owner in bindings:
                try:
                    plain = ring.open(token, bound_to, owner)
                except (CannotDecrypt, ValueError):
                    continue
                if any(s in plain for s in secrets_):
                    found += 1
    return found


def test_the_raw_files_hold_no_openable_copy_after_erasure(app, client, clock, tmp_path) -> None:
    """The whole visit as a parent makes it (identify, form, photo, sign, Finish), a nightly backup,
    the decision, then erasure: the database, its WAL, the backup, the key store: 0 openable."""
    from fixtures.flows import apply, token

    child = child_iin(dt.date(2017, 4, 4), "F")
    reference = apply(client, "ru", "meals", meals(child), clock).rsplit("/", 1)[-1]
    visit_ids = [v for (v,) in db.engine(app).connect().exec_driver_sql("SELECT id FROM visits").fetchall()]
    client.post("/ru/receipt/finish", data={"csrf_token": token(client, f"/ru/receipt/{reference}")})
    row = row_of(app, reference)
    with db.new_session(app) as s:
        s.get(Submission, row.id).state = State.APPROVED  # as the central system's decision would
        s.get(Submission, row.id).closed_at = clock.now
        s.commit()
    folder = Path(db.engine(app).url.database)
    backup = tmp_path / "nightly.sqlite3"
    backup_sqlite(folder, backup)
    ring = app.extensions["kiosk.keyring"]
    bindings = [(row.uuid, row.uuid), *((v, None) for v in visit_ids)]
    people = [child.encode(), PARENT.encode()]
    files = [folder, Path(f"{folder}-wal"), backup, Path(app.instance_path) / "keys" / "submission_keys.sqlite3"]
    assert openable_copies(files, ring, bindings, people) >= 1  # the search finds them while they are held

    clock.now += dt.timedelta(days=91)
    assert erase(app, clock.now).erased == 1
    db.engine(app).dispose()
    assert openable_copies(files, ring, bindings, people) == 0


PASSWORD = "correct horse battery"


def test_the_staff_page_of_an_erased_application_says_so(app, client, clock, closed) -> None:
    approved, _ = closed
    clock.now += dt.timedelta(days=91)
    erase(app, clock.now)
    sign_in_staff(app, client)
    page = client.get(f"/staff/submissions/{approved}")
    assert page.status_code == 200
    assert soup(page).select_one("[data-erased]") is not None
    assert PARENT not in page.get_data(as_text=True)
    reprint = client.get(f"/staff/submissions/{approved}/receipt")
    assert reprint.status_code == 302


def test_the_worker_erases_once_a_day(app, clock, closed) -> None:
    from kiosk.jobs.sync import Worker

    app.config["PRIVACY_RETENTION_DAYS"] = {"approved": 90, "refused": 90, "cancelled": 30}
    worker = Worker(app, app.extensions["kiosk.portal"])
    assert worker.erase_if_due() == 0  # the first turn: nothing due yet
    clock.now += dt.timedelta(days=91)
    clock.now -= dt.timedelta(hours=1)
    assert worker.erase_if_due() == 2  # a day has passed: its turn
    clock.now += dt.timedelta(hours=2)
    assert worker.erase_if_due() is None  # not again the same day


def test_cli_erase(app, clock, closed) -> None:
    runner = app.test_cli_runner()
    clock.now += dt.timedelta(days=91)
    dry = runner.invoke(main, ["privacy", "erase", "--dry-run"])
    assert "2 applications due" in dry.output
    done = runner.invoke(main, ["privacy", "erase"])
    assert done.exit_code == 0 and "erased 2 applications (2 keys destroyed)" in done.output
    again = runner.invoke(main, ["privacy", "erase"])
    assert "erased 0 applications" in again.output


@pytest.mark.postgres
def test_erasure_on_postgresql(pg_database, instance, clock) -> None:
    app = create_app({"TESTING": True, "CLOCK": clock, "PORTAL": "demo", "DATABASE_URL": pg_database})
    db.upgrade(app)
    try:
        approved = make(app, CHILD, state=State.APPROVED, photo=PHOTO, now=clock.now)
        waiting = make(app, OTHER_CHILD, state=State.NEEDS_STAFF, now=clock.now)
        uid, payload, files = sealed_copies(app, approved)
        clock.now += dt.timedelta(days=91)
        assert erase(app, clock.now).erased == 1
        ring = app.extensions["kiosk.keyring"]
        assert every_key_fails(ring, payload, uid, uid)
        assert all(every_key_fails(ring, token, sha, uid) for token, sha in files)
        assert row_of(app, waiting).erased_at is None
        with app.test_request_context("/ru/"), db.new_session(app) as s:
            assert existing_for_child(s, "meals", CHILD, 2025).reference == approved
            assert audit.verify(s) == []
    finally:
        db.engine(app).dispose()


def test_the_inventory_counts_without_personal_data(app, clock, tmp_path) -> None:
    import os

    references = [
        make(app, child_iin(dt.date(2014, 1, 1) + dt.timedelta(days=i)), state=state, photo=photo, now=clock.now)
        for i, (state, photo) in enumerate(
            [
                (State.APPROVED, PHOTO),
                (State.REFUSED, None),
                (State.CANCELLED, None),
                (State.QUEUED, PHOTO + b"1"),
                (State.NEEDS_STAFF, None),
            ]
        )
    ]
    clock.now += dt.timedelta(days=40)  # the cancelled one is due (30 days), the decided ones in 50 days
    erase(app, clock.now)
    references.append(make(app, child_iin(dt.date(2013, 1, 1)), state=State.APPROVED, now=clock.now))
    clock.now += dt.timedelta(days=60)  # now the two decided on the first day are due too
    backups = tmp_path / "backups"
    backups.mkdir()
    for name, days in (("kiosk-old.sqlite3", 120), ("kiosk-new.sqlite3", 1)):
        (backups / name).write_bytes(b"x")
        moment = (clock.now - dt.timedelta(days=days)).timestamp()
        os.utime(backups / name, (moment, moment))
    app.config.update(PRIVACY_OPERATOR_NAME={"en": "School No. 7"}, PRIVACY_OPERATOR_BIN="990340001234")

    out = app.test_cli_runner().invoke(main, ["privacy", "report", "--backups", str(backups)]).output
    assert "Operator: School No. 7, BIN 990340001234" in out
    assert "Applications holding personal data: 5" in out  # all but the cancelled one, erased
    for line in ("  approved: 2", "  refused: 1", "  queued: 1", "  needs_staff: 1"):
        assert line in out
    assert "  90 to 364 days: 4" in out and "  30 to 89 days: 1" in out
    assert "Without an outcome yet (never erased until they have one): 2" in out
    assert "Due for erasure now: 2" in out
    assert "Erased so far: 1" in out
    assert "applications' own data keys: 5 (wrapped by k1: 5)" in out
    assert "Photos and scans held: 2" in out
    assert "kiosk-old.sqlite3" in out and "kiosk-new.sqlite3" not in out
    for reference in references:
        assert reference not in out
    assert PARENT not in out and "AIGERIM" not in out


def test_the_iin_report_lists_each_staff_read_and_masks_the_iin(app, client, clock, closed) -> None:
    from fixtures.flows import token

    approved, refused = closed
    sign_in_staff(app, client, "aigul")
    with db.new_session(app) as s:
        photo = s.scalars(select(Attachment)).one()
    clock.now += dt.timedelta(minutes=5)
    client.get(f"/staff/submissions/{approved}")
    client.get(f"/staff/submissions/{approved}/attachments/{photo.id}")
    client.get(f"/staff/submissions/{approved}/receipt")
    clock.now += dt.timedelta(minutes=5)
    other = app.test_client()
    sign_in_staff(app, other, "bolat", "operator")
    other.get("/staff/language/ru")
    page = other.post("/staff/privacy", data={"iin": PARENT, "csrf_token": token(other, "/staff/privacy")})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert PARENT not in html and CHILD not in html and mask(PARENT) in html
    held = {a["data-held"]: a for a in soup(page).select("[data-held]")}
    assert set(held) == {approved, refused}
    reads = [li.get_text(" ", strip=True) for li in held[approved].select("[data-read]")]
    assert [li["data-read"] for li in held[approved].select("[data-read]")] == [
        "submission.view",
        "submission.attachment_view",
        "submission.reprint",
    ]
    assert all("aigul" in r for r in reads) and "04.05.2026 11:05" in reads[0]  # Almaty time
    assert "Заявление открыто" in reads[0]
    assert held[refused].select("[data-read]") == []
    assert "02.08.2026" in held[approved].select_one("[data-until]").get_text()  # 90 days after 4 May (Almaty)
    assert "Фотографий документов нет." in held[refused].select_one("[data-what]").get_text()  # not "0 фотографий"
    assert held[approved].select_one("[data-role]")["data-role"] == "applicant"

    # the report is itself a read, and shows on the next one; the child's IIN finds the same application
    client.get("/staff/language/kk")
    again = client.post("/staff/privacy", data={"iin": CHILD, "csrf_token": token(client, "/staff/privacy")})
    [only] = soup(again).select("[data-held]")
    # Kazakh: "until" takes the dative after the date, as a parent reads it aloud
    assert "02.08.2026-ға дейін" in only.select_one("[data-until]").get_text(" ", strip=True)
    assert only["data-held"] == approved and only.select_one("[data-role]")["data-role"] == "child"
    assert only.select("[data-read]")[-1]["data-read"] == "privacy.report"
    assert "bolat" in only.select("[data-read]")[-1].get_text()

    wrong = client.post("/staff/privacy", data={"iin": "123", "csrf_token": token(client, "/staff/privacy")})
    assert wrong.status_code == 200 and soup(wrong).select_one(".field-error") is not None


def test_the_incident_report_gives_the_facts_from_the_audit_log(app, client, clock, closed, tmp_path) -> None:
    from fixtures.flows import token

    approved, refused = closed
    sign_in_staff(app, client, "aigul")
    client.get(f"/staff/submissions/{approved}")
    client.get(f"/staff/submissions/{refused}")
    stranger = app.test_client()
    for _ in range(2):
        stranger.post(
            "/staff/login",
            data={"username": "aigul", "password": "wrong", "csrf_token": token(stranger, "/staff/login")},
        )
    app.config.update(PRIVACY_RESPONSIBLE="Deputy head, room 12", PRIVACY_OPERATOR_BIN="990340001234")
    out = tmp_path / "incident.txt"
    result = app.test_cli_runner().invoke(main, ["privacy", "incident", "--since", "2026-05-01", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    text = out.read_text()
    assert "Prepared 04.05.2026 11:00 (Almaty) for: Deputy head, room 12" in text
    assert "applications with personal data in the database during the period: 2" in text
    assert "distinct people in them (applicants and children): 3" in text  # one parent, two children
    assert "    meals: 2" in text
    assert "    aigul: 2" in text  # who read personal data
    assert "failed staff sign-ins: 2" in text
    assert "audit chain: intact" in text
    assert "94-V" in text
    for secret in (PARENT, CHILD, OTHER_CHILD, approved, refused):
        assert secret not in text
    later = app.test_cli_runner().invoke(
        main, ["privacy", "incident", "--since", "2026-06-01", "--until", "2026-05-01"]
    )
    assert later.exit_code != 0 and "--until comes before --since" in later.output


def test_a_crash_between_the_commit_and_the_keys_is_swept_on_the_next_run(app, clock, closed) -> None:
    approved, _ = closed
    ring = app.extensions["kiosk.keyring"]
    stray = ring.datakeys.create("a-submission-that-never-committed", clock.now)
    assert stray is not None and ring.datakeys.get("a-submission-that-never-committed") == stray
    row = row_of(app, approved)
    clock.now += dt.timedelta(days=91)
    with db.new_session(app) as s:  # erased in the database, but the process died before its key went
        s.get(Submission, row.id).erased_at = clock.now
        s.execute(Submission.__table__.update().where(Submission.id == row.id).values(payload=""))
        s.commit()
    assert ring.datakeys.get(row.uuid) is not None
    result = erase(app, clock.now)
    assert ring.datakeys.get(row.uuid) is None
    assert ring.datakeys.get("a-submission-that-never-committed") is None  # an hour old and more
    assert result.orphan_keys == 2


def test_the_worker_erases_a_long_backlog_in_turns_between_deliveries(app, clock, monkeypatch) -> None:
    from kiosk.jobs import sync
    from kiosk.jobs.sync import Worker

    monkeypatch.setattr(sync, "ERASE_TURN_BATCHES", 1)
    app.config["PRIVACY_ERASE_BATCH"] = 2
    for i in range(5):
        make(app, child_iin(dt.date(2014, 2, 1) + dt.timedelta(days=i)), state=State.APPROVED, now=clock.now)
    clock.now += dt.timedelta(days=91)
    worker = Worker(app, app.extensions["kiosk.portal"])
    assert [worker.erase_if_due() for _ in range(4)] == [2, 2, 1, None]
    with db.new_session(app) as s:
        assert {e.actor for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erase"))} == {
            "privacy"
        }


def test_erasure_makes_an_ecp_signature_unreadable_too(app, clock) -> None:
    """An ЭЦҚ kept with an application names the parent (certificate, IIN): sealed with the
    application's own key, so erasure makes it unreadable, in a backup too, and drops it."""
    reference = make(
        app, CHILD, state=State.APPROVED, now=clock.now, ecp={"signer": {"iin": PARENT, "name": "TEST"}, "cms": "AA=="}
    )
    row = row_of(app, reference)
    sealed, ring = row.signature, app.extensions["kiosk.keyring"]
    assert sealed.startswith("d:") and open_signature(row, ring)["signer"]["iin"] == PARENT
    clock.now += dt.timedelta(days=91)
    assert erase(app, clock.now).erased == 1
    assert row_of(app, reference).signature is None
    assert every_key_fails(ring, sealed, f"{row.uuid}:signature", row.uuid)
