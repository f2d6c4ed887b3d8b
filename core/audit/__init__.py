"""The append-only, hash-chained audit log."""


def init_app(app):
    from core.audit import cli

    cli.init_app(app)
