"""Creating tenants, giving them domains, enabling and disabling their plugins."""

import re
from dataclasses import replace

from sqlalchemy import select

from core.audit.operations import record_event, start_chain
from core.committees.operations import sync_committees
from core.crypto.operations import create_data_key
from core.extensions import db
from core.plugins.host import DATA_HOOKS, PluginError, PluginHost, TenantInfo
from core.procedure.definition import Institution
from core.tenancy.models import Tenant, TenantDomain
from core.tenancy.scoping import tenant_scope

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SUPPORTED_LOCALES = ("fr", "en")


class TenancyError(ValueError):
    """A request about tenants that cannot be carried out as asked."""


def find_tenant(slug: str) -> Tenant | None:
    return db.session.scalar(select(Tenant).where(Tenant.slug == slug))


def get_tenant(slug: str) -> Tenant:
    tenant = find_tenant(slug)
    if tenant is None:
        raise TenancyError(f"no tenant with slug {slug!r}")
    return tenant


def create_tenant(
    slug: str,
    name: str,
    *,
    actor,
    default_locale: str = "fr",
    locales: tuple[str, ...] = SUPPORTED_LOCALES,
) -> Tenant:
    """Create a tenant with its data key and an empty audit chain."""
    if not SLUG.match(slug):
        raise TenancyError(
            f"slug {slug!r} must be lower-case letters, digits and hyphens (at most 63)"
        )
    unknown = set(locales) - set(SUPPORTED_LOCALES)
    if unknown or default_locale not in locales:
        raise TenancyError(f"locales must be among {SUPPORTED_LOCALES} and include the default")
    if find_tenant(slug) is not None:
        raise TenancyError(f"a tenant with slug {slug!r} already exists")
    tenant = Tenant(slug=slug, name=name, default_locale=default_locale, locales=list(locales))
    db.session.add(tenant)
    db.session.flush()
    with tenant_scope(tenant):
        create_data_key(tenant.id)
        start_chain(tenant.id)
        record_event(tenant.id, actor=actor, action="tenant.created", target=("tenant", slug))
    return tenant


def add_domain(tenant: Tenant, host: str, *, actor) -> TenantDomain:
    host = host.strip().lower().rstrip(".")
    if not HOST.match(host):
        raise TenancyError(f"{host!r} is not a valid host name")
    if db.session.scalar(select(TenantDomain).where(TenantDomain.host == host)) is not None:
        raise TenancyError(f"host {host} already serves a tenant")
    domain = TenantDomain(tenant=tenant, host=host)
    db.session.add(domain)
    db.session.flush()
    with tenant_scope(tenant):
        record_event(tenant.id, actor=actor, action="tenant.domain_added", target=("host", host))
    return domain


def enable_plugin(tenant: Tenant, name: str, *, host: PluginHost, actor) -> None:
    """Turn a plugin on for one tenant, after checking it loads and answers well."""
    host.check_usable(name)
    if name in tenant.enabled_plugins:
        return
    enabled = [*tenant.enabled_plugins, name]
    info = replace(TenantInfo.of(tenant), enabled_plugins=tuple(enabled), revision=0)
    for hook in DATA_HOOKS:
        host.call(info, hook)
    _check_fits_together(host, info, name)
    tenant.enabled_plugins = enabled
    db.session.flush()
    with tenant_scope(tenant):
        sync_committees(tenant.id, host.call(info, "committees"), actor=actor)
        record_event(tenant.id, actor=actor, action="plugin.enabled", target=("plugin", name))


def _check_fits_together(host: PluginHost, info: TenantInfo, name: str) -> None:
    """Refuse plugin data whose parts name each other wrongly (once there is a procedure)."""
    if host.call(info, "procedure") is None or host.call(info, "institution_profile") is None:
        return
    problems = Institution.of(host, info).problems()
    if problems:
        raise PluginError(name, None, "its data does not fit together: " + "; ".join(problems))


def disable_plugin(tenant: Tenant, name: str, *, actor) -> None:
    if name not in tenant.enabled_plugins:
        raise TenancyError(f"plugin {name!r} is not enabled for {tenant.slug}")
    tenant.enabled_plugins = [p for p in tenant.enabled_plugins if p != name]
    db.session.flush()
    with tenant_scope(tenant):
        record_event(tenant.id, actor=actor, action="plugin.disabled", target=("plugin", name))
