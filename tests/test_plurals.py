"""Numbers agree with their nouns: ngettext with Babel's plural rules for ru, kk and en.

Russian has three forms for whole numbers (1 секунду, 2 секунды, 5 секунд) chosen by the last two digits,
so each message that shows a count is tested on 1, 2, 5, 11, 21, 22, 25 and 111.
"""

from __future__ import annotations

import gettext
import re

import pytest
from babel import Locale
from babel.messages.extract import extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from flask_babel import force_locale, ngettext

from kiosk import ROOT
from kiosk.infra.i18n import TRANSLATIONS, plural_samples

NUMBERS = (1, 2, 5, 11, 21, 22, 25, 111)
RU_FORM = {1: 0, 2: 1, 5: 2, 11: 2, 21: 0, 22: 1, 25: 2, 111: 2}  # one, few, many, by hand

# Each message that counts, by a part of its English singular (its whole text is in messages.pot):
# the noun each Russian form shows (one, few, many) | the English noun for 1 and for more.
NOUNS = {
    "the screen goes back to the start in %(count)s second": "секунду секунды секунд | second, seconds,",
    "Your code: %(code)s. It is valid for %(num)d minute.": "минуту. минуты. минут. | minute. minutes.",
    "Code to sign your application: %(code)s. Valid for %(num)d minute.": "минуту. минуты. минут. | minute. minutes.",
    "waited more than %(num)d minute": "минуты. минут. минут. | minute minutes",  # "более 21 минуты", "более 22 минут"
    "%(num)d application was rejected": "заявление, заявления, заявлений, | application applications",
    "%(num)d application waits for an ID card": "заявление заявления заявлений | application applications",
    "%(num)d SMS code could not be sent": "SMS-код SMS-кода SMS-кодов | code codes",
    "in the last %(num)d minute": "минуту минуты минут | minute minutes",
    "The child must be %(num)d year old": "год года лет | year years",
    "Between %(min)d and %(max)d letter.": "буквы. букв. букв. | letter. letters.",
    "Code, %(num)d digit": "цифра цифры цифр | digit digits",
    "The code is %(num)d digit.": "цифры. цифр. цифр. | digit. digits.",  # "из 21 цифры", "из 22 цифр"
    "Closes on %(date)s: %(num)d day left": "день дня дней | day days",
}
POT = TRANSLATIONS / "messages.pot"


def _plural_message(part: str) -> tuple[str, str]:
    """The one plural message (singular, plural) in messages.pot whose singular holds ``part``."""
    with POT.open("rb") as f:
        found = [m.id for m in read_po(f) if isinstance(m.id, tuple) and part in m.id[0]]
    assert len(found) == 1, (part, found)
    return found[0]


def _render(app, lang: str, singular: str, plural: str, n: int) -> str:
    """The message for n, its other placeholders filled (a count in "%(max)d" is n too)."""
    extra = {name: 7 if kind == "d" else "X" for name, kind in re.findall(r"%\((\w+)\)([ds])", singular)}
    extra.pop("num", None)  # ngettext gives n
    if "max" in extra:
        extra["max"] = n
    with app.test_request_context(), force_locale(lang):
        return ngettext(singular, plural, n, **extra)


@pytest.mark.parametrize(("part", "nouns"), NOUNS.items(), ids=list(NOUNS))
def test_each_count_agrees_in_russian_english_and_kazakh(app, part, nouns) -> None:
    singular, plural = _plural_message(part)
    ru_nouns, en_nouns = (side.split() for side in nouns.split(" | "))
    assert len(ru_nouns) == 3 and len(en_nouns) == 2, nouns
    for n in NUMBERS:
        counted = "%(max)d" if "%(max)d" in singular else "%(num)d" if "%(num)d" in singular else None
        ru = _render(app, "ru", singular, plural, n)
        noun = ru_nouns[RU_FORM[n]]
        if counted:
            assert re.search(rf"\b{n} {re.escape(noun)}", ru), (n, ru)
        else:
            assert re.search(rf"\b{re.escape(noun)}(\W|$)", ru), (n, ru)
        en = _render(app, "en", singular, plural, n)
        assert en_nouns[0 if n == 1 else 1] in en.split(), (n, en)
        kk = _render(app, "kk", singular, plural, n)
        five = _render(app, "kk", singular, plural, 5)
        if counted and n != 1:  # a Kazakh noun after a number does not change: only the number differs
            assert re.sub(rf"\b{n}\b", "#", kk) == re.sub(r"\b5\b", "#", five), (n, kk)


def test_the_po_headers_agree_with_babels_plural_rules() -> None:
    for lang, forms in (("ru", 3), ("kk", 2)):
        with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f, locale=lang)
        assert catalog.num_plurals == forms == get_plural(lang).num_plurals
        rule = Locale(lang).plural_form
        order = {"one": 0, "few": 1, "many": 2, "other": forms - 1}
        for n in range(0, 1000):
            chosen = _c_plural(catalog.plural_expr, n)
            assert chosen == order[rule(n)], (lang, n)
        for message in catalog:
            if isinstance(message.id, tuple):
                assert len(message.string) == forms and all(message.string), (lang, message.id)


def _c_plural(expr: str, n: int) -> int:
    """The form a .po header's C plural expression picks for n (the same parser gettext uses)."""
    return gettext.c2py(expr)(n)


# Messages with a number that need no plural: an ordinal label, a step, an abbreviation.
NO_PLURAL = {
    "Document %(num)d",
    "Photo %(num)d",
    "PDF document %(num)d",
    "Step %(num)d of %(total)d",
    "%(num)d min",
    "%(num)s MB",
    "A distance between %(min)s and %(max)s km.",
}


def test_every_message_that_counts_uses_ngettext() -> None:
    methods = [("kiosk/**.py", "python"), ("templates/**.html", "jinja2")]
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), methods):
        if isinstance(message, tuple) or not message:
            continue
        if re.search(r"%\((num|count|max)\)[ds]", message):
            assert message in NO_PLURAL, f"a count without ngettext: {message!r}"


def test_plural_samples_cover_every_form_of_each_language() -> None:
    assert plural_samples("ru") == {"many": 0, "one": 1, "few": 2}
    assert plural_samples("kk") == {"other": 0, "one": 1}
    assert plural_samples("en") == {"other": 0, "one": 1}


@pytest.mark.browser
def test_the_idle_countdown_agrees_with_its_number(app, chromium, live_server) -> None:
    app.config.update(VISIT_IDLE_S=1, VISIT_IDLE_WARN_S=5)
    context = chromium.new_context(viewport={"width": 1080, "height": 1920}, has_touch=True)
    page = context.new_page()
    page.goto(live_server + "/ru/services")
    for phrase in ("через 5 секунд ", "через 4 секунды ", "через 2 секунды ", "через 1 секунду "):
        page.wait_for_function(
            "p => document.querySelector('#idle-text').textContent.replace(/\\s+/g, ' ').includes(p)", arg=phrase
        )
    context.close()
