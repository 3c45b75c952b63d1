"""What ops look at, read from the database (so every replica tells the same): the latest run of each job
and source and its last success, what waits for a person (quarantined records, receipts in the
reconciliation queue, files the inbox set aside, customers holding money whose records were all
deleted at their source), the outbox, notification channels and their expiry,
notifications not yet processed, and the API credits spent against the budget; and, from this process's
inbox folder, the files an inbox pass took and has not yet imported to the end and the symbolic links
it does not follow. `connector status`, the
daemon's `/status` page and its `/metrics` all show this one snapshot. Counts and times only: no
personal data.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.bootstrap import Container
from connector.db import aware, reading
from connector.imports.inbox import PROCESSING, REASON, symbolic_links, waiting_files
from connector.imports.models import ImportedFile, ReconciliationItem
from connector.imports.pipeline import file_hash, file_name
from connector.master.lifecycle import recordless_holding_money
from connector.sync.models import OutboxItem, QuarantinedRecord, SyncRun
from connector.sync.notification_models import InboxNotification, NotificationChannel
from connector.sync.runs import RunRecord


@dataclass(frozen=True)
class RunState(RunRecord):
    """The latest run of one job over one source, and when one last succeeded."""

    last_success_at: datetime | None = None

    def as_json(self) -> dict[str, object]:
        return {**super().as_json(), "last_success_at": _iso(self.last_success_at)}


@dataclass(frozen=True)
class ChannelState:
    backend: str
    module: str
    expires_at: datetime


@dataclass(frozen=True)
class CreditState:
    """A provider's daily API credit budget and what is left of it (the adapter's meter: every
    replica's spending in the last 24 hours, and the provider's own word when it gave one)."""

    provider: str
    budget: int
    remaining: int


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    runs: list[RunState]
    quarantine_open: dict[str, int]  # by source
    reconciliation: dict[str, int]  # by status: open, applied, rejected
    outbox: dict[tuple[str, str], int]  # by (target, status)
    channels: list[ChannelState]
    notifications_pending: int
    credits: list[CreditState]
    failed_files: list[str] = field(default_factory=list)  # set aside unreadable, still in failed/
    # customers holding money whose records were all deleted at their source (merged away in the CRM?)
    recordless_holding_money: int = 0
    # Taken from the inbox, neither archived nor set aside: being imported, or left by a pass that was
    # killed (the next pass takes them up first).
    processing_files: list[str] = field(default_factory=list)
    symbolic_links: list[str] = field(default_factory=list)  # in the inbox, never followed
    # In the inbox, not taken yet (still being written, or left by passes that failed at them); with
    # `processing_files`, what waits there to be imported.
    inbox_waiting: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "taken_at": self.taken_at.isoformat(),
            "runs": [run.as_json() for run in self.runs],
            "quarantine_open": self.quarantine_open,
            "reconciliation": self.reconciliation,
            "outbox": [
                {"target": target, "status": status, "items": count}
                for (target, status), count in self.outbox.items()
            ],
            "channels": [
                {"backend": c.backend, "module": c.module, "expires_at": c.expires_at.isoformat()}
                for c in self.channels
            ],
            "notifications_pending": self.notifications_pending,
            "failed_files": self.failed_files,
            "recordless_holding_money": self.recordless_holding_money,
            "processing_files": self.processing_files,
            "symbolic_links": self.symbolic_links,
            "inbox_waiting": self.inbox_waiting,
            "credits": [
                {"provider": c.provider, "budget": c.budget, "remaining": c.remaining} for c in self.credits
            ],
        }


def read_snapshot(
    session: Session, now: datetime, credits: Sequence[CreditState] = (), inbox: Path | None = None
) -> Snapshot:
    """The state as of `now`, with the API credits of the providers in use and what waits in `inbox`."""
    return Snapshot(
        taken_at=now,
        runs=_runs(session),
        quarantine_open={
            source: count
            for source, count in session.execute(
                select(QuarantinedRecord.source, func.count())
                .where(QuarantinedRecord.status == "open")
                .group_by(QuarantinedRecord.source)
                .order_by(QuarantinedRecord.source)
            )
        },
        reconciliation={
            status: count
            for status, count in session.execute(
                select(ReconciliationItem.status, func.count()).group_by(ReconciliationItem.status)
            )
        },
        outbox={
            (target, status): count
            for target, status, count in session.execute(
                select(OutboxItem.target, OutboxItem.status, func.count())
                .group_by(OutboxItem.target, OutboxItem.status)
                .order_by(OutboxItem.target, OutboxItem.status)
            )
        },
        channels=[
            ChannelState(row.backend, row.module, aware(row.expires_at))
            for row in session.scalars(
                select(NotificationChannel).order_by(NotificationChannel.backend, NotificationChannel.module)
            )
        ],
        notifications_pending=session.scalar(
            select(func.count()).where(InboxNotification.status == "pending")
        )
        or 0,
        credits=list(credits),
        failed_files=_failed_files(session),
        recordless_holding_money=recordless_holding_money(session),
        processing_files=_processing_files(inbox),
        symbolic_links=_symbolic_links(inbox),
        inbox_waiting=_inbox_waiting(inbox),
    )


def _processing_files(inbox: Path | None) -> list[str]:
    if inbox is None:
        return []
    try:
        with os.scandir(inbox / PROCESSING) as entries:
            return sorted(file_name(Path(e.path)) for e in entries if e.is_file(follow_symlinks=False))
    except OSError:  # no pass took a file yet
        return []


def _inbox_waiting(inbox: Path | None) -> int:
    try:
        return 0 if inbox is None else len(waiting_files(inbox, settle_seconds=0))
    except OSError:  # not this user's to list
        return 0


def _symbolic_links(inbox: Path | None) -> list[str]:
    try:
        return [] if inbox is None else symbolic_links(inbox)
    except OSError:  # not this user's to list
        return []


def _failed_files(session: Session) -> list[str]:
    """Files the inbox could not read that still wait where it set them aside: not moved out of
    failed/, nor mended there and imported (as the reason file beside each says to). Every file the
    inbox set aside is one, with its reason file beside it, also when files of the same bytes share one
    record. A file `connector import` refused is none: whoever ran it was told, and nothing set it aside
    for a person. A file untouched since it failed is not read again: every scrape and status page asks,
    and a stray 6 GB scan would take their time (their database answer times out while it is hashed)."""
    stored_paths = session.scalars(
        select(ImportedFile.stored_path)
        .where(ImportedFile.status == "failed", ImportedFile.stored_path.is_not(None))
        .order_by(ImportedFile.id)
    ).all()
    failed: dict[Path, tuple[str, float]] = {}  # each file once: its name, when it was set aside
    for stored in stored_paths:
        if stored is None or (path := Path(stored)) in failed or _reason_beside(path) is None:
            continue  # no reason beside it: refused by hand (`connector import`), where it was
        for one, reason in _set_aside_in(path.parent):
            failed.setdefault(one, (file_name(one), reason.st_mtime))
    waiting = []
    for path, (name, failed_at) in failed.items():
        try:
            if not path.is_file():
                continue
            stamp = path.stat()
            if stamp.st_mtime < failed_at:
                waiting.append(name)  # written before it failed, untouched since
                continue
            now = _hash_of(str(path), stamp.st_size, stamp.st_mtime_ns)
        except OSError:  # not this user's to read (the service's own mode): it waits, as far as we know
            waiting.append(name)
            continue
        mended = session.scalar(
            select(ImportedFile.id).where(ImportedFile.content_hash == now, ImportedFile.status == "imported")
        )
        if not mended:
            waiting.append(name)
    return waiting


def _reason_beside(path: Path) -> os.stat_result | None:
    try:
        return path.with_name(path.name + REASON).stat()
    except OSError:
        return None


def _set_aside_in(folder: Path) -> list[tuple[Path, os.stat_result]]:
    """The files the inbox set aside in `folder` (each with its reason file), in the order it did."""
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.is_file(follow_symlinks=False)]
    except OSError:
        return []
    found = []
    for name in names:
        reason = _reason_beside(folder / name) if not name.endswith(REASON) else None
        if reason is not None:
            found.append((folder / name, reason))
    return sorted(found, key=lambda one: (one[1].st_mtime_ns, one[0].name))


@functools.lru_cache(maxsize=256)
def _hash_of(path: str, size: int, mtime_ns: int) -> str:
    """The file's content hash, once per version of it (its size and modification time)."""
    return file_hash(Path(path))


def container_snapshot(container: Container) -> Snapshot:
    """The status snapshot now, with the Zoho credit meter's budget and remainder when Zoho is on."""
    credits: list[CreditState] = []
    if container.settings.zoho.enabled:
        meter = container.zoho.meter
        meter.flush()  # this process's spending written, every replica's read back
        credits.append(CreditState("zoho", meter.budget, meter.remaining()))
    with reading(container.sessions) as session:
        return read_snapshot(session, datetime.now(UTC), credits, container.settings.imports.inbox)


def _runs(session: Session) -> list[RunState]:
    latest = select(func.max(SyncRun.id)).group_by(SyncRun.job, SyncRun.source).scalar_subquery()
    succeeded = {
        (job, source): aware(at)
        for job, source, at in session.execute(
            select(SyncRun.job, SyncRun.source, func.max(SyncRun.finished_at))
            .where(SyncRun.status == "succeeded")
            .group_by(SyncRun.job, SyncRun.source)
        )
    }
    return [
        RunState(**vars(RunRecord.of(run)), last_success_at=succeeded.get((run.job, run.source)))
        for run in session.scalars(
            select(SyncRun).where(SyncRun.id.in_(latest)).order_by(SyncRun.job, SyncRun.source)
        )
    ]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
