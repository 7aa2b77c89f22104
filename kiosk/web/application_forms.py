"""Application forms: only the fields a service needs, defined with the catalog, checked on the server.

The catalog names the fields (``form = [...]``); this module knows how to ask for each one, how
to check it, and how each answer reads back (check page, receipt, staff).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Mapping
from typing import Any

from babel.numbers import format_decimal
from flask_babel import get_locale, lazy_ngettext, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import Field, RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Regexp, StopValidation, ValidationError
from wtforms.widgets import TextInput

from kiosk.domain.catalog import Service
from kiosk.domain.iin import InvalidIin, parse_iin
from kiosk.web.codestep import iin_message
from kiosk.web.forms import KioskForm

CYRILLIC = "А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі"  # Russian and Kazakh (І and Һ are the Cyrillic ones)


LATIN = "A-Za-z"


# letters of Kazakh, Russian and English, with spaces, hyphens and apostrophes inside a name
NAME = re.compile(rf"^[{LATIN}{CYRILLIC}]+(?:[ '\-][{LATIN}{CYRILLIC}]+)*$")


CHILD_MAX_AGE = 18


def _squash(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


def _digits(value: Any) -> Any:
    return "".join(value.split()) if isinstance(value, str) else value


def one_alphabet(_form: Any, field: Field) -> None:
    """A name as a document has it is written in one alphabet: "Aлия Саpова" with a Latin A and p
    looks right on screen but matches no record, so a name mixing the two is refused."""
    value = field.data if isinstance(field.data, str) else ""
    if re.search(f"[{LATIN}]", value) and re.search(f"[{CYRILLIC}]", value):
        raise ValidationError(
            _l(
                "Type the whole name in one alphabet: Cyrillic letters only or Latin letters only. "
                "Some letters look alike (А and A, р and p): check the keyboard layout."
            )
        )


def _letters(most: int) -> Any:
    """ "Between 2 and 60 letters", with the noun agreeing with the larger number in each language."""
    return lazy_ngettext(
        "Between %(min)d and %(max)d letter.", "Between %(min)d and %(max)d letters.", most, min=2, max=most
    )


def _typed_text(
    label: Any, max_len: int, allowed: re.Pattern[str] | str, allowed_message: Any, *more: Any
) -> StringField:
    """A needed answer typed on the keyboard: runs of spaces folded, 2 to ``max_len`` letters, only
    the characters ``allowed`` matches (``allowed_message`` says which), then any ``more`` checks."""
    return StringField(
        label,
        filters=[_squash],
        validators=[
            DataRequired(_l("This answer is needed.")),
            Length(min=2, max=max_len, message=_letters(max_len)),
            Regexp(allowed, message=allowed_message),
            *more,
        ],
    )


def _name_field(label: Any, max_len: int = 100) -> StringField:
    return _typed_text(
        label, max_len, NAME, _l("Use letters only, with spaces or hyphens between words."), one_alphabet
    )


def _free_text(label: Any, max_len: int = 200) -> StringField:
    return _typed_text(label, max_len, r"^[^<>{}\[\]\\|`~^$]*$", _l("Use letters, digits and ordinary punctuation."))


class DecimalCommaField(Field):
    """A number as the kiosk's keypad types it: digits with a decimal comma or a decimal point.

    Python's Decimal also takes "NaN", "sNaN", "Infinity", "1e3", signs, "1_000" and non-ASCII
    digits; a parent never means those, so they get a message instead (spaces around the number
    are dropped). The data is a Decimal inside
    [minimum, maximum]; `answer()` is the draft's text (a point, `places` decimals), which this
    field reads back like anything typed, so Back and Change show the saved answer.
    """

    widget = TextInput()
    NUMBER = re.compile(r"^(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)$")

    def __init__(
        self,
        label: Any,
        *,
        minimum: decimal.Decimal,
        maximum: decimal.Decimal,
        places: int,
        range_message: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, **kwargs)
        self.minimum, self.maximum, self.places, self.range_message = minimum, maximum, places, range_message

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist:
            return
        text = valuelist[0].strip() if isinstance(valuelist[0], str) else None
        if text == "":
            return
        if text is None or not self.NUMBER.match(text):
            raise ValueError(_("Type a number, for example 12.5."))
        self.data = decimal.Decimal(text.replace(",", "."))

    def pre_validate(self, form: FlaskForm) -> None:
        if self.process_errors:
            raise StopValidation()  # the format's message is already there; no range message on top
        if self.data is None:
            raise StopValidation(_("This answer is needed."))
        if not self.minimum <= self.data <= self.maximum:
            raise StopValidation(
                self.range_message % {"min": self._local(self.minimum), "max": self._local(self.maximum)}
            )

    def answer(self) -> str:
        """The checked value as the draft and the payload keep it: "12.5" (half up, as people round)."""
        if self.data is None:  # pre_validate refuses an empty answer before anyone asks for it
            raise ValueError("answer() of a field that did not validate")
        return str(self.data.quantize(decimal.Decimal(1).scaleb(-self.places), rounding=decimal.ROUND_HALF_UP))

    def _local(self, value: decimal.Decimal) -> str:
        return format_decimal(value, locale=str(get_locale() or "en"))

    def _value(self) -> str:
        """What the input shows: a checked number with the visitor's decimal sign, else what was typed."""
        typed = self.raw_data[0] if self.raw_data and isinstance(self.raw_data[0], str) else ""
        if not isinstance(self.data, decimal.Decimal) or self.errors or not self.minimum <= self.data <= self.maximum:
            return typed
        return format_decimal(decimal.Decimal(self.answer()), format="0.0##", locale=str(get_locale() or "en"))


def _choice(label: Any, choices: list[tuple[str, Any]], checks: list[Any] | None = None) -> RadioField:
    options = [SelectChoice(value, text) for value, text in choices]
    return RadioField(label, choices=options, validators=[InputRequired(_l("Choose one answer.")), *(checks or [])])


def form_for(service: Service, today: dt.date, lang: str) -> type[FlaskForm]:
    """A FlaskForm class with the service's fields, in the catalog's order."""

    def grade_one(form: FlaskForm) -> bool:
        """The catalog's age rule is grade 1's: it holds when the answer is grade 1 (or there is no grade)."""
        return "grade" not in service.form or form.grade.data == "1"

    def check_child(form: FlaskForm, field: Field) -> None:
        try:
            child = parse_iin(field.data or "")
        except InvalidIin as invalid:
            raise ValidationError(iin_message(invalid.problem, whose="child")) from None
        if child.birth_date > today or child.age_on(today) >= CHILD_MAX_AGE:
            raise ValidationError(_l("This IIN is not a child's: the child must be under 18."))
        min_age = service.child_age_by_year_end
        if min_age is not None and grade_one(form) and child.age_on(dt.date(today.year, 12, 31)) < min_age:
            raise ValidationError(
                lazy_ngettext(
                    "The child must be %(num)d year old by 31 December of this year.",
                    "The child must be %(num)d years old by 31 December of this year.",
                    min_age,
                )
            )

    def check_grade(form: FlaskForm, _field: Field) -> None:
        """Grade 1 for a child past its age: say why, and that another grade is the answer."""
        max_age = service.child_max_age
        if max_age is None or not grade_one(form) or "child_iin" not in form:
            return
        try:
            child = parse_iin(form.child_iin.data or "")
        except InvalidIin:
            return  # the IIN's own message says it
        age = child.age_on(today)
        if max_age < age < CHILD_MAX_AGE:
            raise ValidationError(
                ngettext(
                    "Grade 1 is for children of %(min)d (or turning %(min)d by 31 December) and of %(max)d. "
                    "This child is %(num)d: choose the grade the child is going into, or ask the school office.",
                    "Grade 1 is for children of %(min)d (or turning %(min)d by 31 December) and of %(max)d. "
                    "This child is %(num)d: choose the grade the child is going into, or ask the school office.",
                    age,
                    min=service.child_age_by_year_end or max_age,
                    max=max_age,
                )
            )

    fields: dict[str, Field] = {
        "child_iin": StringField(
            _l("Child's IIN"),
            filters=[_digits],
            validators=[DataRequired(_l("This answer is needed.")), Length(max=40), check_child],
        ),
        "child_name": _name_field(_l("Child's surname and first name")),
        "grade": _choice(_l("Grade"), [(str(n), str(n)) for n in range(1, 12)], [check_grade]),
        "language": _choice(
            _l("Language of instruction"), [("kk", _l("Kazakh")), ("ru", _l("Russian")), ("en", _l("English"))]
        ),
        "category": _choice(
            _l("Your family's situation"), [(c.code, c.name.get(lang)) for c in service.kiosk_categories]
        ),
        "settlement": _free_text(_l("Village or settlement where the child lives"), 100),
        "distance_km": DecimalCommaField(
            _l("Distance from home to school, km"),
            minimum=decimal.Decimal("0.1"),
            maximum=decimal.Decimal("300"),
            places=1,
            range_message=_l("A distance between %(min)s and %(max)s km."),
        ),
        "camp": _choice(_l("Camp"), [("out_of_town", _l("Out-of-town camp")), ("school", _l("School camp"))]),
        "season": _choice(
            _l("Season"),
            [("summer", _l("Summer")), ("autumn", _l("Autumn")), ("winter", _l("Winter")), ("spring", _l("Spring"))],
        ),
        "school_from": _free_text(_l("The school the child is leaving")),
    }
    attrs = {name: fields[name] for name in service.form}
    return type(f"{service.code.title()}Form", (KioskForm,), attrs)


def answers_of(form: FlaskForm, service: Service) -> dict[str, str]:
    """The checked answers as plain strings, ready for the session and the payload."""
    out = {}
    for name in service.form:
        field = form[name]
        out[name] = field.answer() if isinstance(field, DecimalCommaField) else str(field.data)
    return out


def with_answers(form_class: type[FlaskForm], answers: Mapping[str, str]) -> FlaskForm:
    """The form showing saved answers (Back, Change, reload), read as if just typed.

    Every field reads the text `answers_of` made from it back into its own type, so a saved
    answer shows again whatever the field (a choice, a name, a decimal distance).
    """
    return form_class(formdata=MultiDict(dict(answers)))


def answer_label(service: Service, name: str, value: str, lang: str) -> str:
    """How an answer reads on the check-your-answers screen and the receipt."""
    form = form_for(service, dt.date.today(), lang)
    field = getattr(form, name, None)
    if field is None:
        return value
    if field.field_class is DecimalCommaField:
        try:
            return format_decimal(decimal.Decimal(value), format="0.0##", locale=lang)
        except decimal.InvalidOperation:
            return value
    for choice in field.kwargs.get("choices") or ():
        if choice.value == value:
            return str(choice.label)
    return value


def answer_rows(service: Service | None, answers: dict[str, str], lang: str) -> list[tuple[str, str, str]]:
    """Each answer as (field, label, what it reads), in the form's order and the reader's language.

    The parent's check page, the receipt and the staff's application page all read their answers
    here, so staff see every answer under the label the parent saw. An answer whose field (or whose
    whole service) the catalog no longer has keeps its field name and stored value rather than vanish.
    """
    if service is None:
        return [(name, name, value) for name, value in answers.items()]
    form = form_for(service, dt.date.today(), lang)
    order = [name for name in service.form if name in answers] + [n for n in answers if n not in service.form]
    rows = []
    for name in order:
        field = getattr(form, name, None)
        label = str(field.kwargs.get("label") or field.args[0]) if field is not None else name
        rows.append((name, label, answer_label(service, name, answers[name], lang)))
    return rows
