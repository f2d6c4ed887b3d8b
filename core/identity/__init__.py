"""Staff accounts, their memberships in tenants and their roles."""


def init_app(app):
    from core.extensions import login_manager
    from core.identity import cli, views
    from core.identity.operations import load_user

    login_manager.user_loader(load_user)
    app.register_blueprint(views.bp)
    cli.init_app(app)
