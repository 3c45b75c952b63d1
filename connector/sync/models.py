"""Run history, quarantined records and the mapping sets the runs used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
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


class ExportSource(Base):
    """A source an export mapping file (by stem) served in a valid set: documents are keyed by it, so a
    file that later names another source would import them all again (`mapping_sets.moved_sources`)."""

    __tablename__ = "export_sources"

    stem: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_valid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SyncRun(Base):
    """One run of a job: when, with which mapping set, what it did, how it ended."""

    __tablename__ = "sync_runs"
    # The running ones, by holder: each lease renewal marks its runs' progress, and each job run looks for
    # runs whose process died; both among a history that grows by thousands of runs a day.
    __table_args__ = (Index("ix_sync_runs_status_holder", "status", "holder"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    mapping_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running, succeeded, failed
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counts_json: Mapped[str] = mapped_column(Text, default="{}")
    error: Mapped[str | None] = mapped_column(Text)
    holder: Mapped[str | None] = mapped_column(String(200))  # host and pid of the process running it
    # When it last showed it was going (started, a batch committed, its lease renewed): when it ended,
    # should its process die. None for runs from before it was kept.
    progress_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QuarantinedRecord(Base):
    """A record that could not be processed: its raw input (encrypted), where it came from and why."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_source_content_key", "source", "content_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(200))
    record_ref: Mapped[str] = mapped_column(Text)  # file and row, or backend and record id
    raw_enc: Mapped[str] = mapped_column(Text)
    # A file row's keyed hash of its text and document id (`row_quarantine`): the same row is found
    # whatever file name brought it. None for other records (a CRM record is found by its id).
    content_key: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, resolved
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(100))  # a person, or "retry" when it went through
    resolution: Mapped[str | None] = mapped_column(Text)  # why it needs nothing more


class SyncCursor(Base):
    """How far a (backend, stream) has been read: changes up to `position`, deletions up to their own.

    The range is closed at `position`, so the ids already processed at exactly that instant are kept to
    be skipped when they come again. Saved in the transaction that stores the records it covers.
    """

    __tablename__ = "sync_cursors"

    backend: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seen_at_position: Mapped[str] = mapped_column(Text, default="")  # ids, comma-separated
    deletions_position: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deletions_seen: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class OutboxItem(Base):
    """The values one CRM record should show, what it was last successfully sent, and the last attempt.

    `desired_hash != pushed_hash` means the record needs a push. A refused push is retried with backoff
    until `dead_after` attempts, then stays `dead` (visible, and retryable by hand).
    """

    __tablename__ = "outbox"

    target: Mapped[str] = mapped_column(String(200), primary_key=True)  # e.g. zoho.Accounts
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    desired_json: Mapped[str] = mapped_column(Text)
    desired_hash: Mapped[str] = mapped_column(String(64))
    # What the desired values were computed from (date, mapping set, rules, ledger and customer state):
    # while it stays the same, planning skips the record without computing its figures again.
    planned_from: Mapped[str | None] = mapped_column(String(64))
    pushed_hash: Mapped[str | None] = mapped_column(String(64))
    pushed_json: Mapped[str | None] = mapped_column(Text)
    # pending, pushed, failed, dead, or retired (its binding no longer active: nothing more is sent)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_code: Mapped[str | None] = mapped_column(String(100))
    last_field: Mapped[str | None] = mapped_column(String(200))
    last_message: Mapped[str | None] = mapped_column(Text)
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"))
    pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ApiCreditSpend(Base):
    """API credits spent per provider and hour: the rolling 24-hour budget every replica shares."""

    __tablename__ = "api_credit_spend"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    credits: Mapped[int] = mapped_column(Integer, default=0)


class JobLease(Base):
    """A job running somewhere: one holder at a time across processes and replicas sharing the database.
    `expires_at` (epoch milliseconds) is renewed while the holder works; a lease left to expire (its
    holder died) may be taken over."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[int] = mapped_column(BigInteger)


class CrmFieldMetadata(Base):
    """A CRM module's field metadata as last read, per org: a push reads it from here while it is
    younger than the configured period (each read costs an API credit), and again at once when a
    write is refused for a field."""

    __tablename__ = "crm_field_metadata"

    org: Mapped[str] = mapped_column(String(200), primary_key=True)  # e.g. zoho:production:US:1000.ABC
    module: Mapped[str] = mapped_column(String(100), primary_key=True)
    fields_json: Mapped[str] = mapped_column(Text)  # the fields the adapter keeps, in its own form
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
