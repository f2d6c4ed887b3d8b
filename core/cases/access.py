"""Need to know: which staff may see a case, and when.

A case is shown to the people the procedure has a part for at its current stage, and to no
one else — not to tenant admins, not to auditors (they read the audit trail), not to a
committee the case has not reached:

- the members of the committee that has the case now (within its site and rules);
- whoever may take a step that leaves the current stage by name (steps open "at any stage",
  such as recording a protective measure, give no standing of their own; a step that also
  names a stage, such as a support plan offered after closure, gives standing there);
- the roles and committees the stage's ``visible_to`` adds.
"""

from core.cases.models import Case
from core.cases.operations import (
    HANDLING_COMMITTEE,
    REPORTER,
    facts_of,
    may_act_as,
    may_handle,
)
from core.identity.models import Role, User
from core.identity.operations import roles_of
from core.procedure.conditions import holds
from core.procedure.definition import Institution


def roles_with_standing(case: Case, institution: Institution) -> list[str]:
    """The roles and committee keys that may see `case` at its current stage, besides the
    committee that has it."""
    return standing_in_state(case.state, institution)


def standing_in_state(state: str, institution: Institution) -> list[str]:
    """The roles and committee keys with standing at `state` (see `roles_with_standing`);
    the inbox uses it to narrow its candidates in SQL before `may_see_case` decides."""
    procedure = institution.procedure
    roles = list(procedure.states[state]["visible_to"])
    for transition in procedure.data["transitions"]:
        if state in transition["from"]:  # named, not only reached through "*"
            roles.extend(r for r in transition["roles"] if r not in (REPORTER, HANDLING_COMMITTEE))
    return list(dict.fromkeys(roles))


def may_see_case(user: User, case: Case, institution: Institution, facts=None) -> bool:
    """Whether `user` has a need to know `case` now (see the module's rules)."""
    facts = facts or facts_of(case, institution)
    if case.committee_id is None:
        return Role.LISTENER in roles_of(case.tenant_id, user)
    if may_act_as(user, HANDLING_COMMITTEE, case, institution, facts):
        return True
    return any(
        may_act_as(user, role, case, institution, facts)
        for role in roles_with_standing(case, institution)
        if role in {r.value for r in Role} or _applies(role, case, institution, facts)
    )


def _applies(role: str, case: Case, institution: Institution, facts) -> bool:
    """A committee gets standing only from steps that apply to this case (their ``when``)."""
    if role in institution.procedure.states[case.state]["visible_to"]:
        return True
    return any(
        role in t["roles"] and case.state in t["from"] and holds(t["when"], facts)
        for t in institution.procedure.data["transitions"]
    )


def identity_gated(institution: Institution) -> bool:
    """Whether the procedure lifts the reporter's anonymity at a step of its own (an effect
    ``reveal_identity``), rather than leaving it to those who handle the case."""
    return any(
        effect["kind"] == "reveal_identity"
        for transition in institution.procedure.data["transitions"]
        for effect in transition["effects"]
    )


def may_view_identity(user: User, case: Case, institution: Institution) -> bool:
    """Whether `user` may be shown who reported `case` (a named report's identity, kept
    apart from the narrative).

    Only someone who sees and handles the case now, and, where the procedure lifts
    anonymity at a step (such as opening an investigation, unless in serious danger), only
    once that step has lifted it. A procedure without such a step leaves it to those who
    handle the case.
    """
    if not may_see_case(user, case, institution):
        return False
    if not may_handle(user, case, institution):
        return False
    return not identity_gated(institution) or case.identity_revealed_at is not None


def may_record_flag(user: User, case: Case, key: str, value: bool, institution) -> bool:
    """Whether `user` may set (`value` True) or clear one of the procedure's flags: the rule
    `core.cases.operations.set_flag` applies, to offer only the buttons that will work."""
    flag = institution.procedure.flags[key]
    who = flag["set_by"] if value else (flag["cleared_by"] or flag["set_by"])
    if who:
        return any(may_act_as(user, role, case, institution) for role in who)
    return may_handle(user, case, institution)


def identifies_reporter(field: dict, report) -> bool:
    """Whether an answer to `field` names the person reporting: the victim's name, when the
    victim reports."""
    return (
        field["type"] == "person"
        and field.get("role") == "victim"
        and report.reporter_relation == "victim"
    )


def visible_answers(
    report, user: User, case: Case, institution: Institution, *, shown: bool = True
) -> dict:
    """The answers of `report` that `user` may read, keyed like ``report.form_data``.

    When the victim reports, the answers naming the victim identify them: they are kept
    apart with the identity until `user` may be shown it (`may_view_identity`: those who
    handle the case, once the procedure has lifted anonymity where it does so). `shown`
    False keeps them apart even then (a page that shows the identity only when asked).
    """
    answers = dict(report.form_data or {})
    identifying = [f["key"] for f in institution.form if identifies_reporter(f, report)]
    if not any(key in answers for key in identifying):
        return answers
    if shown and may_view_identity(user, case, institution):
        return answers
    return {key: value for key, value in answers.items() if key not in identifying}
