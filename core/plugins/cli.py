"""`cellule plugins …`: what is installed and why one failed; a plugin's message template."""

import sys

import click
from babel.messages.pofile import write_po
from flask.cli import AppGroup

from core.plugins.host import PluginError, plugin_host
from core.plugins.i18n import template

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


@plugins_cli.command("extract")
@click.argument("name")
@click.option(
    "-o", "--output", type=click.File("wb"), default="-", help="Where to write (default: stdout)."
)
def extract(name, output):
    """Write the message template (.pot) of plugin NAME's texts.

    Every text its data hooks return, plus the texts of the YAML files it ships, less those
    its shared catalogues already translate. Start or update a catalogue from it with
    `pybabel init` / `pybabel update -D NAME`.
    """
    host = plugin_host()
    try:
        shared = host.translators[name].shared_messages() if name in host.translators else set()
        messages = [m for m in host.source_texts(name) if m not in shared]
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    write_po(output, template(messages, project=name), omit_header=False, width=100)
    click.echo(f"{len(set(messages))} messages", err=True, file=sys.stderr)


def init_app(app) -> None:
    app.cli.add_command(plugins_cli)
