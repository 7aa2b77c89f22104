"""The consent to the processing of personal data: what the parent reads before signing, and the
record kept sealed with the application.

It names what the Law of the Republic of Kazakhstan "On personal data and their protection"
(No. 94-V of 21 May 2013) has a consent name: who the operator is (the school, by name and BIN from
the site's config), why (this application to this service), which data (this service's own form),
who else receives it (the central system) and that it stays in Kazakhstan, how long it is kept (the
site's retention periods), when, and which text in which language.

A text is a version: the wording below changes only with a new ``VERSION`` (tests/test_consent.py
pins each language's wording to it). The record keeps the whole text the parent read, so an old
application keeps its own wording whatever the kiosk says later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from kiosk.domain.catalog import Service

VERSION = "1"
LAW = "No. 94-V, 21.05.2013"


def _days(num: int) -> str:
    return ngettext("%(num)d day", "%(num)d days", num)


def _operator(config: Mapping[str, Any], lang: str) -> tuple[str, str | None]:
    """The school's name in ``lang`` (in the current locale's words when the site has not set it)."""
    names = config.get("PRIVACY_OPERATOR_NAME")
    name = names.get(lang) if isinstance(names, Mapping) else names
    return (str(name) if name else _("the school that runs this kiosk")), config.get("PRIVACY_OPERATOR_BIN")


def _operator_names(config: Mapping[str, Any]) -> dict[str, str]:
    names = {}
    for lang in ("kk", "ru", "en"):
        with force_locale(lang):
            names[lang] = _operator(config, lang)[0]
    return names


def operator_line(config: Mapping[str, Any], lang: str) -> str:
    """The operator as a line of a page: "School No. 7, BIN 990340001234"."""
    operator, bin_ = _operator(config, lang)
    return _("%(operator)s, BIN %(bin)s", operator=operator, bin=bin_) if bin_ else operator


def data_items(service: Service, lang: str) -> list[str]:
    """What this service's application collects, in the reader's words: the form's own fields."""
    from kiosk.web.application_forms import form_for

    form = form_for(service, dt.date.today(), lang)
    items = [_("your surname, first name and IIN, from your ID card")]
    for name in service.form:
        field = getattr(form, name)
        items.append(_in_sentence(str(field.kwargs.get("label") or field.args[0])))
    items.append(_("photos of documents, if you attach them"))
    return items


def _in_sentence(label: str) -> str:
    """A form's label inside the sentence that lists them: "Класс" -> "класс", but "ЖСН", "IIN" stay."""
    if len(label) > 1 and label[0].isupper() and not label[1].isupper():
        return label[0].lower() + label[1:]
    return label


def sections(service: Service, lang: str, config: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The consent as the page shows it: (key, heading, text), in the current locale."""
    operator, bin_ = _operator(config, lang)
    retention = config.get("PRIVACY_RETENTION_DAYS") or {}
    decided = max(retention.get("approved", 0), retention.get("refused", 0))
    system = service.info_system
    return [
        (
            "operator",
            _("Operator"),
            _("%(operator)s, BIN %(bin)s.", operator=operator, bin=bin_)
            if bin_
            else _("%(operator)s.", operator=operator),
        ),
        (
            "purpose",
            _("Purpose"),
            _("This application for the service “%(service)s”, and nothing else.", service=service.name.get(lang)),
        ),
        ("data", _("Data collected"), "; ".join(data_items(service, lang)) + "."),
        (
            "third_party",
            _("Passed on to"),
            _(
                "The central system that handles the service: the e-government portal and the information "
                "system %(system)s.",
                system=system,
            )
            if system
            else _("The central system that handles the service: the e-government portal."),
        ),
        ("location", _("Where"), _("Your data does not leave the Republic of Kazakhstan.")),
        (
            "period",
            _("How long"),
            _(
                "At this kiosk until %(decided)s after the central system's decision, or %(cancelled)s after a "
                "cancellation; then it is erased. An application still on its way is kept until it has an outcome.",
                decided=_days(decided),
                cancelled=_days(retention.get("cancelled", 0)),
            ),
        ),
        (
            "rights",
            _("Your data"),
            _(
                "The school office prints for you, on seeing your ID card, what the kiosk holds about you and "
                "your child, why, until when, and who has opened it."
            ),
        ),
        (
            "basis",
            _("Basis"),
            _(
                "The Law of the Republic of Kazakhstan “On personal data and their protection” (No. 94-V of "
                "21 May 2013). Text version %(version)s.",
                version=VERSION,
            ),
        ),
    ]


def record(service: Service, lang: str, config: Mapping[str, Any], at: dt.datetime) -> dict[str, Any]:
    """The consent as kept sealed in the application's payload (so the SMS code signs it too)."""
    with force_locale(lang):
        parts = sections(service, lang, config)
        title = _("Consent to the processing of personal data")
    text = "\n".join([title, *(f"{heading}: {body}" for _key, heading, body in parts)])
    return {
        "version": VERSION,
        "lang": lang,
        "at": at.isoformat(),
        "operator": {"name": _operator_names(config), "bin": config.get("PRIVACY_OPERATOR_BIN")},
        "service": service.code,
        "third_party": ["egov", *([service.info_system] if service.info_system else [])],
        "cross_border": False,
        "retention_days": dict(config.get("PRIVACY_RETENTION_DAYS") or {}),
        "text": text,
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


def summary(consent: Mapping[str, Any], when: str, lang: str) -> str:
    """The receipt's line about the consent, in the current locale (``lang``)."""
    retention = consent.get("retention_days") or {}
    decided = max(retention.get("approved", 0), retention.get("refused", 0))
    operator = consent.get("operator") or {}
    names = operator.get("name") or {}
    who = str(names.get(lang) or names.get("ru") or "") if isinstance(names, Mapping) else str(names)
    if operator.get("bin"):
        who = _("%(operator)s, BIN %(bin)s", operator=who, bin=operator["bin"])
    return _(
        "given %(when)s (text version %(version)s) to %(operator)s; passed only to the central system, "
        "within Kazakhstan; kept %(decided)s after the decision, then erased",
        when=when,
        version=consent.get("version", "?"),
        operator=who,
        decided=_days(decided),
    )
