"""What became of each imported document: its record (new ones written in bulk with the batch, an
earlier revision's updated in place), the invoices a receipt names, and a reconciliation item for each
receipt left in unapplied receipts (with who paid it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from connector.bulk import driver_value, insert_rows, rows_in, update_rows
from connector.documents import Document, compact_account
from connector.errors import InvalidEntryError
from connector.imports.decisions import Decision
from connector.imports.matching import Candidate, Match
from connector.imports.models import ImportedDocument, ReceiptApplication, ReconciliationItem
from connector.imports.payer import LINE_PAYER_FIELD, Payer
from connector.ledger.entries import EntryDraft
from connector.ledger.models import utcnow
from connector.security.cipher import FieldCipher

DOCUMENTS: Table = ImportedDocument.__table__  # type: ignore[assignment]
ITEMS: Table = ReconciliationItem.__table__  # type: ignore[assignment]
APPLICATIONS: Table = ReceiptApplication.__table__  # type: ignore[assignment]
APPLICATION_COLUMNS = ("entry_id", "customer_id", "invoice_number", "amount_minor")
RECORD_COLUMNS = (
    "source",
    "external_id",
    "kind",
    "number",
    "fingerprint",
    "revision",
    "entry_id",
    "customer_id",
    "currency",
    "amount_minor",
    "document_date",
    "status",
    "match_tier",
    "match_score",
    "match_rule",
    "file_id",
    "row",
    "linked_id",
    "bank_account",
    "payer_enc",
)
REWRITTEN_COLUMNS = RECORD_COLUMNS[2:]  # of a record its document's new revision takes over
ITEM_COLUMNS = ("document_id", "status", "candidates_json", "named_json", "payer_enc", "note", "created_at")
REOPENED_COLUMNS = (*ITEM_COLUMNS[1:], "customer_id", "entry_id", "resolved_at", "resolved_by")


@dataclass
class Work:
    """A document of the batch on its way: what it says, the revision it becomes (and the record of the
    one it replaces, with the queue's decision on it), how it was matched, its customer and its draft
    entry."""

    document: Document
    fingerprint: str
    revision: int = 1
    held: ImportedDocument | None = None  # the earlier revision being replaced
    decided: Decision | None = None  # what was decided of the earlier revision in the queue
    match: Match = field(default_factory=Match)
    customer: Candidate | None = None
    draft: EntryDraft | None = None
    cancels: int | None = None  # a bank's cancellation of its return: the return's record (posted as linked)
    restores: str | None = None  # withdrawn, live again: what its entry's memo adds (`withdrawals`)
    waits: str | None = None  # why a receipt of a sure customer waits for a person all the same
    zeroed: bool = False  # posted before, of no amount now (voided): its entry reversed, nothing posted


class Outcomes:
    """The records of one batch's documents, kept until `write`."""

    def __init__(self, session: Session, cipher: FieldCipher, file_id: int | None) -> None:
        self.session = session
        self.cipher = cipher
        self.file_id = file_id
        self._unapplied: list[Work] = []
        self._new_records: list[tuple[Any, ...]] = []
        self._applications: list[tuple[int, int, str, int]] = []  # APPLICATION_COLUMNS
        self._date_value = driver_value(session, ImportedDocument.document_date, memo=True)

    def unapplied(self, item: Work) -> None:
        """A receipt left in unapplied receipts: it waits for a person with the match's candidates and
        the invoices it names."""
        self._unapplied.append(item)

    def pays_named_invoices(self, item: Work, entry_id: int, customer_id: int) -> None:
        """The invoices `item` names are paid by `entry_id` (its own entry, or its other record's)."""
        self._applications += [(entry_id, customer_id, *named) for named in named_invoices(item)]

    def write(self) -> None:
        """The batch's new document records, then a reconciliation item for each receipt of the batch
        left in unapplied receipts (with its document's id, read back by its unique key)."""
        insert_rows(self.session, DOCUMENTS, RECORD_COLUMNS, self._new_records)
        insert_rows(self.session, APPLICATIONS, APPLICATION_COLUMNS, self._applications)
        self._new_records, self._applications = [], []
        if not self._unapplied:
            return
        ids: dict[tuple[str, str], int] = {}
        by_source: dict[str, list[str]] = {}
        for item in self._unapplied:
            by_source.setdefault(item.document.source, []).append(item.document.external_id)
        for source, external_ids in by_source.items():
            for row_id, external_id in rows_in(
                self.session,
                "id, external_id",
                DOCUMENTS.name,
                "external_id",
                external_ids,
                "source = {p}",
                source,
            ):
                ids[(source, external_id)] = row_id
        now = driver_value(self.session, ReconciliationItem.created_at)(utcnow())
        # A changed document's new revision waits in the item its earlier one had (one per document).
        found = rows_in(
            self.session, "document_id, id", ITEMS.name, "document_id", ids.values(), array_type="bigint"
        )
        earlier: dict[int, int] = {document_id: item_id for document_id, item_id in found}
        items, reopened = [], []
        for item in self._unapplied:
            document_id = ids[(item.document.source, item.document.external_id)]
            payer = Payer.of(item.document).seal(self.cipher)
            values = ("open", *waits_with(item), payer, "", now)
            if document_id in earlier:
                reopened.append((*values, None, None, None, None, earlier[document_id]))
            else:
                items.append((document_id, *values))
        insert_rows(self.session, ITEMS, ITEM_COLUMNS, items)
        update_rows(self.session, ITEMS, REOPENED_COLUMNS, reopened)
        self._unapplied = []

    def record(
        self,
        item: Work,
        status: str,
        entry_id: int | None,
        customer_id: int | None,
        why: str,
        candidate: Candidate | None = None,
        *,
        linked_id: int | None = None,
    ) -> None:
        """What became of a document: a new record written in bulk with the batch, or its earlier
        revision's record updated."""
        document = item.document
        values = (
            document.kind,
            document.number,
            item.fingerprint,
            item.revision,
            entry_id,
            customer_id,
            document.amount.currency,
            document.amount.minor,
            self._date_value(document.date),
            status,
            candidate.tier if candidate else None,
            candidate.score if candidate else None,
            why,
            self.file_id,
            document.origin.row,
            linked_id if linked_id is not None else item.cancels,
            compact_account(document.account),
            # a bank line's payer: the return of it names the same (payments name theirs in the queue)
            Payer.of(document).seal(self.cipher, LINE_PAYER_FIELD) if document.kind == "bank_line" else None,
        )
        if item.held is None:
            self._new_records.append((document.source, document.external_id, *values))
            return
        row = item.held
        # Every column written, changed or not: the unit of work then updates a batch's records with one
        # statement (it sends one per record when they change different columns, as invoices and bank
        # lines of one file do).
        for column, value in zip(REWRITTEN_COLUMNS, values, strict=True):
            setattr(row, column, value)
            flag_modified(row, column)
        row.document_date = document.date  # the mapped type, not the driver's


def waits_with(item: Work) -> tuple[str, str]:
    """What a receipt waits in the queue with (its item's candidates_json and named_json): the match's
    candidates, best first, and the invoices it names."""
    candidates = [
        {"account_no": c.account_no, "tier": c.tier, "score": c.score, "why": c.why}
        for c in item.match.candidates
    ]
    return json.dumps(candidates, ensure_ascii=False), json.dumps(named_invoices(item), ensure_ascii=False)


def named_invoices(item: Work) -> list[tuple[str, int]]:
    """(invoice number, at most how much) of what a receipt or credit note says it pays: the source's
    own applications, else the invoices its references name (up to all of it)."""
    document = item.document
    if document.allocations:
        currency = document.amount.currency
        if any(a.amount.currency != currency for a in document.allocations):  # `unkeepable` refuses it
            what = f"{document.source} {document.external_id}"
            raise InvalidEntryError(f"{what}: an amount applied in another currency than {currency}")
        return [(a.invoice_number, a.amount.minor) for a in document.allocations]
    return [(number, document.amount.minor) for number in item.match.invoices]
