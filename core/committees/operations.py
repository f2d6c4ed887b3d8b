"""Keeping a tenant's committees in step with what its plugins declare; staffing them."""

from sqlalchemy import select

from core.audit.operations import record_event
from core.committees.models import Committee, CommitteeMember
from core.extensions import db


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
