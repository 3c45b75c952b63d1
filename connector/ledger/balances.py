"""Stored running balances: added to in the posting transaction, read in O(1)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Table, func, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from connector.bulk import upsert_adding
from connector.errors import LedgerError
from connector.ledger.models import AccountBalance, CustomerBalance

ACCOUNT_BALANCES: Table = AccountBalance.__table__  # type: ignore[assignment]
CUSTOMER_BALANCES: Table = CustomerBalance.__table__  # type: ignore[assignment]
BALANCE_COLUMNS = ("balance_minor", "posting_count")
BALANCE_LIMIT = 2**63 - 1  # a signed 64-bit integer: SQLite's INTEGER, PostgreSQL's bigint


class BalanceDeltas:
    """A batch's (amount, posting count) sums per account and per customer, added to the balances once."""

    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        self.customers: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])

    def add(self, account: str, customer_id: int | None, currency: str, minor: int, count: int = 1) -> None:
        delta = self.accounts[(account, currency)]
        delta[0] += minor
        delta[1] += count
        if customer_id is not None:
            delta = self.customers[(customer_id, account, currency)]
            delta[0] += minor
            delta[1] += count

    def add_postings(self, rows: Iterable[tuple[int, str, int | None, str, int]]) -> None:
        """Add posting rows (entry id, account, customer id, currency, minor): summed per key first,
        a million postings come down to a few thousand keys."""
        sums: dict[tuple[str, int | None, str], list[int]] = {}
        for _, account, customer_id, currency, minor in rows:
            key = (account, customer_id, currency)
            found = sums.get(key)
            if found is None:
                sums[key] = [minor, 1]
            else:
                found[0] += minor
                found[1] += 1
        for (account, customer_id, currency), (amount, count) in sums.items():
            self.add(account, customer_id, currency, amount, count)

    def apply(self, session: Session) -> None:
        add_to_balances(session, self.accounts, self.customers)


def add_to_balances(
    session: Session,
    account_deltas: Mapping[tuple[str, str], Sequence[int]],
    customer_deltas: Mapping[tuple[int, str, str], Sequence[int]],
) -> None:
    """Add (amount, posting count) deltas to the account and customer balances. A sum past what a
    balance holds (a signed 64-bit integer) is refused, naming the account: SQLite would keep it as an
    inexact float, PostgreSQL stop on it."""
    for (account, currency), (amount, _) in account_deltas.items():
        if abs(amount) > BALANCE_LIMIT:
            raise _past_limit(account, currency)
    try:
        upsert_adding(
            session,
            ACCOUNT_BALANCES,
            ("account_code", "currency"),
            BALANCE_COLUMNS,
            [(*key, amount, count) for key, (amount, count) in account_deltas.items()],
        )
        upsert_adding(
            session,
            CUSTOMER_BALANCES,
            ("customer_id", "account_code", "currency"),
            BALANCE_COLUMNS,
            [(*key, amount, count) for key, (amount, count) in customer_deltas.items()],
        )
    except DataError as exc:  # PostgreSQL: bigint out of range
        raise LedgerError(
            f"a balance would pass what the ledger holds ({BALANCE_LIMIT:,} minor units)"
        ) from exc
    if session.get_bind().dialect.name == "sqlite":  # an integer sum past 64 bits turns into a float there
        inexact = session.execute(
            select(AccountBalance.account_code, AccountBalance.currency).where(
                func.typeof(AccountBalance.balance_minor) != "integer"
            )
        ).first()
        if inexact is not None:
            raise _past_limit(*inexact)


def _past_limit(account: str, currency: str) -> LedgerError:
    return LedgerError(
        f"the balance of account {account} in {currency} would pass what the ledger holds "
        f"({BALANCE_LIMIT:,} minor units): nothing of this batch is posted"
    )
