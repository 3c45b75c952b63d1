"""`reconcile apply` teaches the connector the payer's bank account: its next receipts post by themselves.

Statements (CAMT.053, as the bank sends one a month) of a payer the connector does not know: the first
receipt waits for a person; applying it makes the payer's IBAN known for the customer (matching tier 2),
and next month's receipt from it posts by itself; `--once` remembers nothing; an account known for another
customer is not learned; `customers forget-bank-account` and a person's `ledger reverse` of the receipt
undo it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from connector.bootstrap import build_container
from connector.db import unit_of_work
from connector.ledger.customers import NewCustomer
from connector.settings import load_settings
from tests.conftest import REPO, copy_example_config
from tests.e2e.conftest import Result

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]
MONTHLY = REPO / "tests" / "fixtures" / "statements" / "camt053_monthly_payer.xml"
IBAN = "AT611904300234573201"
BETA = NewCustomer("Beta Bau KG", "SME", "AT", "EUR")
ALPHA = NewCustomer("Alpha Handel GmbH", "SME", "AT", "EUR")


@pytest.fixture
def workspace(isolated_cwd: Path) -> Path:
    copy_example_config(isolated_cwd)
    return isolated_cwd


def _statement(workspace: Path, month: int, *refs: str, note: str = "Zahlung") -> str:
    """A statement of month `month` 2026 with a receipt from IBAN per ref in `refs`; its file name."""
    template = MONTHLY.read_text(encoding="utf-8")
    head, entry, tail = template.split("<!-- entry -->")
    entries = "".join(entry.format(ref=ref, month=f"{month:02}", note=note) for ref in refs)
    name = f"2026-{month:02}-{'-'.join(refs)}.xml"
    (workspace / name).write_text(head.format(month=f"{month:02}") + entries + tail, encoding="utf-8")
    return name


def _new_customer(customer: NewCustomer, bank_account: str | None = None) -> str:
    """The account number of `customer` made in the workspace's ledger (its record giving `bank_account`)."""
    container = build_container(load_settings(), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            customers = container.customers(session)
            made = customers.create(customer)
            if bank_account is not None:
                customers.add_bank_account(made.id, bank_account)
            return made.account_no
    finally:
        container.close()


def _match(workspace: Path, ref: str) -> tuple[str, int | None, str]:
    """The imported receipt `ref`'s status, match tier and why."""
    engine = create_engine(f"sqlite:///{workspace / 'connector.db'}")
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT status, match_tier, match_rule FROM imported_documents WHERE external_id = :r"),
                {"r": ref},
            ).one()
    finally:
        engine.dispose()
    return str(row[0]), row[1], str(row[2])


def _waiting(cli: Cli) -> list[dict[str, Any]]:
    return list(json.loads(cli("reconcile", "list", "--json").out))


def _known(cli: Cli, account_no: str) -> list[dict[str, Any]]:
    return list(json.loads(cli("customers", "show", account_no, "--json").out)["bank_accounts"])


def test_applying_a_receipt_makes_its_payers_account_known_and_the_next_months_receipt_posts_by_itself(
    cli: Cli, workspace: Path
) -> None:
    beta = _new_customer(BETA)
    assert "1 receipts unapplied" in cli("import", _statement(workspace, 11, "NOV-1")).out
    (item,) = _waiting(cli)
    assert item["payer"] == {"name": "Konzern Zahlstelle", "bank_account": IBAN, "references": ["Zahlung"]}

    applied = cli("reconcile", "apply", str(item["id"]), "--customer", beta)

    assert applied.code == 0, applied.err
    assert f"payer account {IBAN} now known as {beta}'s: its next receipts post by themselves" in applied.out
    (known,) = _known(cli, beta)
    assert known["number"] == IBAN
    assert str(known["origin"]).startswith(f"learned from reconcile item #{item['id']} by cli on 20")
    shown = cli("customers", "show", beta).out
    assert "payer bank accounts" in shown
    assert f"reconcile item #{item['id']} by cli" in shown
    assert "bank_account_learned" in shown  # the audit trail, without the account itself

    december = cli("import", _statement(workspace, 12, "DEC-1"))

    assert "1 receipts posted" in december.out, december.out
    assert _waiting(cli) == []
    status, tier, why = _match(workspace, "DEC-1")
    assert (status, tier) == ("posted", 2)
    assert "pays from a known bank account" in why
    assert cli("ledger", "verify").code == 0


def test_applied_once_the_payers_account_is_not_remembered(cli: Cli, workspace: Path) -> None:
    beta = _new_customer(BETA)
    cli("import", _statement(workspace, 11, "NOV-1"))
    (item,) = _waiting(cli)

    applied = cli("reconcile", "apply", str(item["id"]), "--customer", beta, "--once")

    assert applied.code == 0, applied.err
    assert "payer account" not in applied.out
    assert _known(cli, beta) == []
    # The decision stands on a changed revision of the receipt (`decisions`), once still.
    assert "1 receipts reapplied" in cli("import", _statement(workspace, 11, "NOV-1", note="Nov.")).out
    assert _known(cli, beta) == []
    assert "1 receipts unapplied" in cli("import", _statement(workspace, 12, "DEC-1")).out
    assert cli("ledger", "verify").code == 0


def test_an_account_known_for_another_customer_is_not_learned_and_two_customers_at_tier_2_wait(
    cli: Cli, workspace: Path
) -> None:
    subsidiary_a = _new_customer(NewCustomer("Tochter A GmbH", "SME", "AT", "EUR"))
    subsidiary_b = _new_customer(NewCustomer("Tochter B GmbH", "SME", "AT", "EUR"))
    cli("import", _statement(workspace, 11, "NOV-1", "NOV-2"))  # the parent pays for both
    first, second = _waiting(cli)
    cli("reconcile", "apply", str(first["id"]), "--customer", subsidiary_a)

    shared = cli("reconcile", "apply", str(second["id"]), "--customer", subsidiary_b)

    assert shared.code == 0, shared.err
    said = f"payer account {IBAN} is known for {subsidiary_a} too: not learned for {subsidiary_b}"
    assert said in shared.out
    assert _known(cli, subsidiary_b) == []
    # Known for both all the same (B's record gives it): tier 2 finds two customers, which never post.
    container = build_container(load_settings(), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            customers = container.customers(session)
            customers.add_bank_account(customers.get(subsidiary_b).id, IBAN)
    finally:
        container.close()
    assert "1 receipts unapplied" in cli("import", _statement(workspace, 12, "DEC-1")).out
    (waits,) = _waiting(cli)
    candidates = [(c["account_no"], c["tier"]) for c in waits["candidates"]]
    assert candidates == [(subsidiary_a, 2), (subsidiary_b, 2)]
    assert cli("ledger", "verify").code == 0


def test_a_forgotten_account_no_longer_finds_the_customer(cli: Cli, workspace: Path) -> None:
    beta = _new_customer(BETA)
    cli("import", _statement(workspace, 11, "NOV-1"))
    (item,) = _waiting(cli)
    cli("reconcile", "apply", str(item["id"]), "--customer", beta)

    forgot = cli("customers", "forget-bank-account", beta, "AT61 1904 3002 3457 3201", "--reason", "a typo")

    assert forgot.code == 0, forgot.err
    assert f"{beta}: payer account {IBAN} no longer known (it was learned from reconcile item #" in forgot.out
    assert _known(cli, beta) == []
    again = cli("customers", "forget-bank-account", beta, IBAN)
    assert again.code == 1
    assert f"bank account {IBAN} is not known for this customer" in again.err
    assert "1 receipts unapplied" in cli("import", _statement(workspace, 12, "DEC-1")).out
    assert cli("ledger", "verify").code == 0


def test_reversing_the_receipt_forgets_what_its_application_alone_taught(cli: Cli, workspace: Path) -> None:
    beta = _new_customer(BETA)
    cli("import", _statement(workspace, 11, "NOV-1", "NOV-2"))
    first, second = _waiting(cli)
    cli("reconcile", "apply", str(first["id"]), "--customer", beta)
    also = cli("reconcile", "apply", str(second["id"]), "--customer", beta)
    assert f"payer account {IBAN} was known as {beta}'s already" in also.out
    entry = _entry_of(workspace, "NOV-1")

    kept = cli("ledger", "reverse", str(entry), "--reason", "not Beta's")

    assert kept.code == 0, kept.err
    assert "no longer known" not in kept.out  # the second decision taught it too
    (known,) = _known(cli, beta)
    assert known["origin"] == f"learned from reconcile item #{second['id']} by cli on {_day(known)}"

    gone = cli("ledger", "reverse", str(_entry_of(workspace, "NOV-2")), "--reason", "not Beta's either")

    assert f"no longer known as {beta}'s: its next receipts wait for a person" in gone.out
    assert _known(cli, beta) == []
    assert cli("ledger", "verify").code == 0


def test_a_changed_revision_of_an_applied_receipt_learns_nothing_twice(cli: Cli, workspace: Path) -> None:
    beta = _new_customer(BETA)
    cli("import", _statement(workspace, 11, "NOV-1"))
    (item,) = _waiting(cli)
    cli("reconcile", "apply", str(item["id"]), "--customer", beta)

    changed = cli("import", _statement(workspace, 11, "NOV-1", note="Zahlung November"))

    assert changed.code == 0, changed.err
    assert _waiting(cli) == []
    assert _match(workspace, "NOV-1")[0] == "posted"
    (known,) = _known(cli, beta)
    assert known["origin"] == f"learned from reconcile item #{item['id']} by cli on {_day(known)}"
    assert cli("ledger", "verify").code == 0


def _entry_of(workspace: Path, ref: str) -> int:
    engine = create_engine(f"sqlite:///{workspace / 'connector.db'}")
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT entry_id FROM imported_documents WHERE external_id = :r"), {"r": ref}
            ).scalar_one()
    finally:
        engine.dispose()
    return int(found)


def _day(known: dict[str, Any]) -> str:
    (taught,) = known["learned_from"]
    return str(taught["at"])[:10]


def test_a_bank_returning_the_receipt_keeps_its_payers_account_known(cli: Cli, workspace: Path) -> None:
    beta = _new_customer(BETA)
    cli("import", _statement(workspace, 11, "NOV-1"))
    (item,) = _waiting(cli)
    cli("reconcile", "apply", str(item["id"]), "--customer", beta)

    returned = cli(
        "ledger", "reverse", str(_entry_of(workspace, "NOV-1")), "--reason", "bank returned it", "--returned"
    )

    assert returned.code == 0, returned.err
    assert "no longer known" not in returned.out  # who paid is still who paid
    (known,) = _known(cli, beta)
    assert known["origin"] == f"learned from reconcile item #{item['id']} by cli on {_day(known)}"
    assert "1 receipts posted" in cli("import", _statement(workspace, 12, "DEC-1")).out
    assert _match(workspace, "DEC-1")[:2] == ("posted", 2)
    assert cli("ledger", "verify").code == 0


def test_a_customer_shows_and_forgets_the_accounts_learned_for_the_customers_merged_into_it(
    cli: Cli, workspace: Path
) -> None:
    alpha = _new_customer(ALPHA)
    beta = _new_customer(BETA)
    cli("import", _statement(workspace, 11, "NOV-1"))
    (item,) = _waiting(cli)
    cli("reconcile", "apply", str(item["id"]), "--customer", alpha)
    assert cli("customers", "merge", beta, alpha, "--reason", "the same firm").code == 0

    (known,) = _known(cli, beta)

    assert (known["number"], known["of"]) == (IBAN, alpha)
    assert str(known["origin"]).endswith(f"(as {alpha}'s, merged into this customer)")
    assert f"as {alpha}'s, merged into this customer" in cli("customers", "show", beta).out
    forgot = cli("customers", "forget-bank-account", beta, IBAN, "--reason", "not theirs")
    assert forgot.code == 0, forgot.err
    assert f"{beta}: payer account {IBAN} no longer known (it was learned from reconcile item #" in forgot.out
    assert f"(as {alpha}'s, merged into this customer)" in forgot.out
    assert _known(cli, beta) == []
    assert "1 receipts unapplied" in cli("import", _statement(workspace, 12, "DEC-1")).out
    assert cli("customers", "unmerge", alpha, "--reason", "two firms").code == 0
    assert _known(cli, alpha) == []
    assert "bank_account_forgotten" in cli("customers", "show", alpha).out
    assert cli("ledger", "verify").code == 0


def _wrongly_taught(cli: Cli, workspace: Path) -> tuple[str, str, str]:
    """Alpha and Beta; November's receipt, Beta's, applied to Alpha by mistake, and December's posted to
    Alpha by itself: the account numbers of Alpha and Beta, and December's statement."""
    alpha = _new_customer(ALPHA)
    beta = _new_customer(BETA)
    cli("import", _statement(workspace, 11, "NOV-1"))
    (item,) = _waiting(cli)
    cli("reconcile", "apply", str(item["id"]), "--customer", alpha)
    december = _statement(workspace, 12, "DEC-1")
    assert "1 receipts posted" in cli("import", december).out
    assert _match(workspace, "DEC-1")[:2] == ("posted", 2)
    return alpha, beta, december


def test_reversing_a_wrong_decision_puts_the_receipts_its_account_posted_since_back_in_the_queue(
    cli: Cli, workspace: Path
) -> None:
    alpha, beta, december = _wrongly_taught(cli, workspace)

    undone = cli("ledger", "reverse", str(_entry_of(workspace, "NOV-1")), "--reason", "Beta's")

    assert undone.code == 0, undone.err
    assert f"no longer known as {alpha}'s: its next receipts wait for a person" in undone.out
    (waits,) = _waiting(cli)
    assert waits["document"] == "camt053 DEC-1"
    said = f"DEC-1 480.00 EUR, posted to {alpha} by the forgotten account, waits again as item #{waits['id']}"
    assert said in undone.out
    status, tier, why = _match(workspace, "DEC-1")
    assert (status, tier) == ("unapplied", None)
    assert f"posted to {alpha} by payer bank account known from a decision" in why
    assert "skipped" in cli("import", december).out
    again = cli("import", _statement(workspace, 12, "DEC-1", "DEC-2"))  # the same receipt, and a new one
    assert "1 unchanged" in again.out, again.out
    assert "1 receipts unapplied" in again.out  # the new one: the account is forgotten
    assert _match(workspace, "DEC-1")[0] == "unapplied"
    assert _waiting(cli)[0]["id"] == waits["id"]
    applied = cli("reconcile", "apply", str(waits["id"]), "--customer", beta)
    assert applied.code == 0, applied.err
    assert _match(workspace, "DEC-1")[0] == "posted"
    assert "Lines missing from the ledger (0)" in cli("reconcile", "statement", december).out
    assert cli("ledger", "verify").code == 0


def test_forgetting_a_learned_account_puts_the_receipts_it_posted_back_in_the_queue(
    cli: Cli, workspace: Path
) -> None:
    alpha, _, december = _wrongly_taught(cli, workspace)

    forgot = cli("customers", "forget-bank-account", alpha, IBAN, "--reason", "Beta's")

    assert forgot.code == 0, forgot.err
    (waits,) = _waiting(cli)
    assert waits["document"] == "camt053 DEC-1"
    said = f"DEC-1 480.00 EUR, posted to {alpha} by the forgotten account, waits again as item #{waits['id']}"
    assert said in forgot.out
    assert _match(workspace, "DEC-1")[0] == "unapplied"
    assert _match(workspace, "NOV-1")[0] == "posted"  # the decision itself stands: a person reverses it
    assert "skipped" in cli("import", december).out
    again = cli("import", _statement(workspace, 12, "DEC-1", "DEC-2"))
    assert "1 unchanged" in again.out, again.out
    assert _waiting(cli)[0]["id"] == waits["id"]
    assert _match(workspace, "DEC-2")[0] == "unapplied"
    assert cli("ledger", "verify").code == 0


def _accounts_as_of(cli: Cli, day: str) -> dict[str, int]:
    """Account code → its EUR balance in minor units at the end of `day` (`ledger accounts --as-of`)."""
    trial = json.loads(cli("ledger", "accounts", "--as-of", day, "--json").out)
    return {
        row["account"]: int(row["balance"]["minor"])
        for row in trial["accounts"]
        if row["balance"] is not None and row["balance"]["currency"] == "EUR"
    }


def test_a_receipt_taken_back_from_a_forgotten_account_counts_once_in_the_views_of_the_days_before(
    cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connector.cli.context.business_today", lambda ctx: date(2026, 12, 7))
    alpha = _new_customer(ALPHA)
    cli("import", _statement(workspace, 10, "OCT-1"))
    (item,) = _waiting(cli)
    cli("reconcile", "apply", str(item["id"]), "--customer", alpha)
    november = _statement(workspace, 11, "NOV-1")
    assert "1 receipts posted" in cli("import", november).out
    days = ("2026-11-20", "2026-11-30", "2026-12-07")
    before = {day: _accounts_as_of(cli, day) for day in days}
    assert before["2026-11-30"]["1002"] == 96000

    forgot = cli("customers", "forget-bank-account", alpha, IBAN, "--reason", "Beta's")

    assert forgot.code == 0, forgot.err
    # The receipt was never Alpha's: taken back on its own day, as a changed receipt is reposted, it is
    # unapplied from the day it came, and the bank received it once.
    for day in days:
        after = _accounts_as_of(cli, day)
        assert after["1002"] == 96000, day
        assert after["220399"] == before[day]["220399"] - 48000, day
        assert after["2203"] == before[day]["2203"] + 48000, day  # no longer Alpha's advance
    statement = cli("reconcile", "statement", november).out
    assert "Lines missing from the ledger (0)" in statement, statement
    assert "Ledger entries missing from the bank (0)" in statement, statement
    assert "every statement reconciles" in statement
    assert cli("ledger", "verify").code == 0
