"""Read models over the ledger: the trial balance and a customer's balances (O(1) from stored balances),
and a customer's entries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from connector.errors import UnknownAccountError
from connector.ledger.models import (
    AccountBalance,
    Customer,
    CustomerBalance,
    JournalEntry,
    LedgerAccount,
    Posting,
)
from connector.money import Money


@dataclass(frozen=True)
class BalanceLine:
    account_code: str
    account_name: str
    balance: Money
    posting_count: int


@dataclass(frozen=True)
class AccountLine:
    """One chart account's balance in one currency (debit positive)."""

    code: str
    name: str
    kind: str
    role: str | None
    balance: Money | None  # None: no postings yet
    posting_count: int


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    posting_date: date
    source: str
    external_id: str
    document_type: str
    memo: str
    account_code: str
    amount: Money
    running_balance: Money
    voucher: str
    reverses_id: int | None
    reversed_by: int | None


def customer_id_for(session: Session, account_no: str) -> int:
    found = session.scalar(select(Customer.id).where(Customer.account_no == account_no))
    if found is None:
        raise UnknownAccountError(f"no customer with account number {account_no}")
    return found


def customer_balances(session: Session, account_no: str) -> list[BalanceLine]:
    """The customer's balance on each subledger account and currency (debit positive)."""
    return balances_of(session, customer_id_for(session, account_no))


def balances_of(session: Session, customer_id: int) -> list[BalanceLine]:
    rows = session.execute(
        select(CustomerBalance, LedgerAccount.name)
        .join(LedgerAccount, LedgerAccount.code == CustomerBalance.account_code)
        .where(CustomerBalance.customer_id == customer_id)
        .order_by(CustomerBalance.account_code, CustomerBalance.currency)
    )
    return [
        BalanceLine(row.account_code, name, Money(row.balance_minor, row.currency), row.posting_count)
        for row, name in rows
    ]


def trial_balance(session: Session) -> list[AccountLine]:
    """Every chart account's balance per currency (试算平衡表), by code: in each currency they add up
    to zero, as every entry does. An account without postings is listed once, without a balance."""
    rows = session.execute(
        select(LedgerAccount, AccountBalance)
        .outerjoin(AccountBalance, AccountBalance.account_code == LedgerAccount.code)
        .order_by(LedgerAccount.code, AccountBalance.currency)
    )
    return [
        AccountLine(
            account.code,
            account.name,
            account.kind,
            account.role,
            Money(balance.balance_minor, balance.currency) if balance else None,
            balance.posting_count if balance else 0,
        )
        for account, balance in rows
    ]


def net_receivable(lines: list[BalanceLine]) -> dict[str, Money]:
    """What the customer owes per currency: receivable minus advances (a credit nets it down)."""
    return totals_by_currency(line.balance for line in lines)


def totals_by_currency(amounts: Iterable[Money]) -> dict[str, Money]:
    totals: dict[str, Money] = {}
    for money in amounts:
        totals[money.currency] = totals.get(money.currency, Money.zero(money.currency)) + money
    return totals


def _voucher_text(entry: JournalEntry) -> str:
    if entry.voucher_file:
        return (
            f"{entry.voucher_file}:{entry.voucher_row}"
            if entry.voucher_row is not None
            else entry.voucher_file
        )
    return entry.voucher_record or ""


def customer_entries(session: Session, account_no: str, limit: int | None = None) -> list[StatementLine]:
    """The customer's postings in posting order with a running balance per account and currency."""
    customer_id = customer_id_for(session, account_no)
    reversal = aliased(JournalEntry)
    rows = session.execute(
        select(JournalEntry, Posting.account_code, Posting.currency, Posting.amount_minor, reversal.id)
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .outerjoin(
            reversal,  # through the document key: the unique index finds an entry's reversal
            (reversal.source == JournalEntry.source)
            & (reversal.external_id == JournalEntry.external_id)
            & (reversal.revision == JournalEntry.revision)
            & reversal.is_reversal
            & ~JournalEntry.is_reversal,
        )
        .where(Posting.customer_id == customer_id)
        .order_by(JournalEntry.posting_date, JournalEntry.id, Posting.id)
    )
    running: dict[tuple[str, str], int] = {}
    lines = []
    for entry, account_code, currency, minor, reversed_by in rows:
        key = (account_code, currency)
        running[key] = running.get(key, 0) + minor
        lines.append(
            StatementLine(
                entry_id=entry.id,
                posting_date=entry.posting_date,
                source=entry.source,
                external_id=entry.external_id,
                document_type=entry.document_type,
                memo=entry.memo,
                account_code=account_code,
                amount=Money(minor, currency),
                running_balance=Money(running[key], currency),
                voucher=_voucher_text(entry),
                reverses_id=entry.reverses_id,
                reversed_by=reversed_by,
            )
        )
    return lines[-limit:] if limit is not None else lines
