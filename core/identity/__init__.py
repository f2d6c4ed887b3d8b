"""Staff accounts, their memberships in tenants and their roles."""


def init_app(app):
    from core.extensions import login_manager
    from core.identity import cli, views
    from core.identity.operations import user_of_session

    login_manager.user_loader(user_of_session)
    app.register_blueprint(views.bp)
    cli.init_app(app)
