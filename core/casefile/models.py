"""The written record of a case: statement forms, hearings, documents and staff notes.

Everything people said or wrote is encrypted with the tenant's key; the rows themselves
hold only dates, kinds and who recorded them.
"""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto.fields import EncryptedBytes, EncryptedJSON, EncryptedText
from core.extensions import db
from core.tenancy.models import TenantOwned, same_tenant_reference
from core.types import UTCDateTime, utcnow


def _public_id() -> str:
    return str(uuid.uuid4())


class StatementForm(TenantOwned, db.Model):
    """The unit's written account of what the reporter said, which the reporter validates.

    `content` holds the answers to the fields of the institution's statement form (the
    ``statement_form`` hook), keyed by field. A new draft after validation starts a new
    version; earlier versions stay.
    """

    __tablename__ = "statement_forms"
    __table_args__ = (
        same_tenant_reference("case_id", "cases", ondelete="CASCADE"),
        Index("ix_statement_forms_case_id_version", "case_id", "version", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=_public_id)
    case_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    content: Mapped[dict] = mapped_column(EncryptedJSON("statement.content"))
    drafted_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # shown to the reporter once the unit submits it; validated (or sent back) by them
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Hearing(TenantOwned, db.Model):
    """A hearing of one person on a case: summons, acknowledgement, who attended, the
    literal transcript, and the person's sign-off."""

    __tablename__ = "hearings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        same_tenant_reference("case_id", "cases", ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=_public_id)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    # victim, implicated, witness, other
    person_kind: Mapped[str] = mapped_column(String(20))
    person_name: Mapped[str] = mapped_column(EncryptedText("hearing.person_name"))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    place: Mapped[str | None] = mapped_column(EncryptedText("hearing.place"))
    summoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # who was in the room: staff (public ids) and others (names), and who assisted the person
    attendees: Mapped[dict | None] = mapped_column(EncryptedJSON("hearing.attendees"))
    assistance: Mapped[str | None] = mapped_column(EncryptedText("hearing.assistance"))
    transcript: Mapped[str | None] = mapped_column(EncryptedText("hearing.transcript"))
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the person heard signed the report of the hearing; nothing changes after that
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseDocument(TenantOwned, db.Model):
    """A document staff collected for the case, with the written agreement of the person
    who gave it."""

    __tablename__ = "case_documents"
    __table_args__ = (
        same_tenant_reference("case_id", "cases", ondelete="CASCADE"),
        same_tenant_reference("hearing_id", "hearings"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=_public_id)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    hearing_id: Mapped[int | None] = mapped_column(Integer, index=True)
    filename: Mapped[str] = mapped_column(EncryptedText("document.filename"))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(EncryptedBytes("document.data"))
    provided_by: Mapped[str] = mapped_column(EncryptedText("document.provided_by"))
    # the person's written agreement that the document joins the case file
    agreement_recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    agreement_note: Mapped[str | None] = mapped_column(EncryptedText("document.agreement"))
    added_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseNote(TenantOwned, db.Model):
    """What staff write on a case that is not a message: recommendations, the reasons of a
    decision, an appeal, the follow-up support plan, an internal note."""

    __tablename__ = "case_notes"
    __table_args__ = (same_tenant_reference("case_id", "cases", ondelete="CASCADE"),)

    KINDS = ("note", "recommendation", "decision", "appeal", "support_plan")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=_public_id)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(EncryptedText("note.body"))
    author_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
