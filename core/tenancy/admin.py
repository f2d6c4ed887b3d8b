"""Administration: a tenant's admins run their tenant; the platform operator runs tenants."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/staff/admin", template_folder="templates")
operator_bp = Blueprint("operator", __name__, url_prefix="/operator", template_folder="templates")
