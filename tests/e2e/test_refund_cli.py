"""A bookkeeper's refund at the command line: an overpayment paid back nets the customer to zero."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import copy_example_config
from tests.e2e.conftest import Result

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]

BAKER = [
    {
        "type": "customer.created",
        "timestamp": "2026-03-01T00:00:00Z",
        "data": {"id": "7000301", "name": "Baker & Sons, Ltd", "type": "SME", "currency": "USD"}
        | {"email": "ap@baker.example.com", "address": {"country": "US"}},
    }
]
INVOICE = (
    "Invoice Date,Invoice ID,Invoice Number,Invoice Status,Customer ID,Customer Name,Due Date,PurchaseOrder,"
    "Currency Code,Exchange Rate,Item Name,Quantity,Item Price,Item Total,Total,Balance\n"
    '2026-03-02,5000003001,INV-3001,Sent,7000301,"Baker & Sons, Ltd",2026-04-01,,USD,1.00,Service,1,'
    "1000.00,1000.00,1000.00,1000.00\n"
)
HEADER = (
    "Payment Number,CustomerPayment ID,Date,Customer Name,CustomerID,Mode,Reference Number,Description,"
    "Amount,Unused Amount,Currency Code,Exchange Rate,Deposit To,Invoice Number,Invoice Date,"
    "Amount Applied to Invoice\n"
)
PAYMENT = (
    'PMT-2,5000009002,2026-03-10,"Baker & Sons, Ltd",7000301,Bank Transfer,TT-2,,"1,500.00",500.00,USD,'
    '1.00,Bank,INV-3001,2026-03-02,"1,000.00"\n'
)


def refund(amount: str) -> str:
    """Zoho Books' refund of the payment's unused amount, as its payments export lists it: negative."""
    return (
        f'RF-1,5000009003,2026-03-20,"Baker & Sons, Ltd",7000301,Bank Transfer,RF-1,overpayment refunded,'
        f"-{amount},0.00,USD,1.00,Bank,,,\n"
    )


@pytest.fixture
def baker(cli: Cli, isolated_cwd: Path) -> str:
    """Baker & Sons, Ltd owing nothing and holding 500.00 USD of credit (PMT-2's unused amount)."""
    copy_example_config(isolated_cwd)
    (isolated_cwd / "customers.json").write_text(json.dumps(BAKER), encoding="utf-8")
    assert cli("customers", "import", "webhook_customers", "customers.json").code == 0
    (isolated_cwd / "invoices.csv").write_text(INVOICE, encoding="utf-8")
    (isolated_cwd / "payments.csv").write_text(HEADER + PAYMENT, encoding="utf-8")
    imported = cli("import", "invoices.csv", "payments.csv")
    assert imported.code == 0, imported.err
    (account,) = json.loads(cli("customers", "list", "--json").out)
    account_no: str = account["account_no"]
    assert balances(cli, account_no) == {"1122": "0.00", "2203": "-500.00"}
    return account_no


def balances(cli: Cli, account_no: str) -> dict[str, str]:
    """The customer's receivable (1122) and advances (2203), as `ledger balance --json` says them."""
    shown = cli("ledger", "balance", account_no, "--json")
    assert shown.code == 0, shown.err
    return {row["account"]: row["balance"]["amount"] for row in json.loads(shown.out)["balances"]}


def bank(cli: Cli) -> int:
    """The bank account's balance (1002), in minor units."""
    report = json.loads(cli("ledger", "accounts", "--json").out)
    return sum(row["balance"]["minor"] for row in report["accounts"] if row["account"] == "1002")


def test_a_refunded_overpayment_nets_the_customer_to_zero_out_of_the_bank_once(
    cli: Cli, baker: str, isolated_cwd: Path
) -> None:
    before = bank(cli)
    (isolated_cwd / "payments-refunded.csv").write_text(HEADER + PAYMENT + refund("500.00"), encoding="utf-8")

    refunded = cli("import", "payments-refunded.csv")

    assert refunded.code == 0, refunded.err
    assert "1 refunds posted" in refunded.out
    assert balances(cli, baker) == {"1122": "0.00", "2203": "0.00"}
    assert bank(cli) == before - 50000
    entries = json.loads(cli("ledger", "entries", baker, "--json").out)
    assert entries[-1]["external_id"] == "5000009003"
    assert entries[-1]["document_type"] == "refund"
    assert cli("ledger", "verify").code == 0
    again = cli("import", "payments-refunded.csv")
    assert "skipped" in again.out
    (isolated_cwd / "payments-again.csv").write_text(HEADER + refund("500.00") + PAYMENT, encoding="utf-8")
    assert "2 unchanged" in cli("import", "payments-again.csv").out
    assert balances(cli, baker) == {"1122": "0.00", "2203": "0.00"}
    # A refund is no payment: the customer's payments stay PMT-2's 1,500.00.
    figures = json.loads(cli("customers", "figures", baker, "--json").out)
    assert (figures["last_payment_amount"], figures["paid_trailing_12m"]) == ("1500.00", "1500.00")
    assert (figures["balance"], figures["unapplied_credit"]) == ("0.00", "0.00")
    # Reversed like any entry: the credit is the customer's again, the money back in the bank.
    reversed_ = cli("ledger", "reverse", str(entries[-1]["entry_id"]), "--reason", "refund never paid")
    assert reversed_.code == 0, reversed_.err
    assert balances(cli, baker) == {"1122": "0.00", "2203": "-500.00"}
    assert bank(cli) == before
    assert cli("ledger", "verify").code == 0


def test_a_refund_changed_in_a_later_export_is_reversed_and_reposted(
    cli: Cli, baker: str, isolated_cwd: Path
) -> None:
    (isolated_cwd / "march.csv").write_text(HEADER + PAYMENT + refund("200.00"), encoding="utf-8")
    (isolated_cwd / "april.csv").write_text(HEADER + PAYMENT + refund("500.00"), encoding="utf-8")
    assert "1 refunds posted" in cli("import", "march.csv").out
    assert balances(cli, baker) == {"1122": "0.00", "2203": "-300.00"}

    april = cli("import", "april.csv")

    assert "1 refunds posted" in april.out
    assert "reposted" in april.out
    assert balances(cli, baker) == {"1122": "0.00", "2203": "0.00"}
    assert cli("ledger", "verify").code == 0


def test_a_refund_beyond_the_customers_credit_is_quarantined_and_posts_nothing(
    cli: Cli, baker: str, isolated_cwd: Path
) -> None:
    (isolated_cwd / "too-much.csv").write_text(HEADER + refund("600.00"), encoding="utf-8")

    result = cli("import", "too-much.csv")

    assert "1 quarantined" in result.out
    (held,) = json.loads(cli("quarantine", "list", "--json").out)["records"]
    assert str(held["reason"]).startswith(
        f"a refund of 600.00 USD to {baker}, whose credit (unapplied and advance money) is 500.00 USD: "
    )
    assert "ledger reverse" not in str(held["reason"])
    assert balances(cli, baker) == {"1122": "0.00", "2203": "-500.00"}
    assert cli("ledger", "verify").code == 0


# Baker & Sons owing INV-3001 (1,000.00) and INV-3002 (200.00), with no credit yet.
OWED = INVOICE + (
    '2026-03-03,5000003002,INV-3002,Sent,7000301,"Baker & Sons, Ltd",2026-04-02,,USD,1.00,Service,1,'
    "200.00,200.00,200.00,200.00\n"
)
# PMT-1 pays INV-3002 exactly: a payment of the file between the refund and PMT-2, giving no credit.
PAID_EXACTLY = (
    'PMT-1,5000009001,2026-03-05,"Baker & Sons, Ltd",7000301,Bank Transfer,TT-1,,200.00,0.00,USD,'
    "1.00,Bank,INV-3002,2026-03-03,200.00\n"
)


@pytest.fixture
def owing(cli: Cli, isolated_cwd: Path) -> str:
    """Baker & Sons, Ltd owing INV-3001 and INV-3002, holding no credit."""
    copy_example_config(isolated_cwd)
    (isolated_cwd / "customers.json").write_text(json.dumps(BAKER), encoding="utf-8")
    assert cli("customers", "import", "webhook_customers", "customers.json").code == 0
    (isolated_cwd / "invoices.csv").write_text(OWED, encoding="utf-8")
    imported = cli("import", "invoices.csv")
    assert imported.code == 0, imported.err
    (account,) = json.loads(cli("customers", "list", "--json").out)
    account_no: str = account["account_no"]
    assert balances(cli, account_no) == {"1122": "1200.00"}
    return account_no


@pytest.mark.parametrize("batch_size", [None, "2", "1"])
def test_a_refund_listed_before_the_payment_that_gave_the_credit_posts_with_it(
    cli: Cli, owing: str, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, batch_size: str | None
) -> None:
    # Newest first, as exports list them: the refund, then the payment whose unused 500.00 it pays back
    # (with batches of 2 or 1, in an earlier batch than that payment).
    if batch_size is not None:
        monkeypatch.setenv("CONNECTOR_IMPORTS__BATCH_SIZE", batch_size)
    (isolated_cwd / "newest-first.csv").write_text(
        HEADER + refund("500.00") + PAID_EXACTLY + PAYMENT, encoding="utf-8"
    )
    tried = cli("import", "newest-first.csv", "--dry-run")
    imported = cli("import", "newest-first.csv")

    for said in (tried, imported):
        assert said.code == 0, said.err
        assert "2 payments posted" in said.out
        assert "1 refunds posted" in said.out
        assert "quarantined" not in said.out
    assert balances(cli, owing) == {"1122": "0.00", "2203": "0.00"}
    assert bank(cli) == 170000 - 50000  # PMT-1 and PMT-2 in, RF-1 out
    assert json.loads(cli("quarantine", "list", "--json").out)["records"] == []
    assert cli("ledger", "verify").code == 0
    assert "skipped" in cli("import", "newest-first.csv").out
    (isolated_cwd / "oldest-first.csv").write_text(
        HEADER + PAID_EXACTLY + PAYMENT + refund("500.00"), encoding="utf-8"
    )
    assert "3 unchanged" in cli("import", "oldest-first.csv").out
    assert balances(cli, owing) == {"1122": "0.00", "2203": "0.00"}


@pytest.mark.parametrize("batch_size", [None, "2"])
def test_a_refund_beyond_all_the_credit_its_file_gives_is_quarantined_once_the_file_is_read(
    cli: Cli, owing: str, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, batch_size: str | None
) -> None:
    if batch_size is not None:
        monkeypatch.setenv("CONNECTOR_IMPORTS__BATCH_SIZE", batch_size)
    (isolated_cwd / "too-much.csv").write_text(
        HEADER + refund("600.00") + PAID_EXACTLY + PAYMENT, encoding="utf-8"
    )

    tried = cli("import", "too-much.csv", "--dry-run")
    result = cli("import", "too-much.csv")

    for said in (tried, result):
        assert "2 payments posted" in said.out
        assert "1 quarantined" in said.out
        assert "refunds posted" not in said.out
    (held,) = json.loads(cli("quarantine", "list", "--json").out)["records"]
    # The credit the whole file gave: PMT-2's unused 500.00, listed after the refund.
    assert str(held["reason"]).startswith(
        f"a refund of 600.00 USD to {owing}, whose credit (unapplied and advance money) is 500.00 USD: "
    )
    assert balances(cli, owing) == {"1122": "0.00", "2203": "-500.00"}
    assert cli("ledger", "verify").code == 0


def test_a_refund_changed_beyond_the_credit_until_a_payment_further_down_is_reposted_out_of_it(
    cli: Cli, baker: str, isolated_cwd: Path
) -> None:
    (isolated_cwd / "march.csv").write_text(HEADER + PAYMENT + refund("200.00"), encoding="utf-8")
    assert "1 refunds posted" in cli("import", "march.csv").out
    # April's export: RF-1 grown to 700.00, listed before PMT-4, 200.00 more paid on account.
    on_account = (
        'PMT-4,5000009004,2026-03-15,"Baker & Sons, Ltd",7000301,Bank Transfer,TT-4,,200.00,200.00,USD,'
        "1.00,Bank,,,\n"
    )
    (isolated_cwd / "april.csv").write_text(
        HEADER + refund("700.00") + on_account + PAYMENT, encoding="utf-8"
    )

    tried = cli("import", "april.csv", "--dry-run")
    april = cli("import", "april.csv")

    for said in (tried, april):
        assert said.code == 0, said.err
        assert "1 refunds posted" in said.out
        assert "reposted" in said.out
        assert "quarantined" not in said.out
    assert balances(cli, baker) == {"1122": "0.00", "2203": "0.00"}
    entries = json.loads(cli("ledger", "entries", baker, "--json").out)
    assert entries[-1]["external_id"] == "5000009003"
    assert cli("ledger", "verify").code == 0


def test_an_invoice_whose_payment_was_refunded_before_it_came_is_owed_and_overdue(
    cli: Cli, isolated_cwd: Path
) -> None:
    copy_example_config(isolated_cwd)
    (isolated_cwd / "customers.json").write_text(json.dumps(BAKER), encoding="utf-8")
    assert cli("customers", "import", "webhook_customers", "customers.json").code == 0
    (account,) = json.loads(cli("customers", "list", "--json").out)
    baker = str(account["account_no"])
    # PMT-7 applied to INV-Z1, not imported yet: its money waits on advances, named for INV-Z1; then all
    # of it is paid back.
    applied = (
        'PMT-7,5000009007,2026-10-20,"Baker & Sons, Ltd",7000301,Bank Transfer,TT-7,,"3,000.00",0.00,USD,'
        '1.00,Bank,INV-Z1,2026-10-16,"3,000.00"\n'
    )
    (isolated_cwd / "payments.csv").write_text(HEADER + applied + refund("3000.00"), encoding="utf-8")
    paid = cli("import", "payments.csv")
    assert "1 refunds posted" in paid.out, paid.out
    invoice = (
        '2026-10-16,5000003099,INV-Z1,Sent,7000301,"Baker & Sons, Ltd",2026-11-15,,USD,1.00,Service,1,'
        '"3,000.00","3,000.00","3,000.00","3,000.00"\n'
    )
    (isolated_cwd / "invoices.csv").write_text(INVOICE.splitlines()[0] + "\n" + invoice, encoding="utf-8")
    assert cli("import", "invoices.csv").code == 0

    figures = json.loads(cli("customers", "figures", baker, "--as-of", "2026-12-07", "--json").out)

    # The money that would have paid INV-Z1 went back to the customer: INV-Z1 is owed, 22 days late.
    assert figures["balance"] == "3000.00"
    assert (figures["receivable"], figures["unapplied_credit"]) == ("3000.00", "0.00")
    assert (figures["overdue"], figures["aging_1_30"]) == ("3000.00", "3000.00")
    later = json.loads(cli("customers", "figures", baker, "--as-of", "2026-12-16", "--json").out)
    assert later["credit_status"] == "WATCH"  # 31 days past due
    assert cli("ledger", "verify").code == 0
