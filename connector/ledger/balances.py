"""Stored running balances: added to in the posting transaction, read in O(1)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Table
from sqlalchemy.orm import Session

from connector.bulk import upsert_adding
from connector.ledger.models import AccountBalance, CustomerBalance

ACCOUNT_BALANCES: Table = AccountBalance.__table__  # type: ignore[assignment]
CUSTOMER_BALANCES: Table = CustomerBalance.__table__  # type: ignore[assignment]
BALANCE_COLUMNS = ("balance_minor", "posting_count")


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
    """Add (amount, posting count) deltas to the account and customer balances."""
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
