"""Every service's form off the happy path: saved answers come back, numbers as people type them, grade 1's age.

Back, a change link and a reload all fetch the form again (the pages are never cached), so the
saved answers must come back into every kind of field; the distance takes a decimal comma, as the
kiosk's keypad types it; grade 1's age rule holds for grade 1 only.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from flask_babel import force_locale

from fixtures.flows import child_iin, fill_form, identify, soup, token
from kiosk.domain.catalog import FORM_FIELDS, load_catalog
from kiosk.infra.catalog_ext import channel_place

SERVICES = [s for s in load_catalog().services if s.takes_applications]
CHILD10 = child_iin(dt.date(2016, 1, 15), "F")  # ten on the day below
SIX = child_iin(dt.date(2020, 3, 3))  # six this year: grade 1


@pytest.fixture(autouse=True)
def in_the_window(clock) -> None:
    clock.set_local(2026, 5, 4)  # grade 1 applications are open


def sample_answers(service) -> dict[str, str]:
    """One valid answer per field, what a parent types or taps (not the first choice, so a default cannot pass)."""
    samples = {
        "child_iin": SIX if service.child_age_by_year_end else CHILD10,
        "child_name": "Иванова-Ким Алёна",
        "grade": "1" if service.child_age_by_year_end else "7",
        "language": "ru",
        "category": service.categories[-1].code if service.categories else "",
        "settlement": "Қарағайлы ауылы",
        "distance_km": "12,5",  # the keypad's comma
        "camp": "school",
        "season": "winter",
        "school_from": "Школа № 5 им. Абая",
    }
    assert set(samples) == set(FORM_FIELDS), "a new kind of field needs a sample answer here"
    return {name: samples[name] for name in service.form}


# what the form shows again for an answer: the saved text, with the visitor's decimal comma
SHOWN = {"distance_km": "12,5"}


def shown(page, name: str) -> str | None:
    """The value a field shows: a text input's value, or the ticked choice."""
    text = page.select_one(f'input[name="{name}"]:not([type="radio"])')
    if text is not None:
        return text.get("value")
    ticked = page.select_one(f'input[name="{name}"][checked]')
    return ticked["value"] if ticked is not None else None


def assert_shows(page, answers: dict[str, str], how: str) -> None:
    for name, value in answers.items():
        assert shown(page, name) == SHOWN.get(name, value), f"{how}: {name} does not show the saved answer"


@pytest.mark.parametrize("service", SERVICES, ids=[s.code for s in SERVICES])
def test_back_change_and_reload_show_the_saved_answers(client, clock, service) -> None:
    identify(client, "ru", service.code, clock=clock)
    answers = sample_answers(service)
    response = fill_form(client, "ru", answers)
    assert response.status_code == 302, soup(response).select(".field-error, .alert")

    # Back from the attachments step (its Back button, and the browser's Back, fetch the form again)
    attachments = soup(client.get("/ru/apply/attachments"))
    back = attachments.select_one(".actions a.secondary")["href"]
    page = client.get(back)
    assert page.status_code == 200
    assert_shows(soup(page), answers, "Back")

    # every answer's change link on the check page
    check = soup(client.get("/ru/apply/check"))
    links = {row["data-answer"]: row.select_one("a")["href"] for row in check.select("[data-answer]")}
    assert set(links) == set(service.form)
    for name, href in links.items():
        page = client.get(href.split("#")[0])
        assert page.status_code == 200
        assert_shows(soup(page), answers, f"Change {name}")
        assert soup(page).select_one(f"#field-{name}") is not None  # the link's anchor is there

    # reload of the form, and continuing unchanged keeps every answer as it was
    page = soup(client.get("/ru/apply/form"))
    assert_shows(page, answers, "reload")
    again = {name: shown(page, name) for name in answers}
    response = client.post("/ru/apply/form?back=check", data={**again, "csrf_token": token(client, "/ru/apply/form")})
    assert response.status_code == 302 and response.headers["Location"].endswith("/ru/apply/check")
    with client.session_transaction() as session:
        saved = session["draft"]["answers"]
    assert saved == {**answers, **({"distance_km": "12.5"} if "distance_km" in answers else {})}


def test_saved_answers_round_trip_through_every_form(app) -> None:
    """The class, below HTTP: whatever `answers_of` saves, `with_answers` shows and saves the same again."""
    from kiosk.web.application_forms import answers_of, form_for, with_answers

    app.config["WTF_CSRF_ENABLED"] = False  # the forms alone, without a visit's token
    with app.test_request_context("/ru/apply/form", method="POST"):
        for service in SERVICES:
            answers = {**sample_answers(service), **({"distance_km": "300.0"} if "distance_km" in service.form else {})}
            form = with_answers(form_for(service, dt.date(2026, 5, 4), "ru"), answers)
            assert form.validate(), (service.code, form.errors)
            assert answers_of(form, service) == answers
            html = "".join(str(form[name]) for name in service.form)  # every field renders, no TypeError
            assert "300" in html or "distance_km" not in service.form


# --- the distance: a decimal comma or point; nothing else becomes a number -----------------------

TRANSPORT = {"child_iin": CHILD10, "child_name": "Aruzhan Nur", "grade": "3", "settlement": "Qaragaily"}


@pytest.mark.parametrize(
    ("typed", "saved", "on_check"),
    [
        ("12,5", "12.5", "12,5"),
        ("12.5", "12.5", "12,5"),
        (" 7 ", "7.0", "7,0"),
        ("0,1", "0.1", "0,1"),
        ("300", "300.0", "300,0"),
        (",5", "0.5", "0,5"),
        ("2,25", "2.3", "2,3"),  # one decimal, rounded half up as people round
    ],
)
def test_a_decimal_comma_or_point_is_taken(client, clock, typed, saved, on_check) -> None:
    identify(client, "ru", "transport", clock=clock)
    response = fill_form(client, "ru", {**TRANSPORT, "distance_km": typed})
    assert response.status_code == 302, soup(response).select(".field-error")
    with client.session_transaction() as session:
        assert session["draft"]["answers"]["distance_km"] == saved
    check = soup(client.get("/ru/apply/check"))
    assert check.select_one('[data-answer="distance_km"] dd').get_text() == on_check
    assert shown(soup(client.get("/ru/apply/form")), "distance_km") == on_check


FORMAT = "Введите число цифрами, например 12,5."
RANGE = "Расстояние от 0,1 до 300 км."
NEEDED = "Этот ответ обязателен."


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("NaN", FORMAT),
        ("nan", FORMAT),
        ("sNaN", FORMAT),
        ("inf", FORMAT),
        ("Infinity", FORMAT),
        ("-Infinity", FORMAT),
        ("1e3", FORMAT),
        ("1E-1", FORMAT),
        ("-0", FORMAT),
        ("-5", FORMAT),
        ("+5", FORMAT),
        ("12,5,3", FORMAT),
        ("12.5.3", FORMAT),
        ("1 2", FORMAT),
        ("1_000", FORMAT),  # Decimal would take it
        ("١٢", FORMAT),  # Arabic-Indic digits: Decimal would take them too
        ("двенадцать", FORMAT),
        ("0", RANGE),
        ("0,04", RANGE),
        ("300,1", RANGE),
        ("9" * 400, RANGE),
        ("1" + "0" * 5000, RANGE),
        ("", NEEDED),
        ("  ", NEEDED),
    ],
    ids=lambda v: v[:12] if isinstance(v, str) else v,
)
def test_anything_else_gets_a_message_in_the_visitors_language(client, clock, typed, message) -> None:
    identify(client, "ru", "transport", clock=clock)
    response = fill_form(client, "ru", {**TRANSPORT, "distance_km": typed})
    assert response.status_code == 200
    errors = soup(response).select("#field-distance_km .field-error")
    assert [e.get_text() for e in errors] == [message]
    assert soup(response).select_one("#distance_km")["value"] == typed  # what was typed stays, to correct it
    with client.session_transaction() as session:
        assert not session["draft"]["answers"]  # nothing saved


def test_the_message_is_kazakh_for_a_kazakh_visitor_and_a_file_is_no_number(client, clock) -> None:
    identify(client, "kk", "transport", clock=clock)
    response = fill_form(client, "kk", {**TRANSPORT, "distance_km": "NaN"})
    assert soup(response).select_one("#field-distance_km .field-error").get_text() == (
        "Санды цифрлармен жазыңыз, мысалы: 12,5."
    )
    range_error = soup(fill_form(client, "kk", {**TRANSPORT, "distance_km": "1e999"}))
    assert range_error.select_one("#field-distance_km .field-error") is not None
    as_a_file = {**TRANSPORT, "distance_km": (io.BytesIO(b"12,5"), "d.txt")}
    response = client.post(
        "/kk/apply/form",
        data={**as_a_file, "csrf_token": token(client, "/kk/apply/form")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    # a file where text is expected reads as no answer (kiosk.web.forms.KioskForm), in the visitor's language
    assert soup(response).select_one("#field-distance_km .field-error").get_text() == "Бұл жауап қажет."


# --- grade 1: the form asks the grade; the age rule is grade 1's ---------------------------------

GRADE1 = {"child_name": "Нұрлан Әлібек", "language": "kk"}


def test_the_grade_1_form_asks_which_grade(client, clock) -> None:
    identify(client, "ru", "grade1", clock=clock)
    page = soup(client.get("/ru/apply/form"))
    assert [i["value"] for i in page.select('input[name="grade"]')] == [str(n) for n in range(1, 12)]


@pytest.mark.parametrize(
    ("born", "years"),
    [(dt.date(2016, 1, 15), "10 лет"), (dt.date(2009, 1, 20), "17 лет"), (dt.date(2018, 2, 1), "8 лет")],
)
def test_grade_1_refuses_an_older_child_and_says_what_to_choose(client, app, clock, born, years) -> None:
    identify(client, "ru", "grade1", clock=clock)
    response = fill_form(client, "ru", {**GRADE1, "child_iin": child_iin(born), "grade": "1"})
    assert response.status_code == 200
    error = soup(response).select_one("#field-grade .field-error").get_text()
    assert "В 1 класс принимают детей 6 лет" in error and "и детей 7 лет" in error  # why
    assert f"Ребенку {years}" in error and "выберите класс" in error  # what to choose
    assert soup(response).select_one("#field-child_iin .field-error") is None


def test_the_reason_reads_in_kazakh(client, clock) -> None:
    identify(client, "kk", "grade1", clock=clock)
    response = fill_form(client, "kk", {**GRADE1, "child_iin": CHILD10, "grade": "1"})
    error = soup(response).select_one("#field-grade .field-error").get_text()
    assert "Бұл бала 10 жаста" in error and "сыныбын таңдаңыз" in error


@pytest.mark.parametrize(
    ("born", "grade"),
    [
        (dt.date(2020, 3, 3), "1"),  # six
        (dt.date(2020, 12, 31), "1"),  # turns six on 31 December
        (dt.date(2019, 1, 10), "1"),  # seven [EGFC]
        (dt.date(2016, 1, 15), "4"),  # ten, another grade: no age rule has a source
        (dt.date(2009, 1, 20), "11"),  # seventeen
    ],
)
def test_grade_1_takes_its_ages_and_other_grades_take_any_child(client, clock, born, grade) -> None:
    identify(client, "ru", "grade1", clock=clock)
    response = fill_form(client, "ru", {**GRADE1, "child_iin": child_iin(born), "grade": grade})
    assert response.status_code == 302, [e.get_text() for e in soup(response).select(".field-error")]


def test_grade_1_still_refuses_a_child_not_six_this_year(client, clock) -> None:
    identify(client, "ru", "grade1", clock=clock)
    young = child_iin(dt.date(2021, 1, 5))
    response = fill_form(client, "ru", {**GRADE1, "child_iin": young, "grade": "1"})
    assert "6 лет" in soup(response).select_one("#field-child_iin .field-error").get_text()


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_a_situation_the_office_does_not_list_is_named_with_where_it_is_listed(client, clock, lang: str) -> None:
    """The service page offers every situation; the form only the office's: the others say where they go."""

    service = load_catalog().service("meals")
    elsewhere = service.categories_elsewhere()
    assert elsewhere  # the unemployed parent's certificate is on the portal's list only (seed)
    identify(client, lang, "meals", clock=clock)
    page = soup(client.get(f"/{lang}/apply/form"))
    offered = {i["value"] for i in page.select('input[name="category"]')}
    assert offered == {c.code for c in service.kiosk_categories}
    with client.application.test_request_context(f"/{lang}/"):
        with force_locale(lang):
            for category, channels in elsewhere:
                note = page.select_one(f'[data-category-elsewhere="{category.code}"]').get_text(" ", strip=True)
                assert category.name.get(lang) in note
                assert all(channel_place(ch, lang) in note for ch in channels)


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_the_on_screen_keyboard_opens_on_the_pages_language(client, clock, lang) -> None:
    """A Russian page's keyboard shows РУС, a Kazakh one ҚАЗ, an English one the Latin letters; the
    other layouts stay a tap away, and a distance opens on the digits."""
    identify(client, lang, "transport", clock=clock)
    page = soup(client.get(f"/{lang}/apply/form"))
    shown = [keys["data-osk-keys"] for keys in page.select("[data-osk-keys]") if not keys.has_attr("hidden")]
    assert shown == [lang]
    assert page.select_one('[data-osk-layout][aria-pressed="true"]')["data-osk-layout"] == lang
    assert {b["data-osk-layout"] for b in page.select("button[data-osk-layout]")} == {"kk", "ru", "en", "digits"}
    for name in ("child_name", "settlement"):
        assert page.select_one(f"#{name}")["data-osk-layout-default"] == lang, name
    assert page.select_one("#distance_km")["data-osk-layout-default"] == "digits"
