"""A decision on a waiting receipt outlives a new revision of its record that changes no money.

A bank re-issues a statement with a line's text wrapped anew, an accounting export's payment gets an
edited note: the record changed, so its entry is reversed and reposted (`reverse_and_repost`), its
application to a customer with it. When the new revision again finds no customer by itself, what was
decided of the old one stands as long as the money is the same (currency and amount): applied to the
same customer (the survivor of a merge since) by the same actor, paying the same invoices, or rejected
as no customer's receipt with the same note. A changed amount is another receipt: it waits for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.imports import reconcile
from connector.imports.models import ImportedDocument, ReceiptApplication, ReconciliationItem
from connector.imports.rules import Accounts
from connector.ledger.customers import survivor_of
from connector.money import Money


@dataclass(frozen=True, slots=True)
class Decision:
    """What a person, or the import of the receipt's other record, decided of a queued receipt."""

    status: str  # applied or rejected
    customer_id: int | None
    actor: str
    note: str
    named: tuple[tuple[str, int], ...]  # the invoices the application paid by name, at most how much
    amount: Money  # of the revision it was decided on


def decision_on(session: Session, held: ImportedDocument) -> Decision | None:
    """The standing decision on `held`'s queue item (read before its revision is replaced), if any."""
    item = session.scalars(
        select(ReconciliationItem).where(
            ReconciliationItem.document_id == held.id,
            ReconciliationItem.status.in_(("applied", "rejected")),
            ReconciliationItem.resolved_by.is_not(None),
        )
    ).first()
    if item is None or item.resolved_by is None:
        return None
    named: tuple[tuple[str, int], ...] = ()
    if item.entry_id is not None:
        rows = session.execute(
            select(ReceiptApplication.invoice_number, ReceiptApplication.amount_minor)
            .where(ReceiptApplication.entry_id == item.entry_id)
            .order_by(ReceiptApplication.id)
        )
        named = tuple((number, minor) for number, minor in rows)
    amount = Money(held.amount_minor, held.currency)
    return Decision(item.status, item.customer_id, item.resolved_by, item.note, named, amount)


def restore(
    session: Session, decision: Decision, document_id: int, amount: Money, accounts: Accounts, on: date
) -> str | None:
    """Decide the reopened item of document `document_id` (its new revision, of `amount`) as before: the
    count it makes ("receipts_reapplied", "receipts_rejected_again"), or None when it waits. (A revision
    that did not wait for a person left the decision superseded, as the reversal of its receipt made it.)"""
    item = session.scalars(  # as the batch's bulk writes left it, not as this session last saw it
        select(ReconciliationItem)
        .where(ReconciliationItem.document_id == document_id, ReconciliationItem.status == "open")
        .execution_options(populate_existing=True)
    ).first()
    if item is None or amount != decision.amount:
        return None
    item_id = item.id
    if decision.status == "rejected":
        reconcile.reject(session, item_id, decision.note, decision.actor)
        return "receipts_rejected_again"
    customer = survivor_of(session, decision.customer_id)
    if customer is None:
        return None
    named = list(decision.named) or None  # none named: the new revision's own, as for any application
    reconcile.apply(session, item_id, customer.account_no, accounts, decision.actor, on, named)
    return "receipts_reapplied"
