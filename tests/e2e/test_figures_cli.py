"""`connector customers figures`: what the CRM push would send for a customer, and why its status is so."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.mapping.model import FIGURES
from tests.conftest import copy_example_config
from tests.e2e.conftest import Result

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]


def test_json_gives_every_figure_with_the_status_reason_and_the_open_items(cli: Cli) -> None:
    assert cli("demo").code == 0
    result = cli("customers", "figures", "SMEZJ00001", "--as-of", "2026-05-20", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert set(FIGURES) <= set(payload)
    # INV-2026-0003 (23,999.99, due 03-12) less the 12,000.00 receipt; INV-2026-0007 was reversed
    assert (payload["receivable"], payload["aging_61_90"], payload["overdue"]) == ("11999.99",) * 3
    assert (payload["last_payment_date"], payload["last_payment_amount"]) == ("2026-03-06", "12000.00")
    assert (payload["credit_score"], payload["credit_status"]) == (45, "HOLD")
    assert payload["credit_status_reason"] == "11,999.99 CNY is 61+ days past due (oldest due 2026-03-12)"
    assert payload["open_items"] == [
        {"entry_id": 3, "due": "2026-03-12", "days_past_due": 69, "amount": "11999.99", "unpaid": "11999.99"}
    ]
    assert payload["as_of"] == "2026-05-20"


def test_the_table_shows_the_figures_and_the_reason_in_words(cli: Cli) -> None:
    cli("demo")
    result = cli("customers", "figures", "INDBJ00001", "--as-of", "2026-05-20")
    assert result.code == 0, result.err
    assert "unapplied_credit" in result.out
    assert "500.00" in result.out
    assert (
        "credit status OK: within every rule: nothing past due, no credit limit, credit score 100"
        in result.out
    )


def test_the_credit_rules_come_from_the_configuration(cli: Cli, isolated_cwd: Path) -> None:
    config = copy_example_config(isolated_cwd)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("hold_overdue_days = 61", "hold_overdue_days = 75"), encoding="utf-8")
    cli("--config", str(config), "demo")
    result = cli(
        "--config", str(config), "customers", "figures", "SMEZJ00001", "--as-of", "2026-05-20", "--json"
    )
    payload = json.loads(result.out)
    assert (payload["credit_status"], payload["credit_status_reason"]) == (
        "WATCH",
        "11,999.99 CNY is 31+ days past due (oldest due 2026-03-12); credit score 45 is below 50",
    )


def test_an_unknown_account_or_a_bad_date_is_a_clear_error(cli: Cli) -> None:
    cli("demo")
    unknown = cli("customers", "figures", "NOPE0001")
    assert (unknown.code, unknown.err.strip()) == (1, "error: no customer with account number NOPE0001")
    bad = cli("customers", "figures", "KASH00001", "--as-of", "20.05.2026")
    assert bad.code == 2
    assert "'20.05.2026' is not a date (YYYY-MM-DD)" in bad.err
