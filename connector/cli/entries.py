"""`connector ledger entries`: a customer's postings, or a chart account's (`--account`), each with its
running balance, the voucher it comes from and the imported file that voucher names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from connector.cli.context import out, state
from connector.cli.output import DataTable, dumps, iso_time, money_json, money_text
from connector.db import unit_of_work
from connector.errors import UnknownAccountError
from connector.ledger.models import LedgerAccount
from connector.ledger.queries import StatementLine, account_entries, customer_entries


def entries_command(
    ctx: typer.Context,
    account_no: Annotated[
        str | None, typer.Argument(help="The customer's account number (or give --account).")
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            metavar="CODE",
            help="A chart account's postings instead (1002 bank, 6001 revenue, 220399 unapplied …): "
            "every customer's on a subledger account; the last balance is its all-time balance (the trial "
            "balance's line as of the last posting's date).",
        ),
    ] = None,
    currency: Annotated[
        str | None, typer.Option(metavar="C", help="Only the postings in this currency (ISO 4217).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the last N lines.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """A customer's (or with --account, a chart account's) postings with running balances and the voucher
    each comes from (JSON: with the entry's value, document and due dates, revision, when it was posted
    and the imported file)."""
    if (account_no is None) == (account is None):
        raise typer.BadParameter("give a customer's account number or --account CODE, one of the two")
    currency = currency.upper() if currency is not None else None
    container = state(ctx).container()
    with unit_of_work(container.sessions) as session:
        if account is not None:
            lines = account_entries(session, account, limit, currency)
            chart = session.get_one(LedgerAccount, account)
            title, per_customer = f"Entries of account {account} {chart.name}", chart.per_customer
        else:
            assert account_no is not None
            try:
                lines = customer_entries(session, account_no, limit, currency)
            except UnknownAccountError as exc:
                if session.get(LedgerAccount, account_no) is None:
                    raise
                hint = f"`connector ledger entries --account {account_no}`"
                raise UnknownAccountError(f"{exc}; {account_no} is a chart account: {hint}") from None
            title, per_customer = f"Entries of customer {account_no}", False
    title += f" in {currency}" if currency else ""
    if as_json:
        out.print(dumps([_entry_json(line) for line in lines]))
    elif account is not None:
        out.print(
            _table(title, lines, ("customer", lambda line: line.customer or "") if per_customer else None)
        )
    else:
        out.print(_table(title, lines, ("account", lambda line: line.account_code)))


def _entry_json(line: StatementLine) -> dict[str, Any]:
    return {
        "entry_id": line.entry_id,
        "posting_date": line.posting_date.isoformat(),
        "value_date": _iso_day(line.value_date),
        "document_date": _iso_day(line.document_date),
        "due_date": _iso_day(line.due_date),
        "created_at": iso_time(line.created_at),
        "source": line.source,
        "external_id": line.external_id,
        "revision": line.revision,
        "document_type": line.document_type,
        "memo": line.memo,
        "account": line.account_code,
        "customer": line.customer,
        "amount": money_json(line.amount),
        "running_balance": money_json(line.running_balance),
        "voucher": line.voucher,
        "file": None if line.file_id is None else {"id": line.file_id, "sha256": line.file_sha256},
        "reverses": line.reverses_id,
        "reversed_by": line.reversed_by,
    }


def _iso_day(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _table(
    title: str, lines: list[StatementLine], which: tuple[str, Callable[[StatementLine], str]] | None
) -> Table:
    """The lines as a table; `which` a column saying whose or which account's each line is."""
    # Dates, entries and amounts never shortened; document, memo and voucher fold onto more lines
    # rather than lose their ends (a voucher's row is how a figure is traced to its source, its file id
    # which file of that name).
    whole = ["date", "entry", *([which[0]] if which else []), "amount", "balance", "file"]
    table = DataTable(
        "date",
        "entry",
        "document",
        "memo",
        *([which[0]] if which else []),
        "amount",
        "balance",
        "voucher",
        "file",  # which imported file the voucher names: monthly exports share names
        whole=whole,
        right=("entry", "amount", "balance", "file"),
        title=title,
    )
    for line in lines:
        note = ""
        if line.reverses_id:
            note = f" (reverses {line.reverses_id})"
        elif line.reversed_by:
            note = f" (reversed by {line.reversed_by})"
        table.add_row(
            line.posting_date.isoformat(),
            str(line.entry_id),
            f"{line.source} {line.document_type} {line.external_id}{note}",
            line.memo,
            *([which[1](line)] if which else []),
            money_text(line.amount),
            money_text(line.running_balance),
            line.voucher,
            "" if line.file_id is None else f"#{line.file_id}",
        )
    return table
