"""The audit viewer: the tenant's trail, its chain verified, for auditors."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/staff/audit", template_folder="templates")
