"""Appending to and verifying the audit chain.

Each tenant's events form one chain: event N carries the MAC of event N-1, and its own MAC
covers every field. The MAC is keyed with a secret derived from the tenant's data key, so
someone who can write to the database but does not hold the master key cannot forge a
consistent chain. The head row records the last link under its own seal, which exposes a
cut tail; only restoring an old copy of the head (from a backup) could hide one, which is
why the head should also be anchored outside the database (see the README).
"""

import hashlib
import hmac
import json
from dataclasses import dataclass, field

from sqlalchemy import select

from core.audit.models import AuditEvent, AuditHead
from core.crypto.fields import audit_key
from core.extensions import db
from core.types import utcnow

GENESIS = "0" * 64
SYSTEM = "system"
PLATFORM = "platform"
_SCALARS = (str, int, bool, type(None))


class AuditDetailsError(ValueError):
    """Audit details must be small scalars: they are never a place for personal content."""


def _check_details(details: dict) -> dict:
    for key, value in details.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or not all(isinstance(v, _SCALARS) for v in values):
            raise AuditDetailsError(f"audit detail {key!r} must be a scalar or a list of scalars")
        if any(isinstance(v, str) and len(v) > 200 for v in values):
            raise AuditDetailsError(f"audit detail {key!r} is too long to be metadata")
    return details


def _mac(key: bytes, event: AuditEvent) -> str:
    body = {
        "tenant_id": event.tenant_id,
        "seq": event.seq,
        "created_at": event.created_at.isoformat(timespec="microseconds"),
        "actor_kind": event.actor_kind,
        "actor_user_id": event.actor_user_id,
        "action": event.action,
        "target": [event.target_type, event.target_id],
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _head_seal(key: bytes, seq: int, last_hash: str) -> str:
    return hmac.new(key, f"head:{seq}:{last_hash}".encode(), hashlib.sha256).hexdigest()


def start_chain(tenant_id: int) -> AuditHead:
    """Create the empty chain of a new tenant."""
    head = AuditHead(
        tenant_id=tenant_id, seq=0, hash=GENESIS, seal=_head_seal(audit_key(tenant_id), 0, GENESIS)
    )
    db.session.add(head)
    db.session.flush()
    return head


def record_event(
    tenant_id: int,
    *,
    actor,
    action: str,
    target: tuple[str, str],
    details: dict | None = None,
) -> AuditEvent:
    """Append one event to the tenant's chain, in the caller's transaction.

    `actor` is a staff `User`, or one of the strings "system", "platform", "reporter".
    """
    head = db.session.execute(
        select(AuditHead).where(AuditHead.tenant_id == tenant_id).with_for_update()
    ).scalar_one()
    actor_kind, actor_user_id = (
        (actor, None)
        if isinstance(actor, str) or actor is None
        else (
            "user",
            actor.id,
        )
    )
    event = AuditEvent(
        tenant_id=tenant_id,
        seq=head.seq + 1,
        created_at=utcnow(),
        actor_kind=actor_kind or SYSTEM,
        actor_user_id=actor_user_id,
        action=action,
        target_type=target[0],
        target_id=str(target[1]),
        details=_check_details(dict(details or {})),
        prev_hash=head.hash,
    )
    key = audit_key(tenant_id)
    event.hash = _mac(key, event)
    head.seq, head.hash = event.seq, event.hash
    head.seal = _head_seal(key, event.seq, event.hash)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass
class ChainReport:
    """What `verify_chain` found for one tenant."""

    tenant_id: int
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    # the sequence number each problem is found at, in the order of `problems`
    problem_seqs: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def broken_at(self) -> int | None:
        """The first event at which the chain no longer holds (None: it holds)."""
        return min(self.problem_seqs) if self.problem_seqs else None

    def add(self, seq: int, problem: str) -> None:
        self.problem_seqs.append(seq)
        self.problems.append(problem)


def verify_chain(tenant_id: int, *, batch_size: int = 5000) -> ChainReport:
    """Recompute the tenant's chain and name every modified, inserted or deleted event."""
    key = audit_key(tenant_id)
    report = ChainReport(tenant_id)
    expected_seq, previous = 1, GENESIS
    last_seq = 0
    query = (
        select(AuditEvent)
        .where(AuditEvent.tenant_id == tenant_id)
        .order_by(AuditEvent.seq, AuditEvent.id)
        .execution_options(yield_per=batch_size)
    )
    for event in db.session.scalars(query):
        report.checked += 1
        if event.seq > expected_seq:
            missing = (
                f"{expected_seq}"
                if event.seq == expected_seq + 1
                else f"{expected_seq}-{event.seq - 1}"
            )
            report.add(
                expected_seq, f"deleted: event(s) {missing} missing before event {event.seq}"
            )
        elif event.seq < expected_seq:
            report.add(event.seq, f"inserted: event id {event.id} repeats sequence {event.seq}")
        if _mac(key, event) != event.hash:
            report.add(
                event.seq,
                f"modified: event {event.seq} (id {event.id}, {event.action}) "
                "does not match its seal",
            )
        elif event.prev_hash != previous and event.seq == expected_seq:
            report.add(
                event.seq,
                f"inserted: event {event.seq} (id {event.id}) "
                f"does not follow event {event.seq - 1}",
            )
        previous = event.hash
        expected_seq = max(expected_seq, event.seq + 1)
        last_seq = max(last_seq, event.seq)
    head = db.session.execute(
        select(AuditHead).where(AuditHead.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if head is None:
        report.add(last_seq + 1, "the chain head is missing")
    elif head.seal != _head_seal(key, head.seq, head.hash):
        report.add(
            min(head.seq, last_seq) + 1,
            f"altered: the chain head (at event {head.seq}) does not match its seal; "
            "events after it may have been deleted",
        )
    elif head.seq > last_seq:
        report.add(last_seq + 1, f"deleted: event(s) {last_seq + 1}-{head.seq} missing at the end")
    elif head.seq != last_seq or head.hash != previous:
        report.add(last_seq, f"inserted: the chain head does not match event {last_seq}")
    return report
