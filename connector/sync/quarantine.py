"""Quarantined records for people: list them (never their raw input), show one with its raw input
decrypted, resolve them by hand with a note. Retrying them is `connector.sync.quarantine_retry`.

A record leaves quarantine only resolved: by a person with a note saying why it needs nothing more, or
by "retry" when it went through. Raw input is decrypted only for `show` and for replaying; never logged.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from connector.bulk import in_chunks
from connector.errors import ConnectorError
from connector.ledger.models import utcnow
from connector.security.cipher import FieldCipher
from connector.sync.models import QuarantinedRecord, SyncRun
from connector.sync.runs import raw_input

_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])

STATUSES = ("open", "resolved", "all")


@dataclass(frozen=True)
class Entry:
    """A quarantined record as listed: where it came from and why, never its raw input."""

    id: int
    source: str
    ref: str
    reason: str
    attempts: int
    status: str
    created_at: datetime
    run_id: int | None
    job: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


@dataclass(frozen=True)
class Detail:
    entry: Entry
    raw: Any  # the raw input, decrypted


def _entry(record: QuarantinedRecord, run: SyncRun | None) -> Entry:
    return Entry(
        record.id,
        record.source,
        record.record_ref,
        record.reason,
        record.attempts,
        record.status,
        record.created_at,
        record.run_id,
        run.job if run else None,
        record.resolved_at,
        record.resolved_by,
        record.resolution,
    )


def list_records(
    session: Session,
    *,
    status: str = "open",
    source: str | None = None,
    job: str | None = None,
    limit: int | None = None,
) -> list[Entry]:
    """Quarantined records, oldest first: open, resolved or all, of one source or job."""
    query = select(QuarantinedRecord, SyncRun).outerjoin(SyncRun, QuarantinedRecord.run_id == SyncRun.id)
    query = _filtered(query, status, source, job).order_by(QuarantinedRecord.id).limit(limit)
    return [_entry(record, run) for record, run in session.execute(query)]


def of_run(session: Session, run_id: int) -> list[Entry]:
    """The records a run quarantined, in its order (a dry run's, before it is rolled back)."""
    query = select(QuarantinedRecord, SyncRun).join(SyncRun, QuarantinedRecord.run_id == SyncRun.id)
    query = query.where(QuarantinedRecord.run_id == run_id).order_by(QuarantinedRecord.id)
    return [_entry(record, run) for record, run in session.execute(query)]


def count_records(
    session: Session, *, status: str = "open", source: str | None = None, job: str | None = None
) -> int:
    """How many records `list_records` lists without a limit."""
    query = select(func.count()).select_from(QuarantinedRecord)
    query = _filtered(query.outerjoin(SyncRun, QuarantinedRecord.run_id == SyncRun.id), status, source, job)
    return session.scalar(query) or 0


def _filtered(query: _Query, status: str, source: str | None, job: str | None) -> _Query:
    if status not in STATUSES:
        raise ConnectorError(f"unknown quarantine status {status!r} (use {', '.join(STATUSES)})")
    if status != "all":
        query = query.where(QuarantinedRecord.status == status)
    if source is not None:
        query = query.where(QuarantinedRecord.source == source)
    if job is not None:
        query = query.where(SyncRun.job == job)
    return query


def load_records(
    session: Session, ids: Iterable[int], *, open_only: bool, lock: bool = False
) -> dict[int, tuple[QuarantinedRecord, SyncRun | None]]:
    """The records with these ids and their runs; refuses ids that do not exist (or are resolved).

    With `lock` the records are locked (on PostgreSQL) so that two people cannot decide one at once.
    """
    wanted = sorted(set(ids))
    found: dict[int, tuple[QuarantinedRecord, SyncRun | None]] = {}
    for chunk in in_chunks(wanted):
        query = (
            select(QuarantinedRecord, SyncRun)
            .outerjoin(SyncRun, QuarantinedRecord.run_id == SyncRun.id)
            .where(QuarantinedRecord.id.in_(chunk))
        )
        if lock:
            query = query.with_for_update(of=QuarantinedRecord)
        found.update({record.id: (record, run) for record, run in session.execute(query)})
    problems = [f"no quarantined record #{i}" for i in wanted if i not in found]
    if open_only:
        problems += [
            f"#{i} was resolved already by {record.resolved_by} ({record.resolution})"
            for i, (record, _) in found.items()
            if record.status != "open"
        ]
    if problems:
        raise ConnectorError("; ".join(problems))
    return found


def show_record(session: Session, cipher: FieldCipher, record_id: int) -> Detail:
    """One record with its raw input decrypted: for an operator who asks to see it."""
    record, run = load_records(session, [record_id], open_only=False)[record_id]
    return Detail(_entry(record, run), raw_input(cipher, record))


def mark_resolved(record: QuarantinedRecord, actor: str, resolution: str) -> None:
    record.status, record.resolved_at, record.resolved_by = "resolved", utcnow(), actor
    record.resolution = resolution


def resolve_applied(session: Session, source: str, refs: Collection[str], run: SyncRun) -> int:
    """Resolve the open records of `source` that `run` has since applied (an API record's reference
    names the record, whichever run fetched it): what a person was asked about went through. How many."""
    if not refs:
        return 0
    open_ = select(QuarantinedRecord.id).where(
        QuarantinedRecord.status == "open", QuarantinedRecord.source == source
    )
    if session.scalar(open_.limit(1)) is None:  # the usual case: nothing waits for this source
        return 0
    wanted = sorted(refs)
    resolved = 0
    for start in range(0, len(wanted), _REFS_PER_QUERY):
        records = session.scalars(
            select(QuarantinedRecord).where(
                QuarantinedRecord.status == "open",
                QuarantinedRecord.source == source,
                QuarantinedRecord.record_ref.in_(wanted[start : start + _REFS_PER_QUERY]),
            )
        )
        for record in records:
            mark_resolved(record, run.job, f"applied by {run.job} run {run.id}")
            resolved += 1
    return resolved


_REFS_PER_QUERY = 900
RETRY_ACTOR = "retry"  # who resolves a record a retry put through


def resolve_records(session: Session, ids: Sequence[int], note: str, actor: str) -> list[Entry]:
    """Mark open records resolved with why nothing more is needed: all of them or, on any error, none."""
    if not ids:
        raise ConnectorError("name the quarantined records to resolve")
    if not note.strip():
        raise ConnectorError("a resolution needs a note saying why the record needs nothing more")
    if not actor.strip():
        raise ConnectorError("a resolution needs the actor who decided it")
    found = load_records(session, ids, open_only=True, lock=True)
    for record, _ in found.values():
        mark_resolved(record, actor.strip(), note.strip())
    session.flush()
    return [_entry(record, run) for record, run in found.values()]
