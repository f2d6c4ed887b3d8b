"""The tenant's landing page and the platform's home page."""

from flask import Blueprint, Response, abort, current_app, g, render_template
from flask_babel import get_locale
from sqlalchemy import select

from core.extensions import db
from core.plugins.host import plugin_host
from core.tenancy.cache import public_page
from core.tenancy.models import Tenant

bp = Blueprint("tenancy", __name__, template_folder="templates")

DEFAULT_BRANDING = {"primary_colour": "#2f4858", "accent_colour": "#b5523b", "mark_svg": None}


def current_profile() -> dict | None:
    """The institution profile of the request's tenant, from its plugin (cached)."""
    return plugin_host().call(g.tenant_info, "institution_profile")


def current_branding() -> dict:
    profile = current_profile()
    branding = dict(profile["branding"]) if profile else dict(DEFAULT_BRANDING)
    branding.update({k: v for k, v in (g.tenant.branding or {}).items() if v})
    return branding


@bp.route("/")
@public_page
def home():
    if g.tenant is None:
        tenants = []
        if current_app.config["CELLULE_TENANT_DIRECTORY"]:
            tenants = db.session.scalars(
                select(Tenant).where(Tenant.suspended_at.is_(None)).order_by(Tenant.name)
            ).all()
        return render_template("tenancy/platform_home.html", tenants=tenants)
    profile = plugin_host().call(g.tenant_info, "institution_profile", locale=str(get_locale()))
    return render_template("tenancy/landing.html", profile=profile)


@bp.route("/branding.css")
def branding_css():
    if g.tenant is None:
        abort(404)
    branding = current_branding()
    css = (
        ":root{"
        f"--brand-primary:{branding['primary_colour']};"
        f"--brand-accent:{branding['accent_colour']};"
        "}\n"
    )
    return Response(css, mimetype="text/css", headers={"Cache-Control": "public, max-age=300"})


@bp.route("/mark.svg")
def mark_svg():
    if g.tenant is None:
        abort(404)
    svg = current_branding().get("mark_svg")
    if not svg:
        abort(404)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=300"})


def init_app(app) -> None:
    app.register_blueprint(bp)
