"""Tenants: who they are, how a request finds its tenant, and how every query is scoped to it."""


def init_app(app):
    from core.tenancy import admin, cache, cli, resolution, scoping, views

    scoping.init_app(app)
    cache.init_app(app)
    resolution.init_app(app)
    views.init_app(app)
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin.operator_bp)
    cli.init_app(app)
