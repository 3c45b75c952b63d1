"""API credits spent, per provider and hour, in the database: one budget for all replicas and restarts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from sqlalchemy import Table, event, func, select
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from connector.bulk import driver_value, upsert_adding
from connector.db import unit_of_work
from connector.sync.models import ApiCreditSpend

CREDIT_SPEND: Table = ApiCreditSpend.__table__  # type: ignore[assignment]


class DatabaseSpendingLog:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def spent_since(self, provider: str, since: datetime) -> int:
        with unit_of_work(self.sessions) as session:
            total = session.scalar(
                select(func.coalesce(func.sum(ApiCreditSpend.credits), 0)).where(
                    ApiCreditSpend.provider == provider, ApiCreditSpend.hour >= since
                )
            )
            return int(total or 0)

    def add(self, provider: str, hour: datetime, credits: int) -> None:
        with unit_of_work(self.sessions) as session:
            _add(session, provider, {hour: credits})


def _add(session: Session, provider: str, spent: Mapping[datetime, int]) -> None:
    hour_value = driver_value(session, ApiCreditSpend.hour)
    rows = [(provider, hour_value(hour), credits) for hour, credits in spent.items()]
    upsert_adding(session, CREDIT_SPEND, ("provider", "hour"), ("credits",), rows)


class Spending(Protocol):
    """API credits a client spent and has not written yet (the Zoho adapter's meter)."""

    provider: str

    def take_unwritten(self) -> dict[datetime, int]: ...

    def written(self, taken: Mapping[datetime, int]) -> None: ...

    def give_back(self, taken: Mapping[datetime, int]) -> None: ...


def write_spent(session: Session, spending: Spending) -> None:
    """The credits `spending` spent since it last wrote, written in `session`'s transaction: a process
    killed once it commits has lost none of them (one row per hour). Should the transaction not commit,
    they are given back, to be written with the next ones."""
    taken = spending.take_unwritten()
    if not taken:
        return
    committed = settled = False

    def on_commit(done: Session) -> None:
        nonlocal committed
        committed = committed or not done.in_nested_transaction()

    def on_end(_: Session, transaction: SessionTransaction) -> None:
        nonlocal settled
        if transaction.parent is None and not settled:  # the transaction itself, not a savepoint in it
            settled = True
            (spending.written if committed else spending.give_back)(taken)

    event.listen(session, "after_commit", on_commit)
    event.listen(session, "after_transaction_end", on_end)
    _add(session, spending.provider, taken)
