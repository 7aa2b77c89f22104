"""The staff console as staff read it: every answer, local days, ranges that are checked whole,
and words instead of codes (issue 11, items 13 to 16)."""

from __future__ import annotations

import datetime as dt

import pytest
from wtforms import RadioField

from flows import child_iin, fill_form, identify, sign, soup, token
from kiosk import applications
from kiosk.catalog import load_catalog
from kiosk.cli import main

PASSWORD = "correct horse battery"
CHILD = child_iin(dt.date(2019, 9, 9), "F")  # seven by the end of 2026: old enough for every form
NAMES = {"child_name": "Әлібекова Айгерім-Ёлка", "settlement": "Ақсай ауылы", "school_from": "№ 12 мектеп"}


@pytest.fixture
def staff(app, clock):
    """An admin and an operator, made the only way there is: the command line."""
    runner = app.test_cli_runner()
    for name, role in (("aigul", "admin"), ("bolat", "operator")):
        result = runner.invoke(main, ["staff", "add", name, "--role", role, "--password-stdin"], input=PASSWORD + "\n")
        assert result.exit_code == 0, result.output
    return runner


def sign_in(client, username: str = "aigul", password: str = PASSWORD, lang: str | None = None):
    if lang:
        client.get(f"/staff/language/{lang}")
    return client.post(
        "/staff/login", data={"username": username, "password": password, "csrf_token": token(client, "/staff/login")}
    )


def answers_for(service_code: str, app) -> dict[str, str]:
    """A valid answer to every field of the service's form, with a choice that is not the first where
    there is one (a label must replace it, whatever it is)."""
    service = load_catalog().service(service_code)
    form = applications.form_for(service, dt.date(2026, 5, 4), "en")
    out = {}
    for name in service.form:
        unbound = getattr(form, name)
        if unbound.field_class is RadioField or issubclass(unbound.field_class, RadioField):
            choices = [c.value for c in unbound.kwargs["choices"]]
            out[name] = choices[0] if name == "grade" else choices[-1]
        elif name == "child_iin":
            out[name] = CHILD
        elif name == "distance_km":
            out[name] = "12.5"
        else:
            out[name] = NAMES.get(name, "Ақсай ауылы")
    return out


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
