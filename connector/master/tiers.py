"""Receipts per customer over the tier window, read from the ledger: what value tiers are earned with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from connector.ledger.models import JournalEntry, Posting


def receipts_by_customer(
    session: Session, banks: Sequence[str], as_of: date, window_days: int
) -> dict[tuple[int, str], tuple[int, int]]:
    """(customer id, currency) → (amount received in minor units, number of receipts) over the window.

    A receipt is an entry that debits the bank and credits the customer (receivable or advances); the
    amount is what the customer's accounts were credited. A reversed receipt nets to nothing: its
    reversal adds the amount back and counts minus one.
    """
    start = as_of - timedelta(days=window_days - 1)
    receipts = select(Posting.entry_id).where(Posting.account_code.in_(banks))
    query = (
        select(
            Posting.customer_id,
            Posting.currency,
            -func.sum(Posting.amount_minor),
            func.count(distinct(case((JournalEntry.is_reversal.is_(False), Posting.entry_id))))
            - func.count(distinct(case((JournalEntry.is_reversal.is_(True), Posting.entry_id)))),
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(
            Posting.customer_id.is_not(None),
            JournalEntry.posting_date.between(start, as_of),
            Posting.entry_id.in_(receipts),
        )
        .group_by(Posting.customer_id, Posting.currency)
    )
    found: dict[tuple[int, str], tuple[int, int]] = {}
    for customer_id, currency, paid, count in session.execute(query):
        found[(int(customer_id or 0), str(currency))] = (int(paid or 0), int(count or 0))
    return found
