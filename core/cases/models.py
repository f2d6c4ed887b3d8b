"""Cases and the messages exchanged on them."""

import secrets
import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.crypto.fields import EncryptedText
from core.extensions import db
from core.reports.models import Report
from core.tenancy.models import TenantOwned, same_tenant_reference
from core.types import JSONType, UTCDateTime, utcnow

# No 0/O, 1/I/L: references are read aloud and copied by hand.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference() -> str:
    """A short, non-sequential case reference such as `K7QM-3XPA`."""
    code = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


class Case(TenantOwned, db.Model):
    """What staff handle: it moves through the tenant's procedure from state to state."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("tenant_id", "reference"),
        UniqueConstraint("tenant_id", "id"),
        same_tenant_reference("committee_id", "committees"),
        # the inbox's keyset order (newest first), whole tenant, per committee, per stage
        Index("ix_cases_tenant_id_opened_at", "tenant_id", "opened_at", "public_id"),
        Index("ix_cases_committee_id_opened_at", "committee_id", "opened_at", "public_id"),
        Index("ix_cases_tenant_id_state_opened_at", "tenant_id", "state", "opened_at", "public_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    reference: Mapped[str] = mapped_column(String(20), default=new_reference)
    state: Mapped[str] = mapped_column(String(60))
    # the committee handling the case now, narrowed to the members serving `site_key`
    committee_id: Mapped[int | None] = mapped_column(Integer, index=True)
    site_key: Mapped[str | None] = mapped_column(String(60))
    # what the procedure's conditions read: {"relation", "anonymous", "sites": {party: key}}
    facts: Mapped[dict] = mapped_column(JSONType, default=dict)
    # flags staff set on the case (serious danger, facts of a crime…), keys of the procedure
    flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # the routing decision: {"committee", "site", "exclude_sites", "also_notify", "reason"}
    routing: Mapped[dict] = mapped_column(JSONType, default=dict)
    identity_revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    reports: Mapped[list[Report]] = relationship(back_populates="case")
    messages: Mapped[list["Message"]] = relationship(
        back_populates="case", order_by="Message.created_at"
    )


class Message(TenantOwned, db.Model):
    """A message between the reporter and the unit on a case. The body is encrypted."""

    __tablename__ = "messages"
    __table_args__ = (same_tenant_reference("case_id", "cases", ondelete="CASCADE"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    author_kind: Mapped[str] = mapped_column(String(20))  # "reporter" or "staff"
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(EncryptedText("message.body"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="messages")


def _public_id() -> str:
    return str(uuid.uuid4())


class CaseEvent(TenantOwned, db.Model):
    """One entry of a case's timeline: a step taken, a consent, a flag, a composition.

    Holds keys and references only, never what people wrote.
    """

    __tablename__ = "case_events"
    __table_args__ = (
        same_tenant_reference("case_id", "cases", ondelete="CASCADE"),
        Index("ix_case_events_case_id_created_at", "case_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # opened, transition, consent, flag, composition, measure
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str | None] = mapped_column(String(60))
    actor_kind: Mapped[str] = mapped_column(String(20))  # user, reporter, system
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(60))
    to_state: Mapped[str | None] = mapped_column(String(60))
    details: Mapped[dict] = mapped_column(JSONType, default=dict)


class CaseConsent(TenantOwned, db.Model):
    """The current answer to one consent the procedure asks for; history is in the events."""

    __tablename__ = "case_consents"
    __table_args__ = (
        UniqueConstraint("case_id", "key"),
        same_tenant_reference("case_id", "cases", ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(60))
    given: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(20))  # reporter, or user (on their behalf)


class Deadline(TenantOwned, db.Model):
    """A deadline running on a case: the durable truth reminders and alerts work from."""

    __tablename__ = "deadlines"
    __table_args__ = (
        same_tenant_reference("case_id", "cases", ondelete="CASCADE"),
        Index("ix_deadlines_case_id_key", "case_id", "key"),
        Index("ix_deadlines_open_due_at", "tenant_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=_public_id)
    case_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(60))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    indicative: Mapped[bool] = mapped_column(Boolean, default=False)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # restarted (the step that starts it came again) or the case closed first
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when the people who must meet it are reminded; None: no reminder for this deadline
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_open(self) -> bool:
        return self.met_at is None and self.cancelled_at is None


class CaseMember(TenantOwned, db.Model):
    """A staff member who sat on a case for a committee: composed, or present at a step."""

    __tablename__ = "case_members"
    __table_args__ = (
        same_tenant_reference("case_id", "cases", ondelete="CASCADE"),
        same_tenant_reference("committee_id", "committees"),
        Index("ix_case_members_case_id_committee_id", "case_id", "committee_id"),
        # The inbox asks, of a tenant's every case, "was she composed for it?" and "was anyone
        # composed for its committee?": compositions in force are few among the members
        # present at steps, so these answer without reading the others.
        Index(
            "ix_case_members_composed_user_id",
            "user_id",
            "case_id",
            postgresql_where=text("capacity = 'composed' AND released_at IS NULL"),
            sqlite_where=text("capacity = 'composed' AND released_at IS NULL"),
        ),
        Index(
            "ix_case_members_composed_committee_id",
            "committee_id",
            "case_id",
            postgresql_where=text("capacity = 'composed' AND released_at IS NULL"),
            sqlite_where=text("capacity = 'composed' AND released_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer)
    committee_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role_key: Mapped[str | None] = mapped_column(String(60))
    # composed: chosen to sit for the case; present: took part in one step
    capacity: Mapped[str] = mapped_column(String(20))
    transition_key: Mapped[str | None] = mapped_column(String(60))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseMeasure(TenantOwned, db.Model):
    """A measure recorded on a case, taken from the tenant's sanction ladder."""

    __tablename__ = "case_measures"
    __table_args__ = (same_tenant_reference("case_id", "cases", ondelete="CASCADE"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=_public_id)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    key: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    transition_key: Mapped[str] = mapped_column(String(60))
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)


class CaseNotice(TenantOwned, db.Model):
    """Someone the procedure says must be told of a step, until that is done.

    `message` is the procedure's text (in the plugin's source language, translated when
    shown); what is told never includes the case's content.
    """

    __tablename__ = "case_notices"
    __table_args__ = (
        same_tenant_reference("case_id", "cases", ondelete="CASCADE"),
        Index("ix_case_notices_case_id_done_at", "case_id", "done_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=_public_id)
    case_id: Mapped[int] = mapped_column(Integer)
    party: Mapped[str] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(String(1000), default="")
    transition_key: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)


class PersonMark(TenantOwned, db.Model):
    """A keyed hash of the name of a person a report implicates, to notice repeat reports.

    The digest is an HMAC under a key derived from the tenant's data key, of the normalised
    name: it matches only inside one tenant and says nothing without that key.
    """

    __tablename__ = "person_marks"
    __table_args__ = (
        same_tenant_reference("case_id", "cases", ondelete="CASCADE"),
        Index("ix_person_marks_tenant_id_digest", "tenant_id", "digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
