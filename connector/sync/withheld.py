"""What a CRM record kept in another currency than its customer's ledger is sent instead of its figures.

Its amounts would be read in the record's currency, so they are cleared (null) and the credit status
reason says why: nothing in the wrong currency stays on the record while it waits for a person. What
no currency is read into stays current: its credit status and score (a salesperson must see a BLOCKED
customer as blocked), its dates, the amounts other currencies owe (each names its own), its master
data. Its currency field is left as the person set it: that is the question the person decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from connector.mapping.model import AMOUNT_FIGURES, MappingFile

REASON_FIGURE = "credit_status_reason"
LEFT_AS_SET = "currency"


def withheld_reason(kept_in: str, currency: str, account_no: str, since: date | None) -> str:
    """The reason shown on the record, in a CRM user's words."""
    held = f" since {since.isoformat()}" if since is not None else ""
    return (
        f"figures withheld: the CRM record is in {kept_in}, the ledger keeps customer {account_no} in "
        f"{currency}{held}; set the record back to {currency} or ask finance"
    )


def withheld_values(mapping: MappingFile, reason: str, mapped: Mapping[str, Any]) -> dict[str, Any]:
    """The record's figures as the outbound `mapping` maps them (`mapped`), its amounts cleared, its
    reason saying why, its currency left out (one the mapping could not write is left out too: the CRM
    keeps what it shows)."""
    values: dict[str, Any] = {}
    for field in mapping.fields:
        if field.source in AMOUNT_FIGURES:
            values[field.target] = None
        elif field.source == REASON_FIGURE:
            values[field.target] = reason
        elif field.source != LEFT_AS_SET and field.target in mapped:
            values[field.target] = mapped[field.target]
    return values
