"""Credit status rules: the `[credit]` settings section and the pure decision OK / WATCH / HOLD / BLOCKED.

The worst level whose rule fires wins; the reason lists every rule that fired at that level, in words:

    BLOCKED  more than `block_min_overdue` is `block_overdue_days`+ days past due, or the score is
             below `block_score_below`
    HOLD     anything is `hold_overdue_days`+ days past due, balance above `hold_utilisation_pct` % of
             the credit limit, or score < `hold_score_below`
    WATCH    anything is `watch_overdue_days`+ days past due, balance above `watch_utilisation_pct` % of
             the credit limit, or score < `watch_score_below`
    OK       none of the above

Days past due are judged on what the customer really owes: `figures` sets unapplied credit against
the oldest open items before the rules look at them. A setting of 0 turns its rule off. Customers
without a credit limit are never judged on utilisation. What a customer owes in other currencies than
its own is judged by the days-past-due rules too, named in the reason with its currency: it has no
limit or score of its own, and blocks only against its currency's `block_min_overdue_by_currency`
entry (`block_min_overdue` is in the customer's own currency; at 0, lateness alone blocks in any); its
reasons begin with that currency ("in EUR: …").

This module imports nothing from the database side: `connector.settings` imports it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.credit.aging import OpenItem, days_past_due
from connector.money import currency_code, to_decimal

Status = Literal["OK", "WATCH", "HOLD", "BLOCKED"]
STATUSES: tuple[Status, ...] = ("OK", "WATCH", "HOLD", "BLOCKED")


class CreditSettings(BaseModel):
    """When a customer's credit status becomes WATCH, HOLD or BLOCKED (0 turns a rule off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    watch_overdue_days: int = Field(default=31, ge=0, description="WATCH when anything is this late")
    watch_utilisation_pct: int = Field(
        default=80, ge=0, description="WATCH when the balance is above this % of the credit limit"
    )
    watch_score_below: int = Field(default=50, ge=0, le=101, description="WATCH when the score is below")
    hold_overdue_days: int = Field(default=61, ge=0, description="HOLD when anything is this late")
    hold_utilisation_pct: int = Field(
        default=100, ge=0, description="HOLD when the balance is above this % of the limit (100: over it)"
    )
    hold_score_below: int = Field(default=35, ge=0, le=101, description="HOLD when the score is below")
    block_overdue_days: int = Field(default=91, ge=0, description="BLOCKED when this late (see the amount)")
    block_min_overdue: Decimal = Field(
        default=Decimal(0),
        ge=0,
        description="…and more than this is that late, in the customer's currency (major units)",
    )
    block_min_overdue_by_currency: dict[str, Decimal] = Field(
        default_factory=dict, description="Per-currency thresholds overriding block_min_overdue"
    )
    block_score_below: int = Field(default=20, ge=0, le=101, description="BLOCKED when the score is below")

    @field_validator("block_min_overdue_by_currency")
    @classmethod
    def _currency_codes(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        checked = {currency_code(code): amount for code, amount in value.items()}
        negative = sorted(code for code, amount in checked.items() if amount < 0)
        if negative:
            raise ValueError(f"thresholds must be zero or more ({', '.join(negative)})")
        return checked

    @model_validator(mode="after")
    def _levels_in_order(self) -> CreditSettings:
        problems = []
        for what, levels, later_is_lower in (
            (
                "overdue days",
                (self.watch_overdue_days, self.hold_overdue_days, self.block_overdue_days),
                False,
            ),
            ("utilisation %", (self.watch_utilisation_pct, self.hold_utilisation_pct), False),
            (
                "score thresholds",
                (self.watch_score_below, self.hold_score_below, self.block_score_below),
                True,
            ),
        ):
            enabled = [level for level in levels if level]
            wanted = sorted(enabled, reverse=later_is_lower)
            if enabled != wanted:
                order = "decrease" if later_is_lower else "increase"
                problems.append(f"{what} must {order} from watch to hold to block, got {list(levels)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def block_threshold(self, currency: str, own: bool = True) -> Decimal | None:
        """How much may be that late before BLOCKED, in `currency`; None when no threshold is in it:
        `block_min_overdue` is in the customer's `own` currency, never another's (1,000 CNY is not
        1,000 JPY), so what is owed in another takes its currency's entry or, at 0, the age alone."""
        found = self.block_min_overdue_by_currency.get(currency)
        if found is not None:
            return found
        return self.block_min_overdue if own or not self.block_min_overdue else None


@dataclass(frozen=True)
class CreditPosition:
    """What the rules judge: the balance, the limit, the score and the items still unpaid."""

    currency: str
    balance_minor: int
    limit_minor: int | None
    score: int | None  # none: judged on days past due only (what is owed in another currency)
    open_items: tuple[OpenItem, ...]
    as_of: date
    own: bool = True  # in the customer's own currency; else what it owes in another

    @cached_property
    def past_due(self) -> tuple[tuple[int, int], ...]:
        """(days past due, amount) of each item past due at the as-of date."""
        late = ((days_past_due(item, self.as_of), item.amount_minor) for item in self.open_items)
        return tuple((days, minor) for days, minor in late if days > 0)

    def late_by(self, days: int) -> int:
        """How much is `days` or more days past due."""
        return sum(minor for late, minor in self.past_due if late >= days)

    @property
    def oldest(self) -> int:
        return max((days for days, _ in self.past_due), default=0)

    @property
    def oldest_due(self) -> date | None:
        """When the oldest item past due fell due (a date, not an age: a reason that reads the same
        tomorrow is not sent to the CRM again for nothing)."""
        return min(
            (item.due for item in self.open_items if days_past_due(item, self.as_of) > 0), default=None
        )


def _amount(minor: int, currency: str) -> str:
    return f"{to_decimal(minor, currency):,} {currency}"


def _overdue_rule(position: CreditPosition, days: int) -> str | None:
    late = position.late_by(days) if days else 0
    if not late:
        return None
    return f"{_amount(late, position.currency)} is {days}+ days past due (oldest due {position.oldest_due})"


def _percent_used(position: CreditPosition, *, up: bool = False) -> str:
    """The balance as a percentage of a positive limit, to one decimal (display only): half to even, or
    `up` (a balance said to be above a threshold never reads as that threshold, 80.02% as 80.0%)."""
    assert position.limit_minor
    tenths = Fraction(position.balance_minor * 1000, position.limit_minor)
    return f"{Decimal(math.ceil(tenths) if up else round(tenths)).scaleb(-1):.1f}%"


def _utilisation_rule(position: CreditPosition, pct: int) -> str | None:
    """Fires when balance > pct % of the limit (exact integers; a limit of 0 is exceeded by any balance)."""
    limit, balance = position.limit_minor, position.balance_minor
    if not pct or limit is None or balance <= 0 or balance * 100 <= limit * pct:
        return None
    owed = _amount(balance, position.currency)
    if limit <= 0:
        return f"balance {owed} against a credit limit of {_amount(limit, position.currency)}"
    return (
        f"balance {owed} is {_percent_used(position, up=True)} of the "
        f"{_amount(limit, position.currency)} credit limit (above {pct}%)"
    )


def _score_rule(position: CreditPosition, below: int) -> str | None:
    score = position.score
    return f"credit score {score} is below {below}" if score is not None and score < below else None


def _blocked(position: CreditPosition, rules: CreditSettings) -> list[str | None]:
    found: str | None = None
    late = position.late_by(rules.block_overdue_days) if rules.block_overdue_days else 0
    threshold = rules.block_threshold(position.currency, own=position.own)
    if late and threshold is not None and to_decimal(late, position.currency) > threshold:
        above = f"; more than {threshold:,} {position.currency}" if threshold else ""
        found = (
            f"{_amount(late, position.currency)} is {rules.block_overdue_days}+ days past due "
            f"(oldest due {position.oldest_due}{above})"
        )
    return [found, _score_rule(position, rules.block_score_below)]


def _held(position: CreditPosition, rules: CreditSettings) -> list[str | None]:
    return [
        _overdue_rule(position, rules.hold_overdue_days),
        _utilisation_rule(position, rules.hold_utilisation_pct),
        _score_rule(position, rules.hold_score_below),
    ]


def _watched(position: CreditPosition, rules: CreditSettings) -> list[str | None]:
    return [
        _overdue_rule(position, rules.watch_overdue_days),
        _utilisation_rule(position, rules.watch_utilisation_pct),
        _score_rule(position, rules.watch_score_below),
    ]


LEVELS: tuple[tuple[Status, Callable[[CreditPosition, CreditSettings], list[str | None]]], ...] = (
    ("BLOCKED", _blocked),
    ("HOLD", _held),
    ("WATCH", _watched),
)


def credit_status(
    position: CreditPosition, rules: CreditSettings, others: Sequence[CreditPosition] = ()
) -> tuple[Status, str]:
    """(status, reason): the worst level any rule reaches, with every rule that fired at that level;
    `others` are what the customer owes in other currencies (no limit, no score)."""
    for status, level in LEVELS:
        reasons = [
            reason if judged.own else f"in {judged.currency}: {reason}"
            for judged in (position, *others)
            for reason in level(judged, rules)
            if reason
        ]
        if reasons:
            return status, "; ".join(reasons)
    return "OK", _all_clear(position)


def _all_clear(position: CreditPosition) -> str:
    parts = [f"oldest past-due item due {position.oldest_due}" if position.past_due else "nothing past due"]
    if position.limit_minor is None:
        parts.append("no credit limit")
    elif position.balance_minor > 0 and position.limit_minor > 0:
        parts.append(f"{_percent_used(position)} of the credit limit used")
    else:
        parts.append("nothing owed against the credit limit")
    parts.append(f"credit score {position.score}")
    return "within every rule: " + ", ".join(parts)
