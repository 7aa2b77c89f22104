"""Languages: Kazakh first, Russian and English; the visit's language comes from the URL.

Translations are kept as .po files in the package and compiled to .mo in the instance folder
(``translations/``) when the app starts and a .po is newer than its .mo, so a fresh clone needs no
compile step and the package itself is never written to (a deployed code tree is read-only).
"""

from __future__ import annotations

import io
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, abort, current_app, g, request, session, url_for
from flask_babel import format_date, format_datetime, format_decimal, format_time, get_locale
from flask_babel import gettext as _

from kiosk.domain import kazakh
from kiosk.extensions import babel

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"

# Each language's name in itself: a visitor finds their own language whatever is shown now
NATIVE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}


def init_app(app: Flask) -> None:
    compiled = Path(app.instance_path) / "translations"
    compile_translations(compiled)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled)
    babel.init_app(app, locale_selector=current_language)
    app.url_value_preprocessor(_pull_lang)
    app.url_defaults(_add_lang)
    app.context_processor(_template_context)
    # globals, not context: macros imported with {% from %} see these too
    app.jinja_env.globals.update(
        format_date=format_date,
        format_datetime=format_datetime,
        format_time=format_time,
        megabytes=megabytes,
    )
    # the Kazakh ending a date, time or number takes from the words after it ("%(date)s дейін": dative)
    app.jinja_env.filters.update(
        kk_dative=lambda value: kk_case(value, "dative"),
        kk_locative=lambda value: kk_case(value, "locative"),
        kk_ablative=lambda value: kk_case(value, "ablative"),
    )


def _pull_lang(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Every visitor address starts with the language; an unknown one is a 404."""
    if values is None or "lang" not in values:
        return
    lang = values.pop("lang")
    if lang not in current_app.config["LANGUAGES"]:
        abort(404)
    g.lang = lang
    if session and session.get("lang") != lang:  # an ongoing visit remembers a switch
        session["lang"] = lang


def _add_lang(endpoint: str, values: dict[str, Any]) -> None:
    if "lang" not in values and current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
        values["lang"] = current_language()


def _template_context() -> dict[str, object]:
    return {
        "lang": current_language(),
        "native_names": NATIVE_NAMES,
        "url_in": url_in,
        "plural_samples": plural_samples,
    }


def kk_case(value: str, case: str) -> str:
    """``value`` with its Kazakh case ending when the message is in Kazakh; other languages need none.

    The English message says the meaning ("until %(date)s", "after %(time)s", "on %(date)s", "since %(when)s"),
    and each meaning takes one case in Kazakh: until -> dative + дейін, after or since -> ablative + кейін or
    бастап, on a day -> locative. The caller names the case, the helper attaches the right ending.
    """
    return kazakh.inflect(str(value), case) if str(get_locale()) == "kk" else value


def plural_samples(lang: str) -> dict[str, int]:
    """One whole number for each plural form of ``lang`` (CLDR's tags): a page that counts in the browser
    renders each form once and the browser picks one with Intl.PluralRules ("1 секунду", "3 секунды", "5 секунд").
    """
    rule = Locale.parse(lang).plural_form
    samples: dict[str, int] = {}
    for n in range(200):
        samples.setdefault(rule(n), n)
    return samples


def current_language() -> str:
    """The URL's language on visitor pages, else the visit's choice, else Kazakh."""
    lang = g.get("lang")
    if lang:
        return lang
    chosen = session.get("lang") if request else None
    if isinstance(chosen, str) and chosen in current_app.config["LANGUAGES"]:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def compile_translations(dest: Path, source: Path = TRANSLATIONS) -> None:
    """Write ``dest/<lang>/LC_MESSAGES/messages.mo`` for each .po in ``source`` that is newer."""
    for po_path in source.glob("*/LC_MESSAGES/messages.po"):
        mo_path = dest / po_path.relative_to(source).with_suffix(".mo")
        po_stat = po_path.stat()
        if mo_path.exists() and mo_path.stat().st_mtime >= po_stat.st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = mo_path.with_suffix(f".mo.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(_mo_bytes(po_path, po_stat.st_mtime_ns, po_stat.st_size))
        tmp.replace(mo_path)  # atomic, so two processes starting at once never read half a file


@lru_cache(maxsize=8)
def _mo_bytes(po_path: Path, _mtime_ns: int, _size: int) -> bytes:
    """A .po compiled, once per version of it in this process (the tests make many instance folders)."""
    with po_path.open("rb") as f:
        catalog = read_po(f, locale=po_path.parent.parent.name)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


MB = 1024 * 1024


def megabytes(size: int, places: int = 2) -> str:
    """A size as visitors and staff read it: "1,12 МБ" in Kazakh and Russian, "1.12 MB" in English.
    A file that is not empty never reads as nothing: a one-page scan of 300 bytes is "0,01 МБ"."""
    value = max(size / MB, 10.0**-places) if size > 0 else 0.0
    return _("%(num)s MB", num=format_decimal(value, format="#,##0." + "0" * places if places else "#,##0"))


def url_in(lang: str) -> str:
    """This page in another language; Welcome and pages without a language go to the services."""
    if request.endpoint == "visitor.welcome":
        return url_for("visitor.start", lang=lang)
    shown = g.get("page_endpoint")  # a form posted back shows a page that has its own address
    if shown:
        return url_for(shown, lang=lang)
    rule = request.url_rule
    if rule is not None and "lang" in rule.arguments and request.endpoint and request.method == "GET":
        values = {**request.args.to_dict(), **(request.view_args or {}), "lang": lang}
        return url_for(request.endpoint, **values)
    return url_for("visitor.services", lang=lang)
