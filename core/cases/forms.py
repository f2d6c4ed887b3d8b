"""The back office's forms for the inbox and the case page.

Choices that depend on the case (who may take part, which measures) are filled by the view
before it validates, so a value that was not offered is refused here.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SelectMultipleField, TextAreaField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from core.cases.operations import NOTE_MAX
from core.cases.timeline import NOTE_KIND_LABELS

MESSAGE_MAX = 20_000


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class InboxFilterForm(FlaskForm):
    """The inbox's filters, sent in the query string (a GET: no CSRF token)."""

    class Meta:
        csrf = False

    state = SelectField(_l("Stage"), choices=[], validate_choice=False)
    deadline = SelectField(
        _l("Deadline"),
        choices=[
            SelectChoice("", _l("Any")),
            SelectChoice("overdue", _l("Overdue")),
            SelectChoice("week", _l("Due within five working days")),
        ],
        validate_choice=False,
    )
    site = SelectField(_l("Place"), choices=[], validate_choice=False)
    category = SelectField(_l("Kind of situation"), choices=[], validate_choice=False)
    committee = SelectField(_l("Committee"), choices=[], validate_choice=False)


class ActionForm(FlaskForm):
    """A button that does one thing on the case (CSRF-protected)."""


class StepForm(FlaskForm):
    """Take one step of the procedure; each step's form has its own prefix (its key)."""

    participants = CheckboxesField(_l("Who takes part with you"), choices=[])
    members = CheckboxesField(_l("Who sits on the committee for this case"), choices=[])
    measures = CheckboxesField(_l("Measures decided"), choices=[])


class ConsentForm(FlaskForm):
    given = RadioField(
        _l("The person's answer"),
        choices=[
            SelectChoice("yes", _l("Given")),
            SelectChoice("no", _l("Withdrawn or refused")),
        ],
        validators=[DataRequired(message=_l("Please choose an answer."))],
    )


class SiteForm(FlaskForm):
    site = SelectField(_l("Where this person belongs"), choices=[])


class MessageForm(FlaskForm):
    body = TextAreaField(
        _l("Your message to the person reporting"),
        validators=[DataRequired(message=_l("Please write a message.")), Length(max=MESSAGE_MAX)],
    )


class NoteForm(FlaskForm):
    kind = SelectField(
        _l("Kind of note"), choices=[SelectChoice(k, v) for k, v in NOTE_KIND_LABELS.items()]
    )
    body = TextAreaField(
        _l("Note"),
        validators=[DataRequired(message=_l("Please write the note.")), Length(max=NOTE_MAX)],
    )
