"""Ops and finance at the command line: a folder of exports and statements imported again and again
changes nothing after the first time; the inbox archives what it imported and sets aside what it
could not read."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from connector import retry
from connector.bootstrap import build_container
from connector.cli.imports import IMPORT_COUNTS
from connector.imports.inbox import inbox_lease
from connector.settings import load_settings
from connector.sync.leases import IMPORTS, lease
from tests.conftest import REPO, copy_example_config
from tests.e2e.conftest import Result, rows_in_workspace_table, stopped_while_waiting

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]
FIXTURES = [
    *sorted((REPO / "tests" / "fixtures" / "statements").iterdir()),
    *sorted(p for p in (REPO / "tests" / "fixtures" / "exports").iterdir() if p.suffix != ".py"),
]
BINARY = {".xlsx"}
TABLES = (
    "journal_entries",
    "postings",
    "imported_documents",
    "reconciliation_items",
    "quarantine",
    "customer_balances",
    "account_balances",
)


@pytest.fixture
def workspace(isolated_cwd: Path) -> Path:
    copy_example_config(isolated_cwd)
    return isolated_cwd


def ledger_state(workspace: Path) -> dict[str, object]:
    """Row counts of everything an import writes, and every balance."""
    engine = create_engine(f"sqlite:///{workspace / 'connector.db'}")
    try:
        with engine.connect() as connection:
            state: dict[str, object] = {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in TABLES
            }
            state["balances"] = connection.execute(
                text(
                    "SELECT customer_id, account_code, currency, balance_minor FROM customer_balances "
                    "ORDER BY 1, 2, 3"
                )
            ).all()
            state["accounts"] = connection.execute(
                text("SELECT account_code, currency, balance_minor FROM account_balances ORDER BY 1, 2")
            ).all()
    finally:
        engine.dispose()
    return state


def copy_round(folder: Path, round_no: int) -> list[Path]:
    """The fixture folder again; from the second round on, text files get a trailing line ending so
    their bytes (and hash) differ while their documents are the same."""
    folder.mkdir()
    copies = []
    for source in FIXTURES:
        target = folder / source.name
        shutil.copy(source, target)
        if round_no > 1 and source.suffix not in BINARY:
            with target.open("ab") as handle:
                handle.write(b"\r\n" if source.read_bytes().endswith(b"\r\n") else b"\n")
        copies.append(target)
    return copies


def test_importing_the_same_folder_ten_times_leaves_the_ledger_unchanged(cli: Cli, workspace: Path) -> None:
    first = cli("import", *map(str, copy_round(workspace / "round-1", 1)))
    assert "documents" in first.out, first.out + first.err
    after_first = ledger_state(workspace)
    assert after_first["journal_entries"], "the fixtures post entries"
    for round_no in range(2, 11):
        again = cli("import", *map(str, copy_round(workspace / f"round-{round_no}", round_no)))
        for line in again.out.splitlines():  # every document unchanged, every xlsx skipped by its hash
            assert not any(word in line for word in ("posted", "unapplied", "reversed")), line
        assert ledger_state(workspace) == after_first, f"round {round_no} changed the ledger"
    verify = cli("ledger", "verify")
    assert verify.code == 0, verify.out + verify.err


def test_the_inbox_archives_imported_files_by_content_hash_and_skips_the_same_bytes_again(
    cli: Cli, workspace: Path
) -> None:
    inbox = workspace / "inbox"
    inbox.mkdir()
    statement = REPO / "tests" / "fixtures" / "statements" / "camt053_v02_two_statements.xml"
    shutil.copy(statement, inbox / "march.xml")
    first = cli("inbox", "--settle", "0")
    assert first.code == 0, first.err
    assert "march.xml: imported (camt053)" in first.out
    archived = list((inbox / "archive").iterdir())
    assert [path.name for path in archived] == [f"{hashlib.sha256(statement.read_bytes()).hexdigest()}.xml"]
    assert archived[0].read_bytes() == statement.read_bytes()
    assert not (inbox / "march.xml").exists()
    state = ledger_state(workspace)

    shutil.copy(statement, inbox / "march-again.xml")
    again = cli("inbox", "--settle", "0", "--json")
    skipped = json.loads(again.out)
    assert skipped.pop("reason").startswith("the same content was imported as march.xml (")
    assert skipped == {
        "file": "march-again.xml",
        "format": "camt053",
        "status": "skipped",
        "counts": dict.fromkeys(IMPORT_COUNTS, 0),
        "quarantined_before": 0,
        "notes": [],
        "moved_to": f"archive/{archived[0].name}",
    }
    assert list((inbox / "archive").iterdir()) == archived
    assert not (inbox / "march-again.xml").exists()
    assert ledger_state(workspace) == state


def test_a_watched_inbox_whose_pass_another_process_holds_says_so_on_stderr_not_in_its_json_lines(
    cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = workspace / "inbox"
    inbox.mkdir()
    container = build_container(load_settings(), logging=False)

    monkeypatch.setattr(retry.STOPPING, "wait", lambda _: True)  # one pass, then Ctrl-C between passes
    try:
        with lease(container.sessions, inbox_lease(inbox), wait=False):
            watched = cli("inbox", "--folder", str(inbox), "--watch", "--json")
    finally:
        container.close()

    assert (watched.code, watched.out) == (0, "")
    assert "the next pass waits" in watched.err


def test_the_inbox_sets_an_unreadable_file_aside_with_the_reason_and_leaves_files_being_written(
    cli: Cli, workspace: Path
) -> None:
    inbox = workspace / "inbox"
    inbox.mkdir()
    (inbox / "notes.txt").write_text("nothing to import here\n", encoding="utf-8")
    (inbox / "download.csv.part").write_text("half a file", encoding="utf-8")
    fresh = inbox / "being-written.csv"
    fresh.write_text("Date,Amount\n", encoding="utf-8")
    old = os.stat(inbox / "notes.txt").st_mtime - 60
    os.utime(inbox / "notes.txt", (old, old))
    result = cli("inbox")
    assert result.code == 1
    assert "notes.txt: failed: notes.txt: not a format the connector knows" in result.out
    assert (inbox / "failed" / "notes.txt").exists()
    reason = (inbox / "failed" / "notes.txt.reason.txt").read_text(encoding="utf-8")
    assert "not a format the connector knows" in reason
    assert f"connector import '{(inbox / 'failed' / 'notes.txt').resolve()}' [--format F]" in reason
    assert (inbox / "download.csv.part").exists(), "a partial download waits"
    assert fresh.exists(), "a file changed within the settle time waits for the next pass"
    assert "1 file(s) still being written (taken once unchanged for 10 s)" in result.out


def test_the_inbox_tells_how_to_name_the_format_of_a_file_it_does_not_know_with_the_import_command(
    cli: Cli, workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = workspace / "inbox"
    inbox.mkdir()
    (inbox / "junk.txt").write_text("nothing to import here\n", encoding="utf-8")
    result = cli("inbox", "--settle", "0", "--json")
    assert result.code == 1
    said = "junk.txt: not a format the connector knows; import it with `connector import FILE --format NAME`"
    assert json.loads(result.out)["reason"] == said
    assert f"inbox: junk.txt moved to failed/junk.txt: {said}" in caplog.text
    assert "--format NAME" in (inbox / "failed" / "junk.txt.reason.txt").read_text(encoding="utf-8")


def test_a_file_whose_name_is_not_utf8_is_imported_under_its_gbk_name_and_the_next_file_too(
    cli: Cli, workspace: Path
) -> None:
    inbox = workspace / "inbox"
    inbox.mkdir()
    statement = REPO / "tests" / "fixtures" / "statements" / "camt053_v02_two_statements.xml"
    gbk_name = os.fsdecode("工行对账单.xml".encode("gb18030"))  # as a Windows zip leaves it
    shutil.copy(statement, inbox / gbk_name)
    shutil.copy(REPO / "tests" / "fixtures" / "exports" / "zoho_books_invoices.csv", inbox / "z later.csv")
    old = os.stat(inbox / gbk_name).st_mtime - 60
    os.utime(inbox / gbk_name, (old, old))

    result = cli("inbox", "--settle", "0")

    assert result.code == 0, result.err
    assert "工行对账单.xml: imported (camt053)" in result.out
    assert "z later.csv: imported" in result.out
    assert sorted(path.name for path in inbox.iterdir() if not path.name.startswith(".")) == ["archive"]


def payments_csv(path: Path, count: int) -> Path:
    """A Xero payments export of `count` receipts (a payer the ledger does not know: unapplied)."""
    rows = ["Payment ID,Date,Contact,Invoice Number,Reference,Amount,Currency,Bank Account,Status"]
    rows += [
        f"00000000-0000-4000-8000-{n:012d},2 Mar 2026,Harbour Cafe,INV-{n:05d},,{n}.00,NZD,Cheque,AUTHORISED"
        for n in range(1, count + 1)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def documents_imported(workspace: Path) -> int:
    return rows_in_workspace_table(workspace, "imported_documents")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_an_inbox_pass_told_to_stop_stops_between_two_batches_keeps_them_and_exits_3(
    cli: Cli, workspace: Path, stop: signal.Signals
) -> None:
    inbox = workspace / "inbox"
    inbox.mkdir()
    payments_csv(inbox / "a_payments.csv", 2_000)
    shutil.copy(REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv", inbox / "b_payments.csv")
    passing = subprocess.Popen(
        [sys.executable, "-m", "connector", "inbox", "--settle", "0"],
        cwd=workspace,
        env={**os.environ, "PYTHONPATH": str(REPO), "CONNECTOR_IMPORTS__BATCH_SIZE": "10"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while documents_imported(workspace) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    passing.send_signal(stop)
    said, complained = passing.communicate(timeout=30)

    assert passing.returncode == 3, complained
    assert "Traceback" not in complained
    kept = documents_imported(workspace)
    assert 0 < kept < 2_000  # between two batches: some kept, not the whole file
    assert said == ""  # no file finished
    assert "a_payments.csv: stopped early — what was imported of it stays in the ledger" in complained
    assert "inbox: stopped — 0 file(s) done; 2 left in the inbox for the next pass" in complained
    assert sorted(path.name for path in inbox.glob("*.csv")) == ["a_payments.csv", "b_payments.csv"]

    again = cli("inbox", "--settle", "0")
    assert again.code == 0, again.err
    went_on = f"2,000 documents — {2_000 - kept:,} receipts unapplied, {kept:,} unchanged"
    assert f"a_payments.csv: imported (xero.payments): {went_on}" in again.out
    assert "b_payments.csv: imported (zoho_books.payments)" in again.out
    assert sorted(path.name for path in inbox.glob("*.csv")) == []


def test_an_inbox_pass_stopped_while_another_process_imports_exits_3_leaving_the_file_untouched_in_the_inbox(
    cli: Cli, workspace: Path
) -> None:
    inbox = workspace / "inbox"
    inbox.mkdir()
    shutil.copy(REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv", inbox / "b_payments.csv")
    container = build_container(load_settings(), logging=False)
    try:
        with lease(container.sessions, IMPORTS):  # another process importing a big file
            stopped = stopped_while_waiting(workspace, "inbox", "--settle", "0")
    finally:
        container.close()

    assert stopped.code == 3, stopped.out
    assert "Traceback" not in stopped.out
    assert (
        "b_payments.csv: stopped early — nothing of it was imported, it stays in the inbox untouched: "
        "imports was running elsewhere"
    ) in stopped.out
    assert "what was imported of it stays in the ledger" not in stopped.out
    assert "inbox: stopped — 0 file(s) done; 1 left in the inbox for the next pass" in stopped.out
    assert documents_imported(workspace) == 0
    assert [path.name for path in inbox.glob("*.csv")] == ["b_payments.csv"]
    again = cli("inbox", "--settle", "0")
    assert again.code == 0, again.err
    assert "b_payments.csv: imported (zoho_books.payments)" in again.out
