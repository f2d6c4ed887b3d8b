"""`cellule plugins list`: what is installed, what failed to load, and why."""

import click
from flask.cli import AppGroup

from core.plugins.host import plugin_host

plugins_cli = AppGroup("plugins", help="Institution plugins.")


@plugins_cli.command("list")
def list_plugins():
    """List installed plugins and the hooks each implements."""
    host = plugin_host()
    for info in sorted(host.plugins.values(), key=lambda p: p.name):
        origin = f"{info.distribution} {info.version}" if info.distribution else info.module
        click.echo(f"{info.name:<16} {origin:<24} hooks: {', '.join(info.hooks) or '-'}")
    for name, problem in sorted(host.broken.items()):
        click.secho(f"{name:<16} BROKEN: {problem}", fg="red")


def init_app(app) -> None:
    app.cli.add_command(plugins_cli)
