"""The plugin system: discovery through entry points, per-tenant dispatch, validation.

Plugin authors need four names from here: ``hookimpl`` to mark implementations,
``TenantInfo`` (what every hook receives), ``PluginError`` (what a misbehaving plugin
causes) and ``PluginData`` (to read the YAML files a plugin ships). The hooks themselves
are documented in ``core/hookspecs.py``.
"""

from core.plugins.data import PluginData
from core.plugins.host import PluginError, PluginHost, TenantInfo, hookimpl

__all__ = ["PluginData", "PluginError", "PluginHost", "TenantInfo", "hookimpl", "init_app"]


def init_app(app):
    from core.plugins import cli

    app.extensions["cellule.plugins"] = PluginHost.discover(app.logger)
    cli.init_app(app)
