"""Keeping a tenant's committees in step with what its plugins declare; staffing them;
handing a staff member's seats and cases over to another."""

from dataclasses import dataclass, field

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import select

from core.audit.operations import record_event
from core.committees.models import Committee, CommitteeMember
from core.extensions import db
from core.identity.models import Membership, User


def sync_committees(tenant_id: int, declared: list[dict], *, actor) -> list[Committee]:
    """Create a committee row for every declared key the tenant does not have yet.

    Existing committees keep their members; their names follow the plugin. A committee a
    plugin no longer declares is kept, so no membership history is lost.
    """
    existing = {
        c.key: c
        for c in db.session.scalars(select(Committee).where(Committee.tenant_id == tenant_id))
    }
    created = []
    for item in declared:
        committee = existing.get(item["key"])
        if committee is None:
            committee = Committee(tenant_id=tenant_id, key=item["key"], name=item["name"])
            db.session.add(committee)
            created.append(committee)
        else:
            committee.name = item["name"]
    db.session.flush()
    for committee in created:
        record_event(
            tenant_id, actor=actor, action="committee.created", target=("committee", committee.key)
        )
    return created


def add_member(
    committee: Committee, user, *, actor, function=None, role_key=None, site_key=None
) -> CommitteeMember:
    """Seat `user` on `committee` (idempotent), audited."""
    member = db.session.scalar(
        select(CommitteeMember).where(
            CommitteeMember.committee_id == committee.id, CommitteeMember.user_id == user.id
        )
    )
    if member is not None:
        return member
    member = CommitteeMember(
        tenant_id=committee.tenant_id,
        committee=committee,
        user_id=user.id,
        function=function,
        role_key=role_key,
        site_key=site_key,
    )
    db.session.add(member)
    db.session.flush()
    record_event(
        committee.tenant_id,
        actor=actor,
        action="committee.member_added",
        target=("committee", committee.key),
        details={"user": user.public_id, "role": role_key, "site": site_key},
    )
    return member


# -- staffing committees from the back office ------------------------------------------------


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when shown."""
    return message


class CommitteeError(ValueError):
    """A change of a committee's membership that cannot be made as asked.

    ``str()`` is the message in the reader's language inside a request, else in English.
    """

    def __init__(self, message: str, /, **params):
        self.template, self.params = message, params
        super().__init__(message % params if params else message)

    def __str__(self) -> str:
        if not has_request_context():
            return self.args[0]
        return gettext(self.template, **self.params)


def seat_of(committee: Committee, user) -> CommitteeMember | None:
    return db.session.scalar(
        select(CommitteeMember).where(
            CommitteeMember.committee_id == committee.id, CommitteeMember.user_id == user.id
        )
    )


def check_seat(declared: dict, role_key: str | None, site_key: str | None, sites) -> None:
    """Refuse a seat the plugin's committee does not provide for: an unknown role (or none
    where the committee has roles), an unknown site, or no site on a per-site committee."""
    roles = {role["key"] for role in declared["roles"]}
    if roles and role_key not in roles:
        raise CommitteeError(N_("Choose the person's role on this committee."))
    if not roles and role_key:
        raise CommitteeError(N_("This committee has no roles to choose from."))
    if site_key and site_key not in sites:
        raise CommitteeError(N_("This place is not one of the institution's."))
    if declared["per_site"] and not site_key:
        raise CommitteeError(N_("Members of this committee serve one place: choose it."))


def seat_member(
    committee: Committee,
    user,
    declared: dict,
    *,
    role_key: str | None,
    site_key: str | None,
    sites,
    actor,
) -> CommitteeMember:
    """Seat `user` on `committee` with a role and site its plugin declares (`declared`, the
    committee's data; `sites`, the institution's site keys), audited."""
    role_key, site_key = role_key or None, site_key or None
    check_seat(declared, role_key, site_key, sites)
    if user.disabled_at is not None:
        raise CommitteeError(N_("This account is disabled."))
    if seat_of(committee, user) is not None:
        raise CommitteeError(
            N_(
                "%(person)s already sits on this committee. To change the role or place, "
                "remove the seat first."
            ),
            person=user.display_name,
        )
    return add_member(committee, user, actor=actor, role_key=role_key, site_key=site_key)


def open_case_seats(tenant_id: int, user, committee: Committee | None = None) -> list:
    """The rows seating `user` now (composed, not released) on open cases of the tenant."""
    from core.cases.models import Case, CaseMember  # cases build on committees

    query = (
        select(CaseMember)
        .join(Case, Case.id == CaseMember.case_id)
        .where(
            CaseMember.tenant_id == tenant_id,
            CaseMember.user_id == user.id,
            CaseMember.capacity == "composed",
            CaseMember.released_at.is_(None),
            Case.closed_at.is_(None),
        )
        .order_by(CaseMember.id)
    )
    if committee is not None:
        query = query.where(CaseMember.committee_id == committee.id)
    return list(db.session.scalars(query))


def remove_member(committee: Committee, user, *, actor) -> None:
    """Take `user`'s seat on `committee` away, audited; refused while she sits for open
    cases of it (hand them over first). Past cases keep the record of who sat."""
    seat = seat_of(committee, user)
    if seat is None:
        raise CommitteeError(
            N_("%(person)s does not sit on this committee."), person=user.display_name
        )
    sitting = open_case_seats(committee.tenant_id, user, committee)
    if sitting:
        raise CommitteeError(
            N_(
                "%(person)s still sits for %(count)s open case(s) of this committee: hand them "
                "over to someone else first."
            ),
            person=user.display_name,
            count=len({row.case_id for row in sitting}),
        )
    _release_seat(seat, actor=actor)


def _release_seat(seat: CommitteeMember, *, actor) -> None:
    committee = seat.committee
    user = db.session.get(User, seat.user_id)
    details = {"user": user.public_id, "role": seat.role_key, "site": seat.site_key}
    db.session.delete(seat)
    db.session.flush()
    record_event(
        committee.tenant_id,
        actor=actor,
        action="committee.member_removed",
        target=("committee", committee.key),
        details=details,
    )


@dataclass(frozen=True)
class StaffingGap:
    """Where a committee has fewer members than its plugin asks for.

    `kind`: "site" (a site's seats, `seats_per_site`), "role" (a role's minimum) or "size"
    (the committee's minimum size).
    """

    kind: str
    needed: int
    filled: int
    site: str | None = None
    role: str | None = None


def staffing_gaps(committee: Committee, declared: dict) -> list[StaffingGap]:
    """The seats `committee` still needs to meet what its plugin declares."""
    members = list(
        db.session.scalars(
            select(CommitteeMember).where(CommitteeMember.committee_id == committee.id)
        )
    )
    gaps = []
    for site, needed in declared.get("seats_per_site", {}).items():
        filled = sum(member.site_key == site for member in members)
        if filled < needed:
            gaps.append(StaffingGap("site", needed, filled, site=site))
    for role in declared.get("roles", []):
        filled = sum(member.role_key == role["key"] for member in members)
        if filled < role["min"]:
            gaps.append(StaffingGap("role", role["min"], filled, role=role["key"]))
    if not declared.get("seats_per_site") and len(members) < declared.get("min_members", 0):
        gaps.append(StaffingGap("size", declared["min_members"], len(members)))
    return gaps


# -- handing a staff member's work over --------------------------------------------------------


@dataclass
class Handover:
    """What `hand_over` did: cases moved, cases left as they were (with the reason), seats."""

    moved: list = field(default_factory=list)  # (case, committee key)
    left: list = field(default_factory=list)  # (case, committee key, reason: an exception)
    seats_given: list[str] = field(default_factory=list)  # committee keys
    seats_released: list[str] = field(default_factory=list)
    seats_kept: list = field(default_factory=list)  # (committee key, reason: an exception)


def hand_over(
    tenant_id: int,
    leaving,
    successor,
    *,
    institution,
    actor,
    committee: Committee | None = None,
    now=None,
) -> Handover:
    """Move `leaving`'s committee seats (all, or only `committee`'s) and her places on open
    cases to `successor`, audited, deleting nothing.

    On each open case where she sits (composed, not released), her row is released and the
    successor's added with the same role, if the successor may sit for that case: a member
    with that role, not already sitting, and no committee rule against it (conflicts of
    interest: `check_composition`). Cases where they may not are left as they were, with the
    reason. The successor gets her seat where they have none; hers is released unless she
    still sits for a case of that committee or the successor sits there with another role
    or place (no coverage is lost silently). Each case moved gets a `handover` timeline entry.
    """
    from core.cases.models import Case, CaseEvent, CaseMember
    from core.cases.operations import ProcedureRefusal, check_composition
    from core.types import utcnow

    now = now or utcnow()
    if leaving.id == successor.id:
        raise CommitteeError(N_("Choose someone else to hand the cases over to."))
    if successor.disabled_at is not None:
        raise CommitteeError(N_("This account is disabled."))
    if not _works_for(tenant_id, successor):
        raise CommitteeError(
            N_("%(person)s does not work for this institution."), person=successor.display_name
        )
    seats_query = select(CommitteeMember).where(
        CommitteeMember.tenant_id == tenant_id, CommitteeMember.user_id == leaving.id
    )
    if committee is not None:
        seats_query = seats_query.where(CommitteeMember.committee_id == committee.id)
    seats = list(db.session.scalars(seats_query.order_by(CommitteeMember.id)))
    rows = open_case_seats(tenant_id, leaving, committee)
    if not seats and not rows:
        raise CommitteeError(
            N_("%(person)s has no seat and sits for no open case here: nothing to hand over."),
            person=leaving.display_name,
        )
    result = Handover()
    for seat in seats:
        theirs = seat_of(seat.committee, successor)
        if theirs is None:
            add_member(
                seat.committee,
                successor,
                actor=actor,
                function=seat.function,
                role_key=seat.role_key,
                site_key=seat.site_key,
            )
            result.seats_given.append(seat.committee.key)
    committees = {c.id: c for c in db.session.scalars(select(Committee))}
    for row in rows:
        case = db.session.get(Case, row.case_id)
        seated_on = committees[row.committee_id]
        reason = _why_not_successor(row, case, seated_on, successor, institution)
        if reason is None:
            try:
                check_composition(case, seated_on.key, [successor], institution, quorum=0)
            except ProcedureRefusal as refusal:
                reason = refusal
        if reason is not None:
            result.left.append((case, seated_on.key, reason))
            continue
        row.released_at = now
        db.session.add(
            CaseMember(
                tenant_id=case.tenant_id,
                case_id=case.id,
                committee_id=seated_on.id,
                user_id=successor.id,
                role_key=row.role_key,
                capacity="composed",
                transition_key=row.transition_key,
                added_at=now,
            )
        )
        details = {
            "from": leaving.public_id,
            "to": successor.public_id,
            "committee": seated_on.key,
            "role": row.role_key,
        }
        db.session.add(
            CaseEvent(
                tenant_id=case.tenant_id,
                case_id=case.id,
                created_at=now,
                kind="handover",
                key=seated_on.key,
                actor_kind="user" if not isinstance(actor, str) else actor,
                actor_user_id=None if isinstance(actor, str) else actor.id,
                details=details,
            )
        )
        db.session.flush()
        record_event(
            tenant_id,
            actor=actor,
            action="case.handover",
            target=("case", case.public_id),
            details=details,
        )
        result.moved.append((case, seated_on.key))
    still_sitting = {key for _, key, _ in result.left}
    for seat in seats:
        key = seat.committee.key
        theirs = seat_of(seat.committee, successor)
        if key in still_sitting:
            result.seats_kept.append(
                (key, CommitteeError(N_("she still sits for cases of it that were not moved")))
            )
        elif (theirs.role_key, theirs.site_key) != (seat.role_key, seat.site_key):
            result.seats_kept.append(
                (
                    key,
                    CommitteeError(
                        N_("%(person)s sits on it with another role or place"),
                        person=successor.display_name,
                    ),
                )
            )
        else:
            _release_seat(seat, actor=actor)
            result.seats_released.append(key)
    record_event(
        tenant_id,
        actor=actor,
        action="staff.handover",
        target=("user", leaving.public_id),
        details={
            "to": successor.public_id,
            "committee": committee.key if committee is not None else None,
            "cases_moved": len(result.moved),
            "cases_left": len(result.left),
            "seats_given": result.seats_given,
            "seats_released": result.seats_released,
        },
    )
    return result


def _works_for(tenant_id: int, user) -> bool:
    """Whether `user` has a role in the tenant or a seat on one of its committees."""
    seated = select(CommitteeMember.id).where(
        CommitteeMember.tenant_id == tenant_id, CommitteeMember.user_id == user.id
    )
    with_role = select(Membership.id).where(
        Membership.tenant_id == tenant_id, Membership.user_id == user.id
    )
    return db.session.scalar(seated.union(with_role).limit(1)) is not None


def _why_not_successor(row, case, committee: Committee, successor, institution):
    """Why `successor` cannot take `row`'s place on `case` (None if nothing so far)."""
    from core.cases.models import CaseMember

    if committee.key not in institution.committees:
        return CommitteeError(N_("its committee is no longer part of the institution's"))
    seats = list(
        db.session.scalars(
            select(CommitteeMember).where(
                CommitteeMember.committee_id == committee.id,
                CommitteeMember.user_id == successor.id,
            )
        )
    )
    if row.role_key and all(seat.role_key != row.role_key for seat in seats):
        return CommitteeError(
            N_("%(person)s does not sit on this committee in the same role"),
            person=successor.display_name,
        )
    already = db.session.scalar(
        select(CaseMember.id).where(
            CaseMember.case_id == case.id,
            CaseMember.committee_id == committee.id,
            CaseMember.user_id == successor.id,
            CaseMember.capacity == "composed",
            CaseMember.released_at.is_(None),
        )
    )
    if already is not None:
        return CommitteeError(
            N_("%(person)s already sits for this case"), person=successor.display_name
        )
    return None
