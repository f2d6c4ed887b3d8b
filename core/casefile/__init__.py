"""The written record of a case: statement forms, hearings, documents, PDF exports."""


def init_app(app) -> None:
    from core.casefile import views

    app.register_blueprint(views.bp)
