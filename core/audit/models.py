"""Audit events and the head of each tenant's chain."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.tenancy.models import TenantOwned
from core.types import JSONType, UTCDateTime, utcnow


class AuditEvent(TenantOwned, db.Model):
    """Something that happened, by whom, to what. Details never hold personal content."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        # the audit viewer's filters, newest first: by case (target) and by who acted
        Index("ix_audit_events_tenant_id_target", "tenant_id", "target_type", "target_id", "seq"),
        Index("ix_audit_events_tenant_id_actor", "tenant_id", "actor_user_id", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(80))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(TenantOwned, db.Model):
    """The last link of a tenant's chain; locked while an event is appended."""

    __tablename__ = "audit_heads"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    # MAC over (seq, hash): without the key, the head cannot be moved back to hide a cut tail.
    seal: Mapped[str] = mapped_column(String(64))
