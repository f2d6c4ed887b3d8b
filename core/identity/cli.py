"""`cellule user …` (also `cellule users …`): staff accounts, their roles, their second factor."""

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
@click.option(
    "--operator",
    is_flag=True,
    help="A platform operator: signs in at the platform's root and runs the tenants.",
)
@click.password_option(help="At least 12 characters; asked for when not given.")
def create(email, display_name, slug, roles, operator, password):
    """Create staff account EMAIL, optionally with ROLES in a tenant.

    The account sets up its second factor (an authenticator app) at its first sign-in.
    """
    from core.cli import platform_transaction
    from core.tenancy.operations import get_tenant
    from core.tenancy.scoping import tenant_scope

    if roles and not slug:
        raise click.UsageError("--role needs --tenant")
    with platform_transaction():
        user = operations.create_user(email, display_name, password)
        user.is_platform_operator = operator
        if slug:
            tenant = get_tenant(slug)
            with tenant_scope(tenant):
                for role in roles:
                    operations.grant_role(tenant.id, user, Role(role), actor="platform")
    click.echo(
        f"created {user.email}"
        + (" (platform operator)" if operator else "")
        + (f" with {', '.join(roles)} in {slug}" if roles else "")
    )


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


@user_cli.command("reset-2fa")
@click.argument("email")
def reset_2fa(email):
    """Remove the second factor (TOTP and recovery codes) of account EMAIL, for someone who
    lost both their phone and their codes: they set up a new one at their next sign-in.

    Check who is asking first: with the password alone, anyone can then enrol.
    """
    from core.cli import platform_transaction
    from core.identity.security import reset_second_factor

    with platform_transaction():
        user = operations.find_user(email)
        if user is None:
            raise operations.IdentityError(f"no user with e-mail {email}")
        tenants = reset_second_factor(user, actor="platform")
    click.echo(
        f"removed the second factor of {user.email} (recorded in {len(tenants)} tenants' "
        "audit trails); they set up a new one at their next sign-in"
    )


@user_cli.command("set-password")
@click.argument("email")
@click.password_option(help="At least 12 characters; asked for when not given.")
def set_password(email, password):
    """Give account EMAIL a new password, for someone who cannot use the e-mail link (a
    platform operator has none). It lifts a lock-out; the second factor is still asked for.
    """
    from core.cli import platform_transaction
    from core.identity.security import set_password_by_operator

    with platform_transaction():
        user = operations.find_user(email)
        if user is None:
            raise operations.IdentityError(f"no user with e-mail {email}")
        set_password_by_operator(user, password)
    click.echo(f"set a new password for {user.email}")


def init_app(app) -> None:
    app.cli.add_command(user_cli)
    # the plural reads naturally too (`cellule users reset-2fa …`); one set of commands
    app.cli.add_command(
        AppGroup("users", commands=user_cli.commands, hidden=True, help=user_cli.help)
    )
