"""Run history, quarantined records and the mapping sets the runs used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connector.db import Base, BigId
from connector.ledger.models import utcnow


class MappingSetVersion(Base):
    """A mapping set that passed validation, kept whole so it can stay in force after a bad edit."""

    __tablename__ = "mapping_set_versions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    files_json: Mapped[str] = mapped_column(Text)  # {file name: TOML text}
    first_valid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_valid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SyncRun(Base):
    """One run of a job: when, with which mapping set, what it did, how it ended."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    mapping_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running, succeeded, failed
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counts_json: Mapped[str] = mapped_column(Text, default="{}")
    error: Mapped[str | None] = mapped_column(Text)


class QuarantinedRecord(Base):
    """A record that could not be processed: its raw input (encrypted), where it came from and why."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(200))
    record_ref: Mapped[str] = mapped_column(Text)  # file and row, or backend and record id
    raw_enc: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, resolved
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
