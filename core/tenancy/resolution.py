"""Finding the tenant a request is for: a `/t/<slug>/` prefix, a sub-domain or a custom domain."""

import re

from flask import abort, current_app, g, request
from sqlalchemy import select

from core.extensions import db
from core.plugins.host import TenantInfo
from core.tenancy.cache import (
    Listing,
    keep_public_page,
    listing_of,
    serve_public_page,
    tenant_cache,
)
from core.tenancy.models import Tenant, TenantDomain
from core.tenancy.scoping import Scope, enter_scope, leave_scope

PREFIX = re.compile(r"^/t/([a-z0-9][a-z0-9-]{0,62})(/.*)?$")
SLUG_ENVIRON_KEY = "cellule.tenant_slug"
ROOT_ENVIRON_KEY = "cellule.platform_root"


class TenantPathPrefix:
    """WSGI middleware: `/t/<slug>/rest` becomes `/rest` under the script root `/t/<slug>`.

    The same routes then serve both single-host and per-host deployments, and `url_for`
    keeps the prefix in every link it builds.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ[ROOT_ENVIRON_KEY] = environ.get("SCRIPT_NAME", "")
        match = PREFIX.match(environ.get("PATH_INFO", ""))
        if match:
            slug, rest = match.group(1), match.group(2)
            environ[SLUG_ENVIRON_KEY] = slug
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/t/{slug}"
            environ["PATH_INFO"] = rest or "/"
        return self.wsgi_app(environ, start_response)


def static_url(filename: str) -> str:
    """The URL of a static file, shared by every tenant (outside any `/t/<slug>` prefix)."""
    root = request.environ.get(ROOT_ENVIRON_KEY, request.script_root)
    return f"{root}{current_app.static_url_path}/{filename}"


def _host_name() -> str:
    host = request.host.lower()
    if host.startswith("["):
        return host[: host.index("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def name_rules(host: str, slug: str | None, by_slug, by_host):
    """The tenant a request names, and whether it named one at all, given how to find a
    tenant by slug and by custom domain."""
    base = current_app.config["CELLULE_BASE_DOMAIN"]
    if base and host.endswith("." + base):
        label = host[: -len(base) - 1]
        if "." in label:
            return None, True
        host_tenant, host_named = by_slug(label), True
    else:
        host_tenant = by_host(host)
        host_named = host_tenant is not None
    if slug is None:
        return host_tenant, host_named
    if host_named:
        # A tenant's own host never serves another tenant's path: each keeps its origin.
        return None, True
    return by_slug(slug), True


def _tenant_by_slug(slug: str) -> Tenant | None:
    return db.session.scalar(select(Tenant).where(Tenant.slug == slug))


def _tenant_by_host(host: str) -> Tenant | None:
    return db.session.scalar(select(Tenant).join(TenantDomain).where(TenantDomain.host == host))


def find_listing() -> tuple[Listing | None, str]:
    """The tenant this request names as the directory knows it (a name it does not know is
    asked of the database), and the request's host. 404 when it names no tenant."""
    host = _host_name()
    slug = request.environ.get(SLUG_ENVIRON_KEY)
    listing, named = None, False
    directory = tenant_cache().directory()
    if directory is not None:
        listing, named = name_rules(host, slug, directory.by_slug.get, directory.by_host.get)
    if listing is None:
        tenant, named = name_rules(host, slug, _tenant_by_slug, _tenant_by_host)
        listing = listing_of(tenant) if tenant is not None else None
    if listing is None and named:
        abort(404)
    return listing, host


# Health checks and metrics answer for the process, whatever the host, and before any
# database query.
HEALTH_ENDPOINTS = frozenset({"web.livez", "web.readyz", "metrics.scrape"})


def _serve_from_memory():
    if request.endpoint in HEALTH_ENDPOINTS:
        return None
    from core.web import choose_locale

    return serve_public_page(find_listing, choose_locale)


def _resolve():
    g.tenant = g.tenant_info = None
    if request.endpoint in HEALTH_ENDPOINTS:
        return
    listing, _ = find_listing()
    if listing is None:
        return  # the platform's own pages
    # The scope first, so that the transaction reading the tenant begins in it. The row is
    # read afresh: suspension and settings apply at once, whatever the directory remembers.
    token = enter_scope(Scope(listing.info.id))
    tenant = db.session.get(Tenant, listing.info.id, populate_existing=True)
    if tenant is None or not tenant.is_active:
        leave_scope(token)
        abort(404)
    g.tenant, g.tenant_info = tenant, TenantInfo.of(tenant)
    g.tenant_scope_token = token


def _release(exc=None):
    token = g.pop("tenant_scope_token", None)
    if token is not None:
        # The request's session is about to be removed; its transaction needs no update.
        leave_scope(token, update_transaction=False)


def init_app(app) -> None:
    app.wsgi_app = TenantPathPrefix(app.wsgi_app)
    app.jinja_env.globals["static_url"] = static_url
    app.before_request(_serve_from_memory)
    app.before_request(_resolve)
    app.after_request(keep_public_page)
    app.teardown_request(_release)
