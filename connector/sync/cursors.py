"""Sync cursors: how far each (backend, stream) has been read, advanced only with the data it covers.

A cursor is an instant plus the ids already processed at exactly that instant: sources filter with
an inclusive "modified since", so those records come again and are skipped. The cursor never reaches
the run's start (its signpost): a record changed while the run was reading may have been missed by
the listing, and the next run reads from before it. Once a listing from the cursor's instant finds
nothing there but the records already processed, the cursor moves just past it (`passed`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from connector.db import aware
from connector.sync.models import SyncCursor


@dataclass(frozen=True)
class Position:
    at: datetime | None  # None: nothing read yet
    seen: frozenset[str] = frozenset()

    def advanced(self, stamps: Iterable[tuple[str, datetime]], signpost: datetime) -> Position:
        """The position after processing records (id, modified/deleted instant), kept before the second
        of `signpost`: CRM stamps are whole seconds, so a record stamped with the run's own second may
        change again within it, keeping its stamp; the next run reads that second again."""
        horizon = signpost.replace(microsecond=0)
        at, seen = self.at, set(self.seen)
        for record_id, moment in stamps:
            if moment >= horizon:
                continue
            if at is None or moment > at:
                at, seen = moment, {record_id}
            elif moment == at:
                seen.add(record_id)
        return Position(at, frozenset(seen))

    def passed(self) -> Position:
        """The position just past its instant, its ids forgotten: for when a listing from it, a run after
        the one that processed them, found none there but them. A record can still appear at an instant
        after a listing read it (the source's clock behind this one's, a long write landing its records
        late), so one reading does not close it; two a run apart showing the same records do, and the
        next runs no longer list them again (a source's call for every 200 of them, each run)."""
        if self.at is None or not self.seen:
            return self
        return Position(self.at + timedelta(microseconds=1))


def _ids(text: str) -> frozenset[str]:
    return frozenset(i for i in text.split(",") if i)


def cursor_row(session: Session, backend: str, stream: str) -> SyncCursor:
    row = session.get(SyncCursor, (backend, stream))
    if row is None:
        row = SyncCursor(backend=backend, stream=stream, seen_at_position="", deletions_seen="")
        session.add(row)
        session.flush()
    return row


def changes_position(row: SyncCursor) -> Position:
    return Position(aware(row.position), _ids(row.seen_at_position))


def deletions_position(row: SyncCursor) -> Position:
    return Position(aware(row.deletions_position), _ids(row.deletions_seen))


def save_changes_position(row: SyncCursor, position: Position) -> None:
    row.position = position.at.astimezone(UTC) if position.at else None
    row.seen_at_position = ",".join(sorted(position.seen))


def save_deletions_position(row: SyncCursor, position: Position) -> None:
    row.deletions_position = position.at.astimezone(UTC) if position.at else None
    row.deletions_seen = ",".join(sorted(position.seen))


def reset(session: Session, backend: str, stream: str) -> None:
    """Forget how far the stream was read: the next pull is a full one."""
    row = session.get(SyncCursor, (backend, stream))
    if row is not None:
        session.delete(row)
