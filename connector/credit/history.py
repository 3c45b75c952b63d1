"""Credit status changes in each customer's audit trail: when it went to WATCH, HOLD or BLOCKED (or
back to OK), and why, as the figures saw it that day."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.credit.figures import CustomerCredit
from connector.master.models import CustomerEvent

KIND = "credit_status"
SEPARATOR = " — "  # between the status and its reason in the event's detail
_JUDGED_ON = re.compile(r"\(as of (\d{4}-\d{2}-\d{2}), was \w+\)$")


def last_statuses(session: Session, customer_ids: Iterable[int]) -> dict[int, tuple[str, date]]:
    """Customer id → the credit status last recorded for it and the day it was judged on (none recorded:
    it never left OK)."""
    latest = (
        select(func.max(CustomerEvent.id))
        .where(CustomerEvent.kind == KIND, CustomerEvent.customer_id.in_(list(customer_ids)))
        .group_by(CustomerEvent.customer_id)
    )
    rows = session.execute(
        select(CustomerEvent.customer_id, CustomerEvent.detail).where(CustomerEvent.id.in_(latest))
    )
    found = {}
    for customer_id, detail in rows:
        judged = _JUDGED_ON.search(detail)
        on = date.fromisoformat(judged.group(1)) if judged else date.min
        found[customer_id] = (detail.split(SEPARATOR, 1)[0], on)
    return found


def record_status_changes(
    session: Session, credits: Iterable[CustomerCredit], as_of: date, today: date
) -> int:
    """Record each customer whose status differs from its last recorded one; how many were recorded.
    Figures of a day before the last one judged (a push `--as-of` a past day) change no history, nor
    do those of a day after `today` (a projection: recorded, it would hide every real change until then)."""
    if as_of > today:
        return 0
    found = list(credits)
    last = last_statuses(session, (credit.customer_id for credit in found))
    changed = []
    for credit in found:
        was, judged_on = last.get(credit.customer_id, ("OK", date.min))
        status = credit.figures["credit_status"]
        if status != was and as_of >= judged_on:
            detail = f"{status}{SEPARATOR}{credit.status_reason} (as of {as_of.isoformat()}, was {was})"
            changed.append(CustomerEvent(customer_id=credit.customer_id, kind=KIND, detail=detail))
    session.add_all(changed)
    return len(changed)
