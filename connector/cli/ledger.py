"""`connector ledger verify|reverse|accounts|balance|entries`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.cli.context import ROW_NUMBER, as_of_day, decision_day, err, out, report_problems, state
from connector.cli.entries import entries_command
from connector.cli.output import DataTable, dumps, money_json, money_text
from connector.credit.reads import counted_in
from connector.db import snapshot, unit_of_work
from connector.errors import ConnectorError
from connector.imports.corrections import reverse_entry
from connector.imports.rules import Accounts
from connector.ledger.models import Customer, JournalEntry, Posting
from connector.ledger.queries import (
    BalanceLine,
    DatedLater,
    balances_of,
    customer_id_for,
    dated_later,
    net_receivable,
    totals_by_currency,
    trial_balance,
)
from connector.ledger.verify import verify_ledger
from connector.money import Money

ledger_app = typer.Typer(help="The double-entry customer ledger.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="The day the balances are for (YYYY-MM-DD; default today, as the figures pushed to the CRM): "
        "entries dated later count from their date and are said apart.",
    ),
]


@ledger_app.command("verify")
def verify(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Recompute the ledger from its postings; exit 1 listing every violation."""
    container = state(ctx).container()
    with snapshot(container.sessions) as session:  # one state, while the daemon posts
        report = verify_ledger(session)
    if as_json:
        out.print(
            dumps(
                {
                    "ok": report.ok,
                    "entries": report.entries,
                    "postings": report.postings,
                    "customers": report.customers,
                    "violations": [v.__dict__ for v in report.violations],
                }
            )
        )
    elif report.ok:
        out.print(
            f"ledger OK: {report.entries} entries, {report.postings} postings, {report.customers} customers; "
            "every entry balanced, balances and subledger agree with the postings"
        )
    else:
        report_problems(
            f"ledger verification FAILED: {len(report.violations)} violation(s)", report.violations
        )
    if not report.ok:
        raise typer.Exit(1)


@ledger_app.command("reverse")
def reverse(
    ctx: typer.Context,
    entry: Annotated[int, typer.Argument(help="The entry's number (ledger entries).", **ROW_NUMBER)],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit trail: required.")],
    on: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Its date (default today).")
    ] = None,
    actor: Annotated[str, typer.Option(help="Who decided (kept with the reversal).")] = "cli",
    returned: Annotated[
        bool,
        typer.Option(
            "--returned",
            help="The bank returned (or deleted) the money of the bank line linked to this payment: the "
            "line stays with it. Without it, such a line posts its own money into unapplied receipts.",
        ),
    ] = False,
) -> None:
    """Reverse an entry the books no longer hold (an invoice voided after its export, a payment that
    bounced): its imported document is recorded as reversed and stays so when imported again."""
    if not reason.strip():
        raise typer.BadParameter("say why", param_hint="--reason")
    day = decision_day(ctx, on)
    container = state(ctx).container()
    try:
        with unit_of_work(container.sessions) as session:
            accounts = Accounts.of(container.settings.ledger.chart)
            reversal, waiting, undone, forgotten, taken_back, kept = reverse_entry(
                session,
                entry,
                day,
                reason.strip(),
                actor,
                container.cipher,
                accounts,
                matching=container.settings.imports.matching,
                returned=returned,
            )
            what, dated = _reversed(session, undone, reversal)
    except ConnectorError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    # What was reversed, in words: a mistyped entry number shows at once (a reversal is never undone).
    moved = f" (not {day}: never before the entry itself)" if dated != day else ""
    if undone != entry:  # the entry was a bank line's, a payment linked to it the one reversed
        out.print(
            f"entry {entry} is a bank line's own and stands: the payment linked to it no longer pays; its "
            f"application, entry {undone}, reversed by entry {reversal}, dated {dated}{moved}: {what}"
        )
    else:
        out.print(f"entry {entry} reversed by entry {reversal}, dated {dated}{moved}: {what}")
    for note in kept:  # a reversed payment credits its customer nothing, what it kept back included
        out.print(
            f"the credit note of what it kept back (bank charges, a discount), {note.external_id}, entry "
            f"{note.entry_id}, reversed by entry {note.reversal} too"
        )
    for account_no in forgotten:  # the decision that taught it is undone with its receipt
        out.print(
            f"the payer's bank account that applying this receipt taught is no longer known as "
            f"{account_no}'s: its next receipts wait for a person"
        )
    for taken in taken_back:  # what it posted by itself was only that customer's by it
        out.print(taken.describe())
    if waiting and undone != entry:
        out.print("the line's money waits in unapplied receipts for a person (`connector reconcile list`)")
    elif waiting:  # the bank received the money all the same
        out.print(
            f"{waiting} bank line(s) linked to it now post their own money into unapplied receipts and "
            "wait for a person (`connector reconcile list`); if the bank returned the money, reverse "
            "their entries too"
        )


def _reversed(session: Session, entry_id: int, reversal_id: int) -> tuple[str, date]:
    """What entry `entry_id` recorded (its document, where it came from, its amounts by customer) and
    the date its reversal took."""
    entry = session.get_one(JournalEntry, entry_id)
    where = f"{entry.voucher_file}:{entry.voucher_row}" if entry.voucher_file else entry.voucher_record
    amounts = session.execute(
        select(Customer.account_no, Posting.amount_minor, Posting.currency)
        .join(Customer, Customer.id == Posting.customer_id)
        .where(Posting.entry_id == entry_id)
        .order_by(Posting.id)
    ).all()
    customers = ", ".join(
        f"{account_no} {money_text(Money(minor, currency))}" for account_no, minor, currency in amounts
    )
    what = f"{entry.document_type.replace('_', ' ')} {entry.external_id} of {entry.source}"
    what += f" ({where})" if where else ""
    what += f", {customers}" if customers else ""
    return what, session.get_one(JournalEntry, reversal_id).posting_date


@ledger_app.command("accounts")
def accounts(ctx: typer.Context, as_of: AsOf = None, as_json: JsonFlag = False) -> None:
    """The trial balance: every chart account's balance per currency at the end of a day (today), and each
    currency's total (zero)."""
    day = as_of_day(ctx, as_of)
    container = state(ctx).container()
    with snapshot(container.sessions) as session:  # the balances and what is dated later, of one state
        lines = trial_balance(session, day)
        later = dated_later(session, day)
    totals = totals_by_currency(line.balance for line in lines if line.balance is not None)
    if as_json:
        accounts_json = [
            {
                "account": line.code,
                "name": line.name,
                "kind": line.kind,
                "role": line.role,
                "balance": money_json(line.balance) if line.balance is not None else None,
                "postings": line.posting_count,
            }
            for line in lines
        ]
        totals_json = [money_json(totals[currency]) for currency in sorted(totals)]
        payload = {"as_of": day, "accounts": accounts_json, "totals": totals_json}
        out.print(dumps({**payload, "dated_later": _later_json(later)}))
        return
    balance_header, count = "balance (Dr +, Cr −)", "postings"
    table = DataTable(
        "account",
        "name",
        "kind",
        balance_header,
        count,
        whole=("account", balance_header, count),
        right=(balance_header, count),
        title=f"Trial balance as of {day}",
    )
    for line in lines:
        amount = money_text(line.balance) if line.balance is not None else "—"
        table.add_row(line.code, line.name, line.role or line.kind, amount, str(line.posting_count))
    for currency in sorted(totals):
        table.add_row("", f"total {currency}", "", money_text(totals[currency]), "", style="bold")
    out.print(table)
    _say_later(later, day, "debiting")


@ledger_app.command("balance")
def balance(ctx: typer.Context, account_no: str, as_of: AsOf = None, as_json: JsonFlag = False) -> None:
    """A customer's balances per subledger account and currency at the end of a day (today), those of the
    customers merged into it (their ledgers stay theirs; the CRM is told their sum), and the net amount
    owed with them: what `customers figures` counts for that day."""
    day = as_of_day(ctx, as_of)
    container = state(ctx).container()
    with snapshot(container.sessions) as session:  # the balances and what is dated later, of one state
        own = customer_id_for(session, account_no)
        lines = balances_of(session, own, day)
        merged_ids = sorted(set(counted_in(session, [own])) - {own})
        found = select(Customer.id, Customer.account_no).where(Customer.id.in_(merged_ids))
        numbers = {customer_id: number for customer_id, number in session.execute(found)}
        merged = [(numbers[i], balances_of(session, i, day)) for i in merged_ids]
        later = dated_later(session, day, [own, *merged_ids])
    net = net_receivable([*lines, *(line for _, theirs in merged for line in theirs)])
    if as_json:
        out.print(
            dumps(
                {
                    "account_no": account_no,
                    "as_of": day,
                    "balances": _balances_json(lines),
                    "merged": [
                        {"account_no": number, "balances": _balances_json(theirs)}
                        for number, theirs in merged
                    ],
                    "net_receivable": [money_json(balance_header) for balance_header in net.values()],
                    "dated_later": _later_json(later),
                }
            )
        )
        return
    balance_header, count = "balance (Dr +, Cr −)", "postings"
    table = DataTable(
        "account",
        "name",
        balance_header,
        count,
        whole=("account", balance_header, count),
        right=(balance_header, count),
        title=f"Balances of customer {account_no} as of {day}",
    )
    for line in lines:
        table.add_row(line.account_code, line.account_name, money_text(line.balance), str(line.posting_count))
    for number, theirs in merged:
        for line in theirs:
            name = f"{line.account_name} (merged {number})"
            table.add_row(line.account_code, name, money_text(line.balance), str(line.posting_count))
    label = "net receivable, with merged" if merged else "net receivable"
    for money in net.values():
        table.add_row("", label, money_text(money), "", style="bold")
    out.print(table)
    _say_later(later, day, "moving these balances by")


def _later_json(later: DatedLater) -> dict[str, object]:
    amounts = [money_json(money) for money in later.amounts]
    return {"entries": later.entries, "first": later.first, "amounts": amounts}


def _say_later(later: DatedLater, day: date, moving: str) -> None:
    """A line for the entries dated after `day`, left out above: they count from their own date."""
    if not later.entries:
        return
    many = "entries" if later.entries > 1 else "entry"
    amounts = ", ".join(money_text(money) for money in later.amounts)
    out.print(
        f"not counted above: {later.entries} {many} dated after {day} (the first on {later.first}), "
        f"{moving} {amounts}; each counts from its own date on (`--as-of {later.first}` counts the first)"
    )


def _balances_json(lines: list[BalanceLine]) -> list[dict[str, object]]:
    return [
        {
            "account": line.account_code,
            "account_name": line.account_name,
            "balance": money_json(line.balance),
            "postings": line.posting_count,
        }
        for line in lines
    ]


ledger_app.command("entries")(entries_command)
