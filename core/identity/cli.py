"""`cellule user …`: staff accounts and their roles."""

import click
from flask.cli import AppGroup

from core.identity import operations
from core.identity.models import Role

user_cli = AppGroup("user", help="Manage staff accounts.")


@user_cli.command("create")
@click.argument("email")
@click.option("--name", "display_name", required=True, help="The person's name.")
@click.option("--tenant", "slug", help="Tenant in which to grant the roles.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice([r.value for r in Role]),
    help="A role in the tenant (repeat for several).",
)
@click.password_option(help="At least 12 characters; asked for when not given.")
def create(email, display_name, slug, roles, password):
    """Create staff account EMAIL, optionally with ROLES in a tenant."""
    from core.cli import platform_transaction
    from core.tenancy.operations import get_tenant
    from core.tenancy.scoping import tenant_scope

    if roles and not slug:
        raise click.UsageError("--role needs --tenant")
    with platform_transaction():
        user = operations.create_user(email, display_name, password)
        if slug:
            tenant = get_tenant(slug)
            with tenant_scope(tenant):
                for role in roles:
                    operations.grant_role(tenant.id, user, Role(role), actor="platform")
    click.echo(f"created {user.email}" + (f" with {', '.join(roles)} in {slug}" if roles else ""))


@user_cli.command("grant")
@click.argument("email")
@click.option("--tenant", "slug", required=True)
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role])
)
def grant(email, slug, roles):
    """Grant ROLES in a tenant to an existing account."""
    from core.cli import platform_transaction
    from core.tenancy.operations import get_tenant
    from core.tenancy.scoping import tenant_scope

    with platform_transaction():
        user = operations.find_user(email)
        if user is None:
            raise operations.IdentityError(f"no user with e-mail {email}")
        tenant = get_tenant(slug)
        with tenant_scope(tenant):
            for role in roles:
                operations.grant_role(tenant.id, user, Role(role), actor="platform")
    click.echo(f"granted {', '.join(roles)} in {slug} to {email}")


def init_app(app) -> None:
    app.cli.add_command(user_cli)
