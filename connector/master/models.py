"""Customer master tables: bindings to source records, the identity review queue, the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.db import Base, BigId
from connector.ledger.models import utcnow


class CustomerBinding(Base):
    """A source record (backend, external id) bound to a customer, with what was last applied from it."""

    __tablename__ = "customer_bindings"
    __table_args__ = (UniqueConstraint("backend", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    backend: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))  # of the mapped record: unchanged ones are skipped
    record_enc: Mapped[str] = mapped_column(Text)  # the last mapped record as JSON, encrypted (for splits)
    mapping_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active, deleted
    last_synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdentityReview(Base):
    """A record whose identity is ambiguous, held until a person links it, makes it new, or dismisses it."""

    __tablename__ = "identity_reviews"
    __table_args__ = (Index("ix_identity_reviews_record", "backend", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    backend: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    record_enc: Mapped[str] = mapped_column(Text)  # the mapped record as JSON, encrypted (personal data)
    content_hash: Mapped[str] = mapped_column(String(64))
    mapping_digest: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(20))
    candidates: Mapped[str] = mapped_column(Text)  # customer ids, comma-separated
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, linked, created, dismissed
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(100))


class CustomerEvent(Base):
    """The customer master's audit trail: creations, bindings, merges, splits, status and class changes."""

    __tablename__ = "customer_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    related_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    backend: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")  # why, in words; never personal data
    actor: Mapped[str] = mapped_column(String(100), default="connector")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
