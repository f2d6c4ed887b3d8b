"""Need to know: which staff may see a case, and when.

A case is shown to the people the procedure has a part for at its current stage, and to no
one else — not to tenant admins, not to auditors (they read the audit trail), not to a
committee the case has not reached:

- the members of the committee that has the case now (within its site and rules);
- whoever may take a step that leaves the current stage by name (steps open "at any stage",
  such as recording a protective measure, give no standing of their own);
- the roles and committees the stage's ``visible_to`` adds.
"""

from core.cases.models import Case
from core.cases.operations import HANDLING_COMMITTEE, REPORTER, facts_of, may_act_as
from core.identity.models import Role, User
from core.identity.operations import roles_of
from core.plugins.schemas import ANY_STATE
from core.procedure.conditions import holds
from core.procedure.definition import Institution


def roles_with_standing(case: Case, institution: Institution) -> list[str]:
    """The roles and committee keys that may see `case` at its current stage, besides the
    committee that has it."""
    procedure = institution.procedure
    roles = list(procedure.states[case.state]["visible_to"])
    for transition in procedure.data["transitions"]:
        if case.state in transition["from"] and ANY_STATE not in transition["from"]:
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
