"""The procedure engine's pure parts: a tenant's institution as data, conditions, calendar.

What changes a case lives in `core.cases.operations`; this package only reads and computes.
"""

from core.plugins.host import TenantInfo, plugin_host
from core.procedure.definition import Institution, Procedure

__all__ = ["Institution", "Procedure", "institution_for"]


def institution_for(tenant) -> Institution:
    """The institution of `tenant` (a Tenant row) as its enabled plugins describe it."""
    return Institution.of(plugin_host(), TenantInfo.of(tenant))
