"""The staff console as staff read it: every answer, local days, ranges that are checked whole,
and words instead of codes (issue 11, items 13 to 16)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from fixtures.flows import (
    NAMES,
    answers_for,
    apply,
    apply_assisted,
    child_iin,
    fill_form,
    identify,
    sign,
    soup,
    token,
)
from fixtures.staff import sign_in
from fixtures.submissions import queue_meals
from kiosk.cli import main
from kiosk.clock import ALMATY
from kiosk.domain.catalog import load_catalog


def _pairs(page, selector: str) -> dict[str, tuple[str, str]]:
    return {
        row["data-answer"]: (
            row.select_one("dt").get_text(" ", strip=True),
            row.select("dd")[0].get_text(" ", strip=True),
        )
        for row in page.select(selector)
    }


SERVICES = [s.code for s in load_catalog().services if s.takes_applications]


@pytest.mark.parametrize("service", SERVICES)
def test_staff_read_every_answer_labelled_as_the_parent_saw_it(client, app, staff, clock, service) -> None:
    clock.set_local(2026, 5, 4)  # grade 1 applications are open
    visitor = app.test_client()
    answers = answers_for(service, app)
    identify(visitor, "ru", service, clock=clock)
    response = fill_form(visitor, "ru", answers)
    assert response.status_code == 302, [e.get_text() for e in soup(response).select(".field-error, .alert")]
    seen = {lang: _pairs(soup(visitor.get(f"/{lang}/apply/check")), "[data-answer]") for lang in ("kk", "ru")}
    reference = sign(visitor, "ru", clock).rsplit("/", 1)[-1]
    assert set(seen["ru"]) == set(answers)  # the check page itself shows every answer

    sign_in(client)
    for lang in ("kk", "ru"):
        client.get(f"/staff/language/{lang}")
        page = soup(client.get(f"/staff/submissions/{reference}"))
        shown = _pairs(page, "[data-answer]")
        assert shown == seen[lang], lang  # every answer, with the parent's label and the choice's words
        for name, value in answers.items():
            label, text = shown[name]
            assert label and label != name
            if name not in ("child_iin", "distance_km", "grade"):
                assert text != value or name in NAMES  # a choice reads as its label, never its code


# --- one local day everywhere (item 15) and ranges checked whole (item 14) ------------------------


def at_local(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ALMATY).astimezone(dt.UTC)


class Listing:
    """A central system that lists what it was given as the simulator does (UTC days, both
    included, no pages), and remembers what it was asked."""

    def __init__(self, held: list[dict]) -> None:
        self.held = held
        self.asked: list[tuple[dt.date, dt.date]] = []

    def __call__(self, start: dt.date, end: dt.date) -> list[dict]:
        self.asked.append((start, end))
        return [h for h in self.held if start <= dt.datetime.fromisoformat(h["received_at"]).date() <= end]


def held(key: str, received: dt.datetime, status: str = "accepted") -> dict:
    return {
        "idempotency_key": key,
        "reference": f"EDU-{key[:6]}",
        "service": "meals",
        "status": status,
        "received_at": received.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }


def with_listing(app, items: list[dict]) -> Listing:
    lister = Listing(items)
    app.extensions["kiosk.portal"].listing = lister
    return lister


MAY4 = dt.date(2026, 5, 4)
MAY5 = dt.date(2026, 5, 5)


@pytest.fixture
def night(app, clock):
    """One application at 23:59 in Almaty on 4 May (18:59 UTC) and one at 00:30 on 5 May (19:30 UTC,
    still 4 May in UTC); staff look at 23:59 Almaty on 5 May."""
    clock.now = at_local(MAY5, 23, 59)
    return queue_meals(app, at=[at_local(MAY4, 23, 59), at_local(MAY5, 0, 30)], state="delivered")


def _rows(client, url: str) -> list[str]:
    return [tr["data-row"] for tr in soup(client.get(url)).select("[data-row]")]


def test_queue_filters_count_almaty_days(client, staff, night) -> None:
    (late, _k1), (early, _k2) = night
    sign_in(client, lang="ru")
    assert _rows(client, "/staff/queue?from=04.05.2026&to=04.05.2026") == [late]
    assert _rows(client, "/staff/queue?from=05.05.2026&to=05.05.2026") == [early]
    assert _rows(client, "/staff/queue?from=2026-05-05") == [early]  # ISO too, and an open end
    assert _rows(client, "/staff/queue?to=04.05.2026") == [late]
    page = soup(client.get("/staff/queue?from=05.05.2026&to=05.05.2026"))
    assert page.select_one("[data-created]").get_text() == "05.05.2026 00:30"


def test_the_csv_gives_almaty_date_and_time(client, staff, night) -> None:
    import csv
    import io

    sign_in(client)
    rows = list(csv.DictReader(io.StringIO(client.get("/staff/queue.csv").get_data(as_text=True))))
    assert [r["created_at"] for r in rows] == ["2026-05-04 23:59:00+05:00", "2026-05-05 00:30:00+05:00"]


def test_the_dashboard_reads_almaty_time_at_midnight(client, app, staff, clock, night) -> None:
    clock.now = at_local(MAY5, 0, 30)
    app.test_client().post("/ru/help", data={"screen": "visitor.services"})
    sign_in(client, lang="ru")
    assert "(с 00:30)" in soup(client.get("/staff/")).select_one("[data-call]").get_text()


def test_reconcile_counts_almaty_days_and_the_central_systems_days_agree(client, app, staff, night) -> None:
    (late, late_key), (early, early_key) = night
    # each arrived a minute after it was made: the 23:59 one on 5 May, Almaty time
    lister = with_listing(app, [held(late_key, at_local(MAY5, 0, 0)), held(early_key, at_local(MAY5, 0, 31))])
    sign_in(client, lang="en")
    page = soup(client.get("/staff/reconcile?from=04.05.2026&to=04.05.2026"))
    assert page.select_one("[data-agree]") is not None, page.select("[data-difference]")
    assert "Sent from this kiosk: 1. Received by the central system: 0." in page.select_one("[data-checked-range]").text
    # the listing was asked for a day more on each side, whatever zone the central system counts in
    assert lister.asked == [(dt.date(2026, 5, 3), dt.date(2026, 5, 5))]
    page = soup(client.get("/staff/reconcile?from=05.05.2026&to=05.05.2026"))
    assert page.select_one("[data-agree]") is not None, page.select("[data-difference]")
    assert "Sent from this kiosk: 1. Received by the central system: 2." in page.select_one("[data-checked-range]").text


def test_reconcile_finds_the_local_days_differences(client, app, staff, night) -> None:
    (late, late_key), (early, early_key) = night
    with_listing(app, [held(late_key, at_local(MAY5, 0, 0), status="approved")])  # the 00:30 one never arrived
    sign_in(client, lang="en")
    page = soup(client.get("/staff/reconcile?from=05.05.2026"))  # one day given: that day
    kinds = {tr["data-difference"]: tr for tr in page.select("[data-difference]")}
    assert sorted(kinds) == ["missing_there", "status_differs"]
    assert display_ref(early) in kinds["missing_there"].get_text()
    assert display_ref(late) in kinds["status_differs"].get_text()  # received on 5 May, made on 4 May


def display_ref(reference: str) -> str:
    return f"{reference[:3]}-{reference[3:6]}-{reference[6:]}"


@pytest.mark.parametrize("days", [40, 100])
def test_a_long_range_is_checked_whole(client, app, staff, clock, days) -> None:
    first = dt.date(2026, 1, 10)
    last = first + dt.timedelta(days=days - 1)
    clock.now = at_local(last, 23, 59)
    made = queue_meals(
        app,
        at=[at_local(first, 0, 30), at_local(first + dt.timedelta(days=days // 2), 12, 0), at_local(last, 23, 59)],
        state="delivered",
    )
    lister = with_listing(app, [])  # the central system has none of them
    sign_in(client, lang="ru")
    page = soup(client.get(f"/staff/reconcile?from={first:%d.%m.%Y}&to={last:%d.%m.%Y}"))
    missing = {tr.select("td")[1].get_text() for tr in page.select('[data-difference="missing_there"]')}
    assert missing == {display_ref(ref) for ref, _key in made}
    checked = page.select_one("[data-checked-range]").get_text(" ", strip=True)
    assert f"{first:%d.%m.%Y}" in checked and f"{last:%d.%m.%Y}" in checked and str(days) in checked
    # every day asked for, in pages of at most a month, none twice
    asked = sorted(lister.asked)
    assert asked[0][0] == first - dt.timedelta(days=1) and asked[-1][1] == last + dt.timedelta(days=1)
    for (_s1, e1), (s2, _e2) in zip(asked, asked[1:], strict=False):
        assert s2 == e1 + dt.timedelta(days=1)
    assert all((e - s).days < 31 for s, e in asked)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("from=10.05.2026&to=01.05.2026", "comes after the last day"),
        ("from=31.02.2026&to=01.03.2026", "“31.02.2026” is not a date"),
        ("from=yesterday&to=01.03.2026", "“yesterday” is not a date"),
        ("from=01.01.0001&to=31.12.9999", "is not a date"),
        ("from=01.01.2025&to=01.05.2026", "At most 366 days"),
    ],
)
def test_a_bad_range_gets_a_message_and_nothing_is_checked(client, app, staff, clock, query, says) -> None:
    lister = with_listing(app, [])
    sign_in(client, lang="en")
    page = soup(client.get(f"/staff/reconcile?{query}"))
    assert says in page.select_one("[data-problem]").get_text()
    assert page.select_one("[data-agree]") is None and page.select_one("[data-checked-range]") is None
    assert lister.asked == []
    # what was typed stays in the fields, to be corrected
    typed = dict(part.split("=") for part in query.split("&"))
    assert soup(client.get(f"/staff/reconcile?{query}")).select_one('input[name="from"]')["value"] == typed["from"]
    queue = soup(client.get(f"/staff/queue?{query}"))
    if "366" not in says:  # the queue lists any long range
        assert says in queue.select_one("[data-problem]").get_text() and not queue.select("[data-row]")


def test_a_day_with_nothing(client, app, staff, clock) -> None:
    clock.now = at_local(MAY5, 12, 0)
    with_listing(app, [])
    sign_in(client, lang="ru")
    page = soup(client.get("/staff/reconcile"))  # no days given: today, in Almaty
    assert page.select_one("[data-agree]") is not None
    assert "05.05.2026" in page.select_one("[data-checked-range]").get_text()
    assert page.select_one('input[name="from"]')["value"] == "05.05.2026"


@pytest.mark.parametrize(("lang", "placeholder"), [("kk", "КК.АА.ЖЖЖЖ"), ("ru", "ДД.ММ.ГГГГ"), ("en", "DD.MM.YYYY")])
def test_date_fields_read_as_staff_write_dates(client, app, staff, lang, placeholder) -> None:
    with_listing(app, [])
    sign_in(client, lang=lang)
    for url in ("/staff/queue", "/staff/reconcile"):
        page = soup(client.get(url))
        assert not page.select('input[type="date"]')  # Chrome shows mm/dd/yyyy in it, whatever lang says
        fields = page.select("input[data-day]")
        assert len(fields) == 2 and all(f["placeholder"] == placeholder and f["type"] == "text" for f in fields)


# --- words, not codes (item 16) -------------------------------------------------------------------

CODE = re.compile(r"\b[a-z]+(?:[._][a-z0-9]+)+\b")  # submission.view, verify_in_person
RAW = re.compile(r"\b(?:sms|in_person|admin|operator|anonymous|visitor|cli|accepted|approved|queued)\b")


def _busy_console(app, client, clock) -> list[str]:
    """A console with something of everything: applications of each kind of identity, staff
    actions, the central system's answers, a visitor's call, failed sign-ins and a difference."""
    from kiosk.clients.portal import Accepted, Change
    from kiosk.jobs.sync import Worker

    clock.set_local(2026, 5, 4)
    refs = []
    for service, answers in (
        ("meals", {"child_iin": child_iin(dt.date(2016, 9, 9), "F"), "child_name": "Иванова Мария", "grade": "4"}),
        ("camp", {"child_iin": child_iin(dt.date(2015, 3, 3)), "child_name": "Ахметов Ерлан", "grade": "5"}),
    ):
        form = answers_for(service, app)
        clock.now += dt.timedelta(minutes=16)  # past today's limits on codes for one parent
        refs.append(apply(app.test_client(), "kk", service, {**form, **answers}, clock).rsplit("/", 1)[-1])
    assisted = apply_assisted(
        app.test_client(),
        "ru",
        {"child_iin": child_iin(dt.date(2014, 4, 4)), "child_name": "Серикова Дана", "grade": "6", "category": "asp"},
    )
    refs.append(assisted.headers["Location"].rsplit("/", 1)[-1])
    from kiosk.db import new_session
    from kiosk.models import Submission

    with app.app_context(), new_session(app) as s:
        keys = {row.reference: row.uuid for row in s.query(Submission)}

    class Portal:
        def submit(self, key, body):
            return Accepted("EDU-" + key[:4])

        def changes(self, cursor):
            return ([Change(1, keys[refs[0]], "EDU-1", "approved", None)], 1) if cursor == 0 else ([], cursor)

    Worker(app, Portal(), worker_id="w1").run_once()
    app.test_client().post("/ru/help", data={"screen": "visitor.services"})
    sign_in(client, "nobody", "wrong password!!")  # failed sign-ins in the audit log
    sign_in(client, "bolat", "wrong password!!")
    sign_in(client)
    csrf = token(client, f"/staff/submissions/{refs[2]}")
    client.post(f"/staff/submissions/{refs[2]}/verify_in_person", data={"csrf_token": csrf})
    doc = soup(client.get(f"/staff/submissions/{refs[0]}")).select_one("[data-original]")["data-original"]
    client.post(f"/staff/submissions/{refs[0]}/original_checked", data={"document": doc, "csrf_token": csrf})
    client.get(f"/staff/submissions/{refs[0]}/receipt")
    with_listing(
        app, [held(keys[refs[1]], at_local(MAY5, 0, 0), "in_progress"), held("0" * 36, at_local(MAY5, 0, 0), "refused")]
    )
    return refs


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_the_console_shows_words_not_codes(client, app, staff, clock, lang) -> None:
    refs = _busy_console(app, client, clock)
    client.get(f"/staff/language/{lang}")
    urls = ["/staff/", "/staff/queue", "/staff/users", "/staff/audit", "/staff/reconcile?from=03.05.2026&to=05.05.2026"]
    urls += [f"/staff/submissions/{ref}" for ref in refs]
    for url in urls:
        page = soup(client.get(url))
        for hidden in page.select("script, style, [hidden]"):
            hidden.decompose()
        text = page.body.get_text(" ", strip=True)
        assert not CODE.findall(text), (url, CODE.findall(text))
        assert not RAW.findall(text), (url, RAW.findall(text))
        services = {s.code for s in load_catalog().services}
        assert not services & set(text.split()), (url, services & set(text.split()))
    # what the codes became: a few that staff read most
    audit = soup(client.get("/staff/audit")).get_text()
    words = {"kk": ("Өтініш ашылды", "Кіру сәтсіз аяқталды"), "ru": ("Заявление открыто", "Неудачная попытка входа")}
    assert all(w in audit for w in words[lang])
    assert display_ref(refs[0]) in audit  # an application by its reference as staff read it
    queue = soup(client.get("/staff/queue")).select("[data-service]")
    assert {td["data-service"] for td in queue} == {"meals", "camp"} and all(td.get_text() for td in queue)


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_every_label_for_a_code_is_translated(app, lang) -> None:
    from flask_babel import force_locale

    from kiosk.web import labels

    with app.test_request_context("/"), force_locale(lang):
        for table in (
            labels.IDENTITY,
            {code: said.staff for code, said in labels.SIGNATURE.items()},
            {code: said.parent for code, said in labels.SIGNATURE.items()},
            labels.CHECKED_BY,
            labels.ROLES,
            labels.ACTORS,
            labels.ACTIONS,
            labels.PROBLEMS,
        ):
            for code, label in table.items():
                assert str(label) != label._args[0], (lang, code)  # not the English it is written in


def test_staff_and_the_receipt_each_read_how_an_application_was_signed_in_their_words(app) -> None:
    from flask_babel import force_locale

    from kiosk.web import labels

    with app.test_request_context("/"), force_locale("en"):
        assert labels.signature_label("sms") == labels.identity_label("sms") == "SMS code to the registered phone"
        assert labels.receipt_signature_label("sms") == "With the SMS code sent to your registered phone"
        assert labels.signature_label("staff") == "Not signed: staff check the ID card"
        assert (
            labels.receipt_signature_label("staff") == "Not signed at the kiosk: the school office checks your ID card"
        )
        assert labels.receipt_signature_label("a new way") == labels.signature_label("a new way") == "a new way"


# --- the sign-in lock tells nobody which names exist (item 16) ------------------------------------


def _tries(client, name: str, times: int) -> list[str]:
    """What the sign-in page says after each of ``times`` wrong passwords under ``name``."""
    said = []
    client.get("/staff/language/ru")
    for _ in range(times):
        said.append(soup(sign_in(client, name, "not the password!")).select_one(".alert").get_text())
    return said


def test_an_unknown_name_locks_as_a_real_one_does(client, app, staff, clock) -> None:
    real = _tries(client, "bolat", 7)
    unknown = _tries(app.test_client(), "bolatt", 7)
    assert real == unknown  # the same words after each try, the lock at the same try
    assert real[3] != real[4] and real[4] == real[6]  # locked from the fifth failure on
    disabled = app.test_client()
    assert staff.invoke(main, ["staff", "disable", "aigul"]).exit_code == 0
    assert _tries(disabled, "aigul", 7) == real  # a disabled account reads as an unknown name too
    clock.now += dt.timedelta(minutes=16)  # both locks lift after their time, and count again from zero
    assert _tries(client, "bolat", 5) == _tries(app.test_client(), "bolatt", 5) == real[:5]
    clock.now += dt.timedelta(minutes=16)
    assert sign_in(client, "bolat").status_code == 302


def test_an_unknown_name_costs_the_same_password_check(client, app, staff, monkeypatch) -> None:
    """The password is checked against a hash for an unknown name as for a real one, so the time an
    answer takes does not tell names apart either (a count of argon2 checks, not a stopwatch)."""
    from kiosk.domain import accounts

    checked: list[str] = []

    class Counting:
        def __init__(self, hasher) -> None:
            self.hasher = hasher

        def verify(self, hash_: str, password: str) -> bool:
            checked.append(hash_)
            return self.hasher.verify(hash_, password)

        def __getattr__(self, name: str):
            return getattr(self.hasher, name)

    monkeypatch.setattr(accounts, "_hasher", Counting(accounts._hasher))
    for name in ("bolat", "nobody", "bolatt"):
        checked.clear()
        sign_in(client, name, "not the password!")
        assert len(checked) == 1 and checked[0].startswith("$argon2"), name
    checked.clear()
    _tries(client, "nobody", 6)  # a locked name is refused before the password, real or not
    assert len(checked) == 4


def test_the_lock_of_an_unknown_name_keeps_no_typed_name(app, staff, client) -> None:
    """A password typed into the name field must not be kept in clear by the lock."""
    from sqlalchemy import text

    from kiosk.db import engine

    _tries(client, "my secret password", 2)
    with engine(app).connect() as conn:
        rows = conn.execute(text("SELECT * FROM sign_in_throttle")).all()
    assert len(rows) == 1 and "my secret password" not in repr(rows)


@pytest.mark.postgres
def test_an_unknown_name_locks_on_postgresql_too(pg_database, instance, clock) -> None:
    from kiosk import create_app, db
    from kiosk.domain import accounts

    app = create_app({"TESTING": True, "DATABASE_URL": pg_database})
    db.upgrade(app)
    try:
        with app.app_context(), db.new_session(app) as s:
            results = []
            for _ in range(6):
                results.append(accounts.authenticate(s, "nobody", "not the password!", clock.now)[0])
                s.commit()
        assert results == [accounts.SignIn.WRONG] * 4 + [accounts.SignIn.LOCKED] * 2
    finally:
        db.engine(app).dispose()


def test_a_cancel_without_a_reason_says_what_is_missing(client, app, staff, clock) -> None:
    [(reference, _key)] = queue_meals(app)
    sign_in(client, lang="ru")
    page = soup(client.get(f"/staff/submissions/{reference}"))
    reason = page.select_one('input[name="reason"]')
    assert not reason.has_attr("required")  # no browser bubble in the browser's own language
    csrf = token(client, f"/staff/submissions/{reference}")
    answer = client.post(f"/staff/submissions/{reference}/cancel", data={"csrf_token": csrf, "reason": "  "})
    page = soup(client.get(answer.headers["Location"]))
    assert "Напишите, почему заявление отменяется" in page.select_one("main .alert").get_text()
    assert page.select_one("[data-state]").get_text() != "Отменено"


def _service_categories() -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for service in load_catalog().services:
        if service.takes_applications:
            cats = [c.code for c in service.kiosk_categories] if "category" in service.form else []
            out += [(service.code, c) for c in cats] or [(service.code, None)]
    return out


@pytest.mark.parametrize(("service", "category"), _service_categories())
def test_staff_can_mark_every_original_the_receipt_told_the_parent_to_bring(
    client, app, staff, clock, service: str, category: str | None
) -> None:
    """The staff page's originals are the receipt's: the kiosk's channel, the family's situation, the conditions."""
    clock.set_local(2026, 5, 4)
    visitor = app.test_client()
    answers = answers_for(service, app) | ({"category": category} if category else {})
    identify(visitor, "ru", service, clock=clock)
    assert fill_form(visitor, "ru", answers).status_code == 302
    reference = sign(visitor, "ru", clock).rsplit("/", 1)[-1]
    entry = load_catalog().service(service)
    channel = entry.kiosk_channel
    wanted = [i for i in channel.checklist(entry.category(category or "")) if i.original] if channel else []
    sign_in(client)
    client.get("/staff/language/ru")
    page = soup(client.get(f"/staff/submissions/{reference}"))
    rows = page.select("[data-original]")
    assert [r["data-original"] for r in rows] == [i.document.code for i in wanted]
    for row, item in zip(rows, wanted, strict=True):
        text = row.get_text(" ", strip=True)
        assert item.document.name.get("ru").rstrip(".") in text
        if item.document.condition is not None:  # "only if ..." as on the receipt
            assert item.document.condition.get("ru").rstrip(".") in text
