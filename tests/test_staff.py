"""The staff console: accounts from the command line, sign-in and its lock, roles, timeouts, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from fixtures.flows import CARD, applications, apply, apply_assisted, child_iin, meals, soup, token
from fixtures.staff import sign_in
from kiosk import db
from kiosk.cli import main
from kiosk.domain import audit


def test_there_is_no_default_account(client) -> None:
    for name in ("admin", "staff", "root"):
        for password in ("admin", "password", "", "123456"):
            response = sign_in(client, name, password)
            assert response.status_code == 200


def test_sign_in_renews_the_session_and_signs_out(client, staff) -> None:
    client.get("/staff/login")
    before = client.get_cookie("kiosk_visit").value
    response = sign_in(client, "aigul")
    assert response.headers["Location"].endswith("/staff/")
    assert client.get_cookie("kiosk_visit").value != before
    assert client.get("/staff/").status_code == 200
    client.post("/staff/logout", data={"csrf_token": token(client, "/staff/")})
    assert client.get("/staff/").status_code == 302


def test_wrong_password_and_unknown_user_read_the_same(client, staff) -> None:
    a = soup(sign_in(client, "aigul", "wrong password!!")).select_one(".alert").get_text()
    b = soup(sign_in(client, "nobody", "wrong password!!")).select_one(".alert").get_text()
    assert a == b


def test_five_failures_lock_the_account_until_an_admin_unlocks_it(client, app, staff, clock) -> None:
    client.get("/staff/language/en")
    for _ in range(5):
        sign_in(client, "bolat", "not the password")
    response = sign_in(client, "bolat")  # even the right password, now
    assert "locked" in soup(response).select_one(".alert").get_text()
    assert staff.invoke(main, ["staff", "unlock", "bolat"]).exit_code == 0
    assert sign_in(client, "bolat").status_code == 302


def test_the_account_commands_disable_enable_and_set_a_password(client, staff) -> None:
    assert staff.invoke(main, ["staff", "disable", "bolat"]).output == "bolat: disable done\n"
    assert sign_in(client, "bolat").status_code == 200
    assert staff.invoke(main, ["staff", "enable", "bolat"]).output == "bolat: enable done\n"
    assert sign_in(client, "bolat").status_code == 302
    new = "a new long passphrase"
    result = staff.invoke(main, ["staff", "password", "bolat"], input=f"{new}\n{new}\n")
    assert result.exit_code == 0 and result.output.endswith("bolat: password done\n")
    other = client.application.test_client()
    assert sign_in(other, "bolat").status_code == 200  # the old password no longer opens it
    assert sign_in(other, "bolat", new).status_code == 302
    unknown = staff.invoke(main, ["staff", "enable", "nobody"])
    assert unknown.exit_code == 1 and "no user nobody" in unknown.output


def test_the_list_and_the_users_page_tell_one_state_by_the_same_rule(client, staff, clock) -> None:
    """Locked only while the lock runs, on the command line and on the admins' page alike."""

    def listed() -> dict[str, str]:
        out = staff.invoke(main, ["staff", "list"]).output
        return {name: state for name, _role, state in (line.split("\t") for line in out.splitlines())}

    def shown() -> dict[str, str]:
        rows = soup(client.get("/staff/users")).select("tr[data-user]")
        return {row["data-user"]: row.select("td")[2].get_text() for row in rows}

    for _ in range(5):
        sign_in(client, "bolat", "not the password")
    client.get("/staff/language/en")
    sign_in(client, "aigul")
    assert listed() == shown() == {"aigul": "active", "bolat": "locked"}
    clock.now += dt.timedelta(minutes=16)
    assert staff.invoke(main, ["staff", "disable", "aigul"]).exit_code == 0
    assert listed() == {"aigul": "disabled", "bolat": "active"}  # the lock ran out, though its time is kept


def test_the_lock_lifts_by_itself_after_its_time(client, staff, clock) -> None:
    for _ in range(5):
        sign_in(client, "bolat", "not the password")
    clock.now += dt.timedelta(minutes=16)
    assert sign_in(client, "bolat").status_code == 302


def test_an_operator_cannot_manage_users_or_read_the_audit_log(client, staff) -> None:
    sign_in(client, "bolat")
    assert client.get("/staff/").status_code == 200
    assert client.get("/staff/users").status_code == 403
    assert client.get("/staff/audit").status_code == 403
    other = client.application.test_client()
    sign_in(other, "aigul")
    assert other.get("/staff/users").status_code == 200
    assert "bolat" in other.get("/staff/users").get_data(as_text=True)


def test_no_visitor_session_reaches_staff_pages(client, app, clock) -> None:
    apply(client, "ru", "meals", meals(child_iin(dt.date(2016, 9, 9), "F")), clock)
    for url in ("/staff/", "/staff/users", "/staff/audit", "/staff/queue.csv"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].endswith("/staff/login")


def test_fifteen_minutes_idle_or_eight_hours_in_all_end_the_session(client, staff, clock) -> None:
    sign_in(client, "aigul")
    clock.now += dt.timedelta(minutes=14)
    assert client.get("/staff/").status_code == 200
    clock.now += dt.timedelta(minutes=16)
    assert client.get("/staff/").status_code == 302
    sign_in(client, "aigul")
    for _ in range(40):  # busy all day: a request every 13 minutes
        clock.now += dt.timedelta(minutes=13)
        if client.get("/staff/").status_code == 302:
            break
    assert client.get("/staff/").status_code == 302  # signed out by the 8-hour limit, though never idle


def test_dashboard_counts_and_alerts(client, app, staff, clock) -> None:
    visitor = app.test_client()
    apply_assisted(visitor, "ru", meals(child_iin(dt.date(2016, 9, 9), "F")))
    sign_in(client, "bolat")
    client.get("/staff/language/ru")
    page = soup(client.get("/staff/"))
    assert page.select_one('[data-state="needs_verification"] td').get_text() == "1"
    assert any("удостоверени" in a.get_text() for a in page.select("[data-alert]"))


def test_csv_export_streams_the_queue_without_personal_data(client, app, staff, clock) -> None:
    visitor = app.test_client()
    apply(visitor, "ru", "meals", meals(child_iin(dt.date(2016, 9, 9), "F")), clock)
    sign_in(client, "bolat")
    response = client.get("/staff/queue.csv")
    body = response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/csv")
    lines = body.strip().splitlines()
    assert lines[0].startswith("reference,service,state") and len(lines) == 2 and ",meals,queued," in lines[1]
    assert "Иванова" not in body and "880412412349" not in body


def _audit_session(app):
    return db.new_session(app)


def test_every_action_is_in_the_audit_chain_and_the_chain_verifies(client, app, staff) -> None:
    sign_in(client, "aigul", "wrong password!!")
    sign_in(client, "aigul")
    with app.app_context(), _audit_session(app) as s:
        actions = [e.action for e in s.query(audit.AuditEntry).order_by(audit.AuditEntry.id)]
        assert actions == ["staff.add", "staff.add", "staff.sign_in_failed", "staff.sign_in"]
        assert audit.verify(s) == []
    result = CliRunner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 0 and "4 entries" in result.output


def test_the_database_refuses_to_change_the_audit_log(app, staff) -> None:
    from sqlalchemy.exc import DatabaseError

    with db.engine(app).connect() as conn:
        with pytest.raises(DatabaseError):
            conn.execute(text("UPDATE audit_log SET actor = 'someone' WHERE id = 1"))
        conn.rollback()
        with pytest.raises(DatabaseError):
            conn.execute(text("DELETE FROM audit_log WHERE id = 1"))


@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE id = 2", "changed"),
        ("DELETE FROM audit_log WHERE id = 2", "removed or changed"),
        ("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)", "removed at the end"),
    ],
)
def test_an_edited_or_deleted_entry_is_found(client, app, staff, tamper, found) -> None:
    sign_in(client, "aigul")
    with db.engine(app).begin() as conn:  # someone with the database file in hand, past the triggers
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        conn.execute(text(tamper))
    result = CliRunner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert found in result.output


def test_queue_search_by_reference_and_by_iin_and_keyset_pages(client, app, staff, clock, monkeypatch) -> None:
    from kiosk.domain import staffqueue

    monkeypatch.setattr(staffqueue, "PAGE", 2)
    monkeypatch.setattr(staffqueue.queue_page, "__defaults__", (2,))
    refs = applications(app, clock, 5)
    sign_in(client, "bolat")
    seen = []
    url = "/staff/queue"
    while url:
        page = soup(client.get(url))
        seen += [tr["data-row"] for tr in page.select("[data-row]")]
        nxt = page.select_one("[data-next]")
        url = nxt["href"] if nxt else None
    assert seen == list(reversed(refs))  # newest first, each once, across pages
    ref = refs[2]
    page = soup(client.get(f"/staff/queue?q={ref[:3]}-{ref[3:6]}-{ref[6:]}"))
    assert [tr["data-row"] for tr in page.select("[data-row]")] == [ref]
    page = soup(client.get("/staff/queue?q=880412412349"))  # the applicant's IIN, through the keyed hash
    assert len(page.select("[data-row]")) == 2  # the page size; all five are this parent's
    assert not soup(client.get("/staff/queue?q=190315500012")).select("[data-row]")


def test_queue_rows_refresh_while_anything_moves_and_stop_after(client, app, staff, clock) -> None:
    applications(app, clock, 1)
    sign_in(client, "bolat")
    page = soup(client.get("/staff/queue"))
    assert page.select_one("tbody#queue-rows")["hx-trigger"] == "every 5s"
    rows = client.get("/staff/queue", headers={"HX-Request": "true"})
    assert "<html" not in rows.get_data(as_text=True) and rows.status_code == 200
    with app.app_context(), db.new_session(app) as s:
        from kiosk.models import Submission

        s.query(Submission).update({"state": "delivered"})
        s.commit()
    assert client.get("/staff/queue", headers={"HX-Request": "true"}).status_code == 286  # htmx: stop polling


def test_actions_on_one_submission_with_events_and_audit(client, app, staff, clock) -> None:
    from kiosk.models import Submission

    [ref] = applications(app, clock, 1)
    sign_in(client, "bolat")
    page = soup(client.get(f"/staff/submissions/{ref}"))
    assert "880412412349" in page.select_one("[data-applicant]").get_text()  # decrypted for staff
    doc = page.select_one("[data-original]")["data-original"]
    csrf = token(client, f"/staff/submissions/{ref}")
    client.post(f"/staff/submissions/{ref}/original_checked", data={"document": doc, "csrf_token": csrf})
    page = soup(client.get(f"/staff/submissions/{ref}"))
    assert "bolat" in page.select_one(f'[data-original="{doc}"] [data-checked]').get_text()
    client.post(f"/staff/submissions/{ref}/verify_in_person", data={"csrf_token": csrf})  # not waiting for it
    with app.app_context(), db.new_session(app) as s:
        assert s.query(Submission).one().state == "queued"  # refused: it was not waiting for that
    client.post(f"/staff/submissions/{ref}/cancel", data={"csrf_token": csrf, "reason": ""})
    with app.app_context(), db.new_session(app) as s:
        assert s.query(Submission).one().state == "queued"  # a cancel needs a reason
    client.post(f"/staff/submissions/{ref}/cancel", data={"csrf_token": csrf, "reason": "parent asked"})
    with app.app_context(), db.new_session(app) as s:
        row = s.query(Submission).one()
        assert row.state == "cancelled"
        assert [e.detail.get("action") for e in row.events][-2:] == ["original_checked", "cancel"]
        actions = [e.action for e in s.query(audit.AuditEntry)]
        assert {"submission.view", "submission.original_checked", "submission.cancel"} <= set(actions)
        assert audit.verify(s) == []


def test_in_person_verification_sends_it_on(client, app, staff, clock) -> None:
    from kiosk.models import Submission

    visitor = app.test_client()
    location = apply_assisted(visitor, "ru", meals(child_iin(dt.date(2016, 9, 9), "F")))
    ref = location.headers["Location"].rsplit("/", 1)[-1]
    sign_in(client, "aigul")
    csrf = token(client, f"/staff/submissions/{ref}")
    client.post(f"/staff/submissions/{ref}/verify_in_person", data={"csrf_token": csrf})
    with app.app_context(), db.new_session(app) as s:
        row = s.query(Submission).one()
        assert row.state == "queued" and row.next_attempt_at is not None
        assert row.events[-1].actor == "staff:aigul"


def test_reprint_the_receipt(client, app, staff, clock) -> None:
    [ref] = applications(app, clock, 1)
    sign_in(client, "bolat")
    page = soup(client.get(f"/staff/submissions/{ref}/receipt"))
    assert {p["data-receipt-lang"] for p in page.select("[data-receipt-lang]")} == {"kk", "ru"}
    assert f"{ref[:3]}-{ref[3:6]}-{ref[6:]}" in page.get_text()
    with app.app_context(), db.new_session(app) as s:
        assert s.query(audit.AuditEntry).filter_by(action="submission.reprint").count() == 1


def test_a_visitor_calls_staff_and_the_dashboard_shows_it_until_answered(client, app, staff, clock) -> None:
    visitor = app.test_client()
    page = soup(visitor.get("/ru/services"))
    button = page.select_one("[data-call-staff]")
    assert button is not None and button.get_text() == "Позвать сотрудника"
    form = button.find_parent("form")
    called = visitor.post(form["action"], data={"screen": "visitor.services"}, headers={"HX-Request": "true"})
    assert "<html" not in called.get_data(as_text=True)
    assert soup(called).select_one("[data-help-called]")  # the visitor sees that someone is coming
    visitor.post(form["action"], data={"screen": "visitor.services"})  # pressed again: still one call
    sign_in(client, "bolat")
    client.get("/staff/language/en")
    [call] = soup(client.get("/staff/")).select("[data-call]")
    assert "kiosk-1" in call.get_text()
    fragment = client.get("/staff/", headers={"HX-Request": "true", "X-Kiosk-Poll": "1"})
    assert "<html" not in fragment.get_data(as_text=True) and soup(fragment).select("[data-call]")
    client.post(f"/staff/calls/{call['data-call']}/answer", data={"csrf_token": token(client, "/staff/")})
    assert not soup(client.get("/staff/")).select("[data-call]")
    with app.app_context(), db.new_session(app) as s:
        actions = [e.action for e in s.query(audit.AuditEntry)]
        assert actions.count("visitor.call_staff") == 1 and "staff.answer_call" in actions
        assert audit.verify(s) == []


def test_sms_that_cannot_be_sent_raise_an_alert(client, app, staff, clock) -> None:
    from kiosk.clients.portal import PortalUnavailable

    def down(*_args) -> None:
        raise PortalUnavailable("the SMS gateway does not answer")

    app.extensions["kiosk.sms"].deliver = down
    visitor = app.test_client()
    visitor.get("/ru/identify?service=meals")
    answer = visitor.post("/ru/identify/card", data={"mrz": CARD, "csrf_token": token(visitor, "/ru/identify")})
    assert answer.status_code == 200 and "SMS" in soup(answer).select_one(".alert").get_text()
    sign_in(client, "bolat")
    client.get("/staff/language/en")
    alerts = [a.get_text() for a in soup(client.get("/staff/")).select("[data-alert]")]
    assert any("1 SMS code could not be sent in the last 60 minutes" in a for a in alerts), alerts
    clock.now += dt.timedelta(hours=2)  # an old failure no longer alerts
    sign_in(client, "bolat")
    assert not any("SMS" in a.get_text() for a in soup(client.get("/staff/")).select("[data-alert]"))


def test_polling_does_not_keep_a_staff_session_alive(client, app, staff, clock) -> None:
    sign_in(client, "bolat")
    for _ in range(20):  # ten minutes of the dashboard refreshing itself, nobody at the desk
        clock.now += dt.timedelta(seconds=30)
        assert client.get("/staff/", headers={"HX-Request": "true", "X-Kiosk-Poll": "1"}).status_code == 200
    clock.now += dt.timedelta(minutes=6)
    ended = client.get("/staff/", headers={"HX-Request": "true", "X-Kiosk-Poll": "1"})
    assert ended.headers.get("HX-Redirect", "").endswith("/staff/login")  # the whole page goes to sign-in


def test_staff_open_the_attachments_and_each_look_is_audited(client, app, staff, clock) -> None:
    import io

    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(picture, "PNG")
    files = [(picture.getvalue(), "p.png")]
    location = apply(app.test_client(), "ru", "meals", meals(child_iin(dt.date(2016, 2, 2))), clock, files=files)
    ref = location.rsplit("/", 1)[-1]
    [other] = applications(app, clock, 1)
    assert client.get(f"/staff/submissions/{ref}/attachments/1").status_code == 302  # not signed in
    sign_in(client, "bolat")
    [link] = soup(client.get(f"/staff/submissions/{ref}")).select("[data-attachment] a")
    # the photo is named under its thumbnail as the receipt names it, not only in its alt text
    assert link.get_text(" ", strip=True) == "Фотосурет 1"  # the console in Kazakh
    photo = client.get(link["href"])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.headers["Cache-Control"] == "no-store"
    assert Image.open(io.BytesIO(photo.data)).size == (300, 200)  # decrypted, the picture the parent took
    attachment_id = link["href"].rsplit("/", 1)[-1]
    assert client.get(f"/staff/submissions/{other}/attachments/{attachment_id}").status_code == 404
    with app.app_context(), db.new_session(app) as s:
        assert s.query(audit.AuditEntry).filter_by(action="submission.attachment_view", target=ref).count() == 1


def test_the_system_actions_are_in_the_audit_chain(client, app, staff, clock) -> None:
    from kiosk.clients.portal import Accepted, Change
    from kiosk.jobs.sync import Worker

    [ref] = applications(app, clock, 1)

    class Portal:
        def submit(self, key, body):
            return Accepted("EDU-1")

        def changes(self, cursor):
            return ([Change(1, key_of[0], "EDU-1", "approved", None)], 1) if cursor == 0 else ([], cursor)

    with app.app_context(), db.new_session(app) as s:
        from kiosk.models import Submission

        key_of = [s.query(Submission).one().uuid]
    worker = Worker(app, Portal(), worker_id="w1")
    worker.run_once()
    with app.app_context(), db.new_session(app) as s:
        entries = [(e.actor, e.action, e.target) for e in s.query(audit.AuditEntry).order_by(audit.AuditEntry.id)]
        assert ("visitor", "submission.queued", ref) in entries
        assert ("sync:w1", "sync.delivered", ref) in entries
        assert ("sync:w1", "sync.approved", ref) in entries
        assert audit.verify(s) == []
