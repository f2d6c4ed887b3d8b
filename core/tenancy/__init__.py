"""Tenants: who they are, how a request finds its tenant, and how every query is scoped to it."""


def init_app(app):
    from core.tenancy import cli, resolution, scoping, views

    scoping.init_app(app)
    resolution.init_app(app)
    views.init_app(app)
    cli.init_app(app)
