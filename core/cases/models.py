"""Cases and the messages exchanged on them."""

import secrets
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.crypto.fields import EncryptedText
from core.extensions import db
from core.reports.models import Report
from core.tenancy.models import TenantOwned, same_tenant_reference
from core.types import UTCDateTime, utcnow

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
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    reference: Mapped[str] = mapped_column(String(20), default=new_reference)
    state: Mapped[str] = mapped_column(String(60))
    committee_id: Mapped[int | None] = mapped_column(Integer, index=True)
    site_key: Mapped[str | None] = mapped_column(String(60))
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
