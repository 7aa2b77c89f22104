"""One form per screen; every field stripped and checked on the server."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class CardForm(FlaskForm):
    """What a keyboard-wedge reader types: three lines of 30 characters."""

    mrz = TextAreaField(
        filters=[_strip],
        validators=[DataRequired(_l("The card was not read. Take it out and place it again.")), Length(max=200)],
    )


class IinForm(FlaskForm):
    iin = StringField(
        filters=[lambda v: "".join(v.split()) if isinstance(v, str) else v],
        validators=[DataRequired(_l("Type your 12-digit IIN.")), Length(max=40)],
    )


class CodeForm(FlaskForm):
    # input type tel with inputmode numeric: phones and tablets show digits only
    code = StringField(
        filters=[lambda v: "".join(v.split()) if isinstance(v, str) else v],
        validators=[
            DataRequired(_l("Type the code from the SMS.")),
            Regexp(r"^[0-9]{4,8}$", message=_l("The code is six digits.")),
        ],
    )


class ConfirmForm(FlaskForm):
    """A button with nothing to type: only the CSRF token is checked."""

    action = HiddenField()


class ConsentForm(FlaskForm):
    consent = BooleanField(
        validators=[DataRequired(_l("Tick the box to agree to the processing of your personal data."))]
    )


class UploadForm(FlaskForm):
    """A photo from the kiosk's camera or a scanned file; its content is checked, not its name."""

    file = FileField(validators=[FileRequired(_l("Choose a photo or a PDF file."))])


class StatusForm(FlaskForm):
    reference = StringField(
        filters=[_strip],
        validators=[DataRequired(_l("Type the reference from your receipt.")), Length(max=40)],
    )
    iin = StringField(
        filters=[lambda v: "".join(v.split()) if isinstance(v, str) else v],
        validators=[DataRequired(_l("Type your 12-digit IIN.")), Length(max=40)],
    )


class StaffLoginForm(FlaskForm):
    username = StringField(filters=[_strip], validators=[DataRequired(_l("Type your user name.")), Length(max=64)])
    password = StringField(validators=[DataRequired(_l("Type your password.")), Length(max=256)])
