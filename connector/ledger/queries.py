"""Read models over the ledger: the trial balance and a customer's balances (the stored running balances,
O(1), hold every posting whatever its date; as of a day they are summed from the postings dated on or
before it, and what is dated later is said apart), and a customer's or a chart account's entries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.orm import Session, aliased

from connector.errors import UnknownAccountError
from connector.imports.models import ImportedFile
from connector.ledger.models import (
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
class DatedLater:
    """The entries dated after a day, left out of the balances as of it: how many, the first one's date
    and what they move per currency (a customer's postings net; the whole ledger's debits)."""

    entries: int
    first: date | None
    amounts: tuple[Money, ...]


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
    file_id: int | None  # the imported file the voucher names (None: posted otherwise, or before it was kept)
    file_sha256: str | None  # that file's content hash
    value_date: date | None
    document_date: date | None
    due_date: date | None  # an invoice's own, when its document states one
    revision: int
    created_at: datetime  # when it was posted: an imported entry's import
    customer: str | None  # the account number of the customer it is posted for, if any


_SUM = func.sum(Posting.amount_minor)


def customer_id_for(session: Session, account_no: str) -> int:
    found = session.scalar(select(Customer.id).where(Customer.account_no == account_no))
    if found is None:
        raise UnknownAccountError(f"no customer with account number {account_no}")
    return found


def customer_balances(session: Session, account_no: str) -> list[BalanceLine]:
    """The customer's balance on each subledger account and currency (debit positive)."""
    return balances_of(session, customer_id_for(session, account_no))


def balances_of(session: Session, customer_id: int, as_of: date | None = None) -> list[BalanceLine]:
    """The customer's balance on each subledger account and currency: the stored running balances (every
    posting), or those at the end of `as_of` (the postings dated on or before it)."""
    if as_of is not None:
        summed = session.execute(
            select(Posting.account_code, LedgerAccount.name, Posting.currency, _SUM, func.count())
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .join(LedgerAccount, LedgerAccount.code == Posting.account_code)
            .where(Posting.customer_id == customer_id, JournalEntry.posting_date <= as_of)
            .group_by(Posting.account_code, LedgerAccount.name, Posting.currency)
            .order_by(Posting.account_code, Posting.currency)
        )
        return [BalanceLine(code, name, Money(int(minor), cur), n) for code, name, cur, minor, n in summed]
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


def trial_balance(session: Session, as_of: date) -> list[AccountLine]:
    """Every chart account's balance per currency at the end of `as_of` (试算平衡表), by code: in each
    currency they add up to zero, as every entry does. An account without postings dated on or before
    it is listed once, without a balance."""
    summed = (
        select(Posting.account_code, Posting.currency, _SUM.label("minor"), func.count().label("n"))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(JournalEntry.posting_date <= as_of)
        .group_by(Posting.account_code, Posting.currency)
        .subquery()
    )
    rows = session.execute(
        select(LedgerAccount, summed.c.currency, summed.c.minor, summed.c.n)
        .outerjoin(summed, summed.c.account_code == LedgerAccount.code)
        .order_by(LedgerAccount.code, summed.c.currency)
    )
    return [
        AccountLine(
            account.code,
            account.name,
            account.kind,
            account.role,
            Money(int(minor), currency) if currency is not None else None,
            int(n or 0),
        )
        for account, currency, minor, n in rows
    ]


def dated_later(session: Session, as_of: date, customer_ids: Sequence[int] | None = None) -> DatedLater:
    """The entries dated after `as_of`: those of the customers `customer_ids` with what they move on their
    balances (net, per currency), or the whole ledger's with what they debit."""
    later = JournalEntry.posting_date > as_of
    counted: ColumnElement[bool] = (
        Posting.customer_id.in_(customer_ids) if customer_ids is not None else Posting.amount_minor > 0
    )
    entries, first = session.execute(
        select(func.count(func.distinct(Posting.entry_id)), func.min(JournalEntry.posting_date))
        .select_from(Posting)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(later, counted)
    ).one()
    amounts = session.execute(
        select(Posting.currency, _SUM)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(later, counted)
        .group_by(Posting.currency)
        .order_by(Posting.currency)
    )
    return DatedLater(int(entries), first, tuple(Money(int(minor), cur) for cur, minor in amounts))


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


def customer_entries(
    session: Session, account_no: str, limit: int | None = None, currency: str | None = None
) -> list[StatementLine]:
    """The customer's postings in posting order with a running balance per account and currency (the
    last `limit` of them; those in `currency` alone)."""
    customer_id = customer_id_for(session, account_no)
    where = [Posting.customer_id == customer_id]
    if currency is not None:
        where.append(Posting.currency == currency)
    running: dict[tuple[str, str], int] = {}
    lines = []
    for row in session.execute(_statement(*where).order_by(*POSTING_ORDER)):
        key = (row.account_code, row.currency)
        running[key] = running.get(key, 0) + row.amount_minor
        lines.append(_line(row, running[key]))
    return lines[-limit:] if limit is not None else lines


def account_entries(
    session: Session, code: str, limit: int | None = None, currency: str | None = None
) -> list[StatementLine]:
    """A chart account's postings (every customer's, on a subledger account) in posting order with its
    running balance per currency: the last `limit` of them, those in `currency` alone. The running
    balances are counted back from the sum of all its postings, so the last line of each currency is
    the account's all-time balance (the trial balance's as of its last posting's date) however few
    lines are shown."""
    if session.get(LedgerAccount, code) is None:
        raise UnknownAccountError(f"no account {code} in the chart (`connector ledger accounts`)")
    where = [Posting.account_code == code]
    if currency is not None:
        where.append(Posting.currency == currency)
    totals = select(Posting.currency, func.sum(Posting.amount_minor)).where(*where).group_by(Posting.currency)
    after: dict[str, int] = {currency: int(total) for currency, total in session.execute(totals)}
    latest = _statement(*where).order_by(*(column.desc() for column in POSTING_ORDER)).limit(limit)
    lines = []
    for row in session.execute(latest):  # newest first: each line's balance is the total less what follows
        lines.append(_line(row, after[row.currency]))
        after[row.currency] -= row.amount_minor
    return lines[::-1]


POSTING_ORDER = (JournalEntry.posting_date, JournalEntry.id, Posting.id)


def _statement(*where: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """The postings `where` says, each with its entry, the entry reversing it, its voucher's file and its
    customer's account number."""
    reversal = aliased(JournalEntry)
    return (
        select(
            JournalEntry,
            Posting.account_code,
            Posting.currency,
            Posting.amount_minor,
            reversal.id.label("reversed_by"),
            ImportedFile.content_hash.label("file_sha256"),
            Customer.account_no.label("customer"),
        )
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .outerjoin(
            reversal,  # through the document key: the unique index finds an entry's reversal
            (reversal.source == JournalEntry.source)
            & (reversal.external_id == JournalEntry.external_id)
            & (reversal.revision == JournalEntry.revision)
            & reversal.is_reversal
            & ~JournalEntry.is_reversal,
        )
        .outerjoin(ImportedFile, ImportedFile.id == JournalEntry.voucher_file_id)
        .outerjoin(Customer, Customer.id == Posting.customer_id)
        .where(*where)
    )


def _line(row: Row[*tuple[Any, ...]], running_minor: int) -> StatementLine:
    entry: JournalEntry = row.JournalEntry
    return StatementLine(
        entry_id=entry.id,
        posting_date=entry.posting_date,
        source=entry.source,
        external_id=entry.external_id,
        document_type=entry.document_type,
        memo=entry.memo,
        account_code=row.account_code,
        amount=Money(row.amount_minor, row.currency),
        running_balance=Money(running_minor, row.currency),
        voucher=_voucher_text(entry),
        reverses_id=entry.reverses_id,
        reversed_by=row.reversed_by,
        file_id=entry.voucher_file_id,
        file_sha256=row.file_sha256,
        value_date=entry.value_date,
        document_date=entry.document_date,
        due_date=entry.due_date,
        revision=entry.revision,
        created_at=entry.created_at,
        customer=row.customer,
    )
