"""Stored (wrapped) tenant data keys."""

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.tenancy.models import TenantOwned
from core.types import UTCDateTime, utcnow


class TenantKey(TenantOwned, db.Model):
    """One data key of a tenant, stored only wrapped under a master key."""

    __tablename__ = "tenant_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
