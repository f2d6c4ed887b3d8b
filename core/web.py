"""What every page shares: locale choice, security headers, error pages, health checks."""

import functools
import logging

from flask import Blueprint, current_app, g, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_locale, get_translations, refresh
from jinja2.ext import (
    _make_new_gettext,
    _make_new_ngettext,
    _make_new_npgettext,
    _make_new_pgettext,
)
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from core.logs import scrub_lines_of
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
_SECURITY_HEADERS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())


def locales_here() -> tuple[str, ...]:
    tenant = g.get("tenant")
    return tuple(tenant.locales) if tenant is not None else SUPPORTED_LOCALES


def select_locale() -> str:
    tenant = g.get("tenant")
    default = (
        tenant.default_locale if tenant is not None else current_app.config["BABEL_DEFAULT_LOCALE"]
    )
    return choose_locale(locales_here(), default)


def choose_locale(allowed: tuple[str, ...], default: str) -> str:
    """The page's language: asked for in the URL, else the browser's choice, else `default`."""
    asked = request.args.get("lang") if request.query_string else None
    if asked in allowed:
        return asked
    return _browser_choice(request.headers.get("Accept-Language", ""), allowed) or default


@functools.lru_cache(maxsize=1024)
def _browser_choice(accept_language: str, allowed: tuple[str, ...]) -> str | None:
    # browsers send a few dozen different headers: each is parsed once per process
    return parse_accept_header(accept_language, LanguageAccept).best_match(allowed)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its serializer made once per set of keys rather than
    on every request (it is stateless)."""

    _made: tuple | None = None

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = self._made
        if made is None or made[0] != keys:
            made = self._made = (keys, super().get_signing_serializer(app))
        return made[1]


@bp.before_app_request
def _fresh_request_state():
    # The locale and the CSRF token are cached on `g`, which outlives a request when an app
    # context was already pushed (tests, CLI): start every request afresh.
    refresh()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


@bp.app_context_processor
def _translations_of_the_page() -> dict:
    """The page's translations, found once when it is rendered (in the language then in
    force, `force_locale` included): Flask-Babel's template functions look them up again
    at every string, and a case page has hundreds. Wrapped as Jinja's i18n extension wraps
    its own (autoescape, `%(name)s` variables)."""
    translations = get_translations()
    return {
        "gettext": _make_new_gettext(translations.ugettext),
        "ngettext": _make_new_ngettext(translations.ungettext),
        "pgettext": _make_new_pgettext(translations.upgettext),
        "npgettext": _make_new_npgettext(translations.unpgettext),
    }


@bp.after_app_request
def _security_headers(response):
    headers = response.headers
    present = {name.lower() for name, _ in headers}  # a view may have set its own
    for lower, name, value in _SECURITY_HEADERS:
        if lower not in present:
            headers.add(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


@bp.app_errorhandler(404)
def _not_found(error):
    # The same page for an unknown tenant and an unknown path: it names no tenant.
    return render_template("errors/404.html"), 404


NO_STORE = {"Cache-Control": "no-store"}


@bp.route("/livez")
@bp.route("/healthz")
def livez():
    """Liveness: the process answers. It checks nothing else, so a database outage does not
    get every web process restarted."""
    return {"status": "ok"}, 200, NO_STORE


@bp.route("/readyz")
def readyz():
    """Readiness: the database answers and, when jobs go through Redis, Redis answers too.
    503 names the failing dependency, never how it is reached."""
    checks = {"database": _database_answers()}
    if current_app.config.get("REDIS_URL"):
        checks["redis"] = _redis_answers()
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {name: "ok" if fine else "failing" for name, fine in checks.items()},
    }
    return body, 200 if ready else 503, NO_STORE


def _database_answers() -> bool:
    from core.extensions import db

    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        current_app.logger.warning(
            "readiness: the database does not answer (%s)", type(exc).__name__
        )
        return False
    return True


def _redis_answers() -> bool:
    from redis.exceptions import RedisError

    from core.jobs import redis_queue

    try:
        # the process's own connection, the one its jobs are queued on
        return bool(redis_queue(current_app).connection.ping())
    except RedisError as exc:
        current_app.logger.warning("readiness: Redis does not answer (%s)", type(exc).__name__)
        return False


def init_app(app) -> None:
    # the development server's request lines start with the client's address
    scrub_lines_of(logging.getLogger("werkzeug"))
    app.session_interface = SessionInterface()
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        locales_here=locales_here,
        get_locale=get_locale,
        has_endpoint=lambda name: name in app.view_functions,
    )
