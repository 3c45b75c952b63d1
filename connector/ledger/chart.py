"""The chart of accounts: the configured roles written to `ledger_accounts` at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.errors import ConfigError
from connector.ledger.models import LedgerAccount
from connector.settings import ChartSettings


@dataclass(frozen=True)
class Role:
    kind: str
    per_customer: bool
    is_control: bool


ROLES = {
    "bank": Role("asset", per_customer=False, is_control=False),
    "receivable": Role("asset", per_customer=True, is_control=True),
    "advances": Role("liability", per_customer=True, is_control=True),
    "unapplied": Role("liability", per_customer=False, is_control=False),
    "revenue": Role("revenue", per_customer=False, is_control=False),
}


def ensure_chart(session: Session, chart: ChartSettings) -> None:
    """Create missing chart accounts; refuse to move a role to another code once it exists."""
    stored = {account.role: account for account in session.scalars(select(LedgerAccount))}
    problems = []
    for role_name, role in ROLES.items():
        wanted = getattr(chart, role_name)
        current = stored.get(role_name)
        if current is None:
            session.add(
                LedgerAccount(
                    code=wanted.code,
                    name=wanted.name,
                    role=role_name,
                    kind=role.kind,
                    per_customer=role.per_customer,
                    is_control=role.is_control,
                )
            )
        elif current.code != wanted.code:
            problems.append(
                f"ledger.chart.{role_name}.code: the ledger uses {current.code}, the configuration says "
                f"{wanted.code}; an account in use cannot be renumbered"
            )
        elif current.name != wanted.name:
            current.name = wanted.name
    if problems:
        raise ConfigError("the chart of accounts does not match the ledger", problems)
    session.flush()
