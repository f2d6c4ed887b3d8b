"""Reports and the (separately stored) identity of named reporters."""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.crypto.fields import EncryptedBytes, EncryptedJSON, EncryptedText
from core.extensions import db
from core.tenancy.models import TenantOwned, same_tenant_reference
from core.types import JSONType, UTCDateTime, utcnow


class Report(TenantOwned, db.Model):
    """One submission from a reporter. Its narrative and form answers are encrypted."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        same_tenant_reference("case_id", "cases"),
        # a receipt is found by its (deterministic, per-tenant salted) argon2id hash
        Index("ix_reports_tenant_id_receipt_hash", "tenant_id", "receipt_hash", unique=True),
        # one report per submitted form, however many times it is sent (a double click)
        Index("ix_reports_tenant_id_submission", "tenant_id", "submission_digest", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reporter_relation: Mapped[str] = mapped_column(String(40))
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    site_key: Mapped[str | None] = mapped_column(String(60))
    categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    narrative: Mapped[str] = mapped_column(EncryptedText("report.narrative"))
    form_data: Mapped[dict | None] = mapped_column(EncryptedJSON("report.form_data"))
    # argon2id hash of the receipt code; the code itself is never stored.
    receipt_hash: Mapped[str | None] = mapped_column(String(200))
    # sha256 of the one-time token the report form carried
    submission_digest: Mapped[str | None] = mapped_column(String(64))
    # where a named reporter accepts "you have a new message" notices (never any content)
    notify_email: Mapped[str | None] = mapped_column(EncryptedText("report.notify_email"))

    case: Mapped["Case | None"] = relationship(back_populates="reports")  # noqa: F821
    identity: Mapped["ReporterIdentity | None"] = relationship(
        back_populates="report", cascade="all, delete-orphan"
    )
    evidence: Mapped[list["Evidence"]] = relationship(
        back_populates="report", order_by="Evidence.id", cascade="all, delete-orphan"
    )


class ReporterIdentity(TenantOwned, db.Model):
    """Who a named reporter is, kept apart from the narrative and shown only when allowed."""

    __tablename__ = "reporter_identities"
    __table_args__ = (same_tenant_reference("report_id", "reports", ondelete="CASCADE"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(Integer, unique=True)
    full_name: Mapped[str] = mapped_column(EncryptedText("reporter.full_name"))
    contact: Mapped[dict | None] = mapped_column(EncryptedJSON("reporter.contact"))

    report: Mapped[Report] = relationship(back_populates="identity")


class Evidence(TenantOwned, db.Model):
    """A file given with a report (or later), stripped of its metadata and encrypted."""

    __tablename__ = "evidence"
    __table_args__ = (same_tenant_reference("report_id", "reports", ondelete="CASCADE"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    report_id: Mapped[int] = mapped_column(Integer, index=True)
    filename: Mapped[str] = mapped_column(EncryptedText("evidence.filename"))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(EncryptedBytes("evidence.data"))
    added_by: Mapped[str] = mapped_column(String(20))  # reporter, or staff
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[Report] = relationship(back_populates="evidence")
