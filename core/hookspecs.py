"""The hooks an institution plugin implements: the plugin author's reference.

A plugin is a module (or object) with functions marked ``@hookimpl``, registered under the
entry-point group ``cellule.plugins`` of its distribution::

    [project.entry-points."cellule.plugins"]
    myschool = "myschool_cellule"

    # myschool_cellule/__init__.py
    from core.plugins import PluginData, hookimpl

    data = PluginData(__name__)  # the YAML files beside this module

    @hookimpl
    def committees(tenant):
        return data["committees"]

Rules that hold for every hook:

* A hook is called only on the plugins the tenant has enabled, and only for that tenant.
* Every hook receives ``tenant``, a read-only :class:`core.plugins.TenantInfo`; an
  implementation may leave out arguments it does not need.
* Hooks return plain data (dicts, lists, strings, numbers, booleans). The core validates it
  against the schema named in each docstring (`core/plugins/schemas.py`) and registers it;
  a plugin never reaches into the application. Data that does not validate, or a hook
  that raises, gives a :class:`core.plugins.PluginError` naming the plugin and the hook,
  for that tenant only. When a tenant enables a plugin, every data hook is called and the
  answers are cross-checked (a transition naming an unknown committee, a form field giving
  an unknown consent…): a plugin that does not fit together is refused then, not later.
* Text meant for people is written in the plugin's source language and translated through
  the plugin's own Babel catalogue, ``translations/<locale>/LC_MESSAGES/<plugin name>.po``
  inside the plugin package (plus any ``(directory, domain)`` listed in a module-level
  ``shared_catalogues``). Which values are text is decided by their key — ``name``,
  ``label``, ``title``, ``text``, ``items``, ``description``, ``help``, ``welcome``,
  ``confidentiality``, ``reporter_label``, ``reporter_description``, ``message``,
  ``reason``, ``note``, ``cost_note``, ``audience``, ``group``, ``section``,
  ``decided_by``, ``authority`` — so plugin data needs no markers: ``cellule plugins
  extract NAME`` writes the catalogue template.
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
    """Describe the institution: names, branding, locales, calendar, time zone, sites and
    what can be reported.

    Called when a tenant's portal or back office is rendered, and when deadlines are
    counted (the calendar decides which days are working days: weekdays that are not the
    country's public holidays).

    :param tenant: the tenant the profile is for.
    :return: a dict validated by ``ProfileSchema``::

        {"name": "NEOMA Business School", "short_name": "NEOMA",
         "default_locale": "fr", "locales": ["fr", "en"],
         "timezone": "Europe/Paris",
         "calendar": {"country": "FR", "subdivision": None},
         "branding": {"primary_colour": "#1d3557", "accent_colour": "#e63946",
                      "mark_svg": "<svg ...>...</svg>"},
         "sites": [{"key": "rouen", "name": "Rouen campus", "attributes": {}}],
         "categories": [{"key": "sexual_harassment", "label": "Sexual harassment"}],
         "relations": ["victim", "witness"],
         "welcome": "...", "confidentiality": "...", "contact_email": "..."}

    ``sites`` are campuses, houses or buildings; their ``attributes`` are free data that
    conditions can test (``site_attribute``, e.g. whether a house is affiliated).
    ``categories`` are what a reporter can choose under "what happened"; ``relations``
    who may report (``victim``, ``witness``, ``knowledge``: personal knowledge).
    First plugin to answer wins (``firstresult``): a tenant has one institution plugin.
    """


# --------------------------------------------------------------------------------------
# The people who handle reports
# --------------------------------------------------------------------------------------


@hookspec
def committees(tenant):
    """Declare the units and committees that take part in the procedure.

    Called when a plugin is enabled (the core creates a committee row per key, which the
    tenant admin then staffs, giving each member a role and, for per-site committees, a
    site) and whenever members are chosen for a case.

    :param tenant: the tenant.
    :return: a list of dicts validated by ``CommitteeSchema``::

        [{"key": "listening_unit", "name": "Listening unit", "purpose": "listening",
          "description": "...", "min_members": 2, "max_members": None,
          "per_site": False, "site_of": None, "seats_per_site": {},
          "roles": [{"key": "house_director", "name": "House director", "min": 0}],
          "conditions": [{"key": "victim_house_director_needs_consent",
                          "kind": "party_site_requires_consent",
                          "description": "Only with the victim's agreement",
                          "params": {"party": "victim",
                                     "consent": "house_director_involvement",
                                     "roles": ["house_director"]}}]}]

    ``purpose`` is one of ``listening``, ``pre_analysis``, ``investigation``, ``decision``,
    ``support``, ``other``. ``per_site``: members serve one site each; a case is served by
    the members of the report's site, or of the site of the party named by ``site_of``
    (``victim`` or ``implicated``); ``seats_per_site`` says how many members each site
    needs. ``conditions`` are rules the core enforces whenever a member would act on a case
    and when members sit for it (composed at a step, or present at one), refusing with the
    rule's description:

    * ``exclude_party_site`` (``parties``, optional ``roles``): members serving one of these
      parties' sites may not sit (a director of the victim's or the accused's house);
    * ``exclude_prior_involvement`` (``committees``): a member who already sat on this case
      for one of these committees may not sit (someone who already heard the victim);
    * ``party_site_requires_consent`` (``party``, ``consent``, optional ``roles``): members
      serving the party's site may sit only once the consent is given;
    * ``note``: a rule people apply; shown, never checked by the core.

    Collect-all: every enabled plugin adds its committees.
    """


@hookspec(firstresult=True)
def route_report(tenant, report):
    """Choose who receives a new report.

    Called when a report is submitted, before the case is opened, and again when a
    consent changes while the case is still with the committee it was routed to.

    :param tenant: the tenant.
    :param report: a dict describing the report without its narrative: ``relation``
        (victim, witness, knowledge), ``anonymous`` (bool), ``site`` (the report's site key
        or None), ``sites`` (``{"report": …, "victim": …, "implicated": …}``, from the
        form's site fields), ``categories`` (list of keys), ``answers`` (the plugin's own
        form answers) and ``consents`` (list of consent keys given).
    :return: a dict validated by ``RouteSchema``:
        ``{"committee": "angela_unit", "site": "rouen", "exclude_sites": [],
        "also_notify": [], "reason": "..."}``. ``site`` narrows the committee to the
        members serving that site (and those serving every site); ``exclude_sites`` keeps
        the members serving those sites out; ``also_notify`` lists further committee keys,
        whose members are e-mailed when the case opens;
        ``reason`` is shown to staff. Return None to let another plugin decide.

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
         "states": [{"key": "received", "label": "Received", "final": False,
                     "reporter_label": "Your report has been received",
                     "reporter_description": "...", "public": True}, ...],
         "transitions": [{"key": "open_investigation", "label": "Open an investigation",
                          "from": ["statement_validated"], "to": "investigation",
                          "roles": ["listening_unit"],
                          "requires_consent": ["lift_anonymity"],
                          "requires_flags": ["serious_facts"],
                          "assign": "investigation_team", "compose": "investigation_team",
                          "effects": [{"kind": "reveal_identity",
                                       "unless": {"flags": ["serious_danger"]}}],
                          "informs": [{"party": "implicated_house_director",
                                       "message": "An investigation is open."}]}, ...],
         "deadlines": [{"key": "acknowledgement", "label": "Acknowledge the report",
                        "starts": "received", "ends": ["acknowledge_receipt"],
                        "working_days": 2}, ...],
         "consents": [{"key": "lift_anonymity", "label": "..."}],
         "flags": [{"key": "serious_danger", "label": "..."}],
         "parties": [{"key": "implicated_house_director", "label": "..."}],
         "obligations": [{"key": "article_40", "label": "...",
                          "when": {"flags": ["crime_indicated"]},
                          "transition": "inform_public_prosecutor"}]}

    Transitions:

    * ``from`` lists states (``"*"``: any state that is not final); ``to`` is the state
      reached, or None for an action that leaves the case where it is (a hearing).
    * ``roles`` name who may take it: core roles (``listener``, ``committee_member``,
      ``decision_maker``, ``admin``), ``reporter`` (from the reporter's space), committee
      keys (members serving the case: see ``committees``), or ``handling_committee`` (the
      members serving whichever committee the case is assigned to now).
    * ``when`` is a condition on the case: the transition exists only for cases it holds
      for. A condition may test ``relation``, ``anonymous``, ``flags``, ``not_flags``,
      ``consents`` and ``site_attribute`` (``{"party", "attribute", "equals"}``).
    * ``requires_consent`` lists consent keys, or ``{"consent", "when"}`` for a consent
      needed only for some cases (a witness's report needs the victim's agreement);
      ``requires_flags`` lists flags staff must have recorded first; ``requires_sites``
      parties whose site must be known (staff can record it on the case).
    * ``participants`` (``{"committee", "min"}``): the step is held by at least ``min``
      members of that committee, the actor included; ``compose`` names a committee whose
      members are chosen for the case at this step (its sizes and rules are checked);
      ``assign`` hands the case to a committee.
    * ``measures`` lists the kinds of measure (see ``sanction_ladder``), or particular
      measure keys, that may be chosen at the step; at least one is then required.
    * ``effects``: ``reveal_identity`` shows a named reporter's identity to staff from then
      on, ``unless`` a condition holds.
    * ``informs`` lists who must be told, as party keys or ``{"party", "message"}``:
      ``reporter``, ``victim``, ``implicated``, committee keys or the procedure's own
      ``parties``. Each becomes a notice on the case until done; it never carries the
      case's content. The platform e-mails a committee's members serving the case ("a case
      needs you") and a named reporter who left an address ("there is news"), and marks
      those notices done; the other parties are tasks for staff.

    Deadlines' ``starts`` and ``ends`` name states (entered) or transitions (taken); a
    deadline started again restarts (24 hours after the *last* investigative act). Give
    exactly one of ``working_days`` (on the institution's calendar), ``calendar_days`` or
    ``hours``; ``indicative`` marks a guideline rather than a rule. The members serving the
    committee that has the case are reminded before each deadline and alerted once it is
    overdue (see ``core.cases.reminders``). A consent with
    ``asked_of_reporter: false`` is someone else's to give (the victim's, on a witness's
    report): staff record it, the reporter's space does not offer it. An ``obligation`` is a
    step that becomes mandatory when its condition holds: the case cannot reach a final
    state before it is taken. ``flags`` say who may record them (``set_by``) and clear them
    (``cleared_by``); by default, those handling the case. Every reference is checked when
    the data is validated.
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
                       "decided_by": "...", "description": "..."}, ...],
         "appeal": {"label": "...", "description": "...", "authority": "..."}}

    ``kind`` is ``protective`` or ``precautionary`` (measures during the procedure, kept
    apart from sanctions), ``sanction``, ``referral`` (to a disciplinary board, the public
    prosecutor…) or ``support``; sanctions carry ``rank`` (1 = least grave) and ranks are
    unique. ``collective`` marks a sanction on a group. First plugin to answer wins
    (``firstresult``).
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
          "hours": {"always": True}, "cost": "free", "audience": "everyone",
          "languages": ["fr"], "emergency": True, "not_for_emergencies": False,
          "scope": "national", "order": 1, "description": "..."},
         {"key": "sante_info_droits", ..., "hours": {"slots": [
              {"days": ["mon", "wed", "fri"], "opens": "14:00", "closes": "18:00"}]}}]

    Each entry gives at least one of ``number``, ``email``, ``url``, ``address``.
    ``hours`` is ``{"always": true}`` or weekly ``slots`` in the institution's time zone,
    with a ``note`` for what a schedule cannot say; the core words them in the reader's
    language. ``not_for_emergencies`` marks a line that says it is not an emergency
    number. Collect-all; the core sorts by ``order`` and drops repeated keys (first kept).
    National lines should come from one shared directory that plugins reuse (the bundled
    plugins use ``plugins.france``), so a line never shows two different sets of hours.
    """


@hookspec
def legal_definitions(tenant):
    """Give the legal-definition appendix shown to reporters and staff.

    Called when the portal's "what does the law say" page is rendered.

    :param tenant: the tenant.
    :return: a list of dicts validated by ``LegalDefinitionSchema``:
        ``{"key": "sexual_harassment", "title": "Sexual harassment",
        "reference": "Code pénal, art. 222-33", "text": "...", "items": [],
        "group": "Harassment", "order": 10}``. ``items`` holds enumerations (the
        discrimination criteria) shown as a list; ``group`` is the heading the definition
        sits under. Collect-all.
    """


@hookspec
def report_form(tenant):
    """Add the institution's own fields to the report form.

    Called when the form is rendered and when a submission is validated or opens a case.

    :param tenant: the tenant.
    :return: a list of dicts validated by ``FormFieldSchema``::

        [{"key": "campus", "label": "Campus", "type": "site", "required": True},
         {"key": "implicated_house", "label": "Their house", "type": "site",
          "party": "implicated", "section": "The person implicated"},
         {"key": "reporting_wish", "label": "What do you wish?", "type": "choice",
          "choices": [{"value": "report", "label": "I wish to report...",
                       "grants": ["lift_anonymity"]}, ...]},
         {"key": "share_with_rsi", "label": "...", "type": "consent",
          "consent": "share_with_rsi"}]

    ``type`` is one of ``text``, ``textarea``, ``number``, ``choice``, ``multichoice``,
    ``date``, ``boolean``, ``site`` (one of the profile's sites; ``party`` says whose;
    without it, the site the report concerns, which routing uses), ``person`` (a person's
    name; ``role`` says who), ``consent`` (a box giving the ``consent`` named). A choice's
    ``grants`` lists consents given by picking it. Consents are the procedure's keys.
    Collect-all; keys must be unique across the tenant's plugins.
    """


# --------------------------------------------------------------------------------------
# The case file
# --------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def statement_form(tenant):
    """Give the institution's statement form: the account of the reporter's interview the
    unit writes and the reporter validates (CIUP's "fiche de recueil de la parole").

    Called when staff open, write, submit or export a case's statement form, and when the
    reporter's space shows it. An institution without one does not implement the hook (or
    returns None): its cases have no statement form.

    :param tenant: the tenant.
    :return: a dict validated by ``StatementFormSchema``::

        {"title": "Statement form",
         "description": "If the victim so wishes, this record ...",
         "submit_transition": "draft_statement_form",
         "validate_transition": "validate_statement_form",
         "return_transition": None,
         "share_transition": "pass_statement_form_to_investigation",
         "draft_in": ["heard", "statement_drafted", "statement_validated"],
         "sections": [
             {"key": "people", "title": "The people concerned", "description": "",
              "fields": [{"key": "victim_identity",
                          "label": "Victim's identity (full name, house)",
                          "type": "text", "required": True, "help": "",
                          "filled_by": "unit"},
                         {"key": "still_happening",
                          "label": "Is the violence still happening?",
                          "type": "choice", "filled_by": "unit",
                          "choices": [{"value": "yes", "label": "Yes"},
                                      {"value": "no", "label": "No"}]}]}]}

    The form is tied to the procedure by name, never by the core knowing the institution:
    submitting it to the reporter takes ``submit_transition`` (so its rules, notices and
    deadlines apply); the reporter validates it with ``validate_transition`` (a step whose
    ``roles`` include ``reporter``), or sends it back with a comment, which takes
    ``return_transition`` if the procedure has one (else the case stays where it is).
    Those who write the form (the roles of ``submit_transition``) always read it; anyone
    else who sees the case reads it only once ``share_transition`` is taken, if the
    procedure names one (a form passed on to an investigation only with the reporter's
    agreement), or at once if it does not.
    ``draft_in`` lists the states in which the unit writes or corrects the form (default:
    the states ``submit_transition`` leaves from); a correction after the reporter sent a
    version back, or validated it, is a new version, and earlier versions stay as they
    were. Fields are ``text``, ``textarea``, ``date`` or ``choice`` (with ``choices``);
    ``filled_by`` says who fills a field: ``unit`` (the reporter reads and validates the
    whole form). Field keys are unique across sections. First plugin to answer wins
    (``firstresult``).
    """


@hookspec(firstresult=True)
def hearing_rules(tenant):
    """Say what a summons to a hearing tells the person summoned about their rights.

    Called when a summons is produced for a hearing (the core writes the summons: date,
    time, place and these rules, never anything about the facts).

    :param tenant: the tenant.
    :return: a dict validated by ``HearingRulesSchema``:
        ``{"assistance": "person_of_choice", "voluntary": False, "note": ""}``.
        ``assistance`` is ``person_of_choice`` (anyone heard may be assisted by a person of
        their choice), ``minors_only`` (no assistance, except for minors) or ``none``;
        ``voluntary`` says that taking part, and testifying, is voluntary; ``note`` adds
        the institution's own words. The core words the rules in the reader's language.
        Without an answer, a summons says nothing about assistance. First plugin to answer
        wins (``firstresult``).
    """
