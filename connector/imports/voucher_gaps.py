"""Vouchers imported before that a later export of the same days no longer holds.

A voucher's id is its period, type word and number (`2026-03-记-6#1`): an export made after the books
deleted a voucher, or renumbered the period's vouchers (凭证整理), lacks it, and nothing else says so.
Left standing, its money counts beside the voucher that now has its number. So after a voucher file is
imported, each line of the same source dated within the file's own first and last day, standing in the
ledger from an earlier file and not in this one, waits for a person: reversed if the books dropped it,
resolved if it is still there (an export filtered to some vouchers).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bootstrap import Container
from connector.bulk import in_chunks
from connector.db import unit_of_work
from connector.documents import Origin
from connector.imports.models import ImportedDocument, ImportedFile
from connector.imports.recorded import SeenInFile
from connector.imports.row_quarantine import quarantine_input
from connector.money import Money
from connector.sync.models import SyncRun

# Lines that post: one linked to its bank line posts nothing (the bank's receipt stands, whatever the
# books say of it now).
_STANDING = ("posted", "unapplied")
UNCHECKED = (
    "not checked for vouchers the books no longer hold: vouchers of this file were refused (see "
    "`connector quarantine list`); the next export of these days, read whole, is checked"
)


def missing_from(
    session: Session, source: str, file_id: int | None, days: tuple[date, date] | None, seen: SeenInFile
) -> list[tuple[ImportedDocument, str | None]]:
    """The standing lines of `source` dated within `days` (None: the file had no document) that earlier
    files brought and this file does not hold, with the file each came from: its lines are recorded
    under `file_id`, or its import `seen` them unchanged or held (a dry run records none). Only ids are
    read for the lines it holds (a year's export holds them all)."""
    if days is None:
        return []
    first, last = days
    # A file holding vouchers after this one's last day is a later export of the period: what it holds
    # that this older one lacks was entered since, not deleted. A subquery: a source's later files grow
    # with every export imported, past what an IN list holds.
    later = (
        select(ImportedDocument.file_id)
        .where(ImportedDocument.source == source, ImportedDocument.document_date > last)
        .where(ImportedDocument.file_id.is_not(None))
    )
    lines = session.execute(
        select(ImportedDocument.id, ImportedDocument.external_id)
        .where(
            ImportedDocument.source == source,
            ImportedDocument.document_date.between(first, last),
            ImportedDocument.status.in_(_STANDING),
            ImportedDocument.file_id.is_distinct_from(file_id),
            ImportedDocument.file_id.not_in(later),
        )
        .execution_options(yield_per=10_000)
    )
    unchanged, held = seen.unchanged, seen.quarantined
    ids = [
        line_id
        for line_id, external_id in lines
        if (key := SeenInFile.key_of(source, external_id)) not in unchanged and key not in held
    ]
    found: list[tuple[ImportedDocument, str | None]] = []
    for wanted in in_chunks(ids):
        chunk = session.execute(
            select(ImportedDocument, ImportedFile.name)
            .outerjoin(ImportedFile, ImportedFile.id == ImportedDocument.file_id)
            .where(ImportedDocument.id.in_(wanted))
        )
        found += [(document, name) for document, name in chunk]
    return sorted(found, key=lambda pair: pair[0].id)


def why_missing(document: ImportedDocument, came_from: str | None, name: str, days: tuple[date, date]) -> str:
    """What a person is told of a line missing from file `name`."""
    row = f" row {document.row}" if document.row is not None else ""
    where = f" from {came_from}{row}" if came_from else ""
    entry = document.entry_id if document.entry_id is not None else "ENTRY"
    amount = Money(document.amount_minor, document.currency)
    return (
        f"voucher line {document.external_id} ({document.kind.replace('_', ' ')} of {amount}, imported"
        f"{where}) is not in {name}, which "
        f"holds the vouchers of {days[0]} to {days[1]}: deleted or renumbered in the books? Then reverse it "
        f'(`connector ledger reverse {entry} --reason "deleted in the books"`) and resolve this record; '
        "if the books still hold it (an export of some vouchers only), resolve this record"
    )


def hold_missing(
    container: Container,
    run_id: int,
    name: str,
    file_id: int,
    days: tuple[date, date] | None,
    seen: SeenInFile,
) -> int:
    """Hold for a person each line missing from voucher file `name` (`missing_from`) in the import's
    run `run_id`; how many."""
    if days is None:
        return 0
    with unit_of_work(container.sessions) as session:
        run = session.get_one(SyncRun, run_id)
        source = run.source
        missing = missing_from(session, source, file_id, days, seen)
        for document, came_from in missing:
            origin = Origin(name, None, f"{source} {document.external_id}")
            # A person reverses it, or resolves it: a retry has nothing to replay.
            reason, external_id = why_missing(document, came_from, name, days), document.external_id
            quarantine_input(
                session, container.cipher, run, source, origin, reason, None, external_id, replayed=False
            )
    return len(missing)
