"""CRM notification channels this connector holds, and the notifications received on them (the inbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.db import Base, BigId
from connector.ledger.models import utcnow


class NotificationChannel(Base):
    """A subscription at a CRM (Zoho `/actions/watch`): which module's events go to which URL.

    The token the CRM echoes in every callback is a per-channel secret, stored encrypted; callbacks
    are accepted only when they name a channel of this table and carry its token.
    """

    __tablename__ = "notification_channels"
    __table_args__ = (UniqueConstraint("backend", "module"),)

    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    backend: Mapped[str] = mapped_column(String(64))  # e.g. zoho
    module: Mapped[str] = mapped_column(String(100))  # e.g. Contacts
    events: Mapped[str] = mapped_column(Text)  # comma-separated, e.g. Contacts.all
    notify_url: Mapped[str] = mapped_column(Text)
    token_enc: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    renewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InboxNotification(Base):
    """A verified callback, stored before it was answered: which records of which module changed how.

    `pending` until processed (`processed`, with what was done) or given up on (`failed`, after
    repeated errors; polling still covers its records). `skipped`: nothing the connector can apply.
    """

    __tablename__ = "notification_inbox"
    # The same callback twice (Zoho's retry, or a replay) is stored once: by what it says.
    __table_args__ = (Index("ux_notification_inbox_digest", "digest", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    backend: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str] = mapped_column(String(32))
    module: Mapped[str] = mapped_column(String(100))
    operation: Mapped[str] = mapped_column(String(20))  # insert, update, delete
    ids_json: Mapped[str] = mapped_column(Text)
    server_time: Mapped[int | None] = mapped_column(BigInteger)  # the CRM's clock, epoch milliseconds
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counts_json: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    digest: Mapped[str | None] = mapped_column(String(64))  # of channel, time, operation, ids
