"""`cellule tenant …`: create tenants, give them domains, enable or disable plugins."""

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from core.extensions import db
from core.plugins.host import plugin_host
from core.tenancy import operations
from core.tenancy.models import Tenant

tenant_cli = AppGroup("tenant", help="Create and configure tenants.")
ACTOR = "platform"


@tenant_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The institution's name.")
@click.option(
    "--locale",
    "default_locale",
    default="fr",
    show_default=True,
    type=click.Choice(operations.SUPPORTED_LOCALES),
)
@click.option("--domain", "domains", multiple=True, help="A host name that serves this tenant.")
@click.option("--plugin", "plugins", multiple=True, help="A plugin to enable.")
def create(slug, name, default_locale, domains, plugins):
    """Create tenant SLUG."""
    from core.cli import platform_transaction

    with platform_transaction():
        tenant = operations.create_tenant(slug, name, actor=ACTOR, default_locale=default_locale)
        for host in domains:
            operations.add_domain(tenant, host, actor=ACTOR)
        for plugin in plugins:
            operations.enable_plugin(tenant, plugin, host=plugin_host(), actor=ACTOR)
    click.echo(f"created tenant {slug}")


@tenant_cli.command("add-domain")
@click.argument("slug")
@click.argument("host")
def add_domain(slug, host):
    """Serve tenant SLUG on HOST too."""
    from core.cli import platform_transaction

    with platform_transaction():
        operations.add_domain(operations.get_tenant(slug), host, actor=ACTOR)
    click.echo(f"{host} now serves {slug}")


@tenant_cli.command("enable-plugin")
@click.argument("slug")
@click.argument("plugin")
def enable_plugin(slug, plugin):
    """Enable PLUGIN for tenant SLUG."""
    from core.cli import platform_transaction

    with platform_transaction():
        operations.enable_plugin(
            operations.get_tenant(slug), plugin, host=plugin_host(), actor=ACTOR
        )
    click.echo(f"enabled {plugin} for {slug}")


@tenant_cli.command("disable-plugin")
@click.argument("slug")
@click.argument("plugin")
def disable_plugin(slug, plugin):
    """Disable PLUGIN for tenant SLUG."""
    from core.cli import platform_transaction

    with platform_transaction():
        operations.disable_plugin(
            operations.get_tenant(slug), plugin, actor=ACTOR, host=plugin_host()
        )
    click.echo(f"disabled {plugin} for {slug}")


@tenant_cli.command("list")
def list_tenants():
    """List tenants with their plugins and domains."""
    base = current_app.config["CELLULE_BASE_DOMAIN"]
    for tenant in db.session.scalars(select(Tenant).order_by(Tenant.slug)):
        hosts = [d.host for d in tenant.domains] + ([f"{tenant.slug}.{base}"] if base else [])
        state = "suspended" if tenant.suspended_at else "active"
        click.echo(
            f"{tenant.slug:<20} {state:<9} plugins={','.join(tenant.enabled_plugins) or '-'} "
            f"hosts={','.join(hosts) or '-'}  path=/t/{tenant.slug}/"
        )


def init_app(app) -> None:
    app.cli.add_command(tenant_cli)
