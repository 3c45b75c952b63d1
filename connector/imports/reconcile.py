"""The reconciliation queue: receipts in unapplied receipts, decided by a person.

`apply` attributes the receipt to a customer (an application entry moves it out of unapplied receipts
into the customer's account: its open receivable first, the rest as its credit); `reject` records that
it is no customer's receipt (a refund, interest, a transfer) and leaves it where it is for the books.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.errors import ReconcileError
from connector.imports.models import ImportedDocument, ImportedFile, ReconciliationItem
from connector.imports.rules import Accounts, application_entry
from connector.ledger.entries import Voucher
from connector.ledger.models import Customer, CustomerBalance, utcnow
from connector.ledger.posting import Ledger
from connector.money import Money


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


def queue(session: Session, status: str = "open") -> list[QueueItem]:
    rows = session.execute(
        select(ReconciliationItem, ImportedDocument)
        .join(ImportedDocument, ImportedDocument.id == ReconciliationItem.document_id)
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
        )
        for item, document in rows
    ]


def apply(
    session: Session, item_id: int, account_no: str | None, accounts: Accounts, actor: str, on: date
) -> str:
    """Attribute item `item_id` to `account_no` (default: its best candidate) as of `on`; the account
    number it went to."""
    item, document = _open(session, item_id)
    if account_no is None:
        candidates = json.loads(item.candidates_json)
        if not candidates:
            raise ReconcileError(f"item {item_id} has no candidate: name the customer's account number")
        account_no = str(candidates[0]["account_no"])
    customer = session.scalars(select(Customer).where(Customer.account_no == account_no)).first()
    if customer is None or customer.status == "merged":
        raise ReconcileError(f"no customer with account number {account_no}")
    owed = session.scalar(
        select(CustomerBalance.balance_minor).where(
            CustomerBalance.customer_id == customer.id,
            CustomerBalance.account_code == accounts.receivable,
            CustomerBalance.currency == document.currency,
        )
    )
    file = session.get(ImportedFile, document.file_id) if document.file_id is not None else None
    draft = application_entry(
        document.source,
        document.external_id,
        Money(document.amount_minor, document.currency),
        account_no,
        owed or 0,
        accounts,
        on,
        Voucher(document.kind, file.name if file else None, document.row),
    )
    entry_id = Ledger(session).post(draft).entry_id
    item.status, item.customer_id, item.entry_id = "applied", customer.id, entry_id
    item.resolved_at, item.resolved_by = utcnow(), actor
    document.customer_id, document.status = customer.id, "posted"
    document.match_rule = f"{document.match_rule}; applied to {account_no} by {actor}"
    return account_no


def reject(session: Session, item_id: int, note: str, actor: str) -> None:
    item, _ = _open(session, item_id)
    item.status, item.note, item.resolved_at, item.resolved_by = "rejected", note, utcnow(), actor


def _open(session: Session, item_id: int) -> tuple[ReconciliationItem, ImportedDocument]:
    item = session.get(ReconciliationItem, item_id)
    if item is None:
        raise ReconcileError(f"no reconciliation item {item_id}")
    if item.status != "open":
        raise ReconcileError(f"reconciliation item {item_id} is {item.status} already")
    return item, session.get_one(ImportedDocument, item.document_id)
