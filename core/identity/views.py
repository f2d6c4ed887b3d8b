"""Staff sign-in: password, second factor (TOTP or a recovery code), password reset."""

from flask import Blueprint

bp = Blueprint("staff_auth", __name__, url_prefix="/staff", template_folder="templates")
