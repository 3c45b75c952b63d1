"""Payments per customer over the tier window, read from the ledger: what value tiers are earned with."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bulk import in_chunks
from connector.credit.reads import chart_receipts
from connector.ledger.models import Customer
from connector.settings import ChartSettings


def receipts_by_customer(
    session: Session, chart: ChartSettings, as_of: date, window_days: int
) -> dict[tuple[int, str], tuple[int, int]]:
    """(customer id, currency) → (amount paid in minor units, number of payments) over the window.

    The payments are those of the customer's credit figures (`connector.credit.reads.receipts`): money
    received into a bank or unapplied receipts that credits the customer, one voucher's parts as one
    payment; a refund (money out) is none, a reversed receipt is none.
    """
    start = as_of - timedelta(days=window_days - 1)
    # Merged customers too: their payments count for the customers they went into (the caller folds them).
    ids = session.scalars(select(Customer.id)).all()
    found: dict[tuple[int, str], tuple[int, int]] = {}
    for chunk in in_chunks(ids):
        for key, paid in chart_receipts(session, chunk, chart, as_of, since=start).items():
            found[key] = (sum(receipt.amount_minor for receipt in paid), len(paid))
    return found
