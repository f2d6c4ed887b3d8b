"""`cellule keys …`: master keys and tenant data keys."""

import click
from flask.cli import AppGroup

from core.crypto.keys import generate_master_key

keys_cli = AppGroup("keys", help="Encryption keys.")


@keys_cli.command("generate")
def generate():
    """Print a new random master key (base64), for CELLULE_MASTER_KEY."""
    click.echo(generate_master_key())


@keys_cli.command("rewrap")
def rewrap():
    """Re-wrap every tenant data key under the current CELLULE_MASTER_KEY.

    Run it with the new key in CELLULE_MASTER_KEY and the old one in
    CELLULE_PREVIOUS_MASTER_KEYS; staff second-factor secrets are sealed again under the
    new key too. Afterwards the old key is no longer needed.
    """
    from core.cli import platform_transaction
    from core.crypto.operations import rewrap_data_keys
    from core.identity.security import reseal_totp_secrets

    with platform_transaction():
        counts = rewrap_data_keys()
        resealed = reseal_totp_secrets()
    click.echo(f"re-wrapped {sum(counts.values())} data keys of {len(counts)} tenants")
    click.echo(f"sealed {resealed} staff second-factor secrets under the new key")


def init_app(app) -> None:
    app.cli.add_command(keys_cli)
