"""École polytechnique: the DHAMIS unit and its online reporting platform.

Data from the welcome page of the DHAMIS platform (seed 000), in the YAML files beside this
module; national help lines from the shared French directory.
"""

from core.plugins import PluginData, hookimpl
from plugins import france
from plugins.polytechnique.procedure import procedure, route_report

__all__ = ["procedure", "route_report"]  # hook implementations kept in procedure.py

_data = PluginData(__name__)

# France's catalogue translates the national lines this plugin shows.
shared_catalogues = [france.CATALOGUE]


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
    # The document names 17, 15 and 114 and gives no line of the school's own.
    return france.helplines(*france.EMERGENCY)


@hookimpl
def legal_definitions(tenant):
    return _data["legal"]


@hookimpl
def report_form(tenant):
    # The reporter's relation (victim, witness, personal knowledge) is the core's own field;
    # the document asks for nothing else.
    return []
