"""The imported files as finance reads them: each with its content hash, when and by which run it was
imported and its counts; one file's documents (as last imported) and the entries it posted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.errors import ConnectorError
from connector.imports.models import ImportedDocument, ImportedFile
from connector.ledger.models import Customer, JournalEntry
from connector.money import Money


@dataclass(frozen=True)
class FileRecord:
    id: int
    name: str
    sha256: str
    format: str
    status: str  # importing, imported, failed
    counts: dict[str, int]
    error: str | None
    run_id: int | None  # the latest run over it
    stored_path: str | None
    started_at: datetime
    finished_at: datetime | None  # when it was imported (or failed)

    @classmethod
    def of(cls, row: ImportedFile) -> FileRecord:
        counts = {str(k): int(v) for k, v in json.loads(row.counts_json or "{}").items()}
        return cls(
            row.id,
            row.name,
            row.content_hash,
            row.format,
            row.status,
            counts,
            row.error,
            row.run_id,
            row.stored_path,
            row.started_at,
            row.finished_at,
        )


@dataclass(frozen=True)
class FileDocument:
    """A document whose latest import was from the file: what became of it, and its entry."""

    id: int
    kind: str
    source: str
    external_id: str
    number: str | None
    row: int | None
    revision: int
    status: str  # posted, unapplied, linked, reversed, ignored, changed …
    entry_id: int | None
    customer: str | None
    amount: Money
    document_date: date


@dataclass(frozen=True)
class FileEntry:
    """An entry the file posted (a document's, its reversal, its next revision's)."""

    id: int
    posting_date: date
    source: str
    external_id: str
    revision: int
    document_type: str
    reverses_id: int | None
    row: int | None


def list_files(session: Session, limit: int) -> tuple[list[FileRecord], int]:
    """The newest `limit` imported files (by id: the order they were first seen) and how many there are."""
    rows = session.scalars(select(ImportedFile).order_by(ImportedFile.id.desc()).limit(limit))
    total = session.scalar(select(func.count()).select_from(ImportedFile)) or 0
    return [FileRecord.of(row) for row in rows], total


def file_detail(session: Session, file_id: int) -> tuple[FileRecord, list[FileDocument], list[FileEntry]]:
    """File `file_id`, the documents last imported from it and the entries it posted."""
    row = session.get(ImportedFile, file_id)
    if row is None:
        raise ConnectorError(f"no imported file {file_id} (`connector files list`)")
    documents = session.execute(
        select(ImportedDocument, Customer.account_no)
        .outerjoin(Customer, Customer.id == ImportedDocument.customer_id)
        .where(ImportedDocument.file_id == file_id)
        .order_by(ImportedDocument.row, ImportedDocument.id)
    )
    entries = session.scalars(
        select(JournalEntry).where(JournalEntry.voucher_file_id == file_id).order_by(JournalEntry.id)
    )
    return (
        FileRecord.of(row),
        [
            FileDocument(
                d.id,
                d.kind,
                d.source,
                d.external_id,
                d.number,
                d.row,
                d.revision,
                d.status,
                d.entry_id,
                account_no,
                Money(d.amount_minor, d.currency),
                d.document_date,
            )
            for d, account_no in documents
        ],
        [
            FileEntry(
                e.id,
                e.posting_date,
                e.source,
                e.external_id,
                e.revision,
                e.document_type,
                e.reverses_id,
                e.voucher_row,
            )
            for e in entries
        ],
    )
