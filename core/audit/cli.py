"""`cellule audit verify`: check every tenant's audit chain."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core.audit.operations import verify_chain
from core.extensions import db
from core.tenancy.models import Tenant
from core.tenancy.scoping import tenant_scope

audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("verify")
@click.option("--tenant", "slug", help="Only this tenant (default: all).")
def verify(slug):
    """Recompute the hash chains; exit 1 if any event was modified, inserted or deleted."""
    query = select(Tenant).order_by(Tenant.slug)
    if slug:
        query = query.where(Tenant.slug == slug)
    tenants = db.session.scalars(query).all()
    if slug and not tenants:
        raise click.ClickException(f"no tenant with slug {slug!r}")
    failed = False
    for tenant in tenants:
        with tenant_scope(tenant):
            report = verify_chain(tenant.id)
        if report.ok:
            click.echo(f"{tenant.slug}: ok ({report.checked} events)")
            continue
        failed = True
        click.secho(f"{tenant.slug}: TAMPERED ({report.checked} events)", fg="red")
        for problem in report.problems:
            click.echo(f"  - {problem}")
    db.session.rollback()
    if failed:
        raise SystemExit(1)


def init_app(app) -> None:
    app.cli.add_command(audit_cli)
