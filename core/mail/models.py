"""The outbox: every e-mail Cellule sends is first a row here, until it is sent."""

import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto.fields import EncryptedText
from core.extensions import db
from core.tenancy.models import TenantOwned
from core.types import JSONType, UTCDateTime, utcnow


class OutboundMail(TenantOwned, db.Model):
    """One e-mail to send: its kind, language and parameters, never its rendered text.

    `params` holds non-personal values only (the institution's name, a case reference);
    the recipient is encrypted. The row stays pending (`sent_at` empty) until an SMTP
    server has taken the message.
    """

    __tablename__ = "outbound_mail"
    __table_args__ = (Index("ix_outbound_mail_sent_at_created_at", "sent_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    recipient: Mapped[str] = mapped_column(EncryptedText("mail.recipient"))
    kind: Mapped[str] = mapped_column(String(60))
    locale: Mapped[str] = mapped_column(String(8))
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # why the last attempt failed, short and naming no address (e.g. "SMTPServerDisconnected")
    last_error: Mapped[str | None] = mapped_column(String(200))
