"""The reporter's portal: the tenant's branded pages, the report form, the reporter's space."""

from core.portal.views import init_app

__all__ = ["init_app"]
