"""The render cache and the trimmed request path (issue 14): the visitor's pages without personal data
come from the cache, and each visitor still gets the page in their language and display modes,
never one built for somebody else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask, template_rendered

from kiosk import db
from kiosk.web.staff import login_manager


@contextmanager
def rendered(app: Flask) -> Iterator[list[str]]:
    """The names of the templates rendered while the block runs."""
    names: list[str] = []

    def note(_sender: Flask, template, context, **_extra) -> None:
        names.append(template.name)

    template_rendered.connect(note, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(note, app)


def body_modes(html: str) -> set[str]:
    classes = re.search(r'<body class="([^"]*)"', html)
    assert classes, "no <body class>"
    return {c.removeprefix("mode-") for c in classes.group(1).split() if c.startswith("mode-")}


def pressed(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="(\w+)" value="\w+" aria-pressed="(true|false)"', html))


def html_lang(html: str) -> str:
    found = re.search(r'<html lang="(\w+)"', html)
    assert found
    return found.group(1)


def test_welcome_is_rendered_once_and_then_served_from_the_cache(app: Flask) -> None:
    with rendered(app) as names:
        first = app.test_client().get("/")
        second = app.test_client().get("/")
    assert first.status_code == second.status_code == 200
    assert names.count("visitor/welcome.html") == 1
    assert first.data == second.data
    assert "Тілді таңдаңыз" in first.get_data(as_text=True)  # Kazakh first
    assert second.headers["Cache-Control"] == "no-store"  # cached on the server, never in the browser
    assert "Content-Security-Policy" in second.headers


def test_cached_welcome_follows_each_visitors_language_and_display_modes(app: Flask) -> None:
    russian = app.test_client()
    russian.get("/ru/start")
    russian.get("/display?contrast=on&large=on&next=/")
    page = russian.get("/").get_data(as_text=True)
    assert html_lang(page) == "ru" and "Выберите язык" in page
    assert body_modes(page) == {"contrast", "large"}
    assert pressed(page) == {"contrast": "true", "large": "true", "low": "false"}

    # the next visitor, with nothing chosen, gets Kazakh and the default display
    page = app.test_client().get("/").get_data(as_text=True)
    assert html_lang(page) == "kk" and "Тілді таңдаңыз" in page
    assert body_modes(page) == set()
    assert pressed(page) == {"contrast": "false", "large": "false", "low": "false"}

    # and one who lowered the screen in English gets exactly that
    english = app.test_client()
    english.get("/en/start")
    english.get("/display?low=on&next=/")
    page = english.get("/").get_data(as_text=True)
    assert html_lang(page) == "en" and "Choose your language" in page
    assert body_modes(page) == {"low"}


def test_the_first_visitors_query_never_reaches_the_next_visitors_page(app: Flask) -> None:
    """A page's toggles come back to its own address: one visitor's query string is not another's."""
    first = app.test_client().get("/ru/services?from=someone").get_data(as_text=True)
    assert 'name="next" value="/ru/services?from=someone"' in first
    second = app.test_client().get("/ru/services").get_data(as_text=True)
    assert 'name="next" value="/ru/services"' in second
    assert "someone" not in second


@pytest.mark.parametrize("path", ["/ru/services", "/kk/services/meals", "/en/services/meals?category=asp"])
def test_catalog_pages_and_their_fragment_are_cached_apart(app: Flask, path: str) -> None:
    client = app.test_client()
    with rendered(app) as first_names:
        page = client.get(path)
        fragment = client.get(path, headers={"HX-Request": "true"})
    with rendered(app) as later_names:
        again = [client.get(path), client.get(path, headers={"HX-Request": "true"})]
    assert first_names and not later_names
    assert b"<html" in page.data
    assert again[0].data == page.data and again[1].data == fragment.data
    if "category" in path:  # the checklist's swap gets the checklist alone
        assert b"<html" not in fragment.data
    assert "HX-Request" in page.headers["Vary"]


def test_a_modes_change_is_its_own_entry(app: Flask) -> None:
    client = app.test_client()
    client.get("/kk/start")
    plain = client.get("/kk/services").get_data(as_text=True)
    client.get("/display?contrast=on&next=/kk/services")
    contrast = client.get("/kk/services").get_data(as_text=True)
    assert body_modes(plain) == set() and body_modes(contrast) == {"contrast"}
    assert body_modes(app.test_client().get("/kk/services").get_data(as_text=True)) == set()


def test_visitor_pages_never_load_a_staff_user(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flask-Login stays under /staff: a visitor's page asks nothing of it."""

    def no(_user_id: str) -> None:
        raise AssertionError("a visitor page loaded a staff user")

    monkeypatch.setattr(login_manager, "_user_callback", no)
    client = app.test_client()
    for path in ("/", "/kk/start", "/kk/services", "/kk/services/meals", "/kk/status", "/kk/identify"):
        assert client.get(path).status_code in (200, 302), path


def test_a_form_without_its_token_is_still_refused(app: Flask) -> None:
    """The CSRF check now runs from the body check's hook, for the methods that carry a form only."""
    client = app.test_client()
    client.get("/ru/start")
    refused = client.post("/ru/identify/iin", data={"iin": "880412412349"})
    assert refused.status_code == 400
    assert client.post("/alive").status_code == 204  # exempt: it carries nothing


def test_the_pool_keeps_a_connection_per_server_thread(instance, clock) -> None:
    from kiosk import create_app

    app = create_app({"TESTING": True, "CLOCK": clock, "PORTAL": "demo", "RUN_THREADS": 12})
    try:
        assert db.engine(app).pool.size() == 12  # type: ignore[attr-defined]
    finally:
        db.engine(app).dispose()
