"""Cases: what staff handle, one or more reports moving through the procedure."""


def init_app(app) -> None:
    from core.cases import views

    app.register_blueprint(views.bp)
