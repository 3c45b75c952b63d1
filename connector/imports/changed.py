"""The records of a batch's documents that changed since their import, read at once.

A re-export that changes every document (a rate corrected, a note edited) reverses and reposts them
all: each one's record is read as committed, with whether a person decided its queue item and whether
records are linked to its receipt. Read a thousand at a time here, not three look-ups per document.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bulk import in_chunks
from connector.imports.models import ImportedDocument, ReconciliationItem


class ChangedRecords:
    """The records `ids` as committed (locked on PostgreSQL, as `DocumentPoster._lock` locked them)."""

    def __init__(self, session: Session, ids: Collection[int]) -> None:
        self.session = session
        self._records: dict[int, ImportedDocument] = {}
        self._decided: set[int] = set()  # of their queue items, those a person (or a payment) decided
        self._linked_to: set[int] = set()  # those with records linked to them
        for chunk in in_chunks(ids):
            records = session.scalars(
                select(ImportedDocument)
                .where(ImportedDocument.id.in_(chunk))
                .order_by(ImportedDocument.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            self._records.update({record.id: record for record in records})
            self._decided.update(
                session.scalars(
                    select(ReconciliationItem.document_id).where(
                        ReconciliationItem.document_id.in_(chunk),
                        ReconciliationItem.status.in_(("applied", "rejected")),
                        ReconciliationItem.resolved_by.is_not(None),
                    )
                )
            )
            self._linked_to.update(with_linked_records(session, chunk))

    def record(self, record_id: int) -> ImportedDocument:
        """Record `record_id` as committed: read with the others, or now (a document the batch found
        under another key than its own: an alias, its account's id)."""
        found = self._records.get(record_id)
        if found is not None:
            return found
        record = self.session.get_one(
            ImportedDocument, record_id, with_for_update=True, populate_existing=True
        )
        self._decided.add(record_id)  # not known: looked up (`may_be_decided`)
        self._linked_to.add(record_id)
        return record

    def may_be_decided(self, record_id: int) -> bool:
        """Whether the queue item of record `record_id` may hold a decision (else it holds none)."""
        return record_id in self._decided

    def may_have_linked(self, record_id: int) -> bool:
        """Whether records may be linked to record `record_id`'s receipt (else none are)."""
        return record_id in self._linked_to


def with_linked_records(session: Session, ids: Collection[int]) -> set[int]:
    """Of records `ids` (at most `LOOKUP_CHUNK`), those with records linked to them."""
    linked = session.scalars(
        select(ImportedDocument.linked_id).where(
            ImportedDocument.linked_id.in_(ids), ImportedDocument.status == "linked"
        )
    )
    return {linked_id for linked_id in linked if linked_id is not None}
