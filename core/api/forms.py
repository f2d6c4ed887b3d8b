"""The forms of the API tokens page. They check the shape of what was typed; the operations
decide whether the token may be made."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from core.api.operations import NAME_LENGTH


class TokenForm(FlaskForm):
    holder = SelectField(
        _l("Staff member and role"),
        description=_l(
            "The token acts as this person, with this role only, and sees only the cases "
            "she may see."
        ),
        validators=[DataRequired(message=_l("Please choose a staff member and a role."))],
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


class RevokeForm(FlaskForm):
    """A revocation: only the CSRF token, the token to revoke is in the URL."""
