"""The reconciliation queue: receipts in unapplied receipts, decided by a person.

`apply` attributes the receipt to a customer (an application entry moves it out of unapplied receipts
into the customer's account: its open receivable first, the rest as its credit); `reject` records that
it is no customer's receipt (a refund, interest, a transfer) and leaves it where it is for the books.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.credit import reads
from connector.db import fitted
from connector.errors import ReconcileError
from connector.imports.learning import forget_taught_by
from connector.imports.models import (
    RESOLVER_LENGTH,
    ImportedDocument,
    ImportedFile,
    ReceiptApplication,
    ReconciliationItem,
)
from connector.imports.payer import Payer
from connector.imports.rules import APPLICATION_SOURCE, Accounts, application_entry, application_id
from connector.ledger.customers import survivor_of
from connector.ledger.entries import Voucher
from connector.ledger.models import Customer, JournalEntry, utcnow
from connector.ledger.posting import Ledger
from connector.money import Money
from connector.security.cipher import FieldCipher


@dataclass(frozen=True)
class QueueItem:
    id: int
    source: str
    external_id: str
    amount: Money
    document_date: date
    status: str
    candidates: list[dict[str, Any]]
    why: str
    payer: Payer
    file: str | None  # the receipt's voucher: file and row
    row: int | None
    customer: str | None = None  # a decided item's: the account number it was applied to
    entry_id: int | None = None  # its application entry
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    note: str = ""  # a rejection's why


def queue(session: Session, cipher: FieldCipher, status: str = "open") -> list[QueueItem]:
    """The items in `status`, oldest first, each with who paid it (decrypted) and its file and row."""
    rows = session.execute(
        select(ReconciliationItem, ImportedDocument, ImportedFile.name, Customer.account_no)
        .join(ImportedDocument, ImportedDocument.id == ReconciliationItem.document_id)
        .outerjoin(ImportedFile, ImportedFile.id == ImportedDocument.file_id)
        .outerjoin(Customer, Customer.id == ReconciliationItem.customer_id)
        .where(ReconciliationItem.status == status)
        .order_by(ReconciliationItem.id)
    )
    return [
        QueueItem(
            item.id,
            document.source,
            document.external_id,
            Money(document.amount_minor, document.currency),
            document.document_date,
            item.status,
            json.loads(item.candidates_json),
            item.note if item.status != "open" and item.note else document.match_rule,  # the decision's
            Payer.unseal(cipher, item.payer_enc),
            file_name,
            document.row,
            account_no,
            item.entry_id,
            item.resolved_by,
            item.resolved_at,
            item.note,
        )
        for item, document, file_name, account_no in rows
    ]


def apply(
    session: Session,
    item_id: int,
    account_no: str | None,
    accounts: Accounts,
    actor: str,
    on: date,
    named: Sequence[tuple[str, int]] | None = None,
) -> str:
    """Attribute item `item_id` to `account_no` (default: its candidate, when it has one customer) as
    of `on` (or the receipt's date, if later); the account number it went to. The application pays the
    invoices the receipt names first (or those `named`: its other record's), each up to the amount named,
    then the oldest."""
    item, document = _open(session, item_id)
    on = max(on, document.document_date)  # never before the money came (a receipt dated ahead)
    customer = _customer(session, account_no if account_no is not None else _best(item))
    account_no = customer.account_no
    # What it owes, with what the customers merged into it owe: the application settles theirs too.
    owed = reads.owed(session, [customer.id], accounts.receivable).get((customer.id, document.currency))
    file = session.get(ImportedFile, document.file_id) if document.file_id is not None else None
    draft = application_entry(
        document.source,
        document.external_id,
        Money(document.amount_minor, document.currency),
        account_no,
        owed or 0,
        accounts,
        on,
        Voucher(document.kind, file.name if file else None, document.row, file_id=document.file_id),
        _application_revision(session, document),
        document.document_date,
    )
    entry_id = Ledger(session).post(draft).entry_id
    if named is None:
        named = [(str(number), int(at_most)) for number, at_most in json.loads(item.named_json)]
    session.add_all(
        ReceiptApplication(
            entry_id=entry_id, customer_id=customer.id, invoice_number=number, amount_minor=at_most
        )
        for number, at_most in named
    )
    item.status, item.customer_id, item.entry_id = "applied", customer.id, entry_id
    item.resolved_at, item.resolved_by = utcnow(), fitted(actor, RESOLVER_LENGTH)
    document.customer_id, document.status = customer.id, "posted"
    document.match_rule = f"{document.match_rule}; applied to {account_no} by {actor}"
    return account_no


def _application_revision(session: Session, document: ImportedDocument) -> int:
    """The revision of a new application of `document`'s receipt: its own revision, past any earlier
    application (one undone when the record that named its customer changed)."""
    taken = session.scalar(
        select(func.max(JournalEntry.revision)).where(
            JournalEntry.source == APPLICATION_SOURCE,
            JournalEntry.external_id == application_id(document.source, document.external_id),
            JournalEntry.is_reversal.is_(False),
        )
    )
    return max(document.revision, (taken or 0) + 1)


@dataclass(frozen=True)
class Application:
    """What an applied item came to: its application's date, the receipt's currency and the currency of
    the customer it went to (they differ when the customer's figures leave the receipt out)."""

    dated: date
    received: str
    theirs: str


def application(session: Session, item_id: int) -> Application:
    """What applied item `item_id` came to."""
    item = session.get_one(ReconciliationItem, item_id)
    document = session.get_one(ImportedDocument, item.document_id)
    customer = session.get_one(Customer, item.customer_id)
    entry = session.get_one(JournalEntry, item.entry_id)
    return Application(entry.posting_date, document.currency, customer.currency)


IMPORT_ACTOR = "import of "


def import_actor(source: str, kind: str, external_id: str) -> str:
    """Who applied a waiting receipt when a payment record naming its customer was imported (as the
    item's `resolved_by` keeps it)."""
    return fitted(f"{IMPORT_ACTOR}{source} {kind.replace('_', ' ')} {external_id}", RESOLVER_LENGTH)


def by_import(actor: str) -> bool:
    """Whether `actor` (an item's `resolved_by`) is the import of a receipt's other record, no person."""
    return actor.startswith(IMPORT_ACTOR)


def undo_application_by(
    session: Session, ledger: Ledger, actor: str, document_id: int, on: date, memo: str, voucher: Voucher
) -> bool:
    """Undo what `actor` applied of document `document_id`'s waiting receipt (the payment record that
    named its customer changed, or is withdrawn): the application reversed, the receipt waiting again.
    Whether there was one."""
    item = session.scalars(
        select(ReconciliationItem).where(
            ReconciliationItem.document_id == document_id,
            ReconciliationItem.status == "applied",
            ReconciliationItem.resolved_by == actor,
        )
    ).first()
    if item is None or item.entry_id is None:
        return False
    document = session.get_one(ImportedDocument, document_id)
    if document.status == "reversed":  # the bank returned the receipt (or a person reversed it): it
        return False  # and its application are reversed already, and it waits for nobody
    if ledger.reversed_by(item.entry_id) is None:
        ledger.reverse(item.entry_id, posting_date=on, memo=memo, voucher=voucher)
    forget_taught_by(session, item.id, actor)  # the decision is undone, and what it alone taught with it
    item.status, item.customer_id, item.entry_id = "open", None, None
    item.resolved_at, item.resolved_by, item.note = None, None, ""
    document.customer_id, document.status = None, "unapplied"
    document.match_rule = document.match_rule.split("; applied to ", 1)[0]
    return True


def reject(session: Session, item_id: int, note: str, actor: str) -> None:
    """Close the item as no receipt of any customer's, saying why (finance reads the note later)."""
    if not note.strip():
        raise ReconcileError(f"item {item_id}: say why it is rejected (--note), e.g. 'bank interest'")
    item, _ = _open(session, item_id)
    item.status, item.note, item.resolved_at, item.resolved_by = (
        "rejected",
        note.strip(),
        utcnow(),
        fitted(actor, RESOLVER_LENGTH),
    )


def _best(item: ReconciliationItem) -> str:
    """The item's one candidate; refused when it has several customers (a tie, a reference naming one
    and the payer's name another): the matcher left the choice to a person, who names the account."""
    candidates = json.loads(item.candidates_json)
    if not candidates:
        raise ReconcileError(f"item {item.id} has no candidate: name the customer's account number")
    customers = list(dict.fromkeys(str(candidate["account_no"]) for candidate in candidates))
    if len(customers) > 1:
        raise ReconcileError(
            f"item {item.id}: {', '.join(customers)} may each be the payer: name the customer's account "
            "number"
        )
    return customers[0]


def _customer(session: Session, account_no: str) -> Customer:
    """The customer with this account number, whatever its case; merged ones are no longer customers."""
    customer = session.scalars(select(Customer).where(Customer.account_no == account_no)).first()
    if customer is None:
        alike = session.scalars(
            select(Customer).where(func.upper(Customer.account_no) == account_no.strip().upper()).limit(2)
        ).all()
        customer = alike[0] if len(alike) == 1 else None
    if customer is None:
        raise ReconcileError(f"no customer with account number {account_no}")
    if customer.status == "merged":
        survivor = survivor_of(session, customer.id)
        into = f"{survivor.account_no}: apply it to that one" if survivor is not None else "another customer"
        raise ReconcileError(f"{customer.account_no} was merged into {into}")
    return customer


def _open(session: Session, item_id: int) -> tuple[ReconciliationItem, ImportedDocument]:
    """The open item and its document, locked (PostgreSQL) until the transaction ends: a person's
    decision and an import's reversal of the same receipt never both go through. The document first,
    then its item, as an import locks them (the other order would deadlock with it)."""
    document_id = session.scalar(
        select(ReconciliationItem.document_id).where(ReconciliationItem.id == item_id)
    )
    if document_id is None:
        raise ReconcileError(f"no reconciliation item {item_id}")
    document = session.get_one(ImportedDocument, document_id, with_for_update=True, populate_existing=True)
    item = session.get_one(ReconciliationItem, item_id, with_for_update=True, populate_existing=True)
    if item.status != "open":
        raise ReconcileError(f"reconciliation item {item_id} is {item.status} already")
    return item, document
