"""The chart of accounts: the configured roles and bank accounts written to `ledger_accounts` at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.errors import ConfigError
from connector.ledger.models import AccountBalance, LedgerAccount
from connector.settings import ChartAccount, ChartSettings


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
    """Create missing chart accounts and keep their names; refuse what `chart_problems` finds."""
    problems = chart_problems(session, chart)
    if problems:
        raise ConfigError("the chart of accounts does not match the ledger", problems)
    stored = {account.code: account for account in session.scalars(select(LedgerAccount))}
    wanted = [
        *((getattr(chart, role_name), role_name, role) for role_name, role in ROLES.items()),
        *((account, None, ROLES["bank"]) for account in chart.bank_accounts),  # the role aside
    ]
    for account, role_name, role in wanted:
        current = stored.get(account.code)
        if current is None:
            session.add(_account(account, role_name, role))
        elif current.name != account.name:
            current.name = account.name
    session.flush()


def chart_problems(session: Session, chart: ChartSettings) -> list[str]:
    """How the configured chart contradicts the ledger (reading only): a role moved to another code once
    it exists; a bank account whose code the chart uses otherwise; one dropped while it holds postings
    (its receipts would no longer count as any customer's payments)."""
    stored = {account.role: account for account in session.scalars(select(LedgerAccount))}
    problems = []
    for role_name in ROLES:
        wanted, current = getattr(chart, role_name), stored.get(role_name)
        if current is not None and current.code != wanted.code:
            problems.append(
                f"ledger.chart.{role_name}.code: the ledger uses {current.code}, the configuration says "
                f"{wanted.code}; an account in use cannot be renumbered"
            )
    configured = {account.code for account in chart.bank_accounts}
    in_use = select(AccountBalance.account_code).where(AccountBalance.posting_count > 0)
    dropped = session.scalars(
        select(LedgerAccount).where(
            LedgerAccount.role.is_(None),
            LedgerAccount.code.not_in(configured),
            LedgerAccount.code.in_(in_use),
        )
    )
    for account in dropped:
        problems.append(
            f"ledger.chart.bank_accounts: {account.code} ({account.name}) holds postings; keep it in the "
            "configuration (an account in use cannot be dropped)"
        )
    for wanted in chart.bank_accounts:
        current = session.get(LedgerAccount, wanted.code)
        if current is not None and (
            current.role is not None or current.kind != "asset" or current.per_customer
        ):
            problems.append(
                f"ledger.chart.bank_accounts: {wanted.code} is the ledger's {current.role or current.kind} "
                f"account {current.name!r}, not a bank account"
            )
    return problems


def _account(wanted: ChartAccount, role_name: str | None, role: Role) -> LedgerAccount:
    return LedgerAccount(
        code=wanted.code,
        name=wanted.name,
        role=role_name,
        kind=role.kind,
        per_customer=role.per_customer,
        is_control=role.is_control,
    )
