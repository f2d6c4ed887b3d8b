"""What every page shares: locale choice, security headers, error pages, health check."""

import logging

from flask import Blueprint, current_app, g, render_template, request
from flask_babel import get_locale

from core.tenancy.operations import SUPPORTED_LOCALES

bp = Blueprint("web", __name__)

# Strict by default: no third-party asset, no inline script, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def locales_here() -> tuple[str, ...]:
    tenant = g.get("tenant")
    return tuple(tenant.locales) if tenant is not None else SUPPORTED_LOCALES


def select_locale() -> str:
    """The page's language: asked for in the URL, else the browser's choice, else the tenant's."""
    allowed = locales_here()
    asked = request.args.get("lang")
    if asked in allowed:
        return asked
    best = request.accept_languages.best_match(allowed)
    if best:
        return best
    tenant = g.get("tenant")
    return (
        tenant.default_locale if tenant is not None else current_app.config["BABEL_DEFAULT_LOCALE"]
    )


@bp.after_app_request
def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.app_errorhandler(404)
def _not_found(error):
    # The same page for an unknown tenant and an unknown path: it names no tenant.
    return render_template("errors/404.html"), 404


@bp.route("/healthz")
def healthz():
    return {"status": "ok"}


def init_app(app) -> None:
    # The development server's access log starts every line with the client's IP address,
    # which is never logged for a reporter: keep only its warnings and errors.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(locales_here=locales_here, get_locale=get_locale)
