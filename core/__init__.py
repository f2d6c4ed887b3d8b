"""Cellule's Flask core: `create_app` builds the application."""

import inspect
import os
import weakref
from pathlib import Path

from flask import Flask, request

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Cellule(Flask):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # weakly: a request's own `after_this_request` functions leave with it
        self._is_sync: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def ensure_sync(self, func):
        """Flask's, with its answer remembered per function: Flask inspects every hook and
        view for a coroutine on every request (nine times for a page, before it does
        anything)."""
        try:
            is_sync = self._is_sync[func]
        except KeyError:
            is_sync = self._is_sync[func] = not inspect.iscoroutinefunction(func)
        except TypeError:  # a callable that cannot be weakly referenced
            return super().ensure_sync(func)
        return func if is_sync else super().ensure_sync(func)

    def log_exception(self, exc_info) -> None:
        """Log an unhandled error by route pattern: Flask's own line names the path, whose
        tokens and ids belong to somebody."""
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        self.logger.error("Exception on %s [%s]", route, request.method, exc_info=exc_info)


def create_app(test_config: dict | None = None, *, instance_path: str | None = None) -> Flask:
    """Build the app from environment variables (see `core.config`), then `test_config`.

    The instance folder (embedded database, generated secrets) is `instance_path`, else
    CELLULE_INSTANCE_PATH, else `instance/` beside the project.
    """
    from core import (
        api,
        audit,
        casefile,
        cases,
        crypto,
        db_setup,
        demo,
        identity,
        jobs,
        logs,
        mail,
        metrics,
        plugins,
        portal,
        tenancy,
        web,
    )
    from core.config import fill_instance_secrets, settings_from_env
    from core.crypto.fields import KeyCache
    from core.crypto.keys import MasterKeys
    from core.extensions import babel, csrf, login_manager

    app = Cellule(
        __name__,
        instance_path=instance_path
        or os.environ.get("CELLULE_INSTANCE_PATH")
        or str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
    )
    app.config.update(settings_from_env(app.instance_path))
    # Pages send no Referer (Referrer-Policy: no-referrer), so Flask-WTF's HTTPS referrer
    # check would refuse every form; the CSRF token and the SameSite=Strict cookie protect them.
    app.config["WTF_CSRF_SSL_STRICT"] = False
    if test_config:
        app.config.update(test_config)
    fill_instance_secrets(app.config, app.instance_path)
    logs.configure(app.config["CELLULE_LOG_FORMAT"])

    app.extensions["cellule.keys"] = KeyCache(MasterKeys.from_config(app.config))
    db_setup.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale)
    csrf.init_app(app)
    login_manager.init_app(app)
    modules = (plugins, tenancy, identity, audit, crypto, jobs, mail, web, metrics, portal, demo)
    for module in (*modules, cases, casefile, api):
        module.init_app(app)
    if app.config.get("CELLULE_TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["CELLULE_TRUSTED_PROXIES"]
        # outermost, so tenant resolution sees the host the visitor asked for
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app
