"""Statement forms, hearings, documents and the PDF exports of a case."""

from flask import Blueprint

bp = Blueprint("casefile", __name__, url_prefix="/staff/cases", template_folder="templates")
