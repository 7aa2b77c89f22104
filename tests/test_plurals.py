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

# (singular, plural, extra variables, the noun each Russian form shows, the English noun for 1 and for more)
MESSAGES = [
    (
        "For your privacy the screen goes back to the start in %(count)s second, and what you entered is erased.",
        "For your privacy the screen goes back to the start in %(count)s seconds, and what you entered is erased.",
        {"count": "N"},
        ("секунду", "секунды", "секунд"),
        ("second,", "seconds,"),
    ),
    (
        "School services kiosk. Your code: %(code)s. It is valid for %(num)d minute. Do not tell it to anyone.",
        "School services kiosk. Your code: %(code)s. It is valid for %(num)d minutes. Do not tell it to anyone.",
        {"code": "123456"},
        ("минуту.", "минуты.", "минут."),
        ("minute.", "minutes."),
    ),
    (
        "School services kiosk. Code to sign your application: %(code)s. Valid for %(num)d minute. "
        "Do not tell it to anyone.",
        "School services kiosk. Code to sign your application: %(code)s. Valid for %(num)d minutes. "
        "Do not tell it to anyone.",
        {"code": "123456"},
        ("минуту.", "минуты.", "минут."),
        ("minute.", "minutes."),
    ),
    (
        "Applications have waited more than %(num)d minute to reach the central system.",
        "Applications have waited more than %(num)d minutes to reach the central system.",
        {},
        ("минуты.", "минут.", "минут."),  # "более 21 минуты", "более 22 минут"
        ("minute", "minutes"),
    ),
    (
        "%(num)d application was rejected by the central system and needs you.",
        "%(num)d applications were rejected by the central system and need you.",
        {},
        ("заявление,", "заявления,", "заявлений,"),
        ("application", "applications"),
    ),
    (
        "%(num)d application waits for an ID card to be seen at the office.",
        "%(num)d applications wait for an ID card to be seen at the office.",
        {},
        ("заявление", "заявления", "заявлений"),
        ("application", "applications"),
    ),
    (
        "%(num)d SMS code could not be sent %(period)s: parents cannot sign.",
        "%(num)d SMS codes could not be sent %(period)s: parents cannot sign.",
        {"period": "P"},
        ("SMS-код", "SMS-кода", "SMS-кодов"),
        ("code", "codes"),
    ),
    (
        "in the last %(num)d minute",
        "in the last %(num)d minutes",
        {},
        ("минуту", "минуты", "минут"),
        ("minute", "minutes"),
    ),
    (
        "The child must be %(num)d year old by 31 December of this year.",
        "The child must be %(num)d years old by 31 December of this year.",
        {},
        ("год", "года", "лет"),
        ("year", "years"),
    ),
    (
        "Between %(min)d and %(max)d letter.",
        "Between %(min)d and %(max)d letters.",
        {"min": 7},
        ("буквы.", "букв.", "букв."),
        ("letter.", "letters."),
    ),
    (
        "Code, %(num)d digit",
        "Code, %(num)d digits",
        {},
        ("цифра", "цифры", "цифр"),
        ("digit", "digits"),
    ),
    (
        "The code is %(num)d digit.",
        "The code is %(num)d digits.",
        {},
        ("цифры.", "цифр.", "цифр."),  # "из 21 цифры", "из 22 цифр"
        ("digit.", "digits."),
    ),
    (
        "Closes on %(date)s: %(num)d day left",
        "Closes on %(date)s: %(num)d days left",
        {"date": "31 августа"},
        ("день", "дня", "дней"),
        ("day", "days"),
    ),
]


def _render(app, lang: str, singular: str, plural: str, n: int, variables: dict) -> str:
    extra = dict(variables)
    if "%(max)d" in singular:
        extra["max"] = n
    with app.test_request_context(), force_locale(lang):
        return ngettext(singular, plural, n, **extra)


@pytest.mark.parametrize(("singular", "plural", "variables", "ru_nouns", "en_nouns"), MESSAGES, ids=lambda v: None)
def test_each_count_agrees_in_russian_english_and_kazakh(app, singular, plural, variables, ru_nouns, en_nouns) -> None:
    for n in NUMBERS:
        counted = "%(max)d" if "%(max)d" in singular else "%(num)d" if "%(num)d" in singular else None
        ru = _render(app, "ru", singular, plural, n, variables)
        noun = ru_nouns[RU_FORM[n]]
        if counted:
            assert re.search(rf"\b{n} {re.escape(noun)}", ru), (n, ru)
        else:
            assert re.search(rf"\b{re.escape(noun)}(\W|$)", ru), (n, ru)
        en = _render(app, "en", singular, plural, n, variables)
        assert en_nouns[0 if n == 1 else 1] in en.split(), (n, en)
        kk = _render(app, "kk", singular, plural, n, variables)
        five = _render(app, "kk", singular, plural, 5, variables)
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
