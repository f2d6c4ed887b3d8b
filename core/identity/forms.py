"""The forms of staff sign-in and of the staff member's own account."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from core.identity.security import MIN_PASSWORD_LENGTH

PASSWORD_MAX = 1024  # argon2 takes any length; this bounds the work one request can ask


def _email_field():
    return EmailField(
        _l("E-mail address"),
        validators=[DataRequired(message=_l("Please type your e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )


def _code_field(label, description, *, autocomplete="one-time-code"):
    return StringField(
        label,
        description=description,
        validators=[DataRequired(message=_l("Please type the code.")), Length(max=40)],
        render_kw={"autocomplete": autocomplete, "spellcheck": "false", "autocapitalize": "off"},
    )


def _new_password_fields():
    new = PasswordField(
        _l("New password"),
        description=_l("At least 12 characters. A few unrelated words make a good one."),
        validators=[
            DataRequired(message=_l("Please type a new password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=PASSWORD_MAX,
                message=_l("The password needs at least 12 characters."),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("New password, again"),
        validators=[
            DataRequired(message=_l("Please type the new password a second time.")),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return new, confirm


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(message=_l("Please type your password.")),
            Length(max=PASSWORD_MAX),
        ],
        render_kw={"autocomplete": "current-password"},
    )


class SecondFactorForm(FlaskForm):
    code = _code_field(
        _l("Code"),
        _l(
            "The 6-digit code your authenticator app shows now, or one of your recovery codes "
            "if you do not have your phone."
        ),
    )


class EnrolForm(FlaskForm):
    code = _code_field(
        _l("Code from the app"),
        _l("Once the app shows this account, type the 6-digit code it gives."),
    )


class ForgotPasswordForm(FlaskForm):
    email = _email_field()


class ResetPasswordForm(FlaskForm):
    password, confirm = _new_password_fields()


class ChangePasswordForm(FlaskForm):
    current = PasswordField(
        _l("Current password"),
        validators=[
            DataRequired(message=_l("Please type your current password.")),
            Length(max=PASSWORD_MAX),
        ],
        render_kw={"autocomplete": "current-password"},
    )
    password, confirm = _new_password_fields()


class NewRecoveryCodesForm(FlaskForm):
    code = _code_field(
        _l("Code from your authenticator app"),
        _l("New codes replace all the old ones, used or not."),
        autocomplete="one-time-code",
    )
