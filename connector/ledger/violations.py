"""What `connector ledger verify` reports: a violation of one check, by the record it concerns."""

from __future__ import annotations

from dataclasses import dataclass

from connector.money import Money


@dataclass(frozen=True)
class Violation:
    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.detail}"


def money_text(minor: int, currency: str) -> str:
    """An amount as stored, readable whatever was edited into it (a currency of no minor units known)."""
    try:
        return str(Money(int(minor), currency))
    except ValueError:
        return f"{minor} (minor units) {currency}"
