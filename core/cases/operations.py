"""Running a case through its tenant's procedure. Every change of a case goes through here.

One engine for every institution: it reads the procedure, committees and ladder the
tenant's plugins give (`core.procedure.definition.Institution`) and checks each step
against them — who may take it, the consents and flags it needs, who sits on the
committee — before changing anything. Each operation takes the tenant's institution and
the acting user, writes the case's timeline and the audit trail in the caller's
transaction, and raises `ProcedureRefusal` (naming the rule) without changing anything.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import defer

from core.audit.operations import record_event
from core.casefile.models import CaseNote, StatementForm
from core.cases.models import (
    Case,
    CaseConsent,
    CaseEvent,
    CaseMeasure,
    CaseMember,
    CaseNotice,
    Deadline,
    Message,
)
from core.cases.reminders import reminder_time
from core.committees.models import Committee, CommitteeMember
from core.extensions import db
from core.identity.models import Role, User
from core.identity.operations import roles_of, seats_count
from core.jobs import enqueue_after_commit
from core.memo import active, prefill, remember
from core.plugins.i18n import plugin_gettext
from core.procedure.conditions import Facts, holds
from core.procedure.definition import Institution
from core.reports.models import Evidence, Report
from core.tenancy.scoping import current_scope
from core.types import utcnow


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when shown."""
    return message


REPORTER = "reporter"
SYSTEM = "system"
HANDLING_COMMITTEE = "handling_committee"
PARTY_NAMES = {"victim": N_("the victim"), "implicated": N_("the person implicated")}


class ProcedureRefusal(Exception):
    """A step the procedure does not allow now. `rule` names the rule that refused it.

    ``str()`` gives the reason in the reader's language (the plugin's texts through its
    catalogue), ``source_message`` in the source language, for logs and tests.
    """

    def __init__(self, rule: str, message: str, translate=None, /, **params):
        self.rule, self.template, self.params = rule, message, params
        self._translate = translate or (lambda text: text)
        super().__init__(self.source_message)

    @property
    def source_message(self) -> str:
        return self.template % self.params

    def __str__(self) -> str:
        if not has_request_context():
            return self.source_message
        # a parameter is a plugin's text (its catalogue) or one of the core's (the core's)
        params = {k: self._translate(gettext(v)) if v else v for k, v in self.params.items()}
        return gettext(self.template) % params


# -- reading a case --------------------------------------------------------------------


def given_consents(case: Case) -> frozenset[str]:
    return remember(
        ("consents", case.id),
        lambda: frozenset(
            db.session.scalars(
                select(CaseConsent.key).where(CaseConsent.case_id == case.id, CaseConsent.given)
            )
        ),
    )


def facts_of(case: Case, institution: Institution) -> Facts:
    consents = given_consents(case)
    return Facts(
        relation=case.facts.get("relation"),
        anonymous=case.facts.get("anonymous", True),
        sites=case.facts.get("sites", {}),
        flags=frozenset(case.flags),
        consents=frozenset(consents),
        site_attributes=institution.site_attributes,
    )


def case_measures(case: Case) -> list[CaseMeasure]:
    """The case's measures in the order they were decided (once per page in `memoized()`:
    the case page lists them, and its timeline shows the latest)."""
    return remember(
        ("measures", case.id),
        lambda: db.session.scalars(
            select(CaseMeasure)
            .where(CaseMeasure.case_id == case.id)
            .order_by(CaseMeasure.decided_at, CaseMeasure.id)
        ).all(),
    )


def case_evidence(case: Case) -> list[Evidence]:
    """The files of the case's reports, oldest first, without their bytes (once per page in
    `memoized()`: each report lists its own, and the timeline shows the latest)."""
    return remember(
        ("evidence", case.id),
        lambda: db.session.scalars(
            select(Evidence)
            .join(Report, Report.id == Evidence.report_id)
            .where(Report.case_id == case.id)
            .options(defer(Evidence.data))  # the files themselves only when downloaded
            .order_by(Evidence.created_at, Evidence.id)
        ).all(),
    )


def taken_transitions(case: Case) -> set[str]:
    return set(
        db.session.scalars(
            select(CaseEvent.key).where(
                CaseEvent.case_id == case.id, CaseEvent.kind == "transition"
            )
        )
    )


def open_deadlines(case: Case) -> list[Deadline]:
    return list(
        db.session.scalars(
            select(Deadline)
            .where(Deadline.case_id == case.id, Deadline.met_at.is_(None))
            .where(Deadline.cancelled_at.is_(None))
            .order_by(Deadline.due_at)
        )
    )


def pending_obligations(case: Case, institution: Institution, facts=None) -> list[dict]:
    """Obligations whose condition holds and whose step has not been taken yet."""
    facts, taken = facts or facts_of(case, institution), taken_transitions(case)
    return [
        o
        for o in institution.procedure.obligations
        if holds(o["when"], facts) and o["transition"] not in taken
    ]


def tenant_committees(tenant_id: int) -> dict[str, Committee]:
    """The tenant's committees by key (read once per page inside `memoized()`)."""
    return remember(
        ("committees", tenant_id),
        lambda: {
            c.key: c
            for c in db.session.scalars(select(Committee).where(Committee.tenant_id == tenant_id))
        },
    )


def committee_keys(tenant_id: int) -> dict[int, str]:
    """The tenant's committees' keys by id (read once per page inside `memoized()`)."""
    return {c.id: c.key for c in tenant_committees(tenant_id).values()}


def committee_by_key(tenant_id: int, key: str) -> Committee:
    if active():  # a page asks after most of the tenant's committees: read them at once
        committee = tenant_committees(tenant_id).get(key)
    else:
        committee = db.session.scalar(
            select(Committee).where(Committee.tenant_id == tenant_id, Committee.key == key)
        )
    if committee is None:
        raise LookupError(f"the tenant has no committee {key!r}: is its plugin enabled?")
    return committee


def committee_by_id(tenant_id: int, committee_id: int | None) -> Committee | None:
    if committee_id is None:
        return None
    if active():  # with the tenant's other committees, read once for the page
        return next(
            (c for c in tenant_committees(tenant_id).values() if c.id == committee_id), None
        )
    return db.session.get(Committee, committee_id)


def _seats(user: User, committee: Committee) -> list[CommitteeMember]:
    """`user`'s seats on `committee`; none while she acts through an API token whose role
    does not handle cases (`core.identity.operations.seats_count`)."""
    if not seats_count(user):
        return []
    if active():  # every seat she has, read once for the page
        return seats_by_committee(user).get(committee.id, [])
    return list(
        db.session.scalars(
            select(CommitteeMember).where(
                CommitteeMember.committee_id == committee.id, CommitteeMember.user_id == user.id
            )
        )
    )


def seats_by_committee(user: User) -> dict[int, list[CommitteeMember]]:
    """Every seat `user` has in the scope's tenant, by committee id (read once per page
    inside `memoized()`), whatever she acts through."""
    return remember(("seats", current_scope(), user.id), lambda: _seats_by_committee(user))


def prefetch_seats(users: Sequence[User]) -> None:
    """Inside `core.memo.memoized()`, read the seats of all these people in one query (the
    members of a committee about to be told of a case)."""
    if active() and users:
        scope = current_scope()
        seats = _seats_of([user.id for user in users])
        prefill({("seats", scope, user_id): held for user_id, held in seats.items()})


def _seats_by_committee(user: User) -> dict[int, list[CommitteeMember]]:
    return _seats_of([user.id])[user.id]


def _seats_of(user_ids) -> dict[int, dict[int, list[CommitteeMember]]]:
    seats: dict[int, dict[int, list[CommitteeMember]]] = {user_id: {} for user_id in user_ids}
    for seat in db.session.scalars(
        select(CommitteeMember).where(CommitteeMember.user_id.in_(seats))
    ):
        seats[seat.user_id].setdefault(seat.committee_id, []).append(seat)
    return seats


def sitting_members(case_ids) -> dict[int, list[CaseMember]]:
    """The members sitting now (not released) on each of these cases, composed or present:
    one query for a batch (`core.memo.prefetch`)."""
    return _members_of_cases(case_ids, None)[0]


def _members_of_cases(case_ids, user_id: int | None):
    """({case id: members sitting now}, {case id: keys of the committees `user_id` ever sat
    for on it, composed or present, released or not}), from one query for a batch."""
    sitting: dict[int, list[CaseMember]] = {case_id: [] for case_id in case_ids}
    involved: dict[int, set[str]] = {case_id: set() for case_id in case_ids}
    for member, key in db.session.execute(
        select(CaseMember, Committee.key)
        .outerjoin(Committee, Committee.id == CaseMember.committee_id)
        .where(CaseMember.case_id.in_(sitting))
    ):
        if member.released_at is None:
            sitting[member.case_id].append(member)
        if user_id is not None and member.user_id == user_id and key is not None:
            involved[member.case_id].add(key)
    return sitting, {case_id: frozenset(keys) for case_id, keys in involved.items()}


def _sitting(case: Case) -> list[CaseMember]:
    return remember(("sitting", case.id), lambda: sitting_members([case.id])[case.id])


def _composed(case: Case, committee: Committee) -> list[CaseMember]:
    if active():  # every committee's composition of the case, read once
        return [
            m for m in _sitting(case) if m.committee_id == committee.id and m.capacity == "composed"
        ]
    return list(
        db.session.scalars(
            select(CaseMember).where(
                CaseMember.case_id == case.id,
                CaseMember.committee_id == committee.id,
                CaseMember.capacity == "composed",
                CaseMember.released_at.is_(None),
            )
        )
    )


def serves_case(
    case: Case, committee: Committee, user: User, seats, institution, facts: Facts
) -> bool:
    """Whether `user`, with these seats on `committee`, serves `case`: no rule of the
    committee keeps them out, and they are among those composed for the case or, if none
    are, a seat covers the case's site (and the route's exclusions)."""
    if not seats:
        return False
    declared = institution.committees.get(committee.key, {})
    if any(_rule_broken(rule, case, seats, user, facts) for rule in declared.get("conditions", [])):
        return False
    composed = _composed(case, committee)
    if composed:
        return any(m.user_id == user.id for m in composed)
    return any(seat_covers(case, committee, seat, declared) for seat in seats)


def seat_covers(case: Case, committee: Committee, seat: CommitteeMember, declared) -> bool:
    if committee.id == case.committee_id:
        if seat.site_key and seat.site_key in case.routing.get("exclude_sites", []):
            return False
        return seat.site_key is None or case.site_key is None or seat.site_key == case.site_key
    if declared.get("per_site"):
        site = site_served(case, declared)
        return seat.site_key is None or site is None or seat.site_key == site
    return True


def _rule_broken(rule: dict, case: Case, seats, user: User, facts: Facts) -> bool:
    """Whether a committee rule keeps `user` (with these seats) from sitting for `case`."""
    params, kind = rule["params"], rule["kind"]
    roles = params.get("roles")
    seats = [seat for seat in seats if not roles or seat.role_key in roles]
    if not seats or kind == "note":
        return False
    if kind == "exclude_party_site":
        sites = {facts.sites.get(party) for party in params.get("parties", [])} - {None}
        return any(seat.site_key in sites for seat in seats)
    if kind == "party_site_requires_consent":
        site = facts.sites.get(params["party"])
        return (
            site is not None
            and any(seat.site_key == site for seat in seats)
            and params["consent"] not in facts.consents
        )
    if kind == "exclude_prior_involvement":
        return bool(involvement(case, user) & set(params.get("committees", [])))
    raise ValueError(f"unknown rule kind {kind!r}")


def involvements(case_ids, user: User) -> dict[int, frozenset[str]]:
    """The keys of the committees `user` ever sat for on each of these cases (composed or
    present, released or not): one query for a batch."""
    return _members_of_cases(case_ids, user.id)[1]


def involvement(case: Case, user: User) -> frozenset[str]:
    return remember(("involved", case.id, user.id), lambda: involvements([case.id], user)[case.id])


def prefetch_access(cases, user: User) -> None:
    """Inside `core.memo.memoized()`, read for a whole batch of cases what deciding
    `user`'s need to know asks of each: consents, who sits on it, her past part in it."""
    if not active() or not cases:
        return
    ids = [case.id for case in cases]
    consents: dict[int, set[str]] = {case_id: set() for case_id in ids}
    for case_id, key in db.session.execute(
        select(CaseConsent.case_id, CaseConsent.key).where(
            CaseConsent.case_id.in_(ids), CaseConsent.given
        )
    ):
        consents[case_id].add(key)
    # who sits on each case now, and her part in each ever: one read of their members
    sitting, involved = _members_of_cases(ids, user.id)
    answers = {("consents", i): frozenset(given) for i, given in consents.items()}
    answers |= {("sitting", i): members for i, members in sitting.items()}
    answers |= {("involved", i, user.id): keys for i, keys in involved.items()}
    prefill(answers)


def site_served(case: Case, declared: dict) -> str | None:
    """The site whose members of a per-site committee serve the case (see ``site_of``)."""
    return case.facts.get("sites", {}).get(declared.get("site_of") or "report")


def may_act_as(user: User, role: str, case: Case, institution: Institution, facts=None) -> bool:
    """Whether `user` holds `role` for this case: a core role, a committee key (serving the
    case), or ``handling_committee`` (serving the committee the case is with now)."""
    if role in {r.value for r in Role}:
        return Role(role) in roles_of(case.tenant_id, user)
    if role == HANDLING_COMMITTEE:
        committee = committee_by_id(case.tenant_id, case.committee_id)
    elif role in institution.committees:
        committee = committee_by_key(case.tenant_id, role)
    else:
        return False
    if committee is None:
        return False
    facts = facts or facts_of(case, institution)
    return serves_case(case, committee, user, _seats(user, committee), institution, facts)


def _actor_may_take(actor, transition: dict, case: Case, institution, facts) -> bool:
    if actor == REPORTER:
        return REPORTER in transition["roles"]
    if actor == SYSTEM:
        return False
    return any(
        may_act_as(actor, role, case, institution, facts)
        for role in transition["roles"]
        if role != REPORTER
    )


def check_transition(
    case: Case, key: str, *, actor, institution: Institution, facts: Facts | None = None
) -> dict:
    """The transition `key` if `actor` may take it on `case` now; else ProcedureRefusal."""
    procedure = institution.procedure
    translate = plugin_translator(institution)
    transition = procedure.transitions.get(key)
    if transition is None or transition not in procedure.transitions_from(case.state):
        raise ProcedureRefusal(
            "not_from_state",
            N_("This step cannot be taken from the case's current stage (%(state)s)."),
            translate,
            state=procedure.states[case.state]["label"],
        )
    facts = facts or facts_of(case, institution)
    if not holds(transition["when"], facts):
        raise ProcedureRefusal(
            "not_for_this_case",
            N_("“%(step)s” does not apply to this case."),
            translate,
            step=transition["label"],
        )
    if not _actor_may_take(actor, transition, case, institution, facts):
        raise ProcedureRefusal(
            "role",
            N_("You are not among the people who may take the step “%(step)s” on this case."),
            translate,
            step=transition["label"],
        )
    for requirement in transition["requires_consent"]:
        if holds(requirement["when"], facts) and requirement["consent"] not in facts.consents:
            raise ProcedureRefusal(
                f"consent:{requirement['consent']}",
                N_("“%(step)s” needs this consent first: %(consent)s."),
                translate,
                step=transition["label"],
                consent=procedure.consents[requirement["consent"]]["label"],
            )
    for flag in transition["requires_flags"]:
        if flag not in facts.flags:
            raise ProcedureRefusal(
                f"flag:{flag}",
                N_("“%(step)s” applies only once this is recorded: %(flag)s."),
                translate,
                step=transition["label"],
                flag=procedure.flags[flag]["label"],
            )
    for party in transition["requires_sites"]:
        if not facts.sites.get(party):
            raise ProcedureRefusal(
                f"site:{party}",
                N_("“%(step)s” needs to know first where this person belongs: %(party)s."),
                translate,
                step=transition["label"],
                party=PARTY_NAMES[party],
            )
    _check_statement_form(case, key, institution)
    if transition["to"] and procedure.is_final(transition["to"]):
        for obligation in pending_obligations(case, institution, facts):
            raise ProcedureRefusal(
                f"obligation:{obligation['key']}",
                N_("The case cannot be closed before this is done: %(obligation)s."),
                translate,
                obligation=obligation["label"],
            )
    return transition


def _check_statement_form(case: Case, key: str, institution: Institution) -> None:
    """The statement form's steps follow its versions (the ``statement_form`` hook's step
    names): the reporter validates only a version given to them and not yet answered, and
    the form is passed on only once the reporter validated it and no newer version is being
    written or read. A case with no version on record is left to the procedure alone."""
    definition = institution.statement_form
    if definition is None or key not in (
        definition["validate_transition"],
        definition["share_transition"],
    ):
        return
    versions = list(
        db.session.scalars(
            select(StatementForm)
            .where(StatementForm.case_id == case.id)
            .order_by(StatementForm.version)
        )
    )
    if not versions:
        return
    latest = versions[-1]
    answered = latest.validated_at is not None or latest.returned_at is not None
    if key == definition["validate_transition"]:
        if latest.submitted_at is None or answered:
            raise ProcedureRefusal(
                "statement:not_pending", N_("There is no statement form waiting to be validated.")
            )
        return
    if not answered or not any(v.validated_at is not None for v in versions):
        raise ProcedureRefusal(
            "statement:not_validated",
            N_("The statement form is passed on only once the reporter has validated it."),
        )


def available_transitions(case: Case, actor, institution: Institution) -> list[tuple[dict, str]]:
    """Every step leaving the case's stage that applies to this case, with why `actor` may not
    take it ("" if they may)."""
    result, facts = [], facts_of(case, institution)
    for transition in institution.procedure.transitions_from(case.state):
        if not holds(transition["when"], facts):
            continue  # a step that does not exist for this case
        try:
            check_transition(
                case, transition["key"], actor=actor, institution=institution, facts=facts
            )
        except ProcedureRefusal as refusal:
            result.append((transition, str(refusal)))
        else:
            result.append((transition, ""))
    return result


# -- composing committees ----------------------------------------------------------------


def check_composition(
    case: Case, committee_key: str, users: Sequence[User], institution: Institution, *, quorum: int
) -> list[tuple[User, CommitteeMember]]:
    """Each user's seat on the committee, if together they may sit for this case.

    Checks that each is a member, the committee's size (`quorum` for a step's participants)
    and its rules against every seat the person holds, naming the first rule broken.
    """
    declared = institution.committees[committee_key]
    committee = committee_by_key(case.tenant_id, committee_key)
    translate = plugin_translator(institution)
    facts = facts_of(case, institution)
    seated = []
    for user in dict.fromkeys(users):
        seats = _seats(user, committee)
        if not seats:
            raise ProcedureRefusal(
                "not_a_member",
                N_("%(person)s is not a member of %(committee)s."),
                translate,
                person=user.display_name,
                committee=declared["name"],
            )
        for rule in declared["conditions"]:
            if _rule_broken(rule, case, seats, user, facts):
                raise ProcedureRefusal(
                    f"rule:{rule['key']}",
                    N_("%(person)s cannot sit on %(committee)s for this case: %(rule)s"),
                    translate,
                    person=user.display_name,
                    committee=declared["name"],
                    rule=rule["description"],
                )
        seated.append((user, seats[0]))
    if len(seated) < quorum:
        raise ProcedureRefusal(
            "size",
            N_("%(committee)s needs at least %(count)s people here."),
            translate,
            committee=declared["name"],
            count=str(quorum),
        )
    if declared["max_members"] is not None and len(seated) > declared["max_members"]:
        raise ProcedureRefusal(
            "size",
            N_("%(committee)s has at most %(count)s members."),
            translate,
            committee=declared["name"],
            count=str(declared["max_members"]),
        )
    return seated


def _seat(case, committee_key, seated, *, capacity, transition_key, now) -> None:
    committee = committee_by_key(case.tenant_id, committee_key)
    if capacity == "composed":
        for member in _composed(case, committee):
            member.released_at = now
    for user, seat in seated:
        db.session.add(
            CaseMember(
                tenant_id=case.tenant_id,
                case_id=case.id,
                committee_id=committee.id,
                user_id=user.id,
                role_key=seat.role_key,
                capacity=capacity,
                transition_key=transition_key,
                added_at=now,
            )
        )


# -- changing a case ---------------------------------------------------------------------


def _event(case, kind, key, actor, *, from_state=None, to_state=None, details=None):
    db.session.add(
        CaseEvent(
            tenant_id=case.tenant_id,
            case_id=case.id,
            kind=kind,
            key=key,
            actor_kind=actor if isinstance(actor, str) else "user",
            actor_user_id=None if isinstance(actor, str) else actor.id,
            from_state=from_state,
            to_state=to_state,
            details=details or {},
        )
    )


def _audit(case, actor, action, details=None) -> None:
    record_event(
        case.tenant_id, actor=actor, action=action, target=("case", case.public_id), details=details
    )


def _run_deadlines(case, institution, *, events: Iterable[str], now: datetime) -> None:
    """Meet the deadlines `events` end, then start (or restart) the ones they start."""
    events = set(events)
    facts = facts_of(case, institution)
    running = {d.key: d for d in open_deadlines(case)}
    definitions = institution.procedure.deadlines
    for definition in definitions:
        deadline = running.get(definition["key"])
        if deadline is not None and events & set(definition["ends"]):
            deadline.met_at = now
            running.pop(definition["key"])
    for definition in definitions:
        if not events & set(definition["starts"]) or not holds(definition["when"], facts):
            continue
        previous = running.get(definition["key"])
        if previous is not None:
            previous.cancelled_at = now
        length = {
            k: definition[k] for k in ("working_days", "calendar_days", "hours") if k in definition
        }
        db.session.add(
            Deadline(
                tenant_id=case.tenant_id,
                case_id=case.id,
                key=definition["key"],
                started_at=now,
                due_at=institution.calendar.due(now, **length),
                indicative=definition["indicative"],
                remind_at=reminder_time(institution.calendar, now, **length),
            )
        )
    db.session.flush()


def _route(report_view: dict, institution: Institution, host) -> dict:
    route = host.call(institution.info, "route_report", report=report_view)
    if route is None:
        raise LookupError("no enabled plugin routes reports for this tenant")
    if route["committee"] not in institution.committees:
        raise LookupError(
            f"the route names committee {route['committee']!r}, which is not declared"
        )
    return route


def _report_view(report: Report, sites: dict, consents: set[str]) -> dict:
    """What routing sees of a report: never the narrative."""
    return {
        "relation": report.reporter_relation,
        "anonymous": report.is_anonymous,
        "site": report.site_key,
        "sites": dict(sites),
        "categories": list(report.categories),
        "answers": dict(report.form_data or {}),
        "consents": sorted(consents),
    }


def consents_in_answers(form: list[dict], answers: dict) -> set[str]:
    """The consents a reporter gave through the form's consent boxes and choices."""
    given = set()
    for field in form:
        value = answers.get(field["key"])
        if field["type"] == "consent" and value is True:
            given.add(field["consent"])
        for choice in field["choices"]:
            picked = value == choice["value"] or (
                isinstance(value, list) and choice["value"] in value
            )
            if picked:
                given.update(choice["grants"])
    return given


def open_case(report: Report, *, institution: Institution, host, now: datetime | None = None):
    """Open the case of a new report: facts, consents, routing, first stage and deadlines."""
    now = now or utcnow()
    if report.is_anonymous and not institution.profile["anonymous_reports"]:
        raise ProcedureRefusal(
            "anonymous_reports",
            N_("This institution takes reports only with the name of the person reporting."),
        )
    answers = report.form_data or {}
    sites = {}
    for field in institution.form:
        if field["type"] == "site" and field["party"]:
            sites[field["party"]] = answers.get(field["key"])
        elif field["type"] == "site" and report.site_key is None:
            report.site_key = answers.get(field["key"])
    sites["report"] = report.site_key
    for site in sites.values():
        _check_site(site, institution)
    consents = consents_in_answers(institution.form, answers)
    route = _route(_report_view(report, sites, consents), institution, host)
    committee = committee_by_key(report.tenant_id, route["committee"])
    case = Case(
        tenant_id=report.tenant_id,
        state=institution.procedure.initial_state,
        committee_id=committee.id,
        site_key=route["site"],
        facts={
            "relation": report.reporter_relation,
            "anonymous": report.is_anonymous,
            "sites": sites,
        },
        flags=[],
        routing=route,
        opened_at=now,
    )
    db.session.add(case)
    report.case = case
    db.session.flush()
    for key in sorted(consents):
        db.session.add(
            CaseConsent(
                tenant_id=case.tenant_id,
                case_id=case.id,
                key=key,
                given=True,
                recorded_at=now,
                recorded_by=REPORTER,
            )
        )
    _event(
        case,
        "opened",
        None,
        REPORTER,
        to_state=case.state,
        details={"committee": route["committee"], "consents": sorted(consents)},
    )
    db.session.flush()
    _run_deadlines(case, institution, events={case.state}, now=now)
    _audit(case, REPORTER, "case.opened", {"committee": route["committee"]})
    return case


def _check_site(site: str | None, institution: Institution) -> None:
    if site is not None and site not in institution.site_attributes:
        raise ProcedureRefusal("unknown_site", N_("This place is not one of the institution's."))


def set_party_site(case: Case, party: str, site: str | None, *, actor, institution) -> None:
    """Record where a party belongs (their campus, their house), by staff handling the case."""
    if party not in PARTY_NAMES:
        raise ValueError(f"unknown party {party!r}")
    _check_site(site, institution)
    if not may_handle(actor, case, institution):
        raise ProcedureRefusal("role", N_("You do not handle this case."))
    case.facts = {**case.facts, "sites": {**case.facts.get("sites", {}), party: site}}
    _event(case, "site", party, actor, details={"site": site})
    db.session.flush()
    _audit(case, actor, "case.party_site", {"party": party, "site": site})


def take_transition(
    case: Case,
    key: str,
    *,
    actor,
    institution: Institution,
    participants: Sequence[User] = (),
    members: Sequence[User] = (),
    measures: Sequence[str] = (),
    now: datetime | None = None,
) -> Case:
    """Take the step `key` on `case` as `actor` (a User, or REPORTER), or refuse."""
    now = now or utcnow()
    facts = facts_of(case, institution)
    transition = check_transition(case, key, actor=actor, institution=institution, facts=facts)
    translate = plugin_translator(institution)
    chosen = _check_measures(transition, measures, institution, translate)
    present = composed = []
    if transition["participants"]:
        needed = transition["participants"]
        everyone = [actor, *participants] if isinstance(actor, User) else list(participants)
        present = check_composition(
            case, needed["committee"], everyone, institution, quorum=needed["min"]
        )
    if transition["compose"]:
        declared = institution.committees[transition["compose"]]
        composed = check_composition(
            case, transition["compose"], members, institution, quorum=declared["min_members"]
        )
        _check_roles_filled(declared, composed, translate)

    from_state = case.state
    to_state = transition["to"] or from_state
    if present:
        committee = transition["participants"]["committee"]
        _seat(case, committee, present, capacity="present", transition_key=key, now=now)
    if composed:
        _seat(
            case, transition["compose"], composed, capacity="composed", transition_key=key, now=now
        )
    if transition["assign"]:
        _assign(case, transition["assign"], institution)
    for measure in chosen:
        db.session.add(
            CaseMeasure(
                tenant_id=case.tenant_id,
                case_id=case.id,
                key=measure["key"],
                kind=measure["kind"],
                transition_key=key,
                decided_by_user_id=getattr(actor, "id", None),
                decided_at=now,
            )
        )
    revealed = False
    for effect in transition["effects"]:
        reveal = effect["kind"] == "reveal_identity" and not holds_any(effect["unless"], facts)
        if reveal and case.identity_revealed_at is None:
            case.identity_revealed_at, revealed = now, True
    for inform in transition["informs"]:
        db.session.add(
            CaseNotice(
                tenant_id=case.tenant_id,
                case_id=case.id,
                party=inform["party"],
                message=inform["message"],
                transition_key=key,
                created_at=now,
            )
        )
    if transition["informs"]:
        from core.mail.operations import deliver_case_notices  # mail builds on this module

        # e-mails the parties the platform can reach once the step is committed
        enqueue_after_commit(deliver_case_notices, case.id, tenant_id=case.tenant_id)
    closes = to_state != from_state and institution.procedure.is_final(to_state)
    case.state = to_state
    if closes:
        case.closed_at = now
    _event(
        case,
        "transition",
        key,
        actor,
        from_state=from_state,
        to_state=to_state,
        details=_transition_details(present, composed, chosen, revealed),
    )
    db.session.flush()
    events = {key} | ({to_state} if to_state != from_state else set())
    _run_deadlines(case, institution, events=events, now=now)
    if closes:
        for deadline in open_deadlines(case):
            deadline.cancelled_at = now
    _audit(case, actor, "case.transition", {"transition": key, "from": from_state, "to": to_state})
    return case


def holds_any(condition: dict | None, facts: Facts) -> bool:
    """Like `holds`, but a missing condition never holds (for ``unless``)."""
    return bool(condition) and holds(condition, facts)


def _transition_details(present, composed, chosen, revealed: bool) -> dict:
    details = {}
    if present:
        details["present"] = [u.public_id for u, _ in present]
    if composed:
        details["composed"] = [u.public_id for u, _ in composed]
    if chosen:
        details["measures"] = [m["key"] for m in chosen]
    if revealed:
        details["identity_revealed"] = True
    return details


def _check_measures(transition, keys, institution, translate) -> list[dict]:
    """The measures chosen at this step; each must be of a kind, or be a measure, it lists."""
    allowed = set(transition["measures"])
    if not allowed:
        if keys:
            raise ProcedureRefusal(
                "measures",
                N_("No measure is decided at the step “%(step)s”."),
                translate,
                step=transition["label"],
            )
        return []
    chosen = []
    for key in dict.fromkeys(keys):
        measure = institution.measures.get(key)
        if measure is None or not {measure["kind"], measure["key"]} & allowed:
            raise ProcedureRefusal(
                "measures",
                N_("This measure cannot be decided at the step “%(step)s”."),
                translate,
                step=transition["label"],
            )
        chosen.append(measure)
    if not chosen:
        raise ProcedureRefusal(
            "measures",
            N_("Choose at least one measure for the step “%(step)s”."),
            translate,
            step=transition["label"],
        )
    return chosen


def _check_roles_filled(declared, composed, translate) -> None:
    for role in declared["roles"]:
        if sum(seat.role_key == role["key"] for _, seat in composed) < role["min"]:
            raise ProcedureRefusal(
                f"role_minimum:{role['key']}",
                N_("%(committee)s needs at least %(count)s: %(role)s."),
                translate,
                committee=declared["name"],
                count=str(role["min"]),
                role=role["name"],
            )


def _assign(case: Case, committee_key: str, institution: Institution) -> None:
    committee = committee_by_key(case.tenant_id, committee_key)
    case.committee_id = committee.id
    declared = institution.committees[committee_key]
    case.site_key = site_served(case, declared) if declared["per_site"] else None


def record_consent(
    case: Case, key: str, given: bool, *, actor, institution: Institution, host=None, now=None
) -> CaseConsent:
    """Record that a consent was given or withdrawn (by the reporter, or staff on their word).

    While the case is still with the committee it was routed to, routing runs again, since
    a consent can change who should receive it.
    """
    now = now or utcnow()
    if key not in institution.procedure.consents:
        raise ProcedureRefusal("unknown_consent", N_("This consent is not part of the procedure."))
    if actor == REPORTER and not institution.procedure.consents[key]["asked_of_reporter"]:
        raise ProcedureRefusal("not_the_reporters", N_("This agreement is not yours to give here."))
    if actor != REPORTER and not may_handle(actor, case, institution):
        raise ProcedureRefusal(
            "role", N_("Only the person reporting, or staff handling the case, record consents.")
        )
    consent = db.session.scalar(
        select(CaseConsent).where(CaseConsent.case_id == case.id, CaseConsent.key == key)
    )
    if consent is None:
        consent = CaseConsent(tenant_id=case.tenant_id, case_id=case.id, key=key)
        db.session.add(consent)
    consent.given, consent.recorded_at = given, now
    consent.recorded_by = REPORTER if actor == REPORTER else "user"
    _event(case, "consent", key, actor, details={"given": given})
    db.session.flush()
    _audit(case, actor, "case.consent", {"consent": key, "given": given})
    routed = case.routing.get("committee")
    if (
        host is not None
        and routed
        and case.committee_id == committee_by_key(case.tenant_id, routed).id
    ):
        _reroute(case, institution, host)
    return consent


def _reroute(case: Case, institution: Institution, host) -> None:
    report = db.session.scalars(
        select(Report).where(Report.case_id == case.id).order_by(Report.submitted_at)
    ).first()
    consents = set(facts_of(case, institution).consents)
    route = _route(_report_view(report, case.facts.get("sites", {}), consents), institution, host)
    if route == case.routing:
        return
    case.committee_id = committee_by_key(case.tenant_id, route["committee"]).id
    case.site_key, case.routing = route["site"], route
    _event(case, "routed", route["committee"], SYSTEM, details={"site": route["site"]})
    _audit(case, SYSTEM, "case.rerouted", {"committee": route["committee"]})


def set_flag(case: Case, key: str, value: bool, *, actor, institution: Institution) -> None:
    """Record (or clear) one of the procedure's flags on the case, by staff who serve it."""
    if key not in institution.procedure.flags:
        raise ProcedureRefusal("unknown_flag", N_("This is not one of the procedure's flags."))
    flag = institution.procedure.flags[key]
    who = flag["set_by"] if value else (flag["cleared_by"] or flag["set_by"])
    allowed = (
        any(may_act_as(actor, role, case, institution) for role in who)
        if who
        else may_handle(actor, case, institution)
    )
    if not allowed:
        raise ProcedureRefusal("role", N_("You may not record this on the case."))
    flags = set(case.flags)
    if (key in flags) == value:
        return
    case.flags = sorted(flags | {key} if value else flags - {key})
    _event(case, "flag", key, actor, details={"set": value})
    db.session.flush()
    _audit(case, actor, "case.flag", {"flag": key, "set": value})


def may_handle(user: User, case: Case, institution: Institution) -> bool:
    """Whether `user` serves the committee that has the case now (or manages the tenant)."""
    roles = roles_of(case.tenant_id, user)
    if Role.ADMIN in roles or Role.DECISION_MAKER in roles:
        return True
    if case.committee_id is None:
        return Role.LISTENER in roles
    return may_act_as(user, HANDLING_COMMITTEE, case, institution)


def mark_notice_done(notice: CaseNotice, *, actor, institution: Institution) -> None:
    """Record that the party was told, by staff handling the case."""
    case = db.session.get(Case, notice.case_id)
    if not may_handle(actor, case, institution):
        raise ProcedureRefusal("role", N_("You do not handle this case."))
    if notice.done_at is None:
        notice.done_at, notice.done_by_user_id = utcnow(), actor.id
        _event(case, "notice", notice.party, actor, details={"transition": notice.transition_key})
        _audit(case, actor, "case.notice_done", {"party": notice.party})


def plugin_translator(institution: Institution):
    """Translate a plugin text for the current request's reader (unchanged elsewhere)."""
    return lambda text: plugin_gettext(institution.info, text)


# -- the back office: reading, measures, notes, identity ----------------------------------

# Measures that hold for a time and can end; a sanction or a referral is changed only by
# the procedure's own steps (an appeal).
LIFTABLE_KINDS = frozenset({"protective", "precautionary", "support"})


def record_case_read(case: Case, *, actor: User) -> None:
    """Every staff read of a case is in the audit trail."""
    _audit(case, actor, "case.read")


def mark_read_by_unit(case: Case, *, actor: User, institution: Institution) -> int:
    """The reporter's messages have been seen by someone handling the case; returns how many
    were unread. Someone who only looks on (standing without handling) leaves them unread."""
    if not may_handle(actor, case, institution):
        return 0
    now, count = utcnow(), 0
    unread = db.session.scalars(
        select(Message).where(
            Message.case_id == case.id,
            Message.author_kind == REPORTER,
            Message.read_at.is_(None),
        )
    )
    for message in unread:
        message.read_at, count = now, count + 1
    return count


def record_evidence_download(case: Case, evidence: Evidence, *, actor: User) -> None:
    """Staff took a copy of a file the reporter gave: audited against the case."""
    _audit(case, actor, "evidence.downloaded", {"evidence": evidence.public_id})


def may_lift_measure(user: User, measure: CaseMeasure, case: Case, institution) -> bool:
    """Whether `user` may lift `measure`: one that holds for a time and still does, by staff
    handling the case or who may decide such a measure at its current stage."""
    if measure.kind not in LIFTABLE_KINDS or measure.lifted_at is not None:
        return False
    if may_handle(user, case, institution):
        return True
    facts = facts_of(case, institution)
    return any(
        {measure.kind, measure.key} & set(t["measures"])
        and holds(t["when"], facts)
        and _actor_may_take(user, t, case, institution, facts)
        for t in institution.procedure.transitions_from(case.state)
    )


def lift_measure(
    measure: CaseMeasure, *, actor: User, institution: Institution, now=None
) -> CaseMeasure:
    """End a protective, precautionary or support measure, in the timeline and the audit."""
    case = db.session.get(Case, measure.case_id)
    if measure.lifted_at is not None:
        raise ProcedureRefusal("already_lifted", N_("This measure has already been lifted."))
    if measure.kind not in LIFTABLE_KINDS:
        raise ProcedureRefusal(
            "not_liftable",
            N_("A sanction or a referral is not lifted here: the procedure's steps change it."),
        )
    if not may_lift_measure(actor, measure, case, institution):
        raise ProcedureRefusal("role", N_("You may not lift this measure."))
    now = now or utcnow()
    measure.lifted_at, measure.lifted_by_user_id = now, actor.id
    _event(case, "measure_lifted", measure.key, actor, details={"measure": measure.public_id})
    db.session.flush()
    _audit(case, actor, "case.measure_lifted", {"measure": measure.key})
    return measure


NOTE_KINDS = CaseNote.KINDS
NOTE_MAX = 20_000


def may_write_note(user: User, case: Case, kind: str, institution: Institution) -> bool:
    """Notes are written by those who handle the case; once it is closed, only the follow-up
    support plan, which those who may offer support at that stage may also write."""
    if case.closed_at is not None and kind != "support_plan":
        return False
    if may_handle(user, case, institution):
        return True
    if kind != "support_plan":
        return False
    facts = facts_of(case, institution)
    return any(
        "support" in t["measures"]
        and holds(t["when"], facts)
        and _actor_may_take(user, t, case, institution, facts)
        for t in institution.procedure.transitions_from(case.state)
    )


def add_note(
    case: Case, kind: str, body: str, *, actor: User, institution: Institution, now=None
) -> CaseNote:
    """A recommendation, the reasons of a decision, an appeal, the support plan or an
    internal note on the case; the text is encrypted and never in the audit trail."""
    if kind not in NOTE_KINDS:
        raise ProcedureRefusal("unknown_note_kind", N_("This kind of note does not exist."))
    body = (body or "").strip()
    if not body:
        raise ProcedureRefusal("empty_note", N_("Please write the note."))
    if len(body) > NOTE_MAX:
        raise ProcedureRefusal("note_too_long", N_("This note is too long."))
    if not may_write_note(actor, case, kind, institution):
        if case.closed_at is not None and kind != "support_plan":
            raise ProcedureRefusal(
                "closed", N_("This case is closed: only a follow-up support plan can be added.")
            )
        raise ProcedureRefusal("role", N_("You do not handle this case."))
    note = CaseNote(
        tenant_id=case.tenant_id,
        case_id=case.id,
        kind=kind,
        body=body,
        author_user_id=actor.id,
        created_at=now or utcnow(),
    )
    db.session.add(note)
    db.session.flush()
    _audit(case, actor, "case.note", {"kind": kind, "note": note.public_id})
    return note


def reveal_identity(case: Case, *, actor: User, institution: Institution) -> list:
    """The identities of the case's named reporters, for `actor`, if the procedure allows it
    now (`core.cases.access.may_view_identity`); every reveal is audited."""
    from core.cases.access import may_view_identity  # access builds on this module

    identities = [
        report.identity
        for report in db.session.scalars(
            select(Report).where(Report.case_id == case.id).order_by(Report.submitted_at)
        )
        if report.identity is not None
    ]
    if not identities:
        raise ProcedureRefusal(
            "anonymous", N_("This report was made anonymously: there is no name to show.")
        )
    if not may_view_identity(actor, case, institution):
        raise ProcedureRefusal(
            "identity_kept_apart",
            N_("Who reported cannot be shown to you at this stage of the procedure."),
        )
    _audit(case, actor, "case.identity_viewed", {"reports": len(identities)})
    return identities


def message_reporter(case: Case, body: str, *, actor: User, institution: Institution):
    """A message from staff to the person reporting, by someone handling the case."""
    from core.reports.operations import post_message  # reports build on this module

    if not may_handle(actor, case, institution):
        raise ProcedureRefusal(
            "role", N_("Only staff handling the case write to the person reporting.")
        )
    return post_message(case, body, actor=actor, institution=institution)
