"""Credentials for remote systems, encrypted at rest (one row per provider, e.g. `zoho`), and what the
stored blind indexes were made with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connector.db import Base
from connector.ledger.models import utcnow


class RemoteCredential(Base):
    """A provider's refresh token and the one access token every thread and replica shares."""

    __tablename__ = "remote_credentials"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    refresh_token_enc: Mapped[str] = mapped_column(Text)
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    api_domain: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Tokens issued in the current window: providers cap them (Zoho: 10 per 10 minutes).
    window_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_in_window: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class IndexState(Base):
    """What the blind indexes in the database were made by: the rules' version (`lookups.RULES`) and a
    fingerprint of the index key (another key would find nobody); and the key a rotation under way seals
    with (`rotation.rotation_starts`)."""

    __tablename__ = "index_state"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
