"""`cellule api …`: make, list and revoke a tenant's API tokens from the command line."""

import click
from flask.cli import AppGroup

from core.identity.models import Role

api_cli = AppGroup("api", help="Manage the API tokens of a tenant.")
ACTOR = "platform"


@api_cli.command("create-token")
@click.option("--tenant", "slug", required=True, help="The tenant the token works for.")
@click.option("--email", required=True, help="The staff member the token acts as.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="One of her roles in the tenant: the token has that role only.",
)
@click.option("--name", required=True, help="What the token is for.")
def create_token(slug, email, role, name):
    """Make a token acting as EMAIL (for the platform's operator, on the server); it is
    printed once and never stored (only its SHA-256 is). Staff make their own tokens on
    their API tokens page."""
    from core.api import operations
    from core.cli import platform_transaction
    from core.identity.operations import IdentityError, find_user
    from core.tenancy.operations import get_tenant
    from core.tenancy.scoping import tenant_scope

    try:
        with platform_transaction():
            tenant = get_tenant(slug)
            user = find_user(email)
            if user is None:
                raise IdentityError(f"no user with e-mail {email}")
            with tenant_scope(tenant):
                token, secret = operations.create_token(
                    tenant.id, user, Role(role), name, actor=ACTOR
                )
                token_id, email = token.public_id, user.email
    except operations.ApiTokenError as problem:
        raise click.ClickException(str(problem)) from problem
    click.echo(
        f"Warning: this token acts as {email}: whoever holds it reads and acts on "
        f"{email}'s cases in {slug} as that person. Hand it only to them.",
        err=True,
    )
    click.echo(f"token {token_id} for {email} as {role} in {slug}:")
    click.echo(secret)
    click.echo("Keep it now: it is not shown again.", err=True)


@api_cli.command("revoke")
@click.option("--tenant", "slug", required=True)
@click.argument("token_id")
def revoke(slug, token_id):
    """Revoke the token TOKEN_ID (its id, as `list-tokens` shows it)."""
    from core.api import operations
    from core.cli import platform_transaction
    from core.tenancy.operations import get_tenant
    from core.tenancy.scoping import tenant_scope

    with platform_transaction():
        tenant = get_tenant(slug)
        with tenant_scope(tenant):
            token = operations.find_token(tenant.id, token_id)
            if token is None:
                raise click.ClickException(f"no token {token_id} in {slug}")
            changed = operations.revoke_token(token, actor=ACTOR)
    click.echo(f"revoked {token_id}" if changed else f"{token_id} was already revoked")


@api_cli.command("list-tokens")
@click.option("--tenant", "slug", required=True)
def list_tokens(slug):
    """List the tenant's tokens (never their secrets)."""
    from core.api import operations
    from core.tenancy.operations import get_tenant
    from core.tenancy.scoping import platform_scope, tenant_scope

    with platform_scope():
        tenant = get_tenant(slug)
    with tenant_scope(tenant):
        for token, user in operations.tenant_tokens(tenant.id):
            state = "revoked" if token.revoked_at else "live"
            used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "-"
            click.echo(
                f"{token.public_id}  {state:<7} {token.role.value:<16} {user.email:<30} "
                f"last used {used}  {token.name}"
            )


def init_app(app) -> None:
    app.cli.add_command(api_cli)
