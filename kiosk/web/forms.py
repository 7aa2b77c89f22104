"""One form per screen; every field stripped and checked on the server."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, Field, HiddenField, StringField, TextAreaField
from wtforms import FileField as AnyFileField
from wtforms.validators import DataRequired, Length, ValidationError

FROM_REQUEST = object()  # "read the request", as FlaskForm's own default does


class KioskForm(FlaskForm):
    """The base of every form here: a field reads only the kind of part it is made for.

    Flask-WTF gives a form the request's files and text parts in one mapping, and a JSON body as
    if it were a form. A text field sent as a file part then held a ``FileStorage``, and a JSON
    value an int, a float or a list, where every filter and validator expects a string: ``len()``
    raised and the visitor got a 500. Here text fields read the text parts only, file fields the
    file parts only, and a JSON body is no form at all (the pages post forms; no view reads JSON).
    What does not fit is missing, and the field says so in its own words.
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            if formdata is not FROM_REQUEST:
                return super().wrap_formdata(form, formdata)
            if not form.is_submitted():
                return None
            files = {name for name, field in form._fields.items() if isinstance(field, AnyFileField)}
            data: MultiDict[str, Any] = MultiDict()
            for name, values in request.form.lists():
                if name not in files:
                    data.setlist(name, values)
            for name in files:
                if name in request.files:
                    data.setlist(name, request.files.getlist(name))
            return data or None

    def __init__(self, formdata: Any = FROM_REQUEST, **kwargs: Any) -> None:
        super().__init__(formdata=formdata, **kwargs)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class CardForm(KioskForm):
    """What a keyboard-wedge reader types: three lines of 30 characters."""

    mrz = TextAreaField(
        filters=[_strip],
        validators=[DataRequired(_l("The card was not read. Take it out and place it again.")), Length(max=200)],
    )


class IinForm(KioskForm):
    iin = StringField(
        filters=[lambda v: "".join(v.split()) if isinstance(v, str) else v],
        validators=[DataRequired(_l("Type your 12-digit IIN.")), Length(max=40)],
    )


def _code_digits(_form: FlaskForm, field: Field) -> None:
    """As many digits as the codes sent have (SMS_CODE_LENGTH): a slip is told, not counted as a wrong code."""
    length = current_app.config["SMS_CODE_LENGTH"]
    if not (field.data.isascii() and field.data.isdigit() and len(field.data) == length):
        raise ValidationError(ngettext("The code is %(num)d digit.", "The code is %(num)d digits.", length))


class CodeForm(KioskForm):
    # typed on the page's own keypad (templates/identify/code.html: inputmode none, so no system keyboard)
    code = StringField(
        filters=[lambda v: "".join(v.split()) if isinstance(v, str) else v],
        validators=[DataRequired(_l("Type the code from the SMS.")), _code_digits],
    )


class ConfirmForm(KioskForm):
    """A button with nothing to type: only the CSRF token is checked."""

    action = HiddenField()


class ConsentForm(KioskForm):
    consent = BooleanField(
        validators=[DataRequired(_l("Tick the box to agree to the processing of your personal data."))]
    )


class UploadForm(KioskForm):
    """A photo from the kiosk's camera or a scanned file; its content is checked, not its name."""

    file = FileField(validators=[FileRequired(_l("Choose a photo or a PDF file."))])


class StatusForm(KioskForm):
    reference = StringField(
        filters=[_strip],
        validators=[DataRequired(_l("Type the reference from your receipt.")), Length(max=40)],
    )
    iin = StringField(
        filters=[lambda v: "".join(v.split()) if isinstance(v, str) else v],
        validators=[DataRequired(_l("Type your 12-digit IIN.")), Length(max=40)],
    )


class StaffLoginForm(KioskForm):
    username = StringField(filters=[_strip], validators=[DataRequired(_l("Type your user name.")), Length(max=64)])
    password = StringField(validators=[DataRequired(_l("Type your password.")), Length(max=256)])


def _cms_field() -> TextAreaField:
    """A CMS from NCALayer, base64; the page's script fills it in, the parent types nothing."""
    return TextAreaField(
        filters=[_strip],
        validators=[
            DataRequired(_l("The signature could not be read. Please try again, or use the SMS code.")),
            Length(max=60000),
        ],
    )


class EcpForm(KioskForm):
    """The ЭЦҚ identification: only the CMS NCALayer made."""

    cms = _cms_field()


class EcpSignForm(ConsentForm):
    """The sign step's consent with the CMS NCALayer made over the application's bytes."""

    cms = _cms_field()
