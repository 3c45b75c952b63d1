"""`connector customers figures ACCOUNT_NO`: the ledger figures the CRM push would send, and why."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from connector.cli.context import as_of_day, out, state
from connector.cli.output import dumps
from connector.credit.aging import days_past_due
from connector.credit.figures import CustomerCredit, customer_credit
from connector.db import unit_of_work
from connector.ledger.queries import customer_id_for
from connector.money import to_decimal


def _payload(credit: CustomerCredit) -> dict[str, Any]:
    figures = credit.figures
    currency, as_of = figures["currency"], figures["as_of"]
    return {
        **figures,
        "credit_status_reason": credit.status_reason,
        "open_items": [
            {
                "entry_id": item.entry_id,
                "due": item.due,
                "days_past_due": max(days_past_due(item, as_of), 0),
                "amount": to_decimal(item.amount_minor, currency),
            }
            for item in credit.open_items
        ],
    }


def figures(
    ctx: typer.Context,
    account_no: Annotated[str, typer.Argument(help="The customer's account number.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day the figures are for (YYYY-MM-DD; default today).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Balance, aging, last payment, credit score and status of a customer, as pushed to the CRM."""
    day = as_of_day(as_of)
    container = state(ctx).container(existing=True)
    settings = container.settings
    with unit_of_work(container.sessions) as session:
        customer_id = customer_id_for(session, account_no)
        credit = customer_credit(session, [customer_id], day, settings.ledger.chart, settings.credit)[
            customer_id
        ]
    payload = _payload(credit)
    if as_json:
        out.print(dumps(payload))
        return
    table = Table(
        "figure", "value", title=f"Figures of customer {account_no} as of {day}", title_justify="left"
    )
    for key, value in credit.figures.items():
        table.add_row(key, Text(_shown(value)))
    out.print(table)
    out.print(Text(f"credit status {payload['credit_status']}: {credit.status_reason}"))
    if credit.open_items:
        items = Table("entry", "due", "days past due", "open amount", title="open items (oldest first)")
        for item in payload["open_items"]:
            items.add_row(
                str(item["entry_id"]), str(item["due"]), str(item["days_past_due"]), f"{item['amount']:,}"
            )
        out.print(items)


def _shown(value: object) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, Decimal) else str(value)
