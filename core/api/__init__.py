"""The JSON API: one tenant, a bearer token scoped to a role, marshmallow schemas."""


def init_app(app) -> None:
    from core.api import views

    app.register_blueprint(views.bp)
