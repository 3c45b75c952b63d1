"""Finance tracing a figure to the exact file it came from: monthly exports that keep one file name, the
entries each file posted, and the accounts beside the customers' (bank, revenue, unapplied receipts)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import REPO, copy_example_config
from tests.e2e.conftest import Result

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]
INVOICES = REPO / "tests" / "fixtures" / "exports" / "zoho_books_invoices.csv"
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
