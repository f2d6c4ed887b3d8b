"""The forms of the tenant admins' pages and the platform operator's.

They check the shape of what was typed; the operations decide whether it may be done.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from core.identity.models import Role
from core.tenancy.operations import SUPPORTED_LOCALES

LANGUAGE_NAMES = {"fr": "Français", "en": "English"}
ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.LISTENER: _l("Listening unit"),
    Role.COMMITTEE_MEMBER: _l("Committee member"),
    Role.DECISION_MAKER: _l("Decision maker"),
    Role.AUDITOR: _l("Auditor"),
}
ROLE_HELP = {
    Role.ADMIN: _l("Runs this administration: branding, staff, committees. Sees no case."),
    Role.LISTENER: _l("Receives new reports and talks with the people who report."),
    Role.COMMITTEE_MEMBER: _l("Works on the cases that reach the committees she sits on."),
    Role.DECISION_MAKER: _l("Reads the file and decides measures and sanctions."),
    Role.AUDITOR: _l("Reads the audit trail and checks it. Sees no case."),
}


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class BrandingForm(FlaskForm):
    primary_colour = StringField(
        _l("Main colour"),
        description=_l(
            "Headings, links, buttons and the top bar. Written #rrggbb; leave empty to use "
            "the institution's own. It must be dark enough for white text (contrast at least "
            "4.5:1)."
        ),
        validators=[Optional(), Length(max=7)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    accent_colour = StringField(
        _l("Accent colour"),
        description=_l(
            "Focus outlines and highlights. Written #rrggbb; leave empty to use the "
            "institution's own. Contrast with white at least 4.5:1."
        ),
        validators=[Optional(), Length(max=7)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    mark = FileField(
        _l("Mark (logo), as an SVG file"),
        description=_l(
            "A plain drawing of at most 20 kB: no script, no style, no link to other files."
        ),
        render_kw={"accept": ".svg,image/svg+xml"},
    )
    remove_mark = BooleanField(_l("Use the institution's own mark again"))


class DomainForm(FlaskForm):
    host = StringField(
        _l("Domain name"),
        description=_l("For example report.my-school.fr. Point it at the platform first."),
        validators=[DataRequired(message=_l("Type a domain name.")), Length(max=253)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


class LanguagesForm(FlaskForm):
    locales = CheckboxesField(
        _l("Languages offered"),
        choices=[SelectChoice(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LOCALES],
        validators=[InputRequired(message=_l("Choose at least one language."))],
    )
    default_locale = RadioField(
        _l("Default language"),
        description=_l("Shown when the visitor's browser asks for none of the languages offered."),
        choices=[SelectChoice(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LOCALES],
        validators=[InputRequired(message=_l("Choose the default language."))],
    )


def _role_choices():
    return [SelectChoice(role.value, ROLE_LABELS[role]) for role in Role]


class StaffForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[
            DataRequired(message=_l("Type the person's e-mail address.")),
            Email(message=_l("This does not look like an e-mail address.")),
            Length(max=254),
        ],
        render_kw={"autocomplete": "off"},
    )
    display_name = StringField(
        _l("Name"),
        description=_l("Needed for a new account; an existing account keeps its name."),
        validators=[Length(max=200)],
        render_kw={"autocomplete": "off"},
    )
    roles = CheckboxesField(
        _l("Roles"),
        choices=_role_choices,
        validators=[InputRequired(message=_l("Choose at least one role."))],
    )


class HandoverForm(FlaskForm):
    successor = SelectField(
        _l("Hand over to"),
        validators=[InputRequired(message=_l("Choose who takes over."))],
    )
    committee = SelectField(_l("What to hand over"), default="")


class RemoveStaffForm(FlaskForm):
    confirm = BooleanField(
        _l("I understand: she will lose every role and committee seat in this institution."),
        validators=[DataRequired(message=_l("Tick the box to confirm."))],
    )


class SeatForm(FlaskForm):
    user = SelectField(
        _l("Person"), validators=[InputRequired(message=_l("Choose the person to seat."))]
    )
    role = SelectField(_l("Role on the committee"), default="")
    site = SelectField(_l("Place served"), default="")


class TenantForm(FlaskForm):
    slug = StringField(
        _l("Short name in addresses"),
        description=_l("Lower-case letters, digits and hyphens, e.g. my-school: /t/my-school/."),
        validators=[DataRequired(message=_l("Type a short name.")), Length(max=63)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    name = StringField(
        _l("Institution's name"),
        validators=[DataRequired(message=_l("Type the institution's name.")), Length(max=200)],
    )
    default_locale = RadioField(
        _l("Default language"),
        choices=[SelectChoice(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LOCALES],
        default="fr",
        validators=[InputRequired()],
    )
    plugins = CheckboxesField(_l("Institution plugins to enable"))
    admin_email = EmailField(
        _l("First administrator's e-mail address"),
        description=_l("She receives a link to choose her password."),
        validators=[
            DataRequired(message=_l("Type the first administrator's e-mail address.")),
            Email(message=_l("This does not look like an e-mail address.")),
            Length(max=254),
        ],
        render_kw={"autocomplete": "off"},
    )
    admin_name = StringField(
        _l("First administrator's name"),
        validators=[Length(max=200)],
        render_kw={"autocomplete": "off"},
    )
