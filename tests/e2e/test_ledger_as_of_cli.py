"""`connector ledger balance|accounts --as-of`: the ledger's views agree with the figures sent to the CRM
when documents are dated ahead (an invoice issued ahead of its date), and say what they leave out."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from connector.bootstrap import build_container
from connector.db import unit_of_work
from connector.settings import load_settings
from tests.e2e.conftest import Result
from tests.integration.helpers import invoice

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]


def post_invoice_dated(day: date, account_no: str, amount: str) -> None:
    container = build_container(load_settings(), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            draft = invoice(f"INV-AHEAD-{day}", account_no, amount)
            container.ledger(session).post(replace(draft, posting_date=day, document_date=day))
    finally:
        container.close()


def minor(row: dict[str, Any]) -> int:
    return int(row["minor"])


def receivable_cny(trial: dict[str, Any]) -> int:
    rows = trial["accounts"]
    return next(
        minor(r["balance"]) for r in rows if r["account"] == "1122" and r["balance"]["currency"] == "CNY"
    )


def test_an_invoice_dated_ahead_counts_in_the_ledger_views_from_its_date_as_in_the_figures(cli: Cli) -> None:
    assert cli("demo").code == 0
    today = datetime.now().astimezone().date()
    ahead = today + timedelta(days=21)
    before = json.loads(cli("ledger", "balance", "SMEZJ00001", "--json").out)
    trial_before = json.loads(cli("ledger", "accounts", "--json").out)
    post_invoice_dated(ahead, "SMEZJ00001", "500.00")

    balance = json.loads(cli("ledger", "balance", "SMEZJ00001", "--json").out)
    figures = json.loads(cli("customers", "figures", "SMEZJ00001", "--json").out)
    assert balance["as_of"] == today.isoformat()
    assert balance["net_receivable"] == before["net_receivable"]  # not counted today, as in the figures
    assert balance["net_receivable"][0]["amount"] == figures["balance"]
    assert balance["dated_later"] == {
        "entries": 1,
        "first": ahead.isoformat(),
        "amounts": [{"amount": "500.00", "currency": "CNY", "minor": 50000}],
    }
    table = cli("ledger", "balance", "SMEZJ00001")
    assert f"Balances of customer SMEZJ00001 as of {today}" in table.out
    said = " ".join(table.out.split())
    assert f"not counted above: 1 entry dated after {today} (the first on {ahead})" in said
    assert "moving these balances by 500.00 CNY; each counts from its own date on" in said

    then = json.loads(cli("ledger", "balance", "SMEZJ00001", "--as-of", ahead.isoformat(), "--json").out)
    figures_then = json.loads(
        cli("customers", "figures", "SMEZJ00001", "--as-of", ahead.isoformat(), "--json").out
    )
    assert minor(then["net_receivable"][0]) == minor(before["net_receivable"][0]) + 50000
    assert then["net_receivable"][0]["amount"] == figures_then["balance"]
    assert then["dated_later"] == {"entries": 0, "first": None, "amounts": []}
    assert "not counted" not in cli("ledger", "balance", "SMEZJ00001", "--as-of", ahead.isoformat()).out

    trial = json.loads(cli("ledger", "accounts", "--json").out)
    assert trial["accounts"] == trial_before["accounts"]
    assert trial["dated_later"]["entries"] == 1
    assert trial["dated_later"]["amounts"] == [{"amount": "500.00", "currency": "CNY", "minor": 50000}]
    assert "not counted above: 1 entry dated after" in " ".join(cli("ledger", "accounts").out.split())
    trial_then = json.loads(cli("ledger", "accounts", "--as-of", ahead.isoformat(), "--json").out)
    assert [minor(total) for total in trial_then["totals"]] == [0, 0, 0]
    assert receivable_cny(trial_then) == receivable_cny(trial_before) + 50000
    assert cli("ledger", "verify").code == 0  # the stored balances count it at once, and agree


def test_the_ledger_views_as_of_a_past_day_leave_out_what_was_posted_after_it(cli: Cli) -> None:
    assert cli("demo").code == 0
    first = json.loads(cli("ledger", "entries", "SMEZJ00001", "--json").out)[0]
    day = date.fromisoformat(first["posting_date"])
    balance = json.loads(cli("ledger", "balance", "SMEZJ00001", "--as-of", day.isoformat(), "--json").out)
    assert balance["net_receivable"] == [first["amount"]]
    assert [line["postings"] for line in balance["balances"]] == [1]
    assert balance["dated_later"]["entries"] == 3  # a receipt, an invoice and its reversal
    earlier = (day - timedelta(days=1)).isoformat()
    nothing = json.loads(cli("ledger", "balance", "SMEZJ00001", "--as-of", earlier, "--json").out)
    assert (nothing["balances"], nothing["net_receivable"]) == ([], [])
    trial = json.loads(cli("ledger", "accounts", "--as-of", "2000-01-01", "--json").out)
    assert {row["balance"] for row in trial["accounts"]} == {None}
    assert trial["dated_later"]["entries"] == 13
    bad = cli("ledger", "accounts", "--as-of", "31.12.2026")
    assert (bad.code, "'31.12.2026' is not a date (YYYY-MM-DD)" in bad.err) == (2, True)
