"""Encryption at rest: per-tenant data keys wrapped by the operator's master key."""


def init_app(app):
    from core.crypto import cli

    cli.init_app(app)
