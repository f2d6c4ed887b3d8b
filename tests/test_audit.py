"""The audit log is an append-only chain that names every modified, inserted or deleted event."""

import hashlib
import hmac
import json
from itertools import pairwise

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import ProgrammingError

from core.audit.models import AuditEvent, AuditHead
from core.audit.operations import (
    GENESIS,
    AuditDetailsError,
    _head_seal,
    record_event,
    verify_chain,
)
from core.crypto.fields import audit_key
from core.extensions import db
from core.tenancy.scoping import tenant_scope
from core.types import utcnow

EVENTS = AuditEvent.__table__
HEADS = AuditHead.__table__


def append_events(tenant, count: int) -> None:
    """Append `count` staff-like events to the tenant's chain and commit them."""
    with tenant_scope(tenant):
        for n in range(count):
            record_event(
                tenant.id,
                actor="system",
                action="case.viewed",
                target=("case", f"case-{n}"),
                details={"n": n, "fields": ["narrative", "state"]},
            )
        db.session.commit()


def verify(tenant):
    """Check the tenant's chain as `cellule audit verify` does."""
    with tenant_scope(tenant):
        report = verify_chain(tenant.id)
    db.session.rollback()
    return report


def tamper(owner_engine, *statements) -> None:
    """Change the database behind the application's back, as an intruder with access would."""
    db.session.commit()
    with owner_engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)
    db.session.expire_all()


def stored_events(owner_engine, tenant_id: int) -> list:
    """The tenant's event rows as stored, read as the table owner."""
    with owner_engine.connect() as connection:
        return connection.execute(
            select(EVENTS).where(EVENTS.c.tenant_id == tenant_id).order_by(EVENTS.c.seq)
        ).all()


def event_where(tenant_id: int, seq: int):
    return (EVENTS.c.tenant_id == tenant_id) & (EVENTS.c.seq == seq)


def seal(row: dict, key: bytes | None) -> str:
    """What an intruder who read the source would compute: HMAC with `key`, or plain SHA-256."""
    body = {
        "tenant_id": row["tenant_id"],
        "seq": row["seq"],
        "created_at": row["created_at"].isoformat(timespec="microseconds"),
        "actor_kind": row["actor_kind"],
        "actor_user_id": row["actor_user_id"],
        "action": row["action"],
        "target": [row["target_type"], row["target_id"]],
        "details": row["details"],
        "prev_hash": row["prev_hash"],
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if key is None:
        return hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def tenant(make_tenant):
    """A tenant whose chain holds five events: `tenant.created` and four more."""
    tenant = make_tenant("alpha")
    append_events(tenant, 4)
    return tenant


# -- an intact chain ---------------------------------------------------------------------


def test_a_new_tenants_chain_verifies(make_tenant):
    tenant = make_tenant("alpha")
    report = verify(tenant)
    assert report.ok, report.problems
    assert report.checked == 1


def test_appended_events_form_a_linked_chain(tenant, owner_engine):
    report = verify(tenant)
    assert report.ok, report.problems
    assert report.checked == 5

    rows = stored_events(owner_engine, tenant.id)
    assert [row.seq for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0].action == "tenant.created"
    assert rows[0].prev_hash == GENESIS
    for previous, row in pairwise(rows):
        assert row.prev_hash == previous.hash
    assert len({row.hash for row in rows}) == 5
    with owner_engine.connect() as connection:
        head = connection.execute(select(HEADS).where(HEADS.c.tenant_id == tenant.id)).one()
    assert (head.seq, head.hash) == (5, rows[-1].hash)


# -- tampering, done below the application ----------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"action": "case.closed"},
        {"details": {"n": 99, "fields": ["narrative", "state"]}},
        {"target_id": "case-other"},
        {"created_at": utcnow()},
    ],
    ids=["action", "details", "target", "time"],
)
def test_a_modified_event_is_named(tenant, owner_engine, change):
    tamper(owner_engine, update(EVENTS).where(event_where(tenant.id, 3)).values(**change))
    report = verify(tenant)
    assert len(report.problems) == 1, report.problems
    assert report.problems[0].startswith("modified: event 3 ")
    assert report.checked == 5


def test_a_deleted_event_is_named(tenant, owner_engine):
    tamper(owner_engine, delete(EVENTS).where(event_where(tenant.id, 3)))
    report = verify(tenant)
    assert report.problems == ["deleted: event(s) 3 missing before event 4"]


def test_a_cut_tail_is_exposed_by_the_head(tenant, owner_engine):
    tamper(owner_engine, delete(EVENTS).where(EVENTS.c.tenant_id == tenant.id, EVENTS.c.seq >= 4))
    report = verify(tenant)
    assert report.problems == ["deleted: event(s) 4-5 missing at the end"]
    assert report.checked == 3


def test_a_forged_event_with_a_made_up_hash_is_detected(tenant, owner_engine):
    last = stored_events(owner_engine, tenant.id)[-1]
    forged = last._asdict() | {
        "seq": 6,
        "action": "case.deleted",
        "prev_hash": last.hash,
        "hash": "f" * 64,
    }
    del forged["id"]
    tamper(
        owner_engine,
        insert(EVENTS).values(**forged),
        update(HEADS).where(HEADS.c.tenant_id == tenant.id).values(seq=6, hash="f" * 64),
    )
    report = verify(tenant)
    assert report.checked == 6
    assert len(report.problems) == 2, report.problems
    assert report.problems[0].startswith("modified: event 6 ")
    assert report.problems[1].startswith("altered: the chain head (at event 6)")


def test_an_event_slipped_into_the_middle_is_detected(tenant, owner_engine):
    rows = stored_events(owner_engine, tenant.id)
    # Make room at seq 3, one row at a time so the (tenant_id, seq) constraint holds.
    renumber = [
        update(EVENTS).where(EVENTS.c.id == row.id).values(seq=row.seq + 1)
        for row in reversed(rows[2:])
    ]
    forged = rows[2]._asdict() | {"action": "case.exported", "prev_hash": rows[1].hash}
    del forged["id"]
    tamper(
        owner_engine,
        *renumber,
        insert(EVENTS).values(**forged),
        update(HEADS).where(HEADS.c.tenant_id == tenant.id).values(seq=6),
    )
    report = verify(tenant)
    assert report.checked == 6
    assert report.problems[0].startswith("modified: event 3 ")
    # The renumbered events no longer match their seals either.
    assert [p.split(" (")[0] for p in report.problems] == [
        *(f"modified: event {seq}" for seq in (3, 4, 5, 6)),
        "altered: the chain head",
    ]


@pytest.mark.parametrize("keyed", [False, True], ids=["plain-sha256", "with-the-key"])
def test_resealing_needs_the_tenants_secret(tenant, owner_engine, keyed):
    """A rewritten last event resealed with SHA-256 is caught; only the real key would pass."""
    last = stored_events(owner_engine, tenant.id)[-1]
    rewritten = last._asdict() | {"action": "case.closed"}
    key = None
    if keyed:  # the control: proves the rewrite below is otherwise perfect
        with tenant_scope(tenant):
            key = audit_key(tenant.id)
    new_hash = seal(rewritten, key)
    assert new_hash != last.hash
    tamper(
        owner_engine,
        update(EVENTS).where(EVENTS.c.id == last.id).values(action="case.closed", hash=new_hash),
        update(HEADS)
        .where(HEADS.c.tenant_id == tenant.id)
        .values(hash=new_hash, seal=_head_seal(key, 5, new_hash) if keyed else "0" * 64),
    )
    report = verify(tenant)
    if keyed:
        assert report.ok, report.problems
    else:
        assert len(report.problems) == 2, report.problems
        assert report.problems[0].startswith("modified: event 5 ")
        assert report.problems[1].startswith("altered: the chain head")


def test_a_cut_tail_hidden_by_moving_the_head_back_is_detected(tenant, owner_engine):
    """Deleting the last events and pointing the head at the new last one needs the key too."""
    rows = stored_events(owner_engine, tenant.id)
    tamper(
        owner_engine,
        delete(EVENTS).where(EVENTS.c.id.in_([rows[-1].id, rows[-2].id])),
        update(HEADS)
        .where(HEADS.c.tenant_id == tenant.id)
        .values(seq=rows[-3].seq, hash=rows[-3].hash),
    )
    report = verify(tenant)
    assert report.checked == 3
    assert report.problems == [
        "altered: the chain head (at event 3) does not match its seal; "
        "events after it may have been deleted"
    ]


def test_another_tenants_chain_is_unaffected(make_tenant, owner_engine):
    alpha, beta = make_tenant("alpha"), make_tenant("beta")
    append_events(alpha, 2)
    append_events(beta, 2)
    tamper(owner_engine, update(EVENTS).where(event_where(alpha.id, 2)).values(action="forged"))
    assert verify(alpha).problems[0].startswith("modified: event 2 ")
    report = verify(beta)
    assert report.ok, report.problems
    assert report.checked == 3


# -- `cellule audit verify` ---------------------------------------------------------------


def test_cli_reports_every_intact_chain(make_tenant, runner):
    append_events(make_tenant("alpha"), 2)
    make_tenant("beta")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["alpha: ok (3 events)", "beta: ok (1 events)"]


def test_cli_names_the_tampered_tenant_and_the_problem(make_tenant, runner, owner_engine):
    make_tenant("alpha")
    beta = make_tenant("beta")
    append_events(beta, 2)
    tamper(owner_engine, delete(EVENTS).where(event_where(beta.id, 2)))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert "alpha: ok (1 events)" in result.output
    assert "beta: TAMPERED (2 events)" in result.output
    assert "  - deleted: event(s) 2 missing before event 3" in result.output

    only_alpha = runner.invoke(args=["audit", "verify", "--tenant", "alpha"])
    assert only_alpha.exit_code == 0, only_alpha.output
    assert "beta" not in only_alpha.output


def test_cli_refuses_an_unknown_tenant(make_tenant, runner):
    make_tenant("alpha")
    result = runner.invoke(args=["audit", "verify", "--tenant", "unknown"])
    assert result.exit_code == 1
    assert "no tenant with slug 'unknown'" in result.output
    assert "alpha" not in result.output


# -- what details may hold ----------------------------------------------------------------


@pytest.mark.parametrize(
    "details",
    [
        {"reporter": {"name": "Someone"}},
        {"answers": [{"q": "a"}]},
        {"note": "x" * 201},
        {"notes": ["short", "y" * 201]},
    ],
    ids=["nested-dict", "list-of-dicts", "long-string", "long-in-list"],
)
@pytest.mark.sqlite_only
def test_details_that_could_carry_personal_content_are_refused(make_tenant, details):
    tenant = make_tenant("alpha")
    with tenant_scope(tenant), pytest.raises(AuditDetailsError, match=r"scalar|too long"):
        record_event(
            tenant.id, actor="system", action="case.viewed", target=("case", "1"), details=details
        )
    db.session.rollback()
    assert verify(tenant).checked == 1


def test_small_scalar_details_are_kept(make_tenant):
    tenant = make_tenant("alpha")
    details = {"state": "received", "count": 2, "urgent": True, "none": None, "ids": ["a", 1]}
    with tenant_scope(tenant):
        event = record_event(
            tenant.id, actor="system", action="case.viewed", target=("case", 1), details=details
        )
        db.session.commit()
    db.session.expire_all()
    with tenant_scope(tenant):
        stored = db.session.get(AuditEvent, event.id)
        assert (stored.details, stored.target_id) == (details, "1")
    db.session.rollback()
    assert verify(tenant).ok


# -- append-only below the application (PostgreSQL grants) -------------------------------


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
    ids=["update", "delete", "truncate"],
)
def test_the_application_role_cannot_rewrite_the_log(tenant, statement):
    with tenant_scope(tenant):
        with pytest.raises(ProgrammingError, match="permission denied"):
            db.session.execute(text(statement))
        db.session.rollback()
    report = verify(tenant)
    assert report.ok, report.problems
    assert report.checked == 5


@pytest.mark.postgresql
def test_the_application_role_can_append(tenant):
    role = db.session.execute(text("SELECT current_user")).scalar_one()
    assert role == "cellule_app_test"
    db.session.rollback()
    append_events(tenant, 1)
    report = verify(tenant)
    assert report.ok, report.problems
    assert report.checked == 6
