"""Application forms: only the fields a service needs, defined with the catalog, checked on the server.

The catalog names the fields (``form = [...]``); this module knows how to ask for each one and
how to check it. The answers become a canonical JSON payload whose hash is what the SMS code
signs, so the code signs exactly this application and nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from flask_wtf import FlaskForm
from wtforms import DecimalField, Field, RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp, ValidationError

from kiosk.catalog import Service
from kiosk.iin import InvalidIin, parse_iin

# letters of Kazakh, Russian and English, with spaces, hyphens and apostrophes inside a name
NAME = re.compile(r"^[A-Za-zА-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]+(?:[ '\-][A-Za-zА-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]+)*$")
CHILD_MAX_AGE = 18


def _squash(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


def _digits(value: Any) -> Any:
    return "".join(value.split()) if isinstance(value, str) else value


def _letters(most: int) -> Any:
    """ "Between 2 and 60 letters", with the noun agreeing with the larger number in each language."""
    return lazy_ngettext(
        "Between %(min)d and %(max)d letter.", "Between %(min)d and %(max)d letters.", most, min=2, max=most
    )


def _name_field(label: Any, max_len: int = 100) -> StringField:
    return StringField(
        label,
        filters=[_squash],
        validators=[
            DataRequired(_l("This answer is needed.")),
            Length(min=2, max=max_len, message=_letters(max_len)),
            Regexp(NAME, message=_l("Use letters only, with spaces or hyphens between words.")),
        ],
    )


def _free_text(label: Any, max_len: int = 200) -> StringField:
    return StringField(
        label,
        filters=[_squash],
        validators=[
            DataRequired(_l("This answer is needed.")),
            Length(min=2, max=max_len, message=_letters(max_len)),
            Regexp(r"^[^<>{}\[\]\\|`~^$]*$", message=_l("Use letters, digits and ordinary punctuation.")),
        ],
    )


def _choice(label: Any, choices: list[tuple[str, Any]]) -> RadioField:
    options = [SelectChoice(value, text) for value, text in choices]
    return RadioField(label, choices=options, validators=[InputRequired(_l("Choose one answer."))])


def school_year(service: Service, today: dt.date) -> int:
    """The school year an application is for (2026 means 2026-2027).

    Grade 1 applications in spring and summer are for the year starting in September; every other
    service is for the school year under way (September to August).
    """
    if service.window is not None and service.window.start_month < 9 and today.month < 9:
        return today.year
    return today.year if today.month >= 9 else today.year - 1


def form_for(service: Service, today: dt.date, lang: str) -> type[FlaskForm]:
    """A FlaskForm class with the service's fields, in the catalog's order."""

    def check_child(_form: FlaskForm, field: Field) -> None:
        try:
            child = parse_iin(field.data or "")
        except InvalidIin:
            raise ValidationError(_l("This is not a valid IIN. Check the digits and try again.")) from None
        if child.birth_date > today or child.age_on(today) >= CHILD_MAX_AGE:
            raise ValidationError(_l("This IIN is not a child's: the child must be under 18."))
        min_age = service.child_age_by_year_end
        if min_age is not None and child.age_on(dt.date(today.year, 12, 31)) < min_age:
            raise ValidationError(
                lazy_ngettext(
                    "The child must be %(num)d year old by 31 December of this year.",
                    "The child must be %(num)d years old by 31 December of this year.",
                    min_age,
                )
            )

    fields: dict[str, Field] = {
        "child_iin": StringField(
            _l("Child's IIN"),
            filters=[_digits],
            validators=[DataRequired(_l("This answer is needed.")), Length(max=40), check_child],
        ),
        "child_name": _name_field(_l("Child's surname and first name")),
        "grade": _choice(_l("Grade"), [(str(n), str(n)) for n in range(1, 12)]),
        "language": _choice(
            _l("Language of instruction"), [("kk", _l("Kazakh")), ("ru", _l("Russian")), ("en", _l("English"))]
        ),
        "category": _choice(
            _l("Your family's situation"), [(c.code, c.name.get(lang)) for c in service.kiosk_categories]
        ),
        "settlement": _free_text(_l("Village or settlement where the child lives"), 100),
        "distance_km": DecimalField(
            _l("Distance from home to school, km"),
            places=1,
            validators=[
                InputRequired(_l("This answer is needed.")),
                NumberRange(min=0.1, max=300, message=_l("A distance between %(min)s and %(max)s km.")),
            ],
        ),
        "camp": _choice(_l("Camp"), [("out_of_town", _l("Out-of-town camp")), ("school", _l("School camp"))]),
        "season": _choice(
            _l("Season"),
            [("summer", _l("Summer")), ("autumn", _l("Autumn")), ("winter", _l("Winter")), ("spring", _l("Spring"))],
        ),
        "school_from": _free_text(_l("The school the child is leaving")),
    }
    attrs = {name: fields[name] for name in service.form}
    return type(f"{service.code.title()}Form", (FlaskForm,), attrs)


def answers_of(form: FlaskForm, service: Service) -> dict[str, str]:
    """The checked answers as plain strings, ready for the session and the payload."""
    out = {}
    for name in service.form:
        value = form[name].data
        out[name] = f"{value:.1f}" if name == "distance_km" else str(value)
    return out


def answer_label(service: Service, name: str, value: str, lang: str) -> str:
    """How an answer reads on the check-your-answers screen and the receipt."""
    form = form_for(service, dt.date.today(), lang)
    field = getattr(form, name)
    for choice in field.kwargs.get("choices") or ():
        if choice.value == value:
            return str(choice.label)
    return value


def canonical_payload(
    *,
    service: Service,
    catalog_version: str,
    year: int,
    applicant: dict[str, Any],
    answers: dict[str, str],
    attachments: list[str],
    lang: str,
) -> tuple[dict[str, Any], str]:
    """The payload and its hash: sorted keys, no spaces, UTF-8, so the same answers hash the same."""
    payload = {
        "service": service.code,
        "catalog_version": catalog_version,
        "school_year": year,
        "applicant": applicant,
        "answers": answers,
        "attachments": sorted(attachments),
        "lang": lang,
    }
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return payload, hashlib.sha256(raw).hexdigest()
