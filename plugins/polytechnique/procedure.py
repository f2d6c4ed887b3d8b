"""École polytechnique's procedure and routing: every report goes to the DHAMIS Unit."""

from core.plugins import PluginData, hookimpl

_data = PluginData(__package__)


@hookimpl
def procedure(tenant):
    return _data["procedure"]


@hookimpl
def route_report(tenant, report):
    return {"committee": "dhamis_unit", "reason": _data["routing"][0]["reason"]}
