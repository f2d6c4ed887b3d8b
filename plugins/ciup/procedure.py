"""CIUP's procedure and routing: alerts go to the listening unit, the director of the
victim's house only with the victim's agreement."""

from core.plugins import PluginData, hookimpl

_data = PluginData(__package__)


def _reason(key: str) -> str:
    return next(r["reason"] for r in _data["routing"] if r["key"] == key)


@hookimpl
def procedure(tenant):
    return _data["procedure"]


@hookimpl
def route_report(tenant, report):
    victim_house = report["sites"].get("victim")
    if victim_house is None:
        return {"committee": "listening_unit", "reason": _reason("listening_unit")}
    if "house_director_involvement" in report["consents"]:
        return {"committee": "listening_unit", "reason": _reason("with_house_director")}
    return {
        "committee": "listening_unit",
        "exclude_sites": [victim_house],
        "reason": _reason("without_house_director"),
    }
