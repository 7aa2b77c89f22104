"""Every word a visitor reads has its Kazakh and Russian translation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from flask_babel import force_locale, gettext

from kiosk import ROOT, create_app
from kiosk.infra.i18n import TRANSLATIONS, compile_translations

METHODS = [("kiosk/**.py", "python"), ("templates/**.html", "jinja2")]
# the lazy forms of form labels and validators, and N_ (kiosk.domain.states): README's pybabel passes them with -k
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2), "N_": None}
POT = TRANSLATIONS / "messages.pot"


def _source_messages() -> set[str | tuple[str, str]]:
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS):
        if not message or (isinstance(message, tuple) and not message[0]):
            continue
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def test_extraction_finds_the_visitor_messages() -> None:
    messages = _source_messages()
    assert "Documents to bring" in messages  # the check below would be empty if extraction broke
    assert len(messages) > 30


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_every_message_is_translated(lang: str) -> None:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    missing = []
    for message in _source_messages():
        key = message if isinstance(message, str) else message[0]
        entry = catalog.get(key)
        if entry is None or entry.fuzzy:
            missing.append(key)
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if not all(s.strip() for s in strings):
            missing.append(key)
    assert missing == [], f"{lang}: no translation for {sorted(missing)}"


def test_translations_keep_their_placeholders() -> None:
    import re

    for lang in ("kk", "ru"):
        with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f, locale=lang)
        for entry in catalog:
            if not entry.id:
                continue
            ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            wanted = set(re.findall(r"%\(\w+\)[sd]", ids[0]))
            for s in strings:
                assert set(re.findall(r"%\(\w+\)[sd]", s)) == wanted, f"{lang}: {ids[0]!r}"


def _package_files() -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in Path(TRANSLATIONS).rglob("*") if p.is_file()}


def test_catalogs_are_compiled_into_the_instance_never_into_the_package(instance: Path) -> None:
    before = _package_files()
    app = create_app({"TESTING": True})
    assert _package_files() == before  # a deployed code tree is read-only: nothing is written there
    for po in Path(TRANSLATIONS).glob("*/LC_MESSAGES/messages.po"):
        mo = instance / "translations" / po.relative_to(TRANSLATIONS).with_suffix(".mo")
        assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime
    with app.test_request_context("/ru/"), force_locale("ru"):
        assert gettext("Documents to bring") != "Documents to bring"  # read from the instance's .mo


def test_a_changed_po_is_compiled_again_at_the_next_start(tmp_path: Path) -> None:
    source, dest = tmp_path / "po", tmp_path / "mo"
    po = source / "ru" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "Yes"\nmsgstr "Да"\n')
    compile_translations(dest, source)
    mo = dest / "ru" / "LC_MESSAGES" / "messages.mo"
    first = mo.read_bytes()
    compile_translations(dest, source)  # unchanged: left as it is
    assert mo.read_bytes() == first
    po.write_text(po.read_text().replace("Да", "Верно"))
    os.utime(po, ns=(mo.stat().st_mtime_ns + 10**9,) * 2)  # newer than the .mo, whatever the clock's grain
    compile_translations(dest, source)
    assert "Верно".encode() in mo.read_bytes()


def _ids(path: Path, locale: str | None = None) -> set[str | tuple[str, str]]:
    with path.open("rb") as f:
        catalog = read_po(f, locale=locale)
    return {m.id for m in catalog if m.id}


def test_extraction_finds_the_lazy_messages_of_the_forms() -> None:
    messages = _source_messages()
    assert "Child's IIN" in messages  # a lazy_gettext (_l) label
    assert ("Between %(min)d and %(max)d letter.", "Between %(min)d and %(max)d letters.") in messages


def test_the_pot_is_regenerated() -> None:
    """messages.pot holds exactly what the sources say (the README's pybabel extract with its -k keywords)."""
    pot = _ids(POT)
    source = _source_messages()
    assert sorted(map(str, source - pot)) == [], "missing from messages.pot: run the README's pybabel extract"
    assert sorted(map(str, pot - source)) == [], "stale in messages.pot: run the README's pybabel extract"


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_no_obsolete_entry_in_the_po_files(lang: str) -> None:
    po = {m if isinstance(m, str) else m[0] for m in _ids(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", lang)}
    source = {m if isinstance(m, str) else m[0] for m in _source_messages()}
    assert sorted(po - source) == [], f"{lang}: entries no source uses any more"


@pytest.mark.parametrize(
    ("lang", "size", "read"),
    [("ru", 300, "0,01 МБ"), ("kk", 1_770_000, "1,69 МБ"), ("en", 300, "0.01 MB"), ("ru", 0, "0,00 МБ")],
)
def test_a_size_reads_as_megabytes_and_a_small_file_is_not_nothing(app, lang: str, size: int, read: str) -> None:
    """The receipt and the staff page list each file with its size: a one-page PDF is not "0,00 МБ"."""
    from kiosk.infra.i18n import megabytes

    with app.test_request_context(f"/{lang}/"), force_locale(lang):
        assert megabytes(size) == read
