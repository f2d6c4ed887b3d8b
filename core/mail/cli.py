"""`cellule mail sweep`: queue again the e-mails still waiting to be sent."""

import click
from flask.cli import AppGroup

mail_cli = AppGroup("mail", help="E-mail notifications.")


@mail_cli.command("sweep")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="At most this many e-mails (default: one batch).",
)
def sweep(limit):
    """Queue again every pending e-mail, oldest first (run it periodically)."""
    from core.cli import platform_transaction
    from core.mail.operations import SWEEP_BATCH, sweep_pending_mail

    with platform_transaction():
        count = sweep_pending_mail(limit or SWEEP_BATCH)
    click.echo(f"{count} pending e-mail(s) queued")


def init_app(app) -> None:
    app.cli.add_command(mail_cli)
