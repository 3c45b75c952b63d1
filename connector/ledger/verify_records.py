"""What the import's records say of the ledger, checked by `connector ledger verify`: every entry they
name exists, and every entry they say is reversed has its reversal.

An entry deleted with its postings and the stored balances adjusted to match (a hand edit, a restore from
a partial backup) leaves every figure adding up: the record naming it says what was lost. A deleted
reversal is named by nothing (the entry it reversed simply stands again), but the document recorded as
reversed, or the queue's decision superseded by that reversal, says the entry should not stand.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, SQLColumnExpression, select
from sqlalchemy.orm import Session, aliased

from connector.imports.models import ImportedDocument, ImportedFile, ReceiptApplication, ReconciliationItem
from connector.ledger.models import JournalEntry
from connector.ledger.violations import Violation, money_text

# A document whose own entry the import or a person reversed (`corrections.reverse_recorded`): reversed,
# or changed (reversed, its new revision waiting in quarantine).
_REVERSED = ("reversed", "changed")


def _missing(entry_id: SQLColumnExpression[int | None]) -> ColumnElement[bool]:
    """`entry_id` names an entry that does not exist: an anti-join, one primary-key probe a row."""
    named = aliased(JournalEntry)
    return entry_id.is_not(None) & ~select(named.id).where(named.id == entry_id).exists()


def entry_references(session: Session) -> Iterator[Violation]:
    """What still names an entry that is gone. An entry deleted with its postings and the stored balances
    adjusted to match (a hand edit, a restore from a partial backup) leaves every figure adding up; the
    reversal, document, reconciliation item or receipt application naming it says what was lost."""
    reversals = (
        select(JournalEntry.id, JournalEntry.source, JournalEntry.external_id, JournalEntry.reverses_id)
        .where(_missing(JournalEntry.reverses_id))
        .order_by(JournalEntry.id)
    )
    for entry_id, source, external_id, reverses_id in session.execute(reversals):
        yield Violation(
            "reference",
            f"entry {entry_id} ({source} {external_id})",
            f"it reverses entry {reverses_id}, which does not exist",
        )
    documents = (
        select(ImportedDocument, ImportedFile.name)
        .outerjoin(ImportedFile, ImportedFile.id == ImportedDocument.file_id)
        .where(_missing(ImportedDocument.entry_id))
        .order_by(ImportedDocument.id)
    )
    for document, file in session.execute(documents):
        amount = money_text(document.amount_minor, document.currency)
        yield Violation(
            "reference",
            _document(document, file),
            f"its entry {document.entry_id} ({amount}) does not exist",
        )
    items = (
        select(ReconciliationItem, ImportedDocument, ImportedFile.name)
        .join(ImportedDocument, ImportedDocument.id == ReconciliationItem.document_id)
        .outerjoin(ImportedFile, ImportedFile.id == ImportedDocument.file_id)
        .where(_missing(ReconciliationItem.entry_id))
        .order_by(ReconciliationItem.id)
    )
    for item, document, file in session.execute(items):
        yield Violation(
            "reference",
            f"reconciliation item {item.id} of {_document(document, file)}",
            f"its entry {item.entry_id}, applying the receipt to a customer, does not exist",
        )
    applications = (
        select(ReceiptApplication.id, ReceiptApplication.invoice_number, ReceiptApplication.entry_id)
        .where(_missing(ReceiptApplication.entry_id))
        .order_by(ReceiptApplication.id)
    )
    for application_id, number, receipt_id in session.execute(applications):
        yield Violation(
            "reference",
            f"receipt application {application_id} (to invoice {number})",
            f"its receipt's entry {receipt_id} does not exist",
        )


def _document(document: ImportedDocument, file: str | None) -> str:
    row = f" row {document.row}" if document.row is not None else ""
    where = f" (imported from {file}{row})" if file else ""
    return f"{document.kind.replace('_', ' ')} {document.source} {document.external_id!r}{where}"


def reversed_records(session: Session) -> Iterator[Violation]:
    """An entry the import's records say is reversed, standing unreversed: its reversal is gone.

    A document recorded as reversed (or changed) names its own entry, of its own document key, which was
    reversed; of its latest revision, or its earlier one when a new revision was kept reversed. Other
    reversed documents reversed no entry of theirs: a linked record names its other record's entry (which
    stands), a return or deletion line the reversal it made, a document withdrawn before it was imported
    none. A queue decision superseded names the application that was reversed with its receipt."""
    entry, reversal = aliased(JournalEntry), aliased(JournalEntry)
    documents = (
        select(ImportedDocument, ImportedFile.name)
        .join(
            entry,
            (entry.id == ImportedDocument.entry_id)
            & (entry.source == ImportedDocument.source)
            & (entry.external_id == ImportedDocument.external_id)
            & entry.is_reversal.is_(False),
        )
        .outerjoin(reversal, reversal.reverses_id == entry.id)
        .outerjoin(ImportedFile, ImportedFile.id == ImportedDocument.file_id)
        .where(ImportedDocument.status.in_(_REVERSED), reversal.id.is_(None))
        .order_by(ImportedDocument.id)
    )
    for document, file in session.execute(documents):
        yield Violation(
            "reversed",
            _document(document, file),
            f"recorded as {document.status}, but its entry {document.entry_id} stands: no entry reverses it",
        )
    items = (
        select(ReconciliationItem, ImportedDocument, ImportedFile.name)
        .join(ImportedDocument, ImportedDocument.id == ReconciliationItem.document_id)
        .join(entry, entry.id == ReconciliationItem.entry_id)
        .outerjoin(reversal, reversal.reverses_id == entry.id)
        .outerjoin(ImportedFile, ImportedFile.id == ImportedDocument.file_id)
        .where(ReconciliationItem.status == "superseded", reversal.id.is_(None))
        .order_by(ReconciliationItem.id)
    )
    for item, document, file in session.execute(items):
        yield Violation(
            "reversed",
            f"reconciliation item {item.id} of {_document(document, file)}",
            f"superseded, but its entry {item.entry_id}, which applied the receipt to a customer, stands: "
            "no entry reverses it",
        )
