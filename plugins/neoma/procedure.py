"""NEOMA's procedure and routing: reports go to the Angela unit officers of their campus."""

from core.plugins import PluginData, hookimpl

_data = PluginData(__package__)


def _reason(key: str) -> str:
    return next(r["reason"] for r in _data["routing"] if r["key"] == key)


@hookimpl
def procedure(tenant):
    return _data["procedure"]


@hookimpl
def route_report(tenant, report):
    return {
        "committee": "angela_unit",
        "site": report["sites"].get("report"),
        "reason": _reason("by_campus"),
    }
