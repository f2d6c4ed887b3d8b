"""The back office's inbox and case page. Views parse and render; the engine decides."""

from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/staff", template_folder="templates")
