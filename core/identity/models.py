"""Staff users and their roles in each tenant."""

import enum
import hashlib
import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Enum, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.tenancy.models import PlatformOwned, TenantOwned
from core.types import UTCDateTime, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    LISTENER = "listener"
    COMMITTEE_MEMBER = "committee_member"
    DECISION_MAKER = "decision_maker"
    AUDITOR = "auditor"


class User(PlatformOwned, UserMixin, db.Model):
    """A staff account. One person may work for several tenants through memberships."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_platform_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the TOTP secret, sealed under the master key (`core.crypto.keys.seal`); usable for
    # signing in once `totp_confirmed_at` says the person proved their app has it
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the last TOTP time step accepted: a code is never accepted twice
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def get_id(self) -> str:
        # Flask-Login keeps this in the session: with a fingerprint of the password hash in
        # it, a new password (a reset, a change) ends every session opened with the old one.
        return f"{self.public_id}:{self.password_fingerprint}"

    @property
    def password_fingerprint(self) -> str:
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class Membership(TenantOwned, db.Model):
    """One role of one user in one tenant."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class RecoveryCode(PlatformOwned, db.Model):
    """A one-time code that stands in for the second factor when the phone is lost.

    Only a SHA-256 of the code is kept: codes are random (80 bits), so a slow hash adds nothing.
    """

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
