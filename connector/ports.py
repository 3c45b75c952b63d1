"""Ports between the core and the adapters: small protocols, one capability each, and their domain types.

Raw records cross a port only to reach the mapping layer, which turns them into canonical fields; the
adapters never see the ledger, the core never sees an API's envelopes, paging or error bodies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class RecordSource(Protocol):
    """Raw records of one stream of a backend (e.g. `Contacts` of `zoho`), for previews."""

    def sample(self, stream: str, limit: int, fields: Sequence[str] = ()) -> list[tuple[str, Any]]:
        """Up to `limit` current records as (reference, raw record), with at least `fields`."""
        ...


@dataclass(frozen=True, slots=True)
class Changed:
    """A record created or modified at the source, as the source sent it."""

    id: str
    modified_at: datetime  # an instant (timezone-aware), comparable whatever offset the source used
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Deletion:
    id: str
    deleted_at: datetime


class ContactSource(Protocol):
    """Changes, look-ups by id and deletions of one backend's customer streams (Contacts, Accounts …)."""

    def changes(
        self, stream: str, fields: Sequence[str], since: datetime | None, seen_at_since: frozenset[str]
    ) -> Iterator[list[Changed]]:
        """Pages of records modified at or after `since` (all when None), oldest first.

        The range is closed, so records modified exactly at `since` come again: those whose ids are in
        `seen_at_since` (already processed) are left out.
        """
        ...

    def by_ids(self, stream: str, fields: Sequence[str], ids: Sequence[str]) -> list[Changed]:
        """The current records with these ids (missing ones are simply absent)."""
        ...

    def deletions(self, stream: str, since: datetime | None) -> Iterator[list[Deletion]]:
        """Pages of records deleted at or after `since` (all the source still lists when None)."""
        ...


@dataclass(frozen=True, slots=True)
class FieldUpdate:
    """Values to write to one record of the CRM."""

    external_id: str
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PushResult:
    """What the CRM said about one record of a push."""

    external_id: str
    ok: bool
    code: str | None = None  # the CRM's own code: SUCCESS, INVALID_DATA, RECORD_LOCKED …
    field: str | None = None  # the field it complained about, when it named one
    message: str = ""
    # Refused for what a field is (its type, length, places, the field gone): an admin may have changed
    # it, so the fields' metadata the push holds may be out of date.
    for_field: bool = False


class StatusSink(Protocol):
    """Writes field values to CRM records in batches, answering for each record separately."""

    max_batch: int

    def push(self, stream: str, updates: Sequence[FieldUpdate]) -> list[PushResult]:
        """One result per update, in order; a failed batch call raises a `RemoteError` instead."""
        ...

    def decimal_places(self, stream: str, *, fresh: bool = False) -> dict[str, int]:
        """The decimal places each number field of `stream` keeps (the CRM rounds what has more), as
        last read within the sink's period; `fresh` reads them from the CRM again."""
        ...
