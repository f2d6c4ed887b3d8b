"""Cité internationale universitaire de Paris: the Report and Support team, the Investigation
team, the houses (affiliated or not) and the protocol's ladder, directory, law and form.

The data lives in the YAML files beside this module; the hooks hand it over as it is.
"""

from core.plugins import PluginData, hookimpl
from plugins import france
from plugins.ciup.procedure import procedure, route_report

__all__ = ["procedure", "route_report"]  # hook implementations kept in procedure.py

_data = PluginData(__name__)

# The national lines' texts are translated by France's shared catalogue.
shared_catalogues = [france.CATALOGUE]

# National lines the protocol lists ("national helplines, such as…"), after the emergency
# numbers. Their hours come from the shared directory: the protocol's 3919 hours are outdated.
PROTOCOL_LINES = (
    "violences_femmes_info_3919",
    "sos_viols",
    "victimes_08",
    "net_ecoute",
    "sos_homophobie",
)
# France Victimes' 116 006 replaced the 08 Victimes number the protocol gives; the national
# portal (service-public.fr/cmi) is open to every reporter, anonymously, 24/7.
FURTHER_NATIONAL_LINES = ("france_victimes_116006", "national_reporting_portal")


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
    national = france.helplines(*france.EMERGENCY, *PROTOCOL_LINES, *FURTHER_NATIONAL_LINES)
    return national + _data["helplines"]


@hookimpl
def legal_definitions(tenant):
    return _data["legal"]


@hookimpl
def report_form(tenant):
    return _data["form"]


@hookimpl
def statement_form(tenant):
    return _data["statement_form"]


@hookimpl
def hearing_rules(tenant):
    # "Toute personne entendue par la Cellule d'enquête peut se faire assister d'une personne
    # de son choix."
    return {"assistance": "person_of_choice"}
