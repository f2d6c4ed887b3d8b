"""Committees (named groups of staff with a role in the procedure) and their members."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.tenancy.models import TenantOwned, same_tenant_reference
from core.types import UTCDateTime, utcnow


class Committee(TenantOwned, db.Model):
    """A tenant's instance of a committee its plugin declares (matched on `key`)."""

    __tablename__ = "committees"
    __table_args__ = (UniqueConstraint("tenant_id", "key"), UniqueConstraint("tenant_id", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    key: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list["CommitteeMember"]] = relationship(
        back_populates="committee", cascade="all, delete-orphan"
    )


class CommitteeMember(TenantOwned, db.Model):
    """A staff member sitting on a committee, optionally for one site (campus, house)."""

    __tablename__ = "committee_members"
    __table_args__ = (
        UniqueConstraint("committee_id", "user_id"),
        same_tenant_reference("committee_id", "committees", ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    committee_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    function: Mapped[str | None] = mapped_column(String(200))
    # the member's role in the committee, a role key its plugin declares
    role_key: Mapped[str | None] = mapped_column(String(60))
    site_key: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    committee: Mapped[Committee] = relationship(back_populates="members")
