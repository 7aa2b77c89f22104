"""One word for one thing: the Kazakh and Russian messages and the catalog follow the glossary.

Also: what a visitor reads holds no note meant for the team, and no sentence is said twice on one page.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from babel.messages.pofile import read_po

from fixtures.catalog import catalog_texts
from kiosk.domain.catalog import load_catalog
from kiosk.infra.i18n import TRANSLATIONS

GLOSSARY = tomllib.loads((TRANSLATIONS / "glossary.toml").read_text(encoding="utf-8"))


def _po(lang: str):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def _visitor_texts(lang: str) -> list[tuple[str, str]]:
    """Every translation in ``lang`` and every catalog text in ``lang``, with where it comes from."""
    out = []
    for message in _po(lang):
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        out += [(f"po {message.id!r}", s) for s in strings]
    out += [(path, text.get(lang)) for path, text in catalog_texts(load_catalog())]
    return out


def _whole_word(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){pattern}(?!\w)", re.IGNORECASE)


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_visitor_texts_use_the_glossarys_words(lang: str) -> None:
    texts = _visitor_texts(lang)
    assert len(texts) > 300
    found = []
    for term in GLOSSARY["terms"]:
        for pattern in term.get(f"avoid_{lang}", []):
            regex = _whole_word(pattern)
            found += [(term["what"], where, text) for where, text in texts if regex.search(text)]
    assert found == [], found


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_pinned_labels_read_as_pinned(lang: str) -> None:
    catalog = _po(lang)
    for pin in GLOSSARY["pins"]:
        assert catalog.get(pin["msgid"]).string == pin[lang], pin["msgid"]


def test_the_glossary_catches_what_it_is_for() -> None:
    """The patterns find the words the review found ("Карта не прочитана", "Фото 1", "киоск")."""
    avoid = {t["what"]: t for t in GLOSSARY["terms"]}
    assert _whole_word(avoid["the national ID card, read by the reader"]["avoid_ru"][0]).search("Карта не прочитана")
    assert not _whole_word(avoid["the national ID card, read by the reader"]["avoid_ru"][0]).search(
        "миграционной карточки"
    )
    assert _whole_word(avoid["a photo of a document"]["avoid_ru"][0]).search("Фото 1")
    assert not _whole_word(avoid["a photo of a document"]["avoid_kk"][0]).search("фотосурет")
    assert _whole_word(avoid["this terminal in the lobby"]["avoid_kk"][0]).search("киоск қабылдамайды")


# Notes for the team that once reached the screen; they stay in comments of the catalog file.
TEAM_NOTES = [
    r"по данным сайта школы",
    r"приложение не установлено",
    r"мектеп сайтының дерегі",
    r"қосымшасы анықталмады",
    r"as cited by a school site",
    r"UNCONFIRMED",
    r"\bS0\d\d\b",
    r"\[[A-Z0-9]{3,}\]",
]


def test_no_note_for_the_team_in_visitor_text() -> None:
    catalog = load_catalog()
    for path, text in catalog_texts(catalog):
        for lang in ("kk", "ru", "en"):
            for pattern in TEAM_NOTES:
                assert not re.search(pattern, text.get(lang)), (path, lang, pattern)


def test_this_kiosk_takes_no_applications_is_said_once(client) -> None:
    catalog = load_catalog()
    for service in catalog.services:
        if service.takes_applications:
            continue
        for lang, sentence in (
            ("kk", "қабылдамайды"),  # "Бұл терминал осы қызметке өтініш қабылдамайды", in any wording
            ("ru", "не принимает заявления"),
            ("en", "does not take applications"),
        ):
            page = client.get(f"/{lang}/services/{service.code}").get_data(as_text=True)
            assert page.count(sentence) == 1, (service.code, lang)
