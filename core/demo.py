"""`cellule demo`: one demo tenant per installed institution plugin, with staff accounts.

The core knows no institution by name: the tenants come from the installed plugins (one
per plugin), their names from each plugin's profile.
"""

import secrets

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from core.committees.models import Committee
from core.committees.operations import add_member
from core.extensions import db
from core.identity import operations as identity
from core.identity.models import Role
from core.plugins.host import TenantInfo, plugin_host
from core.tenancy import operations as tenancy
from core.tenancy.scoping import platform_scope, tenant_scope

ACTOR = "platform"
# Which committees (by their declared purpose) each demo role sits on.
SEATS = {
    Role.LISTENER: {"listening", "support"},
    Role.COMMITTEE_MEMBER: {"pre_analysis", "investigation"},
    Role.DECISION_MAKER: {"decision"},
}


def _profile_of(plugin: str) -> dict:
    probe = TenantInfo(0, plugin, plugin, "fr", ("fr", "en"), 0, (plugin,))
    return plugin_host().call(probe, "institution_profile") or {}


def _demo_account(email: str, name: str, password: str):
    """Create or reset a demo account; accounts are the platform's, not a tenant's."""
    with platform_scope():
        user = identity.find_user(email)
        if user is None:
            return identity.create_user(email, name, password)
        identity.set_password(user, password)
        db.session.flush()
        return user


def _committee_seats(committee: dict, plugin: str):
    """(role key, e-mail, name) of demo members enough to compose the committee for a case:
    each declared role as many times as it needs (at least once), at least two members."""
    roles = [r["key"] for r in committee["roles"] for _ in range(max(r["min"], 1))] or [None]
    while len(roles) < max(committee["min_members"], 2):
        roles.append(roles[0])
    for n, role_key in enumerate(roles, start=1):
        label = (role_key or "member").replace("_", "-")
        email = f"{committee['key'].replace('_', '-')}.{label}.{n}@{plugin}.example"
        yield role_key, email, f"Demo {committee['key'].replace('_', ' ')} {n}"


def seed_demo(password: str | None = None) -> list[tuple[str, str, str, str]]:
    """Create or refresh the demo tenants and accounts; return (tenant, role, e-mail, password)."""
    host = plugin_host()
    credentials = []
    for plugin in sorted(host.plugins):
        profile = _profile_of(plugin)
        tenant = tenancy.find_tenant(plugin)
        if tenant is None:
            tenant = tenancy.create_tenant(
                plugin,
                profile.get("name", plugin),
                actor=ACTOR,
                default_locale=profile.get("default_locale", "fr"),
            )
        tenancy.enable_plugin(tenant, plugin, host=host, actor=ACTOR)
        with tenant_scope(tenant):
            committees = {c.key: c for c in db.session.scalars(select(Committee))}
            declared = host.call(TenantInfo.of(tenant), "committees")
            for role in Role:
                email = f"{role.value.replace('_', '-')}@{plugin}.example"
                secret = password or secrets.token_urlsafe(12)
                user = _demo_account(email, f"Demo {role.value.replace('_', ' ')}", secret)
                identity.grant_role(tenant.id, user, role, actor=ACTOR)
                for item in declared:
                    if item["purpose"] in SEATS.get(role, ()):
                        add_member(committees[item["key"]], user, actor=ACTOR)
                credentials.append((plugin, role.value, email, secret))
            for item in declared:
                for role_key, email, name in _committee_seats(item, plugin):
                    secret = password or secrets.token_urlsafe(12)
                    user = _demo_account(email, name, secret)
                    add_member(committees[item["key"]], user, actor=ACTOR, role_key=role_key)
                    credentials.append((plugin, f"{item['key']}/{role_key or '-'}", email, secret))
    return credentials


@click.command("demo")
@click.option("--password", help="Give every demo account this password (default: random).")
@with_appcontext
def demo_command(password):
    """Create the demo tenants and print their staff accounts."""
    from core.cli import platform_transaction

    with platform_transaction():
        credentials = seed_demo(password)
    click.echo("Demo tenants are ready. Staff accounts (demo only):")
    for slug, role, email, secret in credentials:
        click.echo(f"  {slug:<15} {role:<17} {email:<40} {secret}")
    slugs = sorted({slug for slug, *_ in credentials})
    click.echo("Staff sign in at " + ", ".join(f"/t/{slug}/staff/login" for slug in slugs) + ".")
    click.echo(
        "At its first sign-in each account sets up its second factor: scan the QR code with "
        "an authenticator app (FreeOTP, Aegis, Google Authenticator...) and keep the recovery "
        "codes shown."
    )


def init_app(app) -> None:
    app.cli.add_command(demo_command)
