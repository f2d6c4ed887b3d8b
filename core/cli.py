"""The `cellule` command: Flask's CLI with every module's commands (`cellule --help`)."""

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask.cli import FlaskGroup

from core.extensions import db

# Errors that mean "what you asked cannot be done": shown as one clear line, nothing saved.
from core.identity.operations import IdentityError
from core.jobs.cli import run_with_sweeper
from core.plugins.host import PluginError
from core.tenancy.operations import TenancyError

USER_ERRORS = (IdentityError, PluginError, TenancyError)


@contextmanager
def platform_transaction() -> Iterator[None]:
    """Run a command's work as the platform, in one transaction: all of it or nothing."""
    from core.tenancy.scoping import platform_scope

    try:
        with platform_scope():
            yield
            db.session.commit()
    except USER_ERRORS as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    except BaseException:
        db.session.rollback()
        raise


def _create_app():
    from core import create_app

    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
def main() -> None:
    """Cellule: reports of harassment, discrimination and violence, for several schools."""


# `cellule run` also runs the periodic sweep when there is no Redis (the embedded default).
main.add_command(run_with_sweeper)
