"""The hooks an institution plugin implements: the plugin author's reference.

A plugin is a module (or object) with functions marked ``@hookimpl``, registered under the
entry-point group ``cellule.plugins`` of its distribution::

    [project.entry-points."cellule.plugins"]
    myschool = "myschool_cellule"

    # myschool_cellule/__init__.py
    from core.plugins import hookimpl

    @hookimpl
    def institution_profile(tenant):
        return {"name": "My School", "default_locale": "fr", ...}

Rules that hold for every hook:

* A hook is called only on the plugins the tenant has enabled, and only for that tenant.
* Every hook receives ``tenant``, a read-only :class:`core.plugins.TenantInfo`; an
  implementation may leave out arguments it does not need.
* Hooks return plain data (dicts, lists, strings, numbers, booleans). The core validates it
  against the schema named in each docstring (`core/plugins/schemas.py`) and registers it;
  a plugin never reaches into the application. Data that does not validate, or a hook
  that raises, gives a :class:`core.plugins.PluginError` naming the plugin and the hook,
  for that tenant only.
* Text meant for people (labels, descriptions, legal texts) is written in the plugin's
  source language and translated through the plugin's own Babel domain: ship
  ``translations/<locale>/LC_MESSAGES/<plugin name>.po`` inside the plugin package.
* Hooks that take only ``tenant`` must return the same data for the same tenant revision:
  the core caches their validated result until the tenant changes.
* Keys (``key`` fields) are stable identifiers in ``snake_case``; they end up in the
  database and in URLs, so never rename one once a tenant uses it.

Hooks are grouped below as the procedure uses them. Call modes are chosen on purpose:
``firstresult`` where one answer must win, collect-all where every plugin adds.
"""

import pluggy

hookspec = pluggy.HookspecMarker("cellule")


# --------------------------------------------------------------------------------------
# Who the institution is
# --------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def institution_profile(tenant):
    """Describe the institution: names, branding, locales, calendar, time zone and sites.

    Called when a tenant's portal or back office is rendered, and when deadlines are
    counted (the calendar decides which days are working days).

    :param tenant: the tenant the profile is for.
    :return: a dict validated by ``ProfileSchema``::

        {"name": "NEOMA Business School", "short_name": "NEOMA",
         "default_locale": "fr", "locales": ["fr", "en"],
         "timezone": "Europe/Paris",
         "calendar": {"country": "FR", "subdivision": None},
         "branding": {"primary_colour": "#1d3557", "accent_colour": "#e63946",
                      "mark_svg": "<svg ...>...</svg>"},
         "sites": [{"key": "rouen", "name": "Rouen campus", "attributes": {}}],
         "welcome": "...", "contact_email": "..."}

    First plugin to answer wins (``firstresult``): a tenant has one institution plugin.
    """


# --------------------------------------------------------------------------------------
# The people who handle reports
# --------------------------------------------------------------------------------------


@hookspec
def committees(tenant):
    """Declare the units and committees that take part in the procedure.

    Called when a plugin is enabled (the core creates a committee row per key, which the
    tenant admin then staffs) and when a case's committee is composed.

    :param tenant: the tenant.
    :return: a list of dicts validated by ``CommitteeSchema``::

        [{"key": "angela_unit", "name": "Angela unit", "purpose": "listening",
          "description": "...", "min_members": 2, "max_members": None,
          "roles": [{"key": "officer", "name": "HDV officer", "min": 2}],
          "conditions": [{"key": "two_officers_at_intake",
                          "description": "Every intake interview is held by two officers",
                          "params": {}}]}]

    ``purpose`` is one of ``listening``, ``pre_analysis``, ``investigation``, ``decision``,
    ``support``, ``other``. Collect-all: every enabled plugin adds its committees.
    """


@hookspec(firstresult=True)
def route_report(tenant, report):
    """Choose who receives a new report.

    Called once when a report is submitted, before the case is opened.

    :param tenant: the tenant.
    :param report: a dict describing the report without its narrative: ``relation``
        (victim, witness, knowledge), ``anonymous`` (bool), ``site`` (a site key or None),
        ``categories`` (list of keys), ``answers`` (the plugin's own form answers) and
        ``consents`` (list of consent keys given).
    :return: a dict validated by ``RouteSchema``:
        ``{"committee": "angela_unit", "site": "rouen", "reason": "..."}``; ``site``
        narrows the committee to members serving that site; ``also_notify`` may list
        further committee keys. Return None to let another plugin decide.

    First plugin to answer wins (``firstresult``).
    """


# --------------------------------------------------------------------------------------
# The procedure
# --------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def procedure(tenant):
    """Give the procedure as data: the states, transitions and deadlines one core engine runs.

    Called when a case is opened and whenever the core decides what may happen next.

    :param tenant: the tenant.
    :return: a dict validated by ``ProcedureSchema``::

        {"initial_state": "received",
         "states": [{"key": "received", "label": "Received", "final": False}, ...],
         "transitions": [{"key": "acknowledge", "label": "Acknowledge receipt",
                          "from": ["received"], "to": "acknowledged",
                          "roles": ["listener"], "requires_consent": [],
                          "informs": ["reporter"]}, ...],
         "deadlines": [{"key": "acknowledgement", "label": "Acknowledge the report",
                        "starts": "received", "ends": ["acknowledge"],
                        "working_days": 2}, ...],
         "consents": [{"key": "victim_agreement", "label": "..."}]}

    ``roles`` name core roles (``listener``, ``committee_member``, ``decision_maker``,
    ``admin``) or committee keys; ``starts`` names a state (entered) or a transition
    (taken); ``ends`` names transitions; a deadline gives exactly one of ``working_days``,
    ``calendar_days`` or ``hours``. Every reference is checked when the data is validated.
    First plugin to answer wins (``firstresult``).
    """


@hookspec(firstresult=True)
def sanction_ladder(tenant):
    """List the measures and sanctions the decision maker can choose from.

    Called when measures are proposed or decided on a case.

    :param tenant: the tenant.
    :return: a dict validated by ``SanctionLadderSchema``::

        {"measures": [{"key": "reminder", "label": "Reminder of the rules",
                       "kind": "sanction", "rank": 1, "collective": False,
                       "description": "..."}, ...],
         "appeal": {"label": "...", "description": "..."}}

    ``kind`` is ``protective``, ``precautionary``, ``sanction``, ``referral`` or
    ``support``; sanctions carry ``rank`` (1 = least grave) and ranks are unique.
    First plugin to answer wins (``firstresult``).
    """


# --------------------------------------------------------------------------------------
# What the reporter sees
# --------------------------------------------------------------------------------------


@hookspec
def helplines(tenant):
    """List the help lines shown on the portal: emergency numbers first, then support lines.

    Called when the portal renders its "get help now" sections.

    :param tenant: the tenant.
    :return: a list of dicts validated by ``HelplineSchema``::

        [{"key": "police", "name": "Police", "number": "17", "channels": ["phone"],
          "hours": "24/7", "cost": "free", "audience": "everyone",
          "languages": ["fr"], "emergency": True, "order": 1,
          "email": None, "url": None, "description": "..."}]

    Each entry gives at least one of ``number``, ``email``, ``url``. Collect-all; the
    core sorts by ``order`` and drops repeated keys (first kept), so a shared national
    directory can be returned by several plugins without showing a line twice.
    """


@hookspec
def legal_definitions(tenant):
    """Give the legal-definition appendix shown to reporters and staff.

    Called when the portal's "what does the law say" page is rendered.

    :param tenant: the tenant.
    :return: a list of dicts validated by ``LegalDefinitionSchema``:
        ``{"key": "sexual_harassment", "title": "Sexual harassment",
        "reference": "Code pénal, art. 222-33", "text": "...", "order": 10}``.
        Collect-all.
    """


@hookspec
def report_form(tenant):
    """Add the institution's own fields to the report form.

    Called when the form is rendered and when a submission is validated.

    :param tenant: the tenant.
    :return: a list of dicts validated by ``FormFieldSchema``::

        [{"key": "campus", "label": "Campus", "type": "choice", "required": True,
          "choices": [{"value": "rouen", "label": "Rouen"}], "help": "..."}]

    ``type`` is one of ``text``, ``textarea``, ``choice``, ``multichoice``, ``date``,
    ``boolean``, ``site``, ``consent``; ``choice`` and ``multichoice`` need
    ``choices``. Collect-all; keys must be unique across the tenant's plugins.
    """
