"""The JSON API: one tenant, a bearer token scoped to a role, marshmallow schemas."""


def init_app(app) -> None:
    from core.api import cli, pages, views
    from core.extensions import csrf

    # authenticated by a bearer token in a header, never by a cookie: nothing to forge
    csrf.exempt(views.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(pages.bp)
    cli.init_app(app)
