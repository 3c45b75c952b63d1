"""`connector customers figures ACCOUNT_NO`: the ledger figures the CRM push would send, and why."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.text import Text

from connector.cli.context import as_of_day, out, state
from connector.cli.output import DataTable, dumps
from connector.credit.aging import days_past_due
from connector.credit.figures import CustomerCredit, customer_credit
from connector.db import unit_of_work
from connector.ledger.queries import customer_id_for
from connector.money import to_decimal


def figures_payload(credit: CustomerCredit) -> dict[str, Any]:
    figures = credit.figures
    currency, as_of = figures["currency"], figures["as_of"]
    # The unapplied credit settles the oldest items first: the first ones are paid, one maybe in part.
    paid = len(credit.open_items) - len(credit.unpaid)
    unpaid = [0] * paid + [item.amount_minor for item in credit.unpaid]
    return {
        **figures,
        "credit_status_reason": credit.status_reason,
        "open_items": [
            {
                "entry_id": item.entry_id,
                "due": item.due,
                "days_past_due": max(days_past_due(item, as_of), 0),
                "amount": to_decimal(item.amount_minor, currency),
                "unpaid": to_decimal(left, currency),
            }
            for item, left in zip(credit.open_items, unpaid, strict=True)
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
    day = as_of_day(ctx, as_of)
    container = state(ctx).container()
    settings = container.settings
    with unit_of_work(container.sessions) as session:
        customer_id = customer_id_for(session, account_no)
        credit = customer_credit(session, [customer_id], day, settings.ledger.chart, settings.credit)[
            customer_id
        ]
    payload = figures_payload(credit)
    if as_json:
        out.print(dumps(payload))
        return
    table = DataTable(
        "figure",
        "value",
        whole={"figure"},
        title=f"Figures of customer {account_no} as of {day}",
        title_justify="left",
    )
    for key, value in credit.figures.items():
        table.add_row(key, Text(_shown(value)))
    out.print(table)
    out.print(Text(f"credit status {payload['credit_status']}: {credit.status_reason}"))
    if not credit.open_items:
        return
    credit_used = credit.unpaid != credit.open_items
    columns = ["entry", "due", "days past due", "open amount"] + (
        ["unpaid after credit"] if credit_used else []
    )
    items = DataTable(*columns, whole=columns, right=columns[1:], title="open items (oldest first)")
    for item in payload["open_items"]:
        row = [str(item["entry_id"]), str(item["due"]), str(item["days_past_due"]), f"{item['amount']:,}"]
        items.add_row(*row, *([f"{item['unpaid']:,}"] if credit_used else []))
    out.print(items)
    if credit_used:
        figures, currency = credit.figures, credit.figures["currency"]
        out.print(
            Text(
                f"The open items sum to the receivable ({figures['receivable']:,} {currency}); the unapplied "
                f"credit ({figures['unapplied_credit']:,}) settles the oldest of them first, and the aging "
                "buckets count what stays unpaid."
            )
        )


def _shown(value: object) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, Decimal) else str(value)
