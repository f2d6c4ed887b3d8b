"""The forms of the API tokens page. They check the shape of what was typed; the operations
decide whether the token may be made."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from core.api.operations import NAME_LENGTH


class TokenForm(FlaskForm):
    """A staff member makes a token acting as herself: one of her roles, a name, and a fresh
    code of her authenticator app."""

    role = SelectField(
        _l("Role"),
        description=_l(
            "The token acts as you, with this role only, and sees only the cases you may see."
        ),
        validators=[DataRequired(message=_l("Please choose one of your roles."))],
    )
    name = StringField(
        _l("Name of the token"),
        description=_l("What it is for, so that you recognise it later."),
        validators=[
            DataRequired(message=_l("Please give the token a name, such as what it is for.")),
            Length(max=NAME_LENGTH, message=_l("A token's name has at most 100 characters.")),
        ],
        render_kw={"autocomplete": "off"},
    )
    code = StringField(
        _l("Code from your authenticator app"),
        description=_l("The 6-digit code the app shows now: it confirms that you are making it."),
        validators=[DataRequired(message=_l("Please type the code.")), Length(max=40)],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "spellcheck": "false",
            "autocapitalize": "off",
        },
    )


class RevokeForm(FlaskForm):
    """A revocation: only the CSRF token, the token to revoke is in the URL."""
