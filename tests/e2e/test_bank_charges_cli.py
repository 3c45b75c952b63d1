"""A Zoho Books payment the bank kept a charge of: the customer is credited the whole payment, the bank
holds what it received, and the statement's line of that money is the same receipt."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import copy_example_config
from tests.e2e.conftest import Result

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]

CUSTOMERS = [
    {
        "type": "customer.created",
        "timestamp": "2026-03-01T00:00:00Z",
        "data": {"id": "m1", "name": "Müller Maschinenbau GmbH", "type": "SME", "currency": "EUR"}
        | {"email": "buchhaltung@mueller.example.de", "address": {"country": "DE"}},
    }
]
INVOICE = (
    "Invoice Date,Invoice ID,Invoice Number,Invoice Status,Customer ID,Customer Name,Due Date,PurchaseOrder,"
    "Currency Code,Exchange Rate,Item Name,Quantity,Item Price,Item Total,Total,Balance\n"
    "2026-03-01,5000002001,INV-2001,Sent,7002001,Müller Maschinenbau GmbH,2026-03-31,,EUR,1.00,Machine,1,"
    "3000.00,3000.00,3000.00,3000.00\n"
)
PAYMENTS_HEADER = (
    "Payment Number,CustomerPayment ID,Date,Customer Name,CustomerID,Mode,Reference Number,Description,"
    "Amount,Unused Amount,Bank Charges,Currency Code,Exchange Rate,Deposit To,Invoice Number,Invoice Date,"
    "Amount Applied to Invoice\n"
)


def payment(charges: str) -> str:
    """Zoho Books payment PMT-3 of 1,000.00 EUR against INV-2001, of which the bank kept `charges`."""
    return PAYMENTS_HEADER + (
        "PMT-3,5000003003,2026-03-05,Müller Maschinenbau GmbH,7002001,Bank Transfer,INV-2001,,1000.00,0.00,"
        f"{charges},EUR,1.00,Deutsche Bank EUR,INV-2001,2026-03-01,1000.00\n"
    )


STATEMENT = (
    "Date,Amount,Payee,Description,Reference,Cheque Number\n"
    "06/03/2026,{amount},Muller Maschinenbau GmbH,SEPA credit,INV-2001,\n"
)


@pytest.fixture
def workspace(isolated_cwd: Path, cli: Cli) -> Path:
    """Müller, who owes INV-2001 of 3,000.00 EUR; a Xero statement layout read in EUR."""
    copy_example_config(isolated_cwd)
    statement_mapping = isolated_cwd / "mappings" / "export_xero_bank_statement.toml"
    text = statement_mapping.read_text(encoding="utf-8")
    statement_mapping.write_text(text.replace('default_currency = "USD"', 'default_currency = "EUR"'))
    (isolated_cwd / "customers.json").write_text(json.dumps(CUSTOMERS), encoding="utf-8")
    assert cli("customers", "import", "webhook_customers", "customers.json").code == 0
    (isolated_cwd / "invoices.csv").write_text(INVOICE, encoding="utf-8")
    assert cli("import", "invoices.csv").code == 0
    return isolated_cwd


def counts(cli: Cli, name: str) -> dict[str, int]:
    """What importing `name` did, as `import --json` counts it."""
    shown = cli("import", name, "--json")
    assert shown.code == 0, shown.err
    [result] = json.loads(shown.out)
    assert (result["status"], result["notes"]) == ("imported", []), result
    found: dict[str, int] = result["counts"]
    return found


def owed(cli: Cli) -> list[str]:
    (account,) = json.loads(cli("customers", "list", "--json").out)
    shown = cli("ledger", "balance", str(account["account_no"]), "--json")
    assert shown.code == 0, shown.err
    return [f"{net['amount']} {net['currency']}" for net in json.loads(shown.out)["net_receivable"]]


def balances(cli: Cli) -> dict[str, str]:
    """Each chart account's balance (Dr +) in EUR."""
    shown = json.loads(cli("ledger", "accounts", "--json").out)
    return {
        line["account"]: line["balance"]["amount"]
        for line in shown["accounts"]
        if line["balance"] is not None and line["balance"]["currency"] == "EUR"
    }


def test_a_payment_with_bank_charges_credits_the_customer_in_full_and_banks_the_net_its_bank_line_links_to(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "payments.csv").write_text(payment("15.00"), encoding="utf-8")
    (workspace / "statement.csv").write_text(STATEMENT.format(amount="985.00"), encoding="utf-8")

    paid = counts(cli, "payments.csv")
    assert (paid["payments_posted"], paid["credit_notes_posted"]) == (1, 1)
    banked = counts(cli, "statement.csv")

    assert (banked["receipts_linked"], banked["receipts_posted"], banked["receipts_unapplied"]) == (1, 0, 0)
    assert owed(cli) == ["2000.00 EUR"]
    held = balances(cli)
    assert held["1002"] == "985.00"  # what the bank received
    assert held["1122"] == "2000.00"
    assert held["6001"] == "-2985.00"  # the charge the customer is not asked for
    again = cli("import", "payments.csv", "statement.csv", "--json")
    assert again.code == 0, again.err
    assert [result["status"] for result in json.loads(again.out)] == ["skipped", "skipped"]
    assert owed(cli) == ["2000.00 EUR"]
    assert cli("ledger", "verify").code == 0


def test_a_payment_without_bank_charges_banks_its_whole_amount_as_before(cli: Cli, workspace: Path) -> None:
    (workspace / "payments.csv").write_text(payment(""), encoding="utf-8")
    (workspace / "statement.csv").write_text(STATEMENT.format(amount="1000.00"), encoding="utf-8")

    paid = counts(cli, "payments.csv")
    assert (paid["documents"], paid["payments_posted"], paid["credit_notes_posted"]) == (1, 1, 0)
    assert counts(cli, "statement.csv")["receipts_linked"] == 1

    assert owed(cli) == ["2000.00 EUR"]
    assert balances(cli)["1002"] == "1000.00"
    assert cli("ledger", "verify").code == 0


def test_a_payment_with_bank_charges_imported_after_its_bank_line_links_to_it_and_credits_the_charge(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "statement.csv").write_text(STATEMENT.format(amount="985.00"), encoding="utf-8")
    (workspace / "payments.csv").write_text(payment("15.00"), encoding="utf-8")

    assert counts(cli, "statement.csv")["receipts_posted"] == 1
    paid = counts(cli, "payments.csv")

    assert (paid["receipts_linked"], paid["payments_posted"], paid["credit_notes_posted"]) == (1, 0, 1)
    assert owed(cli) == ["2000.00 EUR"]
    assert balances(cli)["1002"] == "985.00"
    assert cli("ledger", "verify").code == 0


def entries(cli: Cli) -> list[dict[str, object]]:
    """The customer's entries, as `ledger entries --json` lists them."""
    (account,) = json.loads(cli("customers", "list", "--json").out)
    shown = cli("ledger", "entries", str(account["account_no"]), "--json")
    assert shown.code == 0, shown.err
    found: list[dict[str, object]] = json.loads(shown.out)
    return found


def standing(cli: Cli, external_id: str) -> list[object]:
    """The entries of document `external_id` that stand: neither reversed nor a reversal."""
    return [
        entry["entry_id"]
        for entry in entries(cli)
        if entry["external_id"] == external_id and entry["reverses"] is None and entry["reversed_by"] is None
    ]


def exported_again(charges: str) -> str:
    """`payment(charges)` in other bytes (Windows line ends): a later export of the same content."""
    return payment(charges).replace("\n", "\r\n")


@pytest.mark.parametrize("none", ["0.00", ""])
def test_a_payment_whose_bank_charges_are_gone_in_a_later_export_credits_the_customer_its_amount_alone(
    cli: Cli, workspace: Path, none: str
) -> None:
    (workspace / "a.csv").write_text(payment("15.00"), encoding="utf-8")
    (workspace / "b.csv").write_text(payment(none), encoding="utf-8")
    (workspace / "c.csv").write_text(exported_again(none), encoding="utf-8")
    assert counts(cli, "a.csv")["credit_notes_posted"] == 1

    changed = counts(cli, "b.csv")

    assert (changed["payments_posted"], changed["reposted"], changed["kept_notes_reversed"]) == (1, 1, 1)
    assert owed(cli) == ["2000.00 EUR"]
    held = balances(cli)
    assert (held["1002"], held["6001"]) == ("1000.00", "-3000.00")  # no charge borne now
    assert standing(cli, "5000003003.kept") == []
    again = counts(cli, "c.csv")
    assert (again["unchanged"], again["reposted"], again["kept_notes_reversed"]) == (1, 0, 0)
    assert owed(cli) == ["2000.00 EUR"]
    assert cli("ledger", "verify").code == 0


def test_bank_charges_back_in_a_later_export_are_credited_again(cli: Cli, workspace: Path) -> None:
    (workspace / "a.csv").write_text(payment("15.00"), encoding="utf-8")
    (workspace / "b.csv").write_text(payment("0.00"), encoding="utf-8")
    (workspace / "c.csv").write_text(exported_again("15.00"), encoding="utf-8")
    counts(cli, "a.csv")
    counts(cli, "b.csv")

    back = counts(cli, "c.csv")

    assert (back["payments_posted"], back["credit_notes_posted"], back["reposted"]) == (1, 1, 2)
    assert owed(cli) == ["2000.00 EUR"]
    assert (balances(cli)["1002"], balances(cli)["6001"]) == ("985.00", "-2985.00")
    assert len(standing(cli, "5000003003.kept")) == 1
    assert cli("import", "a.csv", "b.csv", "c.csv").code == 0  # their bytes imported: skipped
    assert owed(cli) == ["2000.00 EUR"]
    assert cli("ledger", "verify").code == 0


def test_reversing_a_payment_reverses_the_credit_note_of_its_bank_charges_and_says_so(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "a.csv").write_text(payment("15.00"), encoding="utf-8")
    (workspace / "b.csv").write_text(exported_again("15.00"), encoding="utf-8")
    counts(cli, "a.csv")
    [paid] = standing(cli, "5000003003")
    [kept] = standing(cli, "5000003003.kept")

    shown = cli("ledger", "reverse", str(paid), "--reason", "bounced")

    assert shown.code == 0, shown.err
    assert f"entry {paid} reversed by entry" in shown.out
    assert (
        f"kept back (bank charges, a discount), 5000003003.kept, entry {kept}, reversed by entry" in shown.out
    )
    assert owed(cli) == ["3000.00 EUR"]  # credited nothing, charges included
    assert standing(cli, "5000003003.kept") == []
    again = counts(cli, "b.csv")
    assert (again["unchanged"], again["credit_notes_posted"], again["payments_posted"]) == (2, 0, 0)
    assert owed(cli) == ["3000.00 EUR"]
    assert cli("ledger", "verify").code == 0


def test_a_reversed_payment_exported_later_with_bank_charges_credits_none_of_them(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "a.csv").write_text(payment(""), encoding="utf-8")
    (workspace / "b.csv").write_text(payment("15.00"), encoding="utf-8")
    (workspace / "c.csv").write_text(exported_again("15.00"), encoding="utf-8")
    counts(cli, "a.csv")
    [paid] = standing(cli, "5000003003")
    assert cli("ledger", "reverse", str(paid), "--reason", "bounced").code == 0

    later = counts(cli, "b.csv")

    assert (later["kept_reversed"], later["credit_notes_posted"], later["payments_posted"]) == (2, 0, 0)
    assert owed(cli) == ["3000.00 EUR"]
    assert standing(cli, "5000003003.kept") == []
    again = counts(cli, "c.csv")
    assert (again["unchanged"], again["credit_notes_posted"], again["kept_reversed"]) == (2, 0, 0)
    assert owed(cli) == ["3000.00 EUR"]
    assert cli("ledger", "verify").code == 0


def test_a_returned_bank_line_reverses_the_credit_note_of_its_payments_bank_charges_and_says_so(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "statement.csv").write_text(STATEMENT.format(amount="985.00"), encoding="utf-8")
    (workspace / "payments.csv").write_text(payment("15.00"), encoding="utf-8")
    counts(cli, "statement.csv")
    counts(cli, "payments.csv")  # linked to the line: only its `.kept` posts
    [line] = [entry["entry_id"] for entry in entries(cli) if entry["document_type"] == "bank_line"]
    [kept] = standing(cli, "5000003003.kept")

    shown = cli("ledger", "reverse", str(line), "--returned", "--reason", "bounced")

    assert shown.code == 0, shown.err
    assert f"entry {line} reversed by entry" in shown.out
    assert (
        f"kept back (bank charges, a discount), 5000003003.kept, entry {kept}, reversed by entry" in shown.out
    )
    assert owed(cli) == ["3000.00 EUR"]  # as when the payment came first: charges included
    assert standing(cli, "5000003003.kept") == []
    assert cli("import", "payments.csv").code == 0  # its bytes imported: skipped
    assert owed(cli) == ["3000.00 EUR"]
    assert cli("ledger", "verify").code == 0


def test_a_payment_changed_in_a_later_export_keeps_its_bank_charges_whatever_the_batch_size(
    cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch of one: the payment and its `.kept` credit note are consecutive documents of the file.
    monkeypatch.setenv("CONNECTOR_IMPORTS__BATCH_SIZE", "1")
    (workspace / "a.csv").write_text(payment("15.00"), encoding="utf-8")
    (workspace / "b.csv").write_text(payment("15.00").replace(",INV-2001,,", ",SEPA-77,,"), encoding="utf-8")
    counts(cli, "a.csv")

    changed = counts(cli, "b.csv")  # its reference alone changed: its charges stand

    assert (changed["payments_posted"], changed["kept_notes_reversed"]) == (1, 0)
    assert owed(cli) == ["2000.00 EUR"]
    assert len(standing(cli, "5000003003.kept")) == 1
    assert cli("ledger", "verify").code == 0


@pytest.mark.parametrize("first", ["payments.csv", "statement.csv"])
def test_a_payment_with_bank_charges_counts_what_the_customer_paid_whichever_record_came_first(
    cli: Cli, workspace: Path, first: str
) -> None:
    (workspace / "payments.csv").write_text(payment("15.00"), encoding="utf-8")
    (workspace / "statement.csv").write_text(STATEMENT.format(amount="985.00"), encoding="utf-8")
    counts(cli, first)
    counts(cli, "statement.csv" if first == "payments.csv" else "payments.csv")
    (account,) = json.loads(cli("customers", "list", "--json").out)

    shown = cli("customers", "figures", str(account["account_no"]), "--as-of", "2026-04-01", "--json")

    assert shown.code == 0, shown.err
    figures = json.loads(shown.out)
    assert (figures["last_payment_amount"], figures["paid_trailing_12m"]) == ("1000.00", "1000.00")
    assert owed(cli) == ["2000.00 EUR"]


def test_a_payment_with_bank_charges_applying_its_waiting_bank_line_counts_what_the_customer_paid(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "statement.csv").write_text(
        "Date,Amount,Payee,Description,Reference,Cheque Number\n06/03/2026,985.00,Someone,SEPA credit,,\n",
        encoding="utf-8",
    )
    (workspace / "payments.csv").write_text(payment("15.00"), encoding="utf-8")
    assert counts(cli, "statement.csv")["receipts_unapplied"] == 1  # nobody's yet: in the queue
    assert counts(cli, "payments.csv")["receipts_linked"] == 1  # the payment gives it to Müller
    (account,) = json.loads(cli("customers", "list", "--json").out)

    shown = cli("customers", "figures", str(account["account_no"]), "--as-of", "2026-04-01", "--json")

    assert shown.code == 0, shown.err
    figures = json.loads(shown.out)
    assert (figures["last_payment_amount"], figures["paid_trailing_12m"]) == ("1000.00", "1000.00")
