"""API credits spent, per provider and hour, in the database: one budget for all replicas and restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker

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
            upsert_adding(
                session,
                CREDIT_SPEND,
                ("provider", "hour"),
                ("credits",),
                [(provider, driver_value(session, ApiCreditSpend.hour)(hour), credits)],
            )
