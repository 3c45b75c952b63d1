"""Finance tracing a figure to the exact file it came from: monthly exports that keep one file name, the
entries each file posted, and the accounts beside the customers' (bank, revenue, unapplied receipts)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import REPO, copy_example_config
from tests.e2e.conftest import Result

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]
INVOICES = REPO / "tests" / "fixtures" / "exports" / "zoho_books_invoices.csv"
STATEMENT = REPO / "tests" / "fixtures" / "statements" / "camt053_v02_two_statements.xml"
NAME = "zoho_books_invoices.csv"  # what Zoho Books calls its export every month
INSTALLATION = "2954000000090102"  # INV-000102, 1,800.00 USD for Acme (KAUS00001) in March's export
CUSTOMERS = [
    {
        "type": "customer.created",
        "timestamp": "2026-01-02T09:00:00Z",
        "data": {"id": record_id, "name": name, "company": name, "type": kind, "currency": currency}
        | {"email": email, "address": address},
    }
    for record_id, name, kind, currency, email, address in (
        ("2954000000045001", "Acme Trading Co.", "KA", "USD", "ap@acme.example.com", {"country": "US"}),
        (
            "2954000000045002",
            "Müller Maschinenbau GmbH",
            "SME",
            "EUR",
            "buchhaltung@mueller.example.de",
            {"country": "Germany"},
        ),
        (
            "2954000000045003",
            "上海星辰贸易有限公司",
            "KA",
            "CNY",
            "cw@xingchen.example.cn",
            {"province": "上海"},
        ),
    )
]


@pytest.fixture
def workspace(isolated_cwd: Path, cli: Cli) -> Path:
    """The customers the Zoho Books exports name, and March's and April's export, both called alike."""
    copy_example_config(isolated_cwd)
    (isolated_cwd / "customers.json").write_text(json.dumps(CUSTOMERS), encoding="utf-8")
    assert cli("customers", "import", "webhook_customers", "customers.json").code == 0
    (isolated_cwd / "march").mkdir()
    (isolated_cwd / "april").mkdir()
    shutil.copy(INVOICES, isolated_cwd / "march" / NAME)
    april = INVOICES.read_text(encoding="utf-8").replace(
        "Installation,1,1800.00,1800.00,1800.00,0.00", "Installation,1,1900.00,1900.00,1900.00,0.00"
    )
    (isolated_cwd / "april" / NAME).write_text(april, encoding="utf-8")
    return isolated_cwd


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_entry_names_the_exact_imported_file_when_monthly_exports_share_a_name(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", f"march/{NAME}").code == 0
    changed = cli("import", f"april/{NAME}")
    assert "1 changed since imported: reversed and reposted" in changed.out, changed.out

    entries = json.loads(cli("ledger", "entries", "KAUS00001", "--json").out)
    installation = [e for e in entries if e["external_id"] == INSTALLATION]
    first, reversal, second = installation
    assert (first["reversed_by"], reversal["reverses"]) == (reversal["entry_id"], first["entry_id"])
    # One name and row for all three: only the file tells the revisions' sources apart.
    assert {e["voucher"] for e in installation} == {f"{NAME}:4"}
    march, april = first["file"], second["file"]
    assert march["sha256"] == sha256_of(workspace / "march" / NAME)
    assert april["sha256"] == sha256_of(workspace / "april" / NAME)
    assert march["id"] != april["id"]
    assert reversal["file"] == april, "April's export, which changed it, reversed it"
    table = cli("ledger", "entries", "KAUS00001").out
    row = next(line for line in table.splitlines() if f" {second['entry_id']} " in line)
    assert f"#{april['id']}" in row
    assert cli("ledger", "verify").code == 0


def test_entries_as_json_carry_their_dates_revision_and_when_they_were_imported(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", f"march/{NAME}").code == 0
    assert cli("import", f"april/{NAME}").code == 0
    entries = json.loads(cli("ledger", "entries", "KAUS00001", "--json").out)
    first, reversal, second = [e for e in entries if e["external_id"] == INSTALLATION]
    # As the export states it: dated 6 February, due 8 March; no value date (an invoice moves no money).
    for entry in (first, reversal, second):
        assert (entry["document_date"], entry["due_date"]) == ("2026-02-06", "2026-03-08")
    assert (first["value_date"], second["value_date"]) == (None, None)
    assert (first["revision"], reversal["revision"], second["revision"]) == (1, 1, 2)
    assert second["amount"] == {"amount": "1900.00", "currency": "USD", "minor": 190000}
    posted = [datetime.fromisoformat(e["created_at"]) for e in (first, reversal, second)]
    assert all(moment.utcoffset() is not None for moment in posted)
    assert posted[0] < posted[1] <= posted[2], "each when its file was imported"


def test_a_chart_accounts_trial_balance_line_drills_into_its_postings_with_running_balances(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", f"march/{NAME}").code == 0
    assert cli("import", f"april/{NAME}").code == 0
    assert cli("import", str(STATEMENT)).code == 0  # its payers unknown: 1002 and unapplied receipts
    trial = json.loads(cli("ledger", "accounts", "--json").out)["accounts"]
    lines = {(a["account"], a["balance"]["currency"]): a for a in trial if a["balance"]}
    for code in ("1002", "6001", "220399", "1122"):
        entries = json.loads(cli("ledger", "entries", "--account", code, "--json").out)
        for currency in {e["amount"]["currency"] for e in entries}:
            mine = [e for e in entries if e["amount"]["currency"] == currency]
            line = lines[(code, currency)]
            assert (mine[-1]["running_balance"], len(mine)) == (line["balance"], line["postings"])
            assert sum(Decimal(e["amount"]["amount"]) for e in mine) == Decimal(line["balance"]["amount"])
    # The last two in euros: their balances still end on the trial balance's line.
    last = json.loads(
        cli("ledger", "entries", "--account", "1002", "--currency", "eur", "--limit", "2", "--json").out
    )
    assert len(last) == 2
    assert last[-1]["running_balance"] == lines[("1002", "EUR")]["balance"]
    before = Decimal(last[1]["running_balance"]["amount"]) - Decimal(last[1]["amount"]["amount"])
    assert Decimal(last[0]["running_balance"]["amount"]) == before
    assert all(e["value_date"] for e in last), "a bank line has its value date"
    receivable = json.loads(cli("ledger", "entries", "--account", "1122", "--json").out)
    assert {e["customer"] for e in receivable} == {"KAUS00001", "SMEDE00001", "KASH00001"}
    table = cli("ledger", "entries", "--account", "6001", "--currency", "USD")
    assert table.code == 0, table.err
    assert "Entries of account 6001 Revenue 主营业务收入 in USD" in table.out
    closing = f"{Decimal(lines[('6001', 'USD')]['balance']['amount']):,} USD"  # as `ledger accounts` says
    last_row = [row for row in table.out.splitlines() if row.startswith("│ 2026")][-1]
    assert f" {closing} │" in last_row


def test_entries_of_a_chart_account_given_as_a_customer_say_how_to_ask_for_it(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", f"march/{NAME}").code == 0
    asked = cli("ledger", "entries", "6001")
    assert (asked.code, asked.err.strip()) == (
        1,
        "error: no customer with account number 6001; 6001 is a chart account: "
        "`connector ledger entries --account 6001`",
    )
    unknown = cli("ledger", "entries", "--account", "9999")
    assert (unknown.code, unknown.err.strip()) == (
        1,
        "error: no account 9999 in the chart (`connector ledger accounts`)",
    )
    assert cli("ledger", "entries").code == 2
    assert cli("ledger", "entries", "KAUS00001", "--account", "1002").code == 2


def test_the_imported_files_are_listed_and_one_shows_its_documents_and_the_entries_it_posted(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", f"march/{NAME}").code == 0
    assert cli("import", f"april/{NAME}").code == 0
    runs = json.loads(cli("runs", "--job", "import", "--json").out)
    listed = json.loads(cli("files", "list", "--json").out)
    assert listed["total"] == 2
    april, march = listed["files"]  # newest first
    assert (april["name"], march["name"]) == (NAME, NAME)
    assert (march["sha256"], april["sha256"]) == (
        sha256_of(workspace / "march" / NAME),
        sha256_of(workspace / "april" / NAME),
    )
    assert [(f["status"], f["documents"], f["run"]) for f in (april, march)] == [
        ("imported", 5, runs[0]["id"]),
        ("imported", 5, runs[1]["id"]),
    ]
    assert march["counts"]["invoices_posted"] == 4
    assert datetime.fromisoformat(march["imported_at"]) <= datetime.fromisoformat(april["imported_at"])
    shown = cli("files", "list", "--limit", "1")
    assert shown.out.startswith(f"#{april['id']:<5} {NAME}  sha256 {april['sha256'][:12]}  ")
    assert shown.out.rstrip().endswith("1 of 2 imported file(s) (the newest 1 shown; --limit for more)")

    entries = json.loads(cli("ledger", "entries", "KAUS00001", "--json").out)
    first, reversal, second = [e for e in entries if e["external_id"] == INSTALLATION]
    detail = json.loads(cli("files", "show", str(april["id"]), "--json").out)
    assert detail["sha256"] == april["sha256"]
    [installation] = [d for d in detail["documents_last_imported"] if d["external_id"] == INSTALLATION]
    assert (installation["outcome"], installation["entry_id"], installation["revision"]) == (
        "posted",
        second["entry_id"],
        2,
    )
    assert (installation["row"], installation["customer"]) == (4, "KAUS00001")
    posted = {e["entry_id"]: e for e in detail["entries"]}
    assert posted[reversal["entry_id"]]["reverses"] == first["entry_id"]
    assert posted[second["entry_id"]]["revision"] == 2
    earlier = json.loads(cli("files", "show", str(march["id"]), "--json").out)
    assert first["entry_id"] in {e["entry_id"] for e in earlier["entries"]}
    assert INSTALLATION not in {d["external_id"] for d in earlier["documents_last_imported"]}
    text = cli("files", "show", str(april["id"])).out
    assert f"  sha256 {april['sha256']}\n" in text
    assert f"posted, entry {second['entry_id']}" in text
    missing = cli("files", "show", "999")
    assert (missing.code, missing.err.strip()) == (1, "error: no imported file 999 (`connector files list`)")


def test_a_changed_invoice_is_said_to_be_reposted_beside_its_posted_count_in_the_import_and_files_list(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", f"march/{NAME}").code == 0
    april = workspace / "april" / NAME  # INV-000102 changed, and INV-000120 void since March
    april.write_text(
        april.read_text(encoding="utf-8").replace("INV-000120,Paid,", "INV-000120,Void,"), encoding="utf-8"
    )
    changed = cli("import", f"april/{NAME}")
    said = (
        "5 documents — 1 invoices posted (of them 1 changed since imported: reversed and reposted), "
        "1 reversed, 3 unchanged"
    )
    assert changed.out.splitlines()[0] == f"{NAME}: imported (zoho_books.invoices): {said}", changed.out
    assert cli("files", "list").out.splitlines()[1] == f"       {said}"
    april_id = json.loads(cli("files", "list", "--json").out)["files"][0]["id"]
    assert f"\n  {said}\n" in cli("files", "show", str(april_id)).out
