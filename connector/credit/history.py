"""Credit status changes in each customer's audit trail: when it went to WATCH, HOLD or BLOCKED (or
back to OK), and why, as the figures saw it that day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.credit.figures import CustomerCredit
from connector.master.models import CustomerEvent

KIND = "credit_status"
SEPARATOR = " — "  # between the status and its reason in the event's detail


def last_statuses(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    """Customer id → the credit status last recorded for it (none recorded: it never left OK)."""
    latest = (
        select(func.max(CustomerEvent.id))
        .where(CustomerEvent.kind == KIND, CustomerEvent.customer_id.in_(list(customer_ids)))
        .group_by(CustomerEvent.customer_id)
    )
    rows = session.execute(
        select(CustomerEvent.customer_id, CustomerEvent.detail).where(CustomerEvent.id.in_(latest))
    )
    return {customer_id: detail.split(SEPARATOR, 1)[0] for customer_id, detail in rows}


def record_status_changes(session: Session, credits: Iterable[CustomerCredit], as_of: date) -> int:
    """Record each customer whose status differs from its last recorded one; how many were recorded."""
    found = list(credits)
    last = last_statuses(session, (credit.customer_id for credit in found))
    changed = [
        CustomerEvent(
            customer_id=credit.customer_id,
            kind=KIND,
            detail=f"{status}{SEPARATOR}{credit.status_reason} (as of {as_of.isoformat()}, was {was})",
        )
        for credit in found
        if (status := credit.figures["credit_status"]) != (was := last.get(credit.customer_id, "OK"))
    ]
    session.add_all(changed)
    return len(changed)
