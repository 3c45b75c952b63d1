"""Finance at the command line: `connector reconcile statement FILE`, the periodic bank reconciliation
(对账), as text and as JSON, with an exit status a script can act on. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, LedgerDatabase, copy_example_config
from tests.e2e.conftest import Result

Cli = Callable[..., Result]
STATEMENTS = REPO / "tests" / "fixtures" / "statements"
EXPORTS = REPO / "tests" / "fixtures" / "exports"


@pytest.fixture
def workspace(isolated_cwd: Path, database: LedgerDatabase, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped configuration on the test database (emptied before each test), with two statements."""
    copy_example_config(isolated_cwd)
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", database.container.settings.database.url.get_secret_value())
    shutil.copy(STATEMENTS / "camt053_v02_two_statements.xml", isolated_cwd / "statement.xml")
    shutil.copy(STATEMENTS / "sparkasse_two_statements_latin1.sta", isolated_cwd / "sparkasse.sta")
    return isolated_cwd


def test_an_imported_statement_reconciles_with_what_the_ledger_lacks_listed_line_by_line(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", "statement.xml").code == 0

    text = cli("reconcile", "statement", "statement.xml")

    assert text.code == 0, text.out + text.err
    out = text.out
    assert (
        "Statement 2026-03-04-EUR-057 · account DE89370400440532013000 · 2026-03-04 to 2026-03-04 · EUR"
        in out
    )
    assert "  Matched lines (3)" in out
    assert "imported from this statement" in out
    assert "  Lines missing from the ledger (3)" in out
    assert "-250.35 EUR  Stadtwerke Köln AG: money out: not a receivable, not posted" in out
    assert "1,500.00 EUR  Müller Maschinenbau GmbH & Co. KG: reversed by a later line" in out
    assert "  Ledger entries missing from the bank (0)" in out
    assert "  Lines in other currencies than EUR, kept out of the balances (1)" in out
    assert "row 5: pending entry, not booked" in out
    assert "the ledger's bank accounts hold only what the connector posted" in out
    assert "· EUR · against ledger account 1002" in out  # no bank account kept apart: the bank role's
    assert "statement check: opening + lines = closing" in out
    assert "  Reconciles in EUR: every difference is explained by the lines above; USD not checked" in out
    assert out.rstrip().endswith(  # its USD line matched, but no balance says the USD lines are all
        "statement.xml: every statement reconciles in its own currency; USD not checked (kept out of the "
        "balances)"
    )

    as_json = cli("reconcile", "statement", "statement.xml", "--json")
    assert as_json.code == 0
    report = json.loads(as_json.out)
    assert (report["format"], report["window_days"], report["reconciles"]) == ("camt053", 3, True)
    euro, yen = report["statements"]
    assert [m["line"]["external_id"] for m in euro["matched"]] == [
        "2026030400003#1",
        "2026030400003#2",
        "2026030400003#3",
    ]
    assert {m["line"]["external_id"]: m["reason"] for m in euro["missing_from_ledger"]}["2026030400002"] == (
        "money out: not a receivable, not posted"
    )
    balances = euro["balances"]
    assert (balances["statement_movement"]["amount"], balances["ledger_movement"]["amount"]) == (
        "949.65",
        "1200.00",
    )
    assert (balances["difference"]["minor"], balances["explained"]["minor"]) == (-25035, -25035)
    assert balances["unexplained"] == {"amount": "0.00", "currency": "EUR", "minor": 0}
    assert (yen["currency"], yen["reconciles"], yen["balances"]["unexplained"]["minor"]) == ("JPY", True, 0)


def test_a_statement_whose_lines_do_not_add_up_exits_1_with_the_unexplained_amount(
    cli: Cli, workspace: Path
) -> None:
    text = cli("reconcile", "statement", "sparkasse.sta", "--window-days", "1")

    assert text.code == 1
    assert "Statement 00058/001 · account 60050101/7405500001 · 2026-03-05 to 2026-03-05 · EUR" in text.out
    assert "statement check: opening + lines − closing = -109.00 EUR: the lines do not add up" in text.out
    assert "Does NOT reconcile: 109.00 EUR unexplained" in text.out
    assert "never imported" in text.out
    assert text.out.rstrip().endswith("sparkasse.sta: NOT reconciled")

    as_json = cli("reconcile", "statement", "sparkasse.sta", "--json")
    assert as_json.code == 1
    first, second = json.loads(as_json.out)["statements"]
    assert (first["reconciles"], second["reconciles"]) == (True, False)
    assert second["balances"]["unexplained"]["amount"] == "109.00"
    assert [p["reason"] for p in second["unreadable"]] == [
        "statement line :61: not readable: does not match the MT940 layout of :61:",
        "statement line :61: not readable: month must be in 1..12",
    ]


def test_a_file_that_is_no_bank_statement_exits_2_and_the_help_says_what_each_status_means(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "notes.txt").write_text("nothing to reconcile here\n", encoding="utf-8")
    refused = cli("reconcile", "statement", "notes.txt")
    assert refused.code == 2
    assert refused.err.strip() == "error: notes.txt: not a format the connector knows; name one with --format"
    usage = cli("reconcile", "statement", "--help").out
    assert "0 when every statement reconciles" in usage
    assert "1 when one does not" in usage


def test_an_export_given_as_a_statement_is_refused_and_makes_no_key_file(cli: Cli, workspace: Path) -> None:
    shutil.copy(EXPORTS / "zoho_books_invoices.csv", workspace / "invoices.csv")

    refused = cli("reconcile", "statement", "invoices.csv")

    assert refused.code == 2
    assert "not a bank statement (it holds invoices)" in refused.err
    assert not (workspace / "connector-keys.json").exists()


def test_a_returned_line_shows_the_return_reason_the_bank_gives_beside_it(cli: Cli, workspace: Path) -> None:
    for name in ("camt053_direct_debit.xml", "camt053_direct_debit_returned.xml"):
        shutil.copy(STATEMENTS / name, workspace / name)
        assert cli("import", name).code == 0

    text = cli("reconcile", "statement", "camt053_direct_debit_returned.xml")

    assert text.code == 0, text.out + text.err
    assert "-500.00 EUR  Kunde Z  returned (AM04 insufficient funds; RUECKLASTSCHRIFT)  → entry" in text.out
    as_json = cli("reconcile", "statement", "camt053_direct_debit_returned.xml", "--json")
    (statement,) = json.loads(as_json.out)["statements"]
    (matched,) = statement["matched"]
    assert matched["line"]["return_reason"] == "AM04 insufficient funds; RUECKLASTSCHRIFT"


def _downloaded_again(workspace: Path, name: str, as_name: str, *, text: str | None = None) -> str:
    """`name` as the bank gives it on another download: another message id (so the file is read again,
    not skipped as a file imported before), and `text` for the remittance of its line when given."""
    content = (STATEMENTS / name).read_text(encoding="utf-8").replace("<MsgId>DAY", f"<MsgId>{as_name}-DAY")
    if text is not None:
        content = content.replace("<Ustrd>ALPHA-INV-1</Ustrd>", f"<Ustrd>{text}</Ustrd>")
    (workspace / as_name).write_text(content, encoding="utf-8")
    return as_name


@pytest.mark.parametrize("order", [("day1", "day2"), ("day2", "day1")])
def test_a_bank_reference_reused_on_another_day_is_another_receipt_and_reverses_nothing(
    cli: Cli, workspace: Path, order: tuple[str, str]
) -> None:
    # The bank numbers AcctSvcrRef per day: 000001 is Alpha's 100.00 on 04-01 and Beta's 250.00 on 04-02.
    for day in order:
        shutil.copy(STATEMENTS / f"camt053_reused_ref_{day}.xml", workspace / f"{day}.xml")
        imported = cli("import", f"{day}.xml")
        assert imported.code == 0, imported.out + imported.err
        assert "reversed" not in imported.out, imported.out

    for round_ in range(2):  # downloaded again, in either order, again and again: nothing changes
        for turn, day in enumerate((*order, *reversed(order))):
            name = _downloaded_again(workspace, f"camt053_reused_ref_{day}.xml", f"{day}-{round_}-{turn}.xml")
            again = cli("import", name)
            assert again.code == 0, again.out + again.err
            assert "1 unchanged" in again.out, again.out
            assert "reversed" not in again.out, again.out

    assert cli("ledger", "verify").code == 0
    for day, payer, amount in (("day1", "Alpha AG", "100.00"), ("day2", "Beta AG", "250.00")):
        report = json.loads(cli("reconcile", "statement", f"{day}.xml", "--json").out)
        (statement,) = report["statements"]
        (matched,) = statement["matched"]
        assert (matched["line"]["party"], matched["line"]["amount"]["amount"]) == (payer, amount)
        assert (matched["entry"]["amount"]["amount"], matched["entry"]["reversal_pair"]) == (amount, None)
        assert (statement["missing_from_ledger"], statement["reconciles"]) == ([], True)
    bank = json.loads(cli("ledger", "entries", "--account", "1002", "--json").out)
    by_day = {entry["posting_date"]: entry["amount"]["amount"] for entry in bank}
    assert by_day == {"2026-04-01": "100.00", "2026-04-02": "250.00"}  # both receipts, nothing reversed
    assert not any(entry["reversed_by"] or entry["reverses"] for entry in bank)


def test_a_line_the_bank_corrects_under_its_reference_with_the_same_money_is_still_a_change(
    cli: Cli, workspace: Path
) -> None:
    shutil.copy(STATEMENTS / "camt053_reused_ref_day1.xml", workspace / "day1.xml")
    assert cli("import", "day1.xml").code == 0
    corrected = _downloaded_again(workspace, "camt053_reused_ref_day1.xml", "fixed.xml", text="ALPHA-INV-2")

    again = cli("import", corrected)

    assert again.code == 0, again.out + again.err
    assert "1 changed since imported: reversed and reposted" in again.out
    bank = json.loads(cli("ledger", "entries", "--account", "1002", "--json").out)
    assert [(entry["external_id"], entry["revision"], entry["amount"]["amount"]) for entry in bank] == [
        ("000001", 1, "100.00"),
        ("000001", 1, "-100.00"),
        ("000001", 2, "100.00"),
    ]
    assert cli("ledger", "verify").code == 0


def _booked_whole(workspace: Path, name: str) -> str:
    """Day 1's line as one batched entry the statement books whole (`Btch` of two, no details)."""
    content = (STATEMENTS / "camt053_reused_ref_day1.xml").read_text(encoding="utf-8")
    batched = content.replace("<NtryDtls><TxDtls>", "<NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch><TxDtls>")
    assert batched != content
    (workspace / name).write_text(batched, encoding="utf-8")
    return name


@pytest.mark.parametrize("day1_batched", [False, True], ids=["day1-single", "day1-batch-whole"])
@pytest.mark.parametrize("split_first", [False, True], ids=["split-later", "split-first"])
def test_a_split_batch_reusing_a_reference_of_other_money_is_posted_not_taken_for_its_other_form(
    cli: Cli, workspace: Path, day1_batched: bool, split_first: bool
) -> None:
    # 000001 is Alpha's 100.00 on 04-01 (a line, or a batch booked whole), and on 04-03 a batch of
    # Gamma's 300.00 and Delta's 200.00 split into 000001#1 and 000001#2: other money, no other form.
    day1 = _booked_whole(workspace, "day1.xml") if day1_batched else "day1.xml"
    if not day1_batched:
        shutil.copy(STATEMENTS / "camt053_reused_ref_day1.xml", workspace / day1)
    shutil.copy(STATEMENTS / "camt053_reused_ref_day3_batch.xml", workspace / "day3.xml")
    order = ("day3.xml", day1) if split_first else (day1, "day3.xml")
    for name in order:
        imported = cli("import", name)
        assert imported.code == 0, imported.out + imported.err
        assert "unchanged" not in imported.out, imported.out
        assert "reversed" not in imported.out, imported.out

    for turn, name in enumerate((*order, *reversed(order))):  # downloaded again: nothing changes
        content = (workspace / name).read_text(encoding="utf-8").replace("<MsgId>DAY", f"<MsgId>{turn}-DAY")
        (workspace / f"again-{turn}.xml").write_text(content, encoding="utf-8")
        again = cli("import", f"again-{turn}.xml")
        assert again.code == 0, again.out + again.err
        assert f"{2 if name == 'day3.xml' else 1} unchanged" in again.out, again.out
        assert "reversed" not in again.out, again.out

    assert cli("ledger", "verify").code == 0
    for name, lines in (
        (day1, {("Alpha AG", "100.00")}),
        ("day3.xml", {("Gamma AG", "300.00"), ("Delta AG", "200.00")}),
    ):
        report = json.loads(cli("reconcile", "statement", name, "--json").out)
        (statement,) = report["statements"]
        matched = {(m["line"]["party"], m["line"]["amount"]["amount"]) for m in statement["matched"]}
        assert matched == lines
        assert (statement["missing_from_ledger"], statement["reconciles"]) == ([], True)
    bank = json.loads(cli("ledger", "entries", "--account", "1002", "--json").out)
    assert sorted(entry["amount"]["amount"] for entry in bank) == ["100.00", "200.00", "300.00"]
    assert not any(entry["reversed_by"] or entry["reverses"] for entry in bank)


def _in_one_file(workspace: Path, name: str, first: str, second: str) -> str:
    """The statements of `first` and `second` (CAMT texts) in one file, as a download of both days
    gives them; `name`'s stem as its message id (each its own file, never skipped as imported)."""
    statement = second[second.index("<Stmt>") : second.index("</Stmt>") + len("</Stmt>")]
    both = first.replace("</Stmt>", "</Stmt>" + statement, 1).replace("<MsgId>DAY1", f"<MsgId>{name}")
    (workspace / name).write_text(both, encoding="utf-8")
    return name


def _day(number: int) -> str:
    return (STATEMENTS / f"camt053_reused_ref_day{number}.xml").read_text(encoding="utf-8")


def test_a_bank_reference_reused_within_one_file_for_other_money_is_another_receipt_not_held(
    cli: Cli, workspace: Path
) -> None:
    # 000001 is Alpha's 100.00 on 04-01 and Beta's 250.00 on 04-02, both days' statements in one file.
    both = _in_one_file(workspace, "both.xml", _day(1), _day(2))

    imported = cli("import", both)

    assert imported.code == 0, imported.out + imported.err
    assert "quarantined" not in imported.out, imported.out
    assert "reversed" not in imported.out, imported.out
    again = cli("import", _in_one_file(workspace, "again.xml", _day(1), _day(2)))  # downloaded again
    assert again.code == 0, again.out + again.err
    assert "2 unchanged" in again.out, again.out
    swapped = cli("import", _in_one_file(workspace, "swapped.xml", _day(2), _day(1)))
    assert "2 unchanged" in swapped.out, swapped.out
    for day in ("day1", "day2"):  # each day downloaded on its own: its line, unchanged
        alone = cli("import", _downloaded_again(workspace, f"camt053_reused_ref_{day}.xml", f"{day}.xml"))
        assert "1 unchanged" in alone.out, alone.out
    assert cli("ledger", "verify").code == 0
    report = json.loads(cli("reconcile", "statement", both, "--json").out)
    matched = {
        (m["line"]["party"], m["line"]["amount"]["amount"])
        for s in report["statements"]
        for m in s["matched"]
    }
    assert matched == {("Alpha AG", "100.00"), ("Beta AG", "250.00")}
    assert all(s["missing_from_ledger"] == [] and s["reconciles"] for s in report["statements"])
    bank = json.loads(cli("ledger", "entries", "--account", "1002", "--json").out)
    assert sorted(entry["amount"]["amount"] for entry in bank) == ["100.00", "250.00"]
    assert not any(entry["reversed_by"] or entry["reverses"] for entry in bank)


def test_a_bank_reference_twice_in_one_file_with_the_same_money_and_other_text_is_still_held(
    cli: Cli, workspace: Path
) -> None:
    retold = _day(1).replace("ALPHA-INV-1</Ustrd>", "ALPHA-INV-2</Ustrd>").replace("<Id>2026", "<Id>B-2026")

    imported = cli("import", _in_one_file(workspace, "both.xml", _day(1), retold))

    assert imported.code == 0, imported.out + imported.err
    assert "1 quarantined" in imported.out, imported.out
    held = cli("quarantine", "list")
    assert "appears again in the batch with other content" in held.out, held.out
