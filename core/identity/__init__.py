"""Staff accounts, their memberships in tenants and their roles."""


def init_app(app):
    from core.extensions import login_manager
    from core.identity import cli
    from core.identity.operations import load_user

    login_manager.user_loader(load_user)
    cli.init_app(app)
