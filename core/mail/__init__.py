"""E-mail notifications: a durable outbox, sent over SMTP by idempotent jobs."""


def init_app(app) -> None:
    from flask import Blueprint

    from core.mail import cli
    from core.mail import models as mail_models  # noqa: F401 (the outbox's table, for metadata)

    # templates only (mail/<kind>.txt): the blueprint has no routes
    app.register_blueprint(Blueprint("mail", __name__, template_folder="templates"))
    cli.init_app(app)
