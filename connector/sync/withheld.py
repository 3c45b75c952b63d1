"""What a CRM record kept in another currency than its customer's ledger is sent instead of its figures.

Its amounts would be read in the record's currency, so they are cleared (null) and the credit status
reason says why: nothing in the wrong currency stays on the record while it waits for a person.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from connector.mapping.model import AMOUNT_FIGURES, MappingFile

REASON_FIGURE = "credit_status_reason"


def withheld_reason(kept_in: str, currency: str, account_no: str, since: date | None) -> str:
    """The reason shown on the record, in a CRM user's words."""
    held = f" since {since.isoformat()}" if since is not None else ""
    return (
        f"figures withheld: the CRM record is in {kept_in}, the ledger keeps customer {account_no} in "
        f"{currency}{held}; set the record back to {currency} or ask finance"
    )


def withheld_values(mapping: MappingFile, reason: str) -> dict[str, Any]:
    """The fields the outbound `mapping` writes amounts to, cleared, and those of the reason, saying it."""
    values: dict[str, Any] = {}
    for field in mapping.fields:
        if field.source in AMOUNT_FIGURES:
            values[field.target] = None
        elif field.source == REASON_FIGURE:
            values[field.target] = reason
    return values
