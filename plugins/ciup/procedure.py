"""CIUP's procedure and routing: alerts go to the listening unit (the director of the
victim's house taking part only with the victim's agreement)."""

from core.plugins import PluginData, hookimpl

_data = PluginData(__package__)


def _reason(key: str) -> str:
    return next(r["reason"] for r in _data["routing"] if r["key"] == key)


@hookimpl
def procedure(tenant):
    return _data["procedure"]


@hookimpl
def route_report(tenant, report):
    # The listening unit's own rule keeps the director of the victim's house out until the
    # victim agrees (committees.yaml, victim_house_director_needs_consent); the reason says so.
    if report["sites"].get("victim") is None:
        reason = "listening_unit"
    elif "house_director_involvement" in report["consents"]:
        reason = "with_house_director"
    else:
        reason = "without_house_director"
    return {"committee": "listening_unit", "reason": _reason(reason)}
