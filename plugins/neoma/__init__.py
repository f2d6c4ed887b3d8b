"""NEOMA Business School: the Angela unit and its procedure (three campuses).

Written from NEOMA's "Student reporting and internal investigation procedure" of 16 May 2025
(French and English versions). The data lives in the YAML files beside this module.
"""

from core.plugins import PluginData, hookimpl
from plugins import france
from plugins.neoma.procedure import procedure, route_report

__all__ = ["procedure", "route_report"]  # hook implementations kept in procedure.py

_data = PluginData(__name__)

# The national lines' texts are translated by France's catalogue.
shared_catalogues = [france.CATALOGUE]

# Appendix 3 and §IV: the national structures the document refers victims and witnesses to.
NATIONAL_LINES = (
    "france_victimes_116006",
    "violences_femmes_info_3919",
    "en_avant_toutes",
    "avft",
    "cnidff",
    "arretons_les_violences",
    "national_reporting_portal",
    "apf_france_handicap",
    "sante_info_droits",
    "federation_lgbti",
    "sos_racisme",
)


@hookimpl
def institution_profile(tenant):
    return _data["profile"]


@hookimpl
def committees(tenant):
    return _data["committees"]


@hookimpl
def sanction_ladder(tenant):
    return _data["measures"]


@hookimpl
def helplines(tenant):
    return [*france.helplines(*france.EMERGENCY, *NATIONAL_LINES), *_data["helplines"]]


@hookimpl
def legal_definitions(tenant):
    return _data["legal"]


@hookimpl
def report_form(tenant):
    return _data["form"]


@hookimpl
def hearing_rules(tenant):
    # The summons "specifies that the persons summoned are not entitled to be assisted (except
    # in the case of minors) as the hearing is not a disciplinary interview", and that
    # attendance, and testifying, is voluntary (section V, "Gathering evidence").
    return {"assistance": "minors_only", "voluntary": True}
