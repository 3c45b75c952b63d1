"""A customer's currency and its CRM record's: which one follows the other.

A customer whose ledger holds nothing yet (no posting of its own nor of a customer merged into it) takes
the currency its record is now kept in: nothing it shows would be read in the wrong currency. One with
postings keeps its currency; its records are then sent no amount until they are back in it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.credit.reads import counted_in
from connector.ledger.models import Customer, JournalEntry, Posting
from connector.master import classify
from connector.master.policy import CustomerPolicy
from connector.money import Money


def first_posting(session: Session, customer_id: int) -> date | None:
    """The date of the earliest posting of the customer or of a customer merged into it; None for none."""
    ledgers = list(counted_in(session, [customer_id]))
    first: date | None = session.scalar(
        select(func.min(JournalEntry.posting_date))
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .where(Posting.customer_id.in_(ledgers))
    )
    return first


def take_currency(session: Session, customer: Customer, currency: str, policy: CustomerPolicy) -> str:
    """Keep `customer` in `currency`, with its class's credit limit there (a limit in minor units of the
    old currency means nothing in the new one); what changed, for the audit trail."""
    terms = classify.credit_terms(policy, customer.customer_type, currency)
    was = (
        str(Money(customer.credit_limit_minor, customer.currency))
        if customer.credit_limit_minor is not None
        else "none"
    )
    before = customer.currency
    customer.currency = currency
    customer.credit_limit_minor = terms.credit_limit.minor if terms.credit_limit else None
    session.flush()
    now = str(terms.credit_limit) if terms.credit_limit else "none"
    return (
        f"currency {before} → {currency}: the record is now kept in {currency} and the customer's ledger "
        f"holds no posting yet; credit limit {was} → {now}"
    )
