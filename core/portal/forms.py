"""The report form: the core's fields and the institution's own, built per tenant.

Validation happens here, on the server, with messages in the reader's language; the view
re-renders the form with what was typed when anything is wrong.
"""

import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

RELATION_LABELS = {
    "victim": _l("It happened to me"),
    "witness": _l("I saw it happen"),
    "knowledge": _l("I know about it (someone told me, or I learnt of it)"),
}
NARRATIVE_MAX = 20_000


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ReceiptForm(FlaskForm):
    receipt = StringField(
        _l("Your receipt code"),
        validators=[DataRequired(message=_l("Please type your receipt code."))],
        render_kw={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"},
    )


class MessageForm(FlaskForm):
    body = TextAreaField(
        _l("Your message"),
        validators=[
            DataRequired(message=_l("Please write a message.")),
            Length(max=NARRATIVE_MAX),
        ],
    )


class EvidenceForm(FlaskForm):
    files = MultipleFileField(_l("Files"))


class NoticeForm(FlaskForm):
    notify_email = EmailField(
        _l("E-mail address for notices"),
        validators=[Optional(), Email(message=_l("This does not look like an e-mail address."))],
    )


class ActionForm(FlaskForm):
    """A button that takes one step or records one consent (CSRF-protected)."""


def report_form_class(profile: dict, fields: list[dict]):
    """A form class for this institution: core fields, then its own fields."""

    class ReportForm(FlaskForm):
        # a one-time token: the same form sent twice gives one report
        once = HiddenField(default=lambda: secrets.token_urlsafe(16))

    relations = [SelectChoice(r, RELATION_LABELS[r]) for r in profile["relations"]]
    ReportForm.relation = RadioField(
        _l("Who are you in what happened?"),
        choices=relations,
        validators=[InputRequired(message=_l("Please say how you know about what happened."))],
    )
    if profile["anonymous_reports"]:
        ReportForm.anonymous = RadioField(
            _l("Do you want to give your name?"),
            choices=[
                SelectChoice("yes", _l("No, I report anonymously")),
                SelectChoice("no", _l("Yes, I give my name")),
            ],
            default="yes",
            validators=[InputRequired()],
        )
    ReportForm.full_name = StringField(_l("Your name"), validators=[Length(max=200)])
    ReportForm.contact_email = EmailField(
        _l("An e-mail address where the unit can reach you (optional)"),
        validators=[Optional(), Email(message=_l("This does not look like an e-mail address."))],
    )
    ReportForm.notify = BooleanField(
        _l("Send me an e-mail when I have a new message (the e-mail never contains the message)")
    )
    ReportForm.categories = CheckboxesField(
        _l("What happened? (you may tick several)"),
        choices=[SelectChoice(c["key"], c["label"]) for c in profile["categories"]],
    )
    ReportForm.when = StringField(_l("When did it happen?"), validators=[Length(max=200)])
    ReportForm.where = StringField(_l("Where did it happen?"), validators=[Length(max=200)])
    if not any(f["type"] == "person" and f["role"] == "implicated" for f in fields):
        ReportForm.people_implicated = StringField(
            _l("Who did it? (if you know)"), validators=[Length(max=500)]
        )
    if not any(f["type"] == "person" and f["role"] == "witness" for f in fields):
        ReportForm.witnesses = StringField(
            _l("Did anyone else see it? (if you know)"), validators=[Length(max=500)]
        )
    ReportForm.narrative = TextAreaField(
        _l("Tell us what happened, in your own words"),
        validators=[
            DataRequired(message=_l("Please tell us what happened.")),
            Length(max=NARRATIVE_MAX),
        ],
    )
    sites = [SelectChoice("", "—")] + [SelectChoice(s["key"], s["name"]) for s in profile["sites"]]
    for field in fields:
        setattr(ReportForm, f"x_{field['key']}", _plugin_field(field, sites))
    ReportForm.files = MultipleFileField(_l("Evidence (optional): photos, screenshots, documents"))
    return ReportForm


def _plugin_field(field: dict, sites):
    label, required = field["label"], field["required"]
    kwargs = {"description": field["help"]}
    needed = [InputRequired(message=_l("Please answer this question."))] if required else []
    optional = needed or [Optional()]
    kind = field["type"]
    if kind == "textarea":
        return TextAreaField(label, validators=[*optional, Length(max=5000)], **kwargs)
    if kind in {"text", "person"}:
        return StringField(label, validators=[*optional, Length(max=500)], **kwargs)
    if kind == "number":
        return IntegerField(label, validators=[*optional, NumberRange(min=0)], **kwargs)
    if kind == "date":
        return DateField(label, validators=optional, **kwargs)
    if kind in {"boolean", "consent"}:
        return BooleanField(label, validators=needed, **kwargs)
    if kind == "choice":
        choices = [SelectChoice(c["value"], c["label"]) for c in field["choices"]]
        return RadioField(label, choices=choices, validators=optional, **kwargs)
    if kind == "multichoice":
        choices = [SelectChoice(c["value"], c["label"]) for c in field["choices"]]
        return CheckboxesField(label, choices=choices, validators=needed, **kwargs)
    if kind == "site":
        return SelectField(label, choices=sites, validators=needed, **kwargs)
    raise ValueError(f"unknown field type {kind!r}")


def plugin_answers(form, fields: list[dict]) -> dict:
    """The answers to the institution's own fields, as plain JSON values (unset ones left out)."""
    answers = {}
    for field in fields:
        value = getattr(form, f"x_{field['key']}").data
        if value in (None, "", [], False) and field["type"] != "consent":
            continue
        if field["type"] == "date":
            value = value.isoformat()
        answers[field["key"]] = value
    return answers
