"""Credit status: the worst level a rule reaches wins, with its reasons in words; the settings validate."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from connector.credit.aging import OpenItem
from connector.credit.rules import CreditPosition, CreditSettings, credit_status
from connector.settings import Settings
from tests.conftest import REPO

AS_OF = date(2026, 6, 30)
DEFAULTS = CreditSettings()


def position(
    *late_items: tuple[int, int],
    balance: int | None = None,
    limit: int | None = None,
    score: int = 90,
    currency: str = "CNY",
) -> CreditPosition:
    """Open items given as (days past due, minor units); the balance defaults to their sum."""
    items = tuple(
        OpenItem(index, AS_OF - timedelta(days=late), minor) for index, (late, minor) in enumerate(late_items)
    )
    owed = sum(item.amount_minor for item in items) if balance is None else balance
    return CreditPosition(currency, owed, limit, score, items, AS_OF)


def test_a_customer_within_every_rule_is_ok_and_told_why() -> None:
    assert credit_status(position((10, 5000), limit=100_000, score=88), DEFAULTS) == (
        "OK",
        "within every rule: oldest past-due item due 2026-06-20, 5.0% of the credit limit used, "
        "credit score 88",
    )
    assert credit_status(position(score=100), DEFAULTS) == (
        "OK",
        "within every rule: nothing past due, no credit limit, credit score 100",
    )


@pytest.mark.parametrize(
    ("days", "status"), [(30, "OK"), (31, "WATCH"), (60, "WATCH"), (61, "HOLD"), (91, "BLOCKED")]
)
def test_the_default_day_rules_watch_from_31_hold_from_61_and_block_from_91_days(
    days: int, status: str
) -> None:
    assert credit_status(position((days, 12345)), DEFAULTS)[0] == status


def test_a_watch_reason_names_the_amount_and_the_oldest_item() -> None:
    assert credit_status(position((45, 120000), (5, 1000)), DEFAULTS) == (
        "WATCH",
        "1,200.00 CNY is 31+ days past due (oldest due 2026-05-16)",
    )


def test_utilisation_above_80_percent_is_watched_and_over_the_limit_is_held() -> None:
    assert credit_status(position(balance=8000, limit=10000), DEFAULTS)[0] == "OK"  # exactly 80 %
    assert credit_status(position(balance=8001, limit=10000), DEFAULTS) == (
        "WATCH",
        "balance 80.01 CNY is 80.1% of the 100.00 CNY credit limit (above 80%)",
    )
    assert credit_status(position(balance=10000, limit=10000), DEFAULTS)[0] == "WATCH"  # at the limit
    assert credit_status(position(balance=12000, limit=10000), DEFAULTS) == (
        "HOLD",
        "balance 120.00 CNY is 120.0% of the 100.00 CNY credit limit (above 100%)",
    )


@pytest.mark.parametrize(
    ("balance", "status", "reason"),
    [
        (4_000_001, "WATCH", "balance 40,000.01 CNY is 80.1% of the 50,000.00 CNY credit limit (above 80%)"),
        (5_000_001, "HOLD", "balance 50,000.01 CNY is 100.1% of the 50,000.00 CNY credit limit (above 100%)"),
    ],
)
def test_a_balance_a_cent_above_a_utilisation_threshold_never_reads_as_that_threshold(
    balance: int, status: str, reason: str
) -> None:
    assert credit_status(position(balance=balance, limit=5_000_000), DEFAULTS) == (status, reason)


def test_any_balance_against_a_zero_limit_is_held() -> None:
    assert credit_status(position(balance=1, limit=0), DEFAULTS) == (
        "HOLD",
        "balance 0.01 CNY against a credit limit of 0.00 CNY",
    )


def test_low_scores_watch_hold_and_block() -> None:
    assert credit_status(position(score=49), DEFAULTS) == ("WATCH", "credit score 49 is below 50")
    assert credit_status(position(score=34), DEFAULTS) == ("HOLD", "credit score 34 is below 35")
    assert credit_status(position(score=19), DEFAULTS) == ("BLOCKED", "credit score 19 is below 20")


def test_the_worst_level_wins_and_its_reason_lists_every_rule_that_fired_there() -> None:
    status, reason = credit_status(position((70, 50000), balance=50000, limit=40000, score=30), DEFAULTS)
    assert status == "HOLD"
    assert reason == (
        "500.00 CNY is 61+ days past due (oldest due 2026-04-21); "
        "balance 500.00 CNY is 125.0% of the 400.00 CNY credit limit (above 100%); "
        "credit score 30 is below 35"
    )


def test_blocking_for_lateness_needs_more_than_the_threshold_that_late() -> None:
    rules = CreditSettings(block_min_overdue=Decimal("1000"))
    assert credit_status(position((95, 100000)), rules)[0] == "HOLD"  # exactly 1,000.00: not more
    assert credit_status(position((95, 100001)), rules) == (
        "BLOCKED",
        "1,000.01 CNY is 91+ days past due (oldest due 2026-03-27; more than 1,000 CNY)",
    )


def test_a_blocked_reason_names_the_oldest_due_date_and_no_threshold_of_zero() -> None:
    assert credit_status(position((120, 50000), (95, 100000)), DEFAULTS) == (
        "BLOCKED",
        "1,500.00 CNY is 91+ days past due (oldest due 2026-03-02)",
    )


def test_a_currency_of_its_own_may_have_its_own_blocking_threshold() -> None:
    rules = CreditSettings(
        block_min_overdue=Decimal(1000), block_min_overdue_by_currency={"jpy": Decimal(150000)}
    )
    assert rules.block_threshold("JPY") == Decimal(150000)
    assert credit_status(position((120, 100000), currency="JPY"), rules)[0] == "HOLD"
    assert credit_status(position((120, 200000), currency="JPY"), rules)[0] == "BLOCKED"


def test_what_is_owed_in_another_currency_blocks_only_against_a_threshold_in_that_currency() -> None:
    rules = CreditSettings(block_min_overdue=Decimal(10000))  # 10,000 CNY: the customer's own
    own = position((120, 900_000))  # 9,000.00 CNY
    yen = replace(position((120, 20_000), currency="JPY", score=0), score=None, own=False)  # about 950 CNY
    assert credit_status(own, rules, [yen]) == (
        "HOLD",
        "9,000.00 CNY is 61+ days past due (oldest due 2026-03-02); "
        "in JPY: 20,000 JPY is 61+ days past due (oldest due 2026-03-02)",
    )
    by_yen = CreditSettings(
        block_min_overdue=Decimal(10000), block_min_overdue_by_currency={"JPY": Decimal(1000)}
    )
    assert credit_status(own, by_yen, [yen]) == (
        "BLOCKED",
        "in JPY: 20,000 JPY is 91+ days past due (oldest due 2026-03-02; more than 1,000 JPY)",
    )
    assert credit_status(own, CreditSettings(), [yen])[0] == "BLOCKED"  # lateness alone blocks: any currency


def test_a_status_set_by_what_is_owed_in_another_currency_says_that_currency_first() -> None:
    own = position((10, 900_000))  # 9,000.00 CNY, only 10 days late
    euros = replace(position((100, 120_000), currency="EUR", score=0), score=None, own=False)
    assert credit_status(own, CreditSettings(), [euros]) == (
        "BLOCKED",
        "in EUR: 1,200.00 EUR is 91+ days past due (oldest due 2026-03-22)",
    )


def test_zero_turns_a_rule_off() -> None:
    rules = CreditSettings(
        watch_overdue_days=0,
        hold_overdue_days=0,
        block_overdue_days=0,
        watch_utilisation_pct=0,
        hold_utilisation_pct=0,
        watch_score_below=0,
        hold_score_below=0,
        block_score_below=0,
    )
    assert credit_status(position((400, 10**9), balance=10**9, limit=1, score=0), rules)[0] == "OK"


def test_levels_out_of_order_are_refused() -> None:
    with pytest.raises(ValidationError, match="overdue days must increase from watch to hold to block"):
        CreditSettings(watch_overdue_days=70, hold_overdue_days=61)
    with pytest.raises(ValidationError, match="score thresholds must decrease"):
        CreditSettings(block_score_below=60)


def test_unknown_keys_and_currencies_are_refused_and_the_section_is_frozen() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        CreditSettings.model_validate({"watch_days": 31})
    with pytest.raises(ValidationError, match="unknown currency code"):
        CreditSettings(block_min_overdue_by_currency={"RMB": Decimal(1)})
    with pytest.raises(ValidationError):
        DEFAULTS.watch_overdue_days = 5


def test_the_example_config_documents_the_defaults() -> None:
    example = tomllib.loads((REPO / "config.example.toml").read_text(encoding="utf-8"))
    assert CreditSettings.model_validate(example["credit"]) == DEFAULTS
    assert Settings().credit == DEFAULTS
