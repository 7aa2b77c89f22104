"""In Chromium, by touch: Back, Change and reload on the forms, and no "Confirm Form Resubmission" anywhere.

Every page is `no-store`, so Back and reload fetch it again: a form must show its saved answers
when fetched again, and no history entry may be a POST, or Chrome shows its English
"Confirm Form Resubmission" page (net::ERR_CACHE_MISS) on Back and asks again on reload.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from fixtures.browser import code_on_phone, keypad, type_on_screen
from fixtures.flows import CARD, PARENT, apply, child_iin, meals, soup, token

pytestmark = pytest.mark.browser

CHILD = child_iin(dt.date(2016, 9, 9), "F")


class Watched:
    """A touch page that records every document request and any dialog Chrome opens."""

    def __init__(self, page) -> None:
        self.page = page
        self.documents: list[tuple[str, str]] = []
        self.dialogs: list[str] = []
        page.on(
            "request", lambda r: self.documents.append((r.method, r.url)) if r.resource_type == "document" else None
        )
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def back(self) -> None:
        """The browser's Back: it must fetch a page with GET and never ask to send a form again."""
        self._no_resend(self.page.go_back)

    def reload(self) -> None:
        self._no_resend(self.page.reload)

    def _no_resend(self, navigate) -> None:
        self.documents.clear()
        navigate()  # raises on net::ERR_CACHE_MISS, Chrome's "Confirm Form Resubmission"
        assert self.documents and {method for method, _url in self.documents} == {"GET"}, self.documents
        assert self.dialogs == []
        assert "ERR_CACHE_MISS" not in self.page.content()
        assert self.page.locator("main#main").count() == 1  # the kiosk's page, not Chrome's


@pytest.fixture
def touch(touch_page) -> Watched:
    return Watched(touch_page)


def _identify(w: Watched, live_server: str, lang: str, service: str) -> None:
    page = w.page
    page.goto(f"{live_server}/{lang}/identify?service={service}")
    page.keyboard.type(CARD.replace("\n", "\r") + "\r", delay=1)
    page.wait_for_url(re.compile(rf"/{lang}/identify/code$"))
    keypad(page, "000000")  # a wrong code first: the page answers the form with its message
    page.locator(".code-form button[type=submit]").tap()
    page.locator(".code-form ~ .alert, .alert").first.wait_for()
    w.reload()  # the message's page, fetched again: no resubmission
    keypad(page, code_on_phone(page))
    page.locator(".code-form button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/identify/done$"))
    w.back()  # back to the code page: fetched again with GET


def _shown(page, name: str) -> str | None:
    radio = page.locator(f'input[name="{name}"][type="radio"]')
    if radio.count():
        checked = page.locator(f'input[name="{name}"]:checked')
        return checked.get_attribute("value") if checked.count() else None
    return page.locator(f'input[name="{name}"]').input_value()


def _assert_shows(page, answers: dict[str, str], how: str, artifacts: Path) -> None:
    page.screenshot(path=str(artifacts / f"{how}.png"), full_page=True)
    for name, value in answers.items():
        assert _shown(page, name) == value, f"{how}: {name}"


FORMS = {
    "transport": {
        "choices": {"grade": "3"},
        "texts": {"settlement": ("қарағайлы", "kk"), "distance_km": ("12,5", "digits")},
    },
    "meals": {"choices": {"grade": "4", "category": "low_income"}, "texts": {}},
}
NAMES = {"kk": "әлібек айгүл", "ru": "иванова мария"}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_back_change_and_reload_keep_the_answers_on_the_transport_and_meals_forms(
    touch, live_server, clock, artifacts, lang
) -> None:
    page = touch.page
    _identify(touch, live_server, lang, "transport")
    for service, form in FORMS.items():
        page.goto(f"{live_server}/{lang}/identify?service={service}")  # the service; the visit is identified
        page.goto(f"{live_server}/{lang}/apply/form")
        keypad(page, CHILD)
        type_on_screen(page, "child_name", NAMES[lang], lang)
        for name, value in form["choices"].items():
            page.locator(f'input[name="{name}"][value="{value}"]').tap()
        for name, (text, layout) in form["texts"].items():
            type_on_screen(page, name, text, layout)
        answers = {
            "child_iin": CHILD,
            "child_name": NAMES[lang].title(),
            **form["choices"],
            **{name: text.title() if layout != "digits" else text for name, (text, layout) in form["texts"].items()},
        }
        page.locator("form.application button[type=submit]").tap()
        page.wait_for_url(re.compile(rf"/{lang}/apply/attachments$"))

        touch.back()  # the browser's Back
        page.wait_for_url(re.compile(rf"/{lang}/apply/form$"))
        _assert_shows(page, answers, f"{service}-1-back", artifacts)
        page.locator("form.application button[type=submit]").tap()
        page.wait_for_url(re.compile(rf"/{lang}/apply/attachments$"))
        page.locator(".actions a.secondary").tap()  # the page's own Back button
        page.wait_for_url(re.compile(rf"/{lang}/apply/form$"))
        _assert_shows(page, answers, f"{service}-2-back-button", artifacts)
        page.locator("form.application button[type=submit]").tap()
        page.locator("[data-next]").tap()
        page.wait_for_url(re.compile(rf"/{lang}/apply/check$"))
        last = list(answers)[-1]
        page.locator(f'[data-answer="{last}"] a').tap()  # Change
        page.wait_for_url(re.compile(rf"/{lang}/apply/form\?back=check"))
        _assert_shows(page, answers, f"{service}-3-change", artifacts)
        touch.reload()
        _assert_shows(page, answers, f"{service}-4-reload", artifacts)
        page.locator("form.application button[type=submit]").tap()
        page.wait_for_url(re.compile(rf"/{lang}/apply/check(#[\w-]+)?$"))  # the redirect keeps the change link's anchor
        page.screenshot(path=str(artifacts / f"{service}-5-check.png"), full_page=True)
        if service == "transport":
            assert page.locator('[data-answer="distance_km"] dd').first.inner_text() == "12,5"
        touch.reload()  # the check page again, with GET


def test_no_resubmission_after_a_mistake_a_success_or_a_status_look_up(
    touch, live_server, app, client, clock, artifacts
) -> None:
    page = touch.page
    _identify(touch, live_server, "ru", "transport")
    page.goto(f"{live_server}/ru/apply/form")
    keypad(page, CHILD)
    type_on_screen(page, "child_name", "иванова мария", "ru")
    page.locator('input[name="grade"][value="3"]').tap()
    type_on_screen(page, "settlement", "қарағайлы", "kk")
    type_on_screen(page, "distance_km", "12,5,3", "digits")
    page.locator("form.application button[type=submit]").tap()
    page.locator("#field-distance_km .field-error").wait_for()  # the mistake, answered on the form's page
    page.screenshot(path=str(artifacts / "1-mistake.png"), full_page=True)
    page.locator("#distance_km").tap()
    page.locator("[data-osk-back]").tap()
    page.locator("[data-osk-back]").tap()
    page.locator("form.application button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/ru/apply/attachments$"))
    touch.back()  # to the page that answered the mistake: fetched again, no resubmission
    assert _shown(page, "distance_km") == "12,5"
    touch.reload()

    # a status look-up answers with a redirect to the status page: reload and Back are plain GETs
    reference = _a_reference(client, clock)
    page.goto(f"{live_server}/ru/status")
    page.evaluate(
        "([ref, iin]) => { document.getElementById('reference').value = ref;"
        " document.getElementById('iin').value = iin; }",
        [reference, PARENT],
    )
    page.locator("main form button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/ru/status/found$"))
    assert page.locator("[data-state]").count() == 1
    touch.reload()
    assert page.locator("[data-state]").count() == 1
    page.screenshot(path=str(artifacts / "2-status.png"), full_page=True)
    touch.back()
    page.wait_for_url(re.compile(r"/ru/status$"))


def _a_reference(client, clock) -> str:
    """An application made over HTTP by the same parent, for the status look-up."""
    answers = meals(CHILD)
    location = apply(client, "ru", "meals", answers, clock)
    reference = soup(client.get(location)).select_one("[data-reference]").get_text()
    client.post("/ru/receipt/finish", data={"csrf_token": token(client, location)})
    return reference


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_a_reload_after_a_wrong_iin_keeps_everything_typed(touch, live_server, clock, artifacts, lang) -> None:
    """A wrong child IIN, the form's message, then a reload (or Back): every answer typed on the
    screen is there to correct, on the keyboard of the page's language; then the form goes on."""
    page = touch.page
    _identify(touch, live_server, lang, "meals")
    page.goto(f"{live_server}/{lang}/apply/form")
    assert page.locator(f'[data-osk-keys="{lang}"]').is_visible()  # the page's own layout first
    other = "kk" if lang == "ru" else "ru"
    assert page.locator(f'[data-osk-keys="{other}"]').is_hidden()
    wrong = CHILD[:11] + str((int(CHILD[11]) + 1) % 10)
    keypad(page, wrong)
    page.locator("#child_name").tap()
    for ch in NAMES[lang]:  # typed on the layout the keyboard opened on: no layout button tapped
        page.locator('[data-osk-char=" "]' if ch == " " else f'[data-osk-keys="{lang}"] [data-osk-char="{ch}"]').tap()
    page.locator('input[name="grade"][value="4"]').tap()
    page.locator('input[name="category"][value="low_income"]').tap()
    page.locator("form.application button[type=submit]").tap()
    page.locator("#child_iin-error").wait_for()
    typed = {"child_iin": wrong, "child_name": NAMES[lang].title(), "grade": "4", "category": "low_income"}
    _assert_shows(page, typed, f"wrong-iin-{lang}-1-message", artifacts)
    touch.reload()
    _assert_shows(page, typed, f"wrong-iin-{lang}-2-reload", artifacts)
    page.locator("[data-key=back]").first.tap()
    keypad(page, CHILD[11])
    page.locator("form.application button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/{lang}/apply/attachments$"))
    touch.back()
    _assert_shows(page, {**typed, "child_iin": CHILD}, f"wrong-iin-{lang}-3-back", artifacts)


def test_a_reload_after_a_refused_status_look_up_keeps_the_reference_and_the_iin(touch, live_server, artifacts) -> None:
    page = touch.page
    page.goto(f"{live_server}/ru/status")
    assert page.locator('[data-osk-keys="en"]').is_visible()  # references are Latin letters and digits
    page.locator("#reference").tap()
    for ch in "abc":
        page.locator(f'[data-osk-keys="en"] [data-osk-char="{ch}"]').tap()
    wrong = PARENT[:11] + str((int(PARENT[11]) + 1) % 10)
    keypad(page, wrong)
    page.locator("main form button[type=submit]").tap()
    page.locator(".field-error").first.wait_for()
    touch.reload()
    page.screenshot(path=str(artifacts / "status-reload.png"), full_page=True)
    assert page.locator("#reference").input_value() == "Abc" and page.locator("#iin").input_value() == wrong
