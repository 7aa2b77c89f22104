"""One visit as parents really make it, with the default SMS rules; and the limits that still
stop pumping, guessing and a stranger reading another family's reference.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from fixtures.flows import (
    CARD,
    MEALS_CAMP,
    PARENT,
    SIBLINGS,
    demo_code,
    fill_form,
    identify,
    meals,
    sign,
    signed,
    soup,
    token,
)
from kiosk import db
from kiosk.clients.portal import DemoPortal
from kiosk.domain import submissions as submissions_module
from kiosk.domain.codes import CodeRules
from kiosk.domain.iin import make_iin
from kiosk.domain.mrz import compose_td1
from kiosk.models import SmsCode, Submission

S = dt.timedelta(seconds=1)
OTHER_PARENT = "851103323454"  # another demo citizen with a phone
OTHER_CARD = compose_td1("051234987", OTHER_PARENT, dt.date(2030, 1, 10), "SERIKULY", "ARMAN")


def sms_rows(app) -> list[SmsCode]:
    with app.app_context(), db.new_session(app) as s:
        return list(s.scalars(select(SmsCode).order_by(SmsCode.id)))


def submissions(app) -> list[Submission]:
    with app.app_context(), db.new_session(app) as s:
        return list(s.scalars(select(Submission)))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def text(response) -> str:
    return " ".join(soup(response).get_text().split())


# --- item 7: a visit with two children and two services each --------------------------------------


def test_two_children_two_services_each_identify_once_and_never_wait(client, app, clock) -> None:
    assert CodeRules.from_config(app.config) == CodeRules()  # the rules a terminal starts with
    identify(client, "ru", "meals")
    identified_at = clock.now
    references = []
    for child, name, grade in SIBLINGS:
        for service, extra in MEALS_CAMP.items():
            clock.now += 5 * S
            # the service's "Apply here" button: the identity holds, so straight to the form
            response = client.get(f"/ru/identify?service={service}")
            assert response.status_code == 302 and response.headers["Location"].endswith("/ru/apply/form")
            clock.now += 15 * S
            response = fill_form(client, "ru", {"child_iin": child, "child_name": name, "grade": grade, **extra})
            assert response.status_code == 302, text(response)[:300]
            client.get("/ru/apply/attachments")
            clock.now += 10 * S
            # Sign: the code goes at once (the first within a minute of the identification code)
            receipt = sign(client, "ru")
            references.append(soup(client.get(receipt)).select_one("[data-reference]").get_text())
            if len(references) == 1:
                assert clock.now - identified_at < 60 * S
    assert len(set(references)) == 4
    assert {(s.service_code, s.state) for s in submissions(app)} == {("meals", "queued"), ("camp", "queued")}
    assert len(submissions(app)) == 4
    codes = sms_rows(app)
    assert len(codes) == 5  # one to identify, one to sign each application
    assert all(c.used_at is not None and c.failures == 0 for c in codes)


def test_the_identity_holds_until_finish(client, clock) -> None:
    identify(client, "ru", "meals")
    assert client.get("/ru/identify").headers["Location"].endswith("/ru/apply/form")
    client.post("/ru/receipt/finish", data={"csrf_token": token(client, "/ru/apply/form")})
    page = soup(client.get("/ru/identify?service=camp"))
    assert page.select_one("textarea#mrz") is not None  # the next visitor starts from the card


def test_the_idle_reset_ends_the_identity(client, clock) -> None:
    identify(client, "ru", "meals")
    client.post("/reset")
    assert soup(client.get("/ru/identify?service=meals")).select_one("textarea#mrz") is not None


def test_back_then_sign_again_uses_the_code_already_sent(client, app, clock) -> None:
    identify(client, "ru", "meals")
    child, name, grade = SIBLINGS[0]
    fill_form(client, "ru", {"child_iin": child, "child_name": name, "grade": grade, **MEALS_CAMP["meals"]})
    consent = {"consent": "y"}
    client.post("/ru/apply/check", data={**consent, "csrf_token": token(client, "/ru/apply/check")})
    code = demo_code(client, "/ru/apply/sign")
    clock.now += 10 * S
    response = client.post("/ru/apply/check", data={**consent, "csrf_token": token(client, "/ru/apply/check")})
    assert response.headers["Location"].endswith("/ru/apply/sign")  # no wait, no second SMS
    assert len(sms_rows(app)) == 2
    response = client.post("/ru/apply/sign", data={"code": code, "csrf_token": token(client, "/ru/apply/sign")})
    assert "/ru/receipt/" in response.headers["Location"]


def test_the_same_card_again_keeps_the_code_on_the_phone(client, app, clock) -> None:
    client.get("/ru/identify?service=meals")
    client.post("/ru/identify/card", data={"mrz": CARD, "csrf_token": token(client, "/ru/identify")})
    code = demo_code(client, "/ru/identify/code")
    clock.now += 10 * S
    client.post("/ru/identify/card", data={"mrz": CARD, "csrf_token": token(client, "/ru/identify")})
    assert len(sms_rows(app)) == 1
    response = client.post("/ru/identify/code", data={"code": code, "csrf_token": token(client, "/ru/identify/code")})
    assert response.headers["Location"].endswith("/ru/identify/done")


# --- the limits still stop SMS pumping and guessing ------------------------------------------------


def test_pumping_one_phone_stops_after_three_unanswered_codes(client, app, clock) -> None:
    """A stranger types a parent's IIN again and again (a new visit each time) and never answers."""
    start = clock.now
    answers = []
    for _ in range(10):
        client.post("/reset")
        response = client.post("/ru/identify/iin", data={"iin": PARENT, "csrf_token": token(client, "/ru/identify")})
        answers.append(response.status_code)
        clock.now += 5 * S
    assert len(sms_rows(app)) == 3
    refused = soup(response).select_one(".alert").get_text()
    until = (start + 15 * 60 * S).astimezone(dt.timezone(dt.timedelta(hours=5))).strftime("%H:%M")
    assert "не были введены" in refused and until in refused
    # when the oldest unanswered code leaves the 15 minutes, one more may go
    clock.now = start + 15 * 60 * S + S
    client.post("/reset")
    client.post("/ru/identify/iin", data={"iin": PARENT, "csrf_token": token(client, "/ru/identify")})
    assert len(sms_rows(app)) == 4


def test_pumping_from_one_kiosk_stops_at_thirty_unanswered_codes(client, app, clock) -> None:
    people = [make_iin(dt.date(1980, 1, 1) + dt.timedelta(days=i), "M", 7) for i in range(60)]
    people = [p for p in people if p][:32]
    for person in people:
        client.post("/reset")
        response = client.post("/ru/identify/iin", data={"iin": person, "csrf_token": token(client, "/ru/identify")})
        clock.now += 2 * S
    assert len(sms_rows(app)) == 30
    assert "слишком много кодов" in soup(response).select_one(".alert").get_text()


def test_a_script_guessing_codes_is_locked_for_the_iin(client, app, clock) -> None:
    identify_start = token(client, "/ru/identify")
    client.post("/ru/identify/card", data={"mrz": CARD, "csrf_token": identify_start})
    code = demo_code(client, "/ru/identify/code")
    csrf = token(client, "/ru/identify/code")
    for _ in range(5):
        client.post("/ru/identify/code", data={"code": wrong(code), "csrf_token": csrf})
    # the right code, a new visit, a new code: all refused while the lock lasts
    assert soup(client.post("/ru/identify/code", data={"code": code, "csrf_token": csrf})).select_one("[data-locked]")
    client.post("/reset")
    clock.now += 120 * S
    client.post("/ru/identify/card", data={"mrz": CARD, "csrf_token": token(client, "/ru/identify")})
    assert len(sms_rows(app)) == 1
    assert soup(client.get("/ru/identify/code")).select_one("[data-locked]") is not None


def test_typos_before_a_right_code_are_forgiven(client, app, clock) -> None:
    """Two typos on each of the five codes of a visit lock nothing: each right code proves the phone."""
    client.get("/ru/identify?service=meals")
    client.post("/ru/identify/card", data={"mrz": CARD, "csrf_token": token(client, "/ru/identify")})
    code = demo_code(client, "/ru/identify/code")
    for _ in range(2):
        client.post("/ru/identify/code", data={"code": wrong(code), "csrf_token": token(client, "/ru/identify/code")})
    response = client.post("/ru/identify/code", data={"code": code, "csrf_token": token(client, "/ru/identify/code")})
    assert response.headers["Location"].endswith("/ru/identify/done")
    for child, name, grade in SIBLINGS:
        for service, extra in MEALS_CAMP.items():
            client.get(f"/ru/identify?service={service}")
            fill_form(client, "ru", {"child_iin": child, "child_name": name, "grade": grade, **extra})
            client.post("/ru/apply/check", data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")})
            code = demo_code(client, "/ru/apply/sign")
            for _ in range(2):
                page = client.post(
                    "/ru/apply/sign", data={"code": wrong(code), "csrf_token": token(client, "/ru/apply/sign")}
                )
                assert soup(page).select_one("[data-locked]") is None
            page = client.post("/ru/apply/sign", data={"code": code, "csrf_token": token(client, "/ru/apply/sign")})
            assert "/ru/receipt/" in page.headers["Location"]
    assert len(submissions(app)) == 4


# --- item 8: tries left, then only what to do next -------------------------------------------------


def _wrong_identify_codes(client, n: int, lang: str = "ru"):
    client.get(f"/{lang}/identify?service=meals")
    client.post(f"/{lang}/identify/card", data={"mrz": CARD, "csrf_token": token(client, f"/{lang}/identify")})
    code = demo_code(client, f"/{lang}/identify/code")
    response = client.get(f"/{lang}/identify/code")
    for _ in range(n):
        csrf = token(client, f"/{lang}/identify/code")
        response = client.post(f"/{lang}/identify/code", data={"code": wrong(code), "csrf_token": csrf})
    return response


@pytest.mark.parametrize(
    ("lang", "wrong_entries", "says"),
    [
        ("ru", 1, "Осталось 4 попытки."),
        ("ru", 4, "Осталась 1 попытка."),
        ("kk", 3, "Тағы 2 рет енгізуге болады."),
        ("kk", 4, "Тағы 1 рет енгізуге болады."),
        ("en", 4, "You have 1 try left."),
        ("en", 2, "You have 3 tries left."),
    ],
)
def test_each_wrong_code_says_how_many_tries_are_left(client, lang, wrong_entries, says) -> None:
    page = soup(_wrong_identify_codes(client, wrong_entries, lang))
    assert page.select_one(".alert") is not None
    assert page.select_one("[data-tries-left]").get_text() == says
    assert page.select_one(".keypad") is not None


def test_the_russian_plural_of_many_tries(client, app) -> None:
    app.config["SMS_CODE_MAX_FAILURES"] = 7
    page = soup(_wrong_identify_codes(client, 2))
    assert page.select_one("[data-tries-left]").get_text() == "Осталось 5 попыток."


def test_no_tries_count_before_the_first_mistake(client) -> None:
    page = soup(_wrong_identify_codes(client, 0))
    assert page.select_one("[data-tries-left]") is None


def _only_what_to_do_next(page) -> None:
    assert page.select_one("[data-locked]") is not None
    for gone in (".keypad", "input#code", "[data-countdown]", "[data-resend]", 'form[action$="resend"]'):
        assert page.select_one(gone) is None, gone
    assert page.select_one("[data-finish]") is not None and page.select_one("[data-call-staff]") is not None


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_after_the_last_wrong_code_the_page_shows_only_what_to_do_next(client, clock, lang) -> None:
    clock.set_local(2026, 5, 4, 11)
    page = soup(_wrong_identify_codes(client, 5, lang))
    _only_what_to_do_next(page)
    assert "12:00" in page.select_one("[data-locked] .alert").get_text()  # an hour after the first wrong code
    assert page.select_one("[data-assisted]") is not None  # not identified yet: the office's path
    _only_what_to_do_next(soup(client.get(f"/{lang}/identify/code")))  # and on reload


def test_a_locked_signing_code_shows_only_what_to_do_next(client, app, clock) -> None:
    identify(client, "ru", "meals")
    child, name, grade = SIBLINGS[0]
    fill_form(client, "ru", {"child_iin": child, "child_name": name, "grade": grade, **MEALS_CAMP["meals"]})
    client.post("/ru/apply/check", data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")})
    code = demo_code(client, "/ru/apply/sign")
    for _ in range(5):
        response = client.post(
            "/ru/apply/sign", data={"code": wrong(code), "csrf_token": token(client, "/ru/apply/check")}
        )
    page = soup(response)
    _only_what_to_do_next(page)
    assert "заблокированы до" in page.get_text()
    assert page.select_one("[data-assisted]") is None
    _only_what_to_do_next(soup(client.get("/ru/apply/sign")))
    # Sign again from the check page: no new code while locked, the same page
    response = client.post(
        "/ru/apply/check",
        data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")},
        follow_redirects=True,
    )
    _only_what_to_do_next(soup(response))
    # and for another application of the visit
    client.get("/ru/identify?service=camp")
    fill_form(client, "ru", {"child_iin": child, "child_name": name, "grade": grade, **MEALS_CAMP["camp"]})
    response = client.post("/ru/apply/check", data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")})
    _only_what_to_do_next(soup(response))
    assert len(sms_rows(app)) == 2


# --- item 10: the "already applied" notice ----------------------------------------------------------


def _apply_meals(client, card: str, child: str) -> str:
    identify(client, "ru", "meals", card)
    fill_form(client, "ru", meals(child))
    receipt = sign(client, "ru")
    return soup(client.get(receipt)).select_one("[data-reference]").get_text()


def _tells_nothing_of_the_other_family(response, reference: str) -> None:
    """No reference anywhere on the page; no category in the notice (the form lists them all as
    choices, with only this adult's own answer checked).
    """
    html = response.get_data(as_text=True)
    assert reference not in html and reference.replace("-", "") not in html
    notice = soup(response).select_one("[data-duplicate]")
    assert notice["data-duplicate"] == "other"
    assert "канцелярию" in notice.get_text() and "уже подано" in notice.get_text()
    for category in ("АСП", "адресную социальную помощь", "asp"):
        assert category not in notice.get_text() and category not in notice.attrs.values()


def test_the_parent_who_applied_sees_the_reference(client, clock) -> None:
    child = SIBLINGS[0][0]
    reference = _apply_meals(client, CARD, child)
    client.post("/reset")
    identify(client, "ru", "meals")
    response = fill_form(client, "ru", meals(child, grade="5", category="orphan"))
    notice = soup(response).select_one("[data-duplicate]")
    assert notice["data-duplicate"] == "own" and reference in notice.get_text()


def test_another_adult_learns_only_to_ask_at_the_office(client, app, clock) -> None:
    child = SIBLINGS[0][0]
    reference = _apply_meals(client, CARD, child)
    client.post("/reset")
    identify(client, "ru", "meals", OTHER_CARD)
    response = fill_form(client, "ru", meals(child, category="low_income"))
    _tells_nothing_of_the_other_family(response, reference)
    # the form shows back this adult's own answer, never the other family's category
    assert soup(response).select_one('input[name="category"]:checked')["value"] == "low_income"


def test_an_iin_typed_on_the_office_path_proves_nobody(client, app, clock) -> None:
    """The central system is out of reach: anyone can type the applicant's IIN and go on."""
    child = SIBLINGS[0][0]
    reference = _apply_meals(client, CARD, child)
    client.post("/reset")
    app.extensions["kiosk.portal"] = DemoPortal(reachable=False)
    client.get("/ru/identify?service=meals")
    client.post("/ru/identify/iin", data={"iin": PARENT, "csrf_token": token(client, "/ru/identify")})
    client.post("/ru/identify/assisted", data={"csrf_token": token(client, "/ru/identify/help?reason=offline")})
    response = fill_form(client, "ru", meals(child))
    _tells_nothing_of_the_other_family(response, reference)


@pytest.mark.parametrize(("second_card", "shown"), [(OTHER_CARD, "other"), (CARD, "own")])
def test_two_terminals_at_once_the_later_one_is_told_by_the_same_rule(
    app, clock, second_card, shown, signing_ca
) -> None:
    """Both pass the form's check; the second to sign (with the SMS code or with ЭЦҚ) meets the
    queue's refusal (AlreadyApplied)."""
    child = SIBLINGS[0][0]
    late = app.test_client()
    identify(late, "ru", "meals", second_card)
    fill_form(late, "ru", meals(child, category="low_income"))
    reference = _apply_meals(app.test_client(), CARD, child)
    response = signed(late, "ru", ca=signing_ca, signer=OTHER_PARENT if second_card == OTHER_CARD else PARENT)
    if shown == "other":
        _tells_nothing_of_the_other_family(response, reference)
    else:
        notice = soup(response).select_one("[data-duplicate]")
        assert notice["data-duplicate"] == "own" and reference in notice.get_text()
    assert len(submissions(app)) == 1


def test_two_terminals_at_the_same_instant_the_unique_index_decides(app, clock, monkeypatch, signing_ca) -> None:
    """The later terminal's check ran before the other's commit: its insert meets the unique index,
    the view rolls back and shows the same notice, never an error page (an ЭЦҚ-signed one too)."""
    child = SIBLINGS[0][0]
    late = app.test_client()
    identify(late, "ru", "meals", OTHER_CARD)
    fill_form(late, "ru", {"child_iin": child, "child_name": "Иванова Мария", "grade": "4", "category": "low_income"})
    reference = _apply_meals(app.test_client(), CARD, child)
    checks = iter([None])  # the queue's own check misses the other application; the view's look-up finds it
    real = submissions_module.already_applied

    def the_check_misses_it() -> None:
        monkeypatch.setattr(submissions_module, "already_applied", lambda s, p: next(checks, real(s, p)))

    response = signed(late, "ru", ca=signing_ca, signer=OTHER_PARENT, just_before=the_check_misses_it)
    assert next(checks, "used") == "used"  # the sign step's own check was the one that missed it
    assert response.status_code == 200
    _tells_nothing_of_the_other_family(response, reference)
    assert len(submissions(app)) == 1


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_after_a_send_limit_the_page_shows_only_what_to_do_next(client, app, clock, lang) -> None:
    """Too many codes for this IIN: no card reader, no keypad (reading the card again cannot help),
    but the office's path, staff and Finish, as on the locked page."""
    for _ in range(4):
        client.post("/reset")
        client.get(f"/{lang}/identify?service=meals")
        response = client.post(
            f"/{lang}/identify/iin", data={"iin": PARENT, "csrf_token": token(client, f"/{lang}/identify")}
        )
        clock.now += 5 * S
    assert len(sms_rows(app)) == 3
    page = soup(response)
    assert page.select_one("[data-locked]") is not None
    assert (
        page.select_one("h1").get_text()
        == {"kk": "Қазір код жіберу мүмкін емес", "ru": "Сейчас код отправить нельзя"}[lang]
    )
    assert page.select_one("[data-mrz-form]") is None and page.select_one("[data-keypad-input]") is None
    assert page.select_one("[data-locked] .alert").get_text()  # the rule's message, with its time
    assert page.select_one("[data-finish]") is not None
    # the office's path goes on: the application waits for staff to see the ID card
    assisted = page.select_one("[data-assisted]").find_parent("form")
    response = client.post(assisted["action"], data={"csrf_token": assisted.select_one("[name=csrf_token]")["value"]})
    assert response.headers["Location"].endswith(f"/{lang}/identify/done")
    assert client.get(f"/{lang}/apply/form").status_code == 200
