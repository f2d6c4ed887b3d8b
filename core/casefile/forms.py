"""The case file's forms: the statement form (built from the institution's fields), hearings,
documents, and the reporter's answer to a statement form. Validation here is for the page;
the operations check again."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from core.casefile.operations import PERSON_KINDS, TEXT_MAX, TEXTAREA_MAX
from core.portal.forms import CheckboxesField


def statement_form_class(definition: dict):
    """A form with one field per field of the institution's statement form (its texts in
    the reader's language). Nothing is required for a draft: the operation checks the
    required fields when the draft is given to the reporter."""

    class StatementForm(FlaskForm):
        action = StringField()  # which button: "save" or "submit"

    for section in definition["sections"]:
        for field in section["fields"]:
            setattr(StatementForm, f"x_{field['key']}", _statement_field(field))
    return StatementForm


def _statement_field(field: dict):
    label, kwargs = field["label"], {"description": field["help"]}
    kind = field["type"]
    if kind == "text":
        return StringField(label, validators=[Optional(), Length(max=TEXT_MAX)], **kwargs)
    if kind == "textarea":
        return TextAreaField(label, validators=[Optional(), Length(max=TEXTAREA_MAX)], **kwargs)
    if kind == "date":
        return DateField(label, validators=[Optional()], **kwargs)
    if kind == "choice":
        choices = [SelectChoice(c["value"], c["label"]) for c in field["choices"]]
        # an unanswered choice is fine in a draft; the operation refuses an unknown one
        return RadioField(label, choices=choices, validate_choice=False, **kwargs)
    raise ValueError(f"unknown statement form field type {kind!r}")


def statement_answers(form, definition: dict) -> dict:
    return {
        field["key"]: getattr(form, f"x_{field['key']}").data
        for section in definition["sections"]
        for field in section["fields"]
    }


class HearingForm(FlaskForm):
    person_kind = RadioField(
        _l("Who is heard?"),
        choices=[SelectChoice(key, _l(label)) for key, label in PERSON_KINDS.items()],
        validators=[InputRequired(message=_l("Say who is heard."))],
    )
    person_name = StringField(
        _l("Name of the person heard"),
        validators=[
            DataRequired(message=_l("Give the name of the person heard.")),
            Length(max=TEXT_MAX),
        ],
    )
    scheduled_at = DateTimeLocalField(
        _l("Date and time"),
        validators=[Optional()],
        description=_l("In the institution's time zone."),
    )
    place = StringField(
        _l("Place"),
        validators=[Optional(), Length(max=TEXT_MAX)],
        description=_l("A place where the hearing stays confidential."),
    )


def _day(label):
    return DateField(label, validators=[DataRequired(message=_l("Give the date."))])


class SummonsForm(FlaskForm):
    day = _day(_l("Sent on"))


class AcknowledgementForm(FlaskForm):
    day = _day(_l("Acknowledged on"))


class SignOffForm(FlaskForm):
    day = _day(_l("Signed on"))


class HearingRecordForm(FlaskForm):
    held_at = DateTimeLocalField(
        _l("Held on"), validators=[DataRequired(message=_l("Give the date and time."))]
    )
    staff = CheckboxesField(_l("Staff present"), choices=[], validate_choice=False)
    others = TextAreaField(
        _l("Other people present"),
        validators=[Optional(), Length(max=TEXT_MAX)],
        description=_l("One name per line."),
    )
    assistance = StringField(
        _l("Who assisted the person heard, if anyone"),
        validators=[Optional(), Length(max=TEXT_MAX)],
    )
    transcript = TextAreaField(
        _l("Literal transcript"),
        validators=[
            DataRequired(message=_l("Write the transcript of the hearing.")),
            Length(max=TEXTAREA_MAX),
        ],
        description=_l("What was said, word for word. Recordings are not kept."),
    )


class DocumentForm(FlaskForm):
    file = FileField(_l("Document"), validators=[FileRequired(message=_l("Choose a file."))])
    provided_by = StringField(
        _l("Given by"),
        validators=[DataRequired(message=_l("Say who gave the document.")), Length(max=TEXT_MAX)],
    )
    hearing = SelectField(_l("Given at a hearing (optional)"), choices=[], validate_choice=False)
    agreed = BooleanField(
        _l("The person agreed in writing that this document joins the case file"),
        validators=[
            DataRequired(
                message=_l(
                    "A document joins the case file only with the written agreement of the "
                    "person who gave it."
                )
            )
        ],
    )
    agreement_note = TextAreaField(
        _l("About the agreement (optional)"),
        validators=[Optional(), Length(max=TEXT_MAX)],
        description=_l("For example: the e-mail in which the person agreed, and its date."),
    )


class ReturnStatementForm(FlaskForm):
    """The reporter sends their statement form back to the unit, saying what is wrong."""

    comment = TextAreaField(
        _l("What should the unit correct?"),
        validators=[
            DataRequired(message=_l("Please say what should be corrected.")),
            Length(max=TEXTAREA_MAX),
        ],
    )
