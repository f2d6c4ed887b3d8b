"""Finding the tenant a request is for: a `/t/<slug>/` prefix, a sub-domain or a custom domain."""

import re

from flask import abort, current_app, g, request
from sqlalchemy import and_, or_, select

from core.extensions import db
from core.plugins.host import TenantInfo
from core.tenancy.cache import Listing, keep_public_page, serve_public_page, tenant_cache
from core.tenancy.models import Tenant, TenantDomain
from core.tenancy.scoping import Scope, enter_scope, leave_scope
from core.web import choose_locale

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


def _tenants_named(host: str, slug: str | None):
    """`name_rules`' two lookups for this request, answered in one round trip: the tenants
    whose custom domain is `host`, or whose slug is `slug` or the host's first label."""
    names = {name for name in (slug, host.split(".", 1)[0]) if name}
    rows = db.session.execute(
        select(Tenant, TenantDomain.host)
        .outerjoin(
            TenantDomain, and_(TenantDomain.tenant_id == Tenant.id, TenantDomain.host == host)
        )
        .where(or_(TenantDomain.host == host, Tenant.slug.in_(names)))
        .execution_options(populate_existing=True)
    ).all()
    by_slug = {tenant.slug: tenant for tenant, _ in rows}
    by_host = {domain: tenant for tenant, domain in rows if domain is not None}
    return by_slug.get, by_host.get


def remembered_listing() -> tuple[Listing | None, str]:
    """The tenant this request names as the process's directory knows it (None when it
    does not, or is off), and the request's host."""
    host = _host_name()
    directory = tenant_cache().directory()
    if directory is None:
        return None, host
    slug = request.environ.get(SLUG_ENVIRON_KEY)
    listing, _ = name_rules(host, slug, directory.by_slug.get, directory.by_host.get)
    return listing, host


# Health checks and metrics answer for the process, whatever the host, and before any
# database query.
HEALTH_ENDPOINTS = frozenset({"web.livez", "web.readyz", "metrics.scrape"})


def _serve_from_memory():
    if request.endpoint in HEALTH_ENDPOINTS:
        return None
    return serve_public_page(remembered_listing, choose_locale)


def _resolve():
    """Find the request's tenant in the database by the name it was asked by, every time
    (a domain may have moved, a tenant been suspended): only public pages are served from
    what the process remembers. The directory's guess lets the transaction begin in the
    right scope, saving a round trip; a wrong guess costs one."""
    g.tenant = g.tenant_info = None
    if request.endpoint in HEALTH_ENDPOINTS:
        return
    guess, host = remembered_listing()
    if guess is not None:  # on `g` at once: `_release` leaves it whatever happens next
        g.tenant_scope_token = enter_scope(Scope(guess.info.id))
    slug = request.environ.get(SLUG_ENVIRON_KEY)
    tenant, named = name_rules(host, slug, *_tenants_named(host, slug))
    found = tenant is not None and tenant.is_active
    if guess is not None and (not found or tenant.id != guess.info.id):
        leave_scope(g.pop("tenant_scope_token"))  # and out of the open transaction
    if not found:
        if named:
            abort(404)
        return  # the platform's own pages
    g.tenant, g.tenant_info = tenant, TenantInfo.of(tenant)
    if "tenant_scope_token" not in g:
        g.tenant_scope_token = enter_scope(Scope(tenant.id))


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
