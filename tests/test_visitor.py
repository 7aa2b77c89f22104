"""The visitor's screens over the Flask test client: what a parent sees and can reach."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from kiosk.infra.catalog_ext import get_catalog

HX = {"HX-Request": "true", "HX-Target": "checklist", "HX-Current-URL": "http://localhost/"}


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_welcome_offers_the_three_languages_kazakh_first(client) -> None:
    soup = page(client.get("/"))
    assert soup.html["lang"] == "kk"
    buttons = soup.select(".welcome-langs a")
    assert [b.get_text(strip=True) for b in buttons] == ["Қазақша", "Русский", "English"]
    assert [b["href"] for b in buttons] == ["/kk/start", "/ru/start", "/en/start"]


def test_choosing_a_language_holds_for_the_visit(client) -> None:
    response = client.get("/ru/start")
    assert response.status_code == 302 and response.headers["Location"].endswith("/ru/services")
    cookie = client.get_cookie("kiosk_visit")
    assert cookie is not None and "ru" not in cookie.value  # the cookie is a token, not the data
    # back at Welcome, and on a page that has no language in its address, the visit stays Russian
    assert page(client.get("/")).html["lang"] == "ru"
    assert "Страница не найдена" in client.get("/no/such/page").get_data(as_text=True)
    # a switch in the header is remembered too
    client.get("/en/services")
    assert page(client.get("/")).html["lang"] == "en"


def test_browsing_the_catalog_writes_nothing(client, app) -> None:
    from kiosk import db
    from kiosk.models import Visit

    for url in ("/", "/kk/services", "/ru/services/meals?category=asp", "/en/services/grade1/print"):
        assert client.get(url).status_code == 200
    assert client.get_cookie("kiosk_visit") is None
    with db.new_session(app) as s:
        assert s.query(Visit).count() == 0


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_services_grouped_by_area_with_purpose(client, app, lang) -> None:
    soup = page(client.get(f"/{lang}/services"))
    assert soup.html["lang"] == lang
    with app.app_context():
        catalog = get_catalog()
        shown = [a["data-service"] for a in soup.select("a.card")]
        assert sorted(shown) == sorted(s.code for s in catalog.services)
        for group, members in catalog.by_group():
            section = soup.find("h2", id=f"group-{group.code}").find_parent("section")
            assert section.h2.get_text(strip=True) == group.name.get(lang)
            codes = [a["data-service"] for a in section.select("a.card")]
            assert codes == [s.code for s in members]
            for s in members:
                card = section.select_one(f'a[data-service="{s.code}"]')
                assert card.select_one(".card-title").get_text(strip=True) == s.name.get(lang)
                assert card.select_one(".card-purpose").get_text(strip=True) == s.purpose.get(lang)


@pytest.mark.parametrize(
    ("lang", "title", "lead"),
    [
        ("kk", "Білім беру саласындағы мемлекеттік қызметтер", "Құжаттарын көру үшін қызметті басыңыз."),
        ("ru", "Государственные услуги в сфере образования", "Нажмите на услугу, чтобы увидеть её документы."),
        ("en", "State services in education", "Touch a service to see its documents."),
    ],
)
def test_every_screen_speaks_the_visitors_language(client, lang, title, lead) -> None:
    soup = page(client.get(f"/{lang}/services"))
    assert soup.h1.get_text(strip=True) == title
    assert soup.select_one("p.lead").get_text(strip=True) == lead
    soup = page(client.get(f"/{lang}/services/meals"))
    assert soup.html["lang"] == lang
    soup = page(client.get(f"/{lang}/services/meals/print"))
    assert soup.html["lang"] == lang


def test_every_service_page_shows_each_channel_and_document(client, app) -> None:
    with app.app_context():
        services = get_catalog().services
    for s in services:
        for lang in ("kk", "ru", "en"):
            soup = page(client.get(f"/{lang}/services/{s.code}"))
            assert soup.h1.get_text(strip=True) == s.name.get(lang)
            channels = soup.select("#checklist article.channel")
            assert [c["data-channel"] for c in channels] == [c.kind for c in s.channels]
            for article, channel in zip(channels, s.channels, strict=True):
                names = [li.select_one(".doc-name").get_text(strip=True) for li in article.select("li.doc")]
                assert names == [item.document.name.get(lang) for item in channel.documents]
                originals = [bool(li.select_one(".tag.original")) for li in article.select("li.doc")]
                assert originals == [item.original for item in channel.documents]
                # every document and time limit on screen names its sources beside it
                for li, item in zip(article.select("li.doc"), channel.documents, strict=True):
                    for source in item.sources:
                        assert source.label.get(lang) in li.select_one(".source").get_text(), (s.code, item)
                assert bool(article.select("[data-unconfirmed]")) is channel.unconfirmed
                if channel.result is not None:
                    assert channel.result.get(lang) in article.get_text()
                if channel.time_limit is not None:
                    shown = article.select_one("[data-time-limit]").get_text()
                    assert channel.time_limit.get(lang) in shown
                    assert all(src.label.get(lang) in shown for src in channel.time_limit_sources)
                else:
                    assert not article.select("[data-time-limit]")
            if not s.takes_applications:
                assert s.where_to_apply.get(lang) in soup.select_one("section.where").get_text()


def test_category_picker_swaps_the_conditional_document(client, app) -> None:
    with app.app_context():
        meals = get_catalog().service("meals")
    plain = page(client.get("/ru/services/meals"))
    assert not plain.select("li.conditional")
    for category in meals.categories:
        url = f"/ru/services/meals?category={category.code}"
        full = client.get(url)
        assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
        conditional = page(full).select("li.conditional .doc-name")
        assert {c.get_text(strip=True) for c in conditional} == {category.document.name.ru}
        chosen = page(full).select_one("a.choice.selected")
        assert chosen["data-category"] == category.code


def test_htmx_gets_the_fragment_alone_and_a_plain_request_the_whole_page(client) -> None:
    fragment = client.get("/kk/services/camp?category=orphan", headers=HX)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert "<html" not in body and "<header" not in body
    soup = page(fragment)
    assert soup.select_one("section#checklist") is not None
    assert soup.select_one("li.conditional") is not None
    # the language buttons follow the new address out of band
    assert (
        soup.select_one('nav#langs[hx-swap-oob="true"] a[hreflang="ru"]')["href"] == "/ru/services/camp?category=orphan"
    )
    whole = client.get("/kk/services/camp?category=orphan")
    assert "<html" in whole.get_data(as_text=True)
    for response in (fragment, whole):
        assert "HX-Request" in response.headers["Vary"]


def test_language_buttons_lead_to_the_same_page_in_each_language(client) -> None:
    soup = page(client.get("/kk/services/meals?category=asp"))
    links = {a["hreflang"]: a["href"] for a in soup.select("nav#langs a")}
    assert links == {
        "kk": "/kk/services/meals?category=asp",
        "ru": "/ru/services/meals?category=asp",
        "en": "/en/services/meals?category=asp",
    }


NOT_FOUND = {"kk": "Бет табылмады", "ru": "Страница не найдена", "en": "Page not found"}


@pytest.mark.parametrize(
    ("url", "lang"),
    [
        ("/kk/services/nope", "kk"),
        ("/ru/services/nope", "ru"),
        ("/en/services/nope", "en"),
        ("/ru/services/meals?category=nope", "ru"),
        ("/en/services/grade1?category=asp", "en"),  # grade 1 has no categories
        ("/en/services/meals/print?paper=letter", "en"),
        ("/de/services", "kk"),
        ("/de/services/meals", "kk"),
        ("/%00/services", "kk"),
        ("/ru/services/%D0%B6%D0%BE%D0%BA", "ru"),
    ],
)
def test_unknown_things_get_a_404_in_the_visitors_language(client, url, lang) -> None:
    response = client.get(url)
    assert response.status_code == 404
    soup = page(response)
    assert soup.html["lang"] == lang
    assert NOT_FOUND[lang] in soup.h1.get_text()
    assert soup.select("nav#langs a")  # the visitor can still change language from here


def test_a_post_where_none_is_expected_gets_a_page_not_a_crash(client) -> None:
    response = client.post("/ru/services/meals")
    assert response.status_code == 405
    assert "<html" in response.get_data(as_text=True)


@pytest.mark.parametrize("paper", ["a4", "roll"])
def test_print_view_for_a4_and_the_receipt_roll(client, app, paper) -> None:
    response = client.get(f"/ru/services/meals/print?paper={paper}&category=unemployed")
    soup = page(response)
    assert f"paper-{paper}" in soup.body["class"]
    with app.app_context():
        meals = get_catalog().service("meals")
    docs = [li.get_text(" ", strip=True) for li in soup.select(".sheet li")]
    assert any(meals.category("unemployed").document.name.ru in d for d in docs)
    assert soup.select_one("[data-print]") is not None


def facts(client, url: str) -> str:
    """The facts box of a service's page: its application window, as a parent reads it."""
    return page(client.get(url)).select_one(".facts").get_text(" ", strip=True)


@pytest.mark.parametrize(
    ("day", "lang", "says"),
    [
        ((2026, 5, 4), "en", "Applications open until 31 August"),
        ((2026, 8, 20), "ru", "осталось 12 дней"),
        ((2026, 8, 31), "ru", "остался 1 день"),
        ((2026, 9, 1), "en", "Opens on April 1, 2027"),
    ],
)
def test_grade1_window_open_closing_and_closed(client, clock, day, lang, says) -> None:
    clock.set_local(*day)
    assert says in facts(client, f"/{lang}/services/grade1")
    # the checklist stays readable whether the window is open or closed
    assert page(client.get(f"/{lang}/services/grade1")).select("#checklist li.doc")


def test_the_window_uses_almaty_dates(client, clock) -> None:
    import datetime as dt

    # 31 August 20:00 UTC is already 1 September in Almaty: the window has closed there
    clock.now = dt.datetime(2026, 8, 31, 20, 0, tzinfo=dt.UTC)
    assert "Opens on" in facts(client, "/en/services/grade1")


def test_htmx_is_served_by_the_app(client) -> None:
    soup = page(client.get("/kk/services"))
    src = soup.find("script", src=lambda s: s and "htmx" in s)["src"]
    assert src.startswith("/")
    with client.get(src) as response:
        assert response.status_code == 200
        assert b'version:"2.0.' in response.data
    # nothing on any page points outside the kiosk
    for url in ("/", "/kk/services", "/ru/services/meals", "/en/services/meals/print"):
        html = client.get(url).get_data(as_text=True)
        assert "http://" not in html and "https://" not in html
