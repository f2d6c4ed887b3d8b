"""The append-only, hash-chained audit log."""


def init_app(app):
    from core.audit import cli, views

    app.register_blueprint(views.bp)
    cli.init_app(app)
