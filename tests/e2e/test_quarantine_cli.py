"""Ops at the command line: see what is in quarantine and why, look at one record's input, retry once the
cause is fixed, and close what needs nothing more with a note."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import copy_example_config
from tests.e2e.conftest import Result

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]

CONTACTS = """id,Full_Name,Email,Phone,Mailing_Country,Modified_Time
1,王小明,wang@acme.cn,138 0013 8000,China,2026-11-01T10:00:00+08:00
3,,nobody@acme.cn,,China,2026-11-01T10:00:00+08:00
"""
HEADER = (
    "Invoice Date,Invoice ID,Invoice Number,Invoice Status,Customer ID,Customer Name,Due Date,PurchaseOrder,"
    "Currency Code,Exchange Rate,Item Name,Quantity,Item Price,Item Total,Total,Balance"
)
INVOICES = f"""{HEADER}
2026-02-06,5001,INV-5001,Sent,1,王小明,2026-03-08,,CNY,1.00,Installation,1,800.00,800.00,800.00,800.00
2026-13-45,5002,INV-5002,Sent,1,王小明,2026-03-08,PO-BROKEN-12,CNY,1.00,Gearbox,1,90.00,90.00,90.00,90.00
2026-02-10,5003,INV-5003,Sent,9001,Chen Jing,2026-03-12,PO-CHEN-77,CNY,1.00,Spindle housing,2,600.00,\
1200.00,1200.00,1200.00
"""
CHEN = """id,Full_Name,Email,Phone,Mailing_Country,Modified_Time
9001,Chen Jing,chen@example.cn,,China,2026-11-01T10:00:00+08:00
"""


@pytest.fixture
def workspace(isolated_cwd: Path, cli: Cli) -> Path:
    """A customer, a nameless contact in quarantine, and an invoice file with a bad date and an invoice
    for a customer the connector does not know yet."""
    copy_example_config(isolated_cwd)
    (isolated_cwd / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    (isolated_cwd / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    assert "1 created, 1 quarantined" in cli("customers", "import", "zoho_contacts", "contacts.csv").out
    assert "1 invoices posted, 2 quarantined" in cli("import", "invoices.csv").out
    return isolated_cwd


def open_records(cli: Cli) -> dict[str, dict[str, object]]:
    listed = cli("quarantine", "list", "--json")
    assert listed.code == 0, listed.err
    return {row["ref"]: row for row in json.loads(listed.out)["records"]}


def test_list_as_json_says_how_many_records_there_are_beyond_its_limit(cli: Cli, workspace: Path) -> None:
    listed = json.loads(cli("quarantine", "list", "--limit", "1", "--json").out)
    assert (listed["total"], len(listed["records"])) == (3, 1)


def test_list_says_where_and_why_without_the_raw_input_and_show_gives_the_input(
    cli: Cli, workspace: Path
) -> None:
    listed = cli("quarantine", "list")

    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[-1] == "3 record(s) open"
    cut = cli("quarantine", "list", "--limit", "2").out.splitlines()
    assert cut[-1] == "2 of 3 record(s) open (the oldest 2 shown; --limit for more)"
    assert "contacts.csv row 3" in lines[0]
    assert "name: Full_Name: a value is required" in lines[0]
    assert "invoices.csv:3" in lines[1]
    assert "1x" in lines[1]
    assert "invoices.csv:4" in lines[2]
    assert "no customer for this invoice" in lines[2]
    assert all(str(row["created_at"]).endswith("+00:00") for row in open_records(cli).values())  # UTC, said
    for raw in (
        "Chen Jing",
        "nobody@acme.cn",
        "PO-CHEN-77",
        "Spindle housing",
        "PO-BROKEN-12",
        "Gearbox",
        "5003",
    ):
        assert raw not in listed.out
        assert raw not in cli("quarantine", "list", "--json").out

    invoice = open_records(cli)["invoices.csv:4"]
    shown = cli("quarantine", "show", str(invoice["id"]))
    assert shown.code == 0, shown.err
    assert "reason: no customer for this invoice: no rule found a customer" in shown.out
    assert "run: #2 (import)" in shown.out
    raw = json.loads(shown.out.split("raw input:\n", 1)[1])
    assert (raw["row"], raw["external_id"]) == (4, "5003")
    assert "PO-CHEN-77" in raw["raw"]
    contact = json.loads(
        cli("quarantine", "show", str(open_records(cli)["contacts.csv row 3"]["id"]), "--json").out
    )
    assert contact["raw"]["Email"] == "nobody@acme.cn"
    missing = cli("quarantine", "show", "999")
    assert (missing.code, missing.err.strip()) == (1, "error: no quarantined record #999")


def test_retry_after_the_customer_exists_posts_the_invoice_and_keeps_what_still_fails(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "chen.csv").write_text(CHEN, encoding="utf-8")
    assert "1 created" in cli("customers", "import", "zoho_contacts", "chen.csv").out
    before = open_records(cli)

    preview = cli("quarantine", "retry", "--all", "--dry-run")
    assert preview.code == 0, preview.err
    assert "zoho.Contacts (1 record(s)): dry run: 0 would go through, 1 would fail again" in preview.out
    assert "invoices.csv (imported file #1): dry run: 1 would go through, 1 would fail again" in preview.out
    assert open_records(cli) == before

    retried = cli("quarantine", "retry", "--all")

    assert retried.code == 0, retried.err
    assert "invoices.csv (imported file #1): 1 went through (resolved), 1 failed again" in retried.out
    assert "zoho.Contacts (1 record(s)): 0 went through (resolved), 1 failed again" in retried.out
    after = open_records(cli)
    assert {ref: row["attempts"] for ref, row in after.items()} == {
        "contacts.csv row 3": 2,
        "invoices.csv:3": 2,
    }
    [posted] = json.loads(cli("quarantine", "list", "--status", "resolved", "--json").out)["records"]
    assert (posted["ref"], posted["resolved_by"]) == ("invoices.csv:4", "retry")
    assert posted["resolution"].startswith("went through on retry (run ")
    assert cli("ledger", "verify").code == 0


def test_retry_of_a_moved_file_is_refused_with_where_it_was_expected_until_it_is_named(
    cli: Cli, workspace: Path
) -> None:
    bad_row = str(open_records(cli)["invoices.csv:3"]["id"])
    (workspace / "archive").mkdir()
    (workspace / "invoices.csv").rename(workspace / "archive" / "invoices.csv")

    refused = cli("quarantine", "retry", bad_row)

    assert refused.code == 1
    assert (
        f"error: invoices.csv (imported file #1): its bytes were expected at {workspace / 'invoices.csv'}, "
        "but no file is there; put it back, name where it is now with --file PATH, "
        "or import a corrected file with `connector import PATH`"
    ) in refused.err
    named = cli("quarantine", "retry", bad_row, "--file", "archive/invoices.csv")
    assert named.code == 0, named.err
    assert "0 went through (resolved), 2 failed again" in named.out
    assert open_records(cli)["invoices.csv:3"]["attempts"] == 2


def test_resolve_closes_records_with_a_note_and_who_decided(cli: Cli, workspace: Path) -> None:
    bad_row = str(open_records(cli)["invoices.csv:3"]["id"])

    resolved = cli(
        "quarantine", "resolve", bad_row, "--note", "typo fixed in Zoho Books", "--actor", "finance"
    )

    assert resolved.code == 0, resolved.err
    assert resolved.out.strip() == f"#{bad_row} zoho_books.invoices invoices.csv:3: resolved by finance"
    shown = cli("quarantine", "show", bad_row).out
    assert "status: resolved" in shown
    assert "note: typo fixed in Zoho Books" in shown
    assert "invoices.csv:3" not in open_records(cli)
    again = cli("quarantine", "resolve", bad_row, "--note", "again")
    assert (again.code, again.err.strip()) == (
        1,
        f"error: #{bad_row} was resolved already by finance (typo fixed in Zoho Books)",
    )
    assert cli("quarantine", "retry", bad_row).code == 1
    nothing = cli("quarantine", "retry")
    assert (nothing.code, nothing.err.strip()) == (1, "error: give record numbers, or --all")


def test_importing_a_corrected_file_says_which_earlier_records_it_may_correct(
    cli: Cli, workspace: Path
) -> None:
    corrected = INVOICES.replace("2026-13-45", "2026-02-08")
    (workspace / "invoices.csv").write_text(corrected, encoding="utf-8")

    imported = cli("import", "invoices.csv")

    assert imported.code == 0, imported.err
    assert "1 invoices posted" in imported.out  # the row with the bad date, corrected
    assert (  # the bad date's record, from the first import (Chen Jing's failed again: it is this run's)
        "1 record(s) of earlier imports of invoices.csv still in quarantine: `connector quarantine list`; "
        "resolve those this file corrects"
    ) in imported.out
    refused = cli("quarantine", "retry", str(open_records(cli)["invoices.csv:3"]["id"]))
    assert "`connector quarantine resolve" in refused.err


def test_a_retry_never_replays_a_row_over_its_document_imported_corrected_since_from_another_file(
    cli: Cli, workspace: Path
) -> None:
    fixed = "2026-02-10,5003,INV-5003,Sent,1,王小明,2026-03-12,,CNY,1.00,Spindle housing,1,1000.00,1000.00"
    (workspace / "invoices_fixed.csv").write_text(f"{HEADER}\n{fixed},1000.00,1000.00\n", encoding="utf-8")
    assert "1 invoices posted" in cli("import", "invoices_fixed.csv").out  # INV-5003, for 王小明 now
    (workspace / "chen.csv").write_text(CHEN, encoding="utf-8")
    assert "1 created" in cli("customers", "import", "zoho_contacts", "chen.csv").out  # the old row's

    retried = cli("quarantine", "retry", "--all")

    assert retried.code == 0, retried.err

    def receivable(account_no: str) -> list[str]:
        shown = json.loads(cli("ledger", "balance", account_no, "--json").out)
        return [line["balance"]["amount"] for line in shown["balances"] if line["account"] == "1122"]

    assert receivable("INDCN00001") == ["1800.00"]  # INV-5001 and the corrected INV-5003 stand
    assert receivable("INDCN00002") == []  # Chen Jing's old row was not replayed over it
    assert cli("ledger", "verify").code == 0
