"""Finance at the command line: import a bank statement, see what waits, decide, and import again."""

from __future__ import annotations

import codecs
import json
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connector import retry
from connector.bootstrap import build_container
from connector.cli import imports as imports_cli
from connector.db import unit_of_work
from connector.imports.models import ImportedFile
from connector.ledger.customers import NewCustomer
from connector.settings import load_settings
from connector.sync.leases import IMPORTS, lease
from connector.sync.runs import start_run
from tests.conftest import REPO, copy_example_config
from tests.e2e.conftest import Result, stopped_while_waiting

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]
STATEMENT = REPO / "tests" / "fixtures" / "statements" / "camt053_v02_two_statements.xml"


@pytest.fixture
def workspace(isolated_cwd: Path) -> Path:
    copy_example_config(isolated_cwd)
    shutil.copy(STATEMENT, isolated_cwd / "statement.xml")
    return isolated_cwd


def test_a_statement_imports_once_its_unknown_payers_wait_and_a_person_applies_one(
    cli: Cli, workspace: Path
) -> None:
    first = cli("import", "statement.xml")
    assert first.code == 0, first.err
    assert first.out.startswith("statement.xml: imported (camt053)")
    assert "receipts unapplied" in first.out
    again = cli("import", "statement.xml")
    assert "statement.xml: skipped (camt053): the same content was imported as statement.xml" in again.out
    waiting = json.loads(cli("reconcile", "list", "--json").out)
    assert waiting, "the statement's receipts from unknown payers wait for a person"
    refused = cli("reconcile", "apply", str(waiting[0]["id"]), "--customer", "NOBODY")
    assert (refused.code, refused.err.strip()) == (1, "error: no customer with account number NOBODY")
    blank = cli("reconcile", "reject", str(waiting[0]["id"]), "--note", " ")
    assert (blank.code, blank.err.strip()) == (
        1,
        f"error: item {waiting[0]['id']}: say why it is rejected (--note), e.g. 'bank interest'",
    )
    rejected = cli("reconcile", "reject", str(waiting[0]["id"]), "--note", "bank interest")
    assert rejected.out.strip() == f"item #{waiting[0]['id']}: rejected"
    decided = {
        item["id"]: item
        for item in json.loads(cli("reconcile", "list", "--status", "rejected", "--json").out)
    }
    rejection = decided[waiting[0]["id"]]
    assert (rejection["why"], rejection["note"], rejection["resolved_by"]) == (
        "bank interest",
        "bank interest",
        "cli",
    )
    assert rejection["resolved_at"] is not None
    unknown = cli("reconcile", "list", "--status", "all")
    assert unknown.code == 2
    assert "'all' is not one of open, applied, rejected" in unknown.err
    assert cli("ledger", "verify").code == 0


def test_a_waiting_receipt_shows_who_paid_it_and_where_it_came_from_kept_encrypted(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", "statement.xml").code == 0
    beta = {item["payer"]["name"]: item for item in json.loads(cli("reconcile", "list", "--json").out)}[
        "Beta Bau KG"
    ]
    assert beta["payer"] == {
        "name": "Beta Bau KG",
        "bank_account": "AT611904300234573201",
        "references": ["INV-7002", "E2E-INV-7002"],
    }
    assert (beta["file"], beta["amount"]) == (
        "statement.xml",
        {"amount": "450.00", "currency": "EUR", "minor": 45000},
    )
    assert (beta["customer"], beta["entry_id"], beta["resolved_by"]) == (None, None, None)
    listed = cli("reconcile", "list").out
    assert 'paid by Beta Bau KG from AT611904300234573201 ref "INV-7002"; "E2E-INV-7002"' in listed
    stored = b"".join(path.read_bytes() for path in workspace.glob("connector.db*"))
    assert b"Beta Bau KG" not in stored
    assert b"AT611904300234573201" not in stored


def test_a_changed_line_is_counted_once_where_it_went_and_said_to_be_reposted(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", "statement.xml").code == 0
    edited = STATEMENT.read_text(encoding="utf-8").replace(">INV-7001<", ">INV-7001 (corrected)<")
    (workspace / "statement-corrected.xml").write_text(edited, encoding="utf-8")
    again = cli("import", "statement-corrected.xml")
    assert again.code == 0, again.err
    assert again.out.rstrip().endswith(
        "8 documents — 2 quarantined, 1 receipts unapplied (of them 1 changed since imported: reversed and "
        "reposted), 2 statements, 7 unchanged"
    )


def test_an_unknown_file_is_refused_with_the_reason_and_a_non_zero_exit(cli: Cli, workspace: Path) -> None:
    (workspace / "notes.txt").write_text("nothing to import here\n", encoding="utf-8")
    tried = cli("import", "--dry-run", "--json", "notes.txt")
    assert tried.code == 1
    [refused] = json.loads(tried.out)
    assert (refused["file"], refused["status"]) == ("notes.txt", "failed")
    assert refused["counts"] == dict.fromkeys(imports_cli.IMPORT_COUNTS, 0)
    assert "not a format the connector knows" in refused["reason"]
    container = build_container(load_settings(), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            assert session.scalars(select(ImportedFile.name)).all() == []  # a dry run writes nothing
    finally:
        container.close()
    result = cli("import", "notes.txt")
    assert result.code == 1
    assert (
        "notes.txt: failed: notes.txt: not a format the connector knows; name one with --format" in result.out
    )


def test_import_json_gives_every_counter_an_import_can_produce_zeros_included(
    cli: Cli, workspace: Path
) -> None:
    [first] = json.loads(cli("import", "statement.xml", "--json").out)
    [again] = json.loads(cli("import", str(STATEMENT), "--json").out)  # the same bytes: skipped
    for result in (first, again):
        assert set(result["counts"]) == set(imports_cli.IMPORT_COUNTS), result["counts"]
    assert (first["counts"]["quarantined"], first["counts"]["invoices_posted"]) == (2, 0)
    assert again["counts"] == dict.fromkeys(imports_cli.IMPORT_COUNTS, 0)


def test_status_shows_the_import_and_what_waits_for_a_person(cli: Cli, workspace: Path) -> None:
    assert cli("import", "statement.xml").code == 0
    status = json.loads(cli("status", "--json").out)
    [run] = status["runs"]
    assert (run["job"], run["source"], run["status"]) == ("import", "camt053", "succeeded")
    assert run["last_success_at"] == run["finished_at"]
    assert status["quarantine_open"] == {"camt053": 2}
    assert status["reconciliation"]["open"] == 5
    shown = cli("status").out
    assert "quarantine camt053: 2 open" in shown
    assert "reconciliation queue: 5 open" in shown


def test_the_run_history_lists_runs_newest_first_and_the_failed_ones_on_their_own(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", "statement.xml").code == 0
    (workspace / "broken.xml").write_text("<Document><BkToCstmrStmt>", encoding="utf-8")
    assert cli("import", "broken.xml", "--format", "camt053").code != 0
    runs = json.loads(cli("runs", "--json").out)
    assert [(run["job"], run["status"]) for run in runs] == [("import", "failed"), ("import", "succeeded")]
    assert runs[1]["counts"]["receipts_unapplied"] == 6
    failed = json.loads(cli("runs", "--failed", "--json").out)
    assert [run["id"] for run in failed] == [runs[0]["id"]]
    assert failed[0]["error"]
    shown = cli("runs", "--limit", "1").out
    assert shown.startswith(f"#{runs[0]['id']} import camt053: failed, started ")
    assert "    error: " in shown


def test_a_run_killed_before_progress_was_kept_is_failed_with_its_end_unknown_not_a_made_up_duration(
    cli: Cli, workspace: Path
) -> None:
    container = build_container(load_settings(), logging=False)
    try:
        with unit_of_work(container.sessions) as session:  # killed under a version that kept no progress
            run = start_run(session, "import", "camt053", "")
            run.holder, run.progress_at = f"{socket.gethostname()} pid 4194304", None  # beyond any pid
            run.started_at -= timedelta(seconds=70)
    finally:
        container.close()

    [record] = json.loads(cli("runs", "--json").out)  # the next command notices it
    assert (record["status"], record["finished_at"]) == ("failed", None)
    shown = cli("runs").out
    assert ", end unknown (stopped under an older version, which kept no progress)" in shown
    assert " in " not in shown.splitlines()[0]
    [latest] = json.loads(cli("status", "--json").out)["runs"]
    assert (latest["status"], latest["finished_at"]) == ("failed", None)
    assert "unknown" in cli("status").out


def test_an_unknown_format_name_is_refused_even_for_a_file_imported_before(cli: Cli, workspace: Path) -> None:
    assert cli("import", "statement.xml").code == 0
    refused = cli("import", "statement.xml", "--format", "bogus")
    assert refused.code == 1
    assert "unknown format 'bogus'" in refused.out
    assert [run["status"] for run in json.loads(cli("runs", "--json").out)] == ["succeeded"]  # none recorded


def test_applying_a_receipt_to_a_customer_of_another_currency_says_where_the_credit_shows(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", "statement.xml").code == 0
    account_no = _new_customer(NewCustomer("杭州青禾科技", "SME", "ZJ", "CNY"))
    euro = next(
        i for i in json.loads(cli("reconcile", "list", "--json").out) if i["amount"]["currency"] == "EUR"
    )

    applied = cli("reconcile", "apply", str(euro["id"]), "--customer", account_no)

    assert applied.code == 0, applied.err
    assert f"note: the receipt is in EUR and {account_no}'s figures in CNY" in applied.out
    decided = {i["id"]: i for i in json.loads(cli("reconcile", "list", "--status", "applied", "--json").out)}
    assert decided[euro["id"]]["customer"] == account_no
    assert decided[euro["id"]]["entry_id"] is not None


def test_a_receipt_applied_on_a_day_given_is_dated_then_never_before_it_came_nor_after_today(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", "statement.xml").code == 0
    account_no = _new_customer(NewCustomer("Beta Bau KG", "SME", "AT", "EUR"))
    first, second, third = (i["id"] for i in json.loads(cli("reconcile", "list", "--json").out)[:3])

    month_end = cli("reconcile", "apply", str(first), "--customer", account_no, "--on", "2026-03-31")
    too_early = cli("reconcile", "apply", str(second), "--customer", account_no, "--on", "2026-01-01")
    ahead = cli("reconcile", "apply", str(third), "--customer", account_no, "--on", "2999-01-01")

    assert (month_end.code, month_end.out.strip()) == (
        0,
        f"item #{first}: applied to {account_no}, dated 2026-03-31",
    ), month_end.err
    assert too_early.code == 0, too_early.err
    assert too_early.out.strip().startswith(f"item #{second}: applied to {account_no}, dated 2026-03-0")
    assert too_early.out.splitlines()[0].endswith("(not 2026-01-01: never before the receipt)")
    assert ahead.code == 2
    assert "2999-01-01 is after today" in " ".join(ahead.err.split())
    open_ids = [i["id"] for i in json.loads(cli("reconcile", "list", "--json").out)]
    assert third in open_ids
    assert cli("ledger", "verify").code == 0


def _new_customer(customer: NewCustomer) -> str:
    """The account number of `customer`, made in the workspace's ledger."""
    container = build_container(load_settings(), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            return container.customers(session).create(customer).account_no
    finally:
        container.close()


MAPLE = [
    {
        "type": "customer.created",
        "timestamp": "2026-10-01T00:00:00Z",
        "data": {"id": "c4", "name": "Maple Leaf Foods Inc.", "type": "SME", "currency": "USD"}
        | {"email": "ap@maple.example.com", "address": {"country": "US"}},
    }
]
MAPLE_INVOICE = (
    "Invoice Date,Invoice ID,Invoice Number,Invoice Status,Customer ID,Customer Name,Due Date,PurchaseOrder,"
    "Currency Code,Exchange Rate,Item Name,Quantity,Item Price,Item Total,Total,Balance\n"
    "2026-11-20,5000000009,INV-3002,Sent,7000004,Maple Leaf Foods Inc.,2026-12-20,,USD,1.00,Service,1,"
    "300.00,300.00,300.00,300.00\n"
)
MAPLE_PAYMENT = (
    "Payment ID,Date,Contact,Invoice Number,Reference,Amount,Currency,Bank Account,Status\n"
    "aaaaaaaa-0000-4000-8000-000000000002,26 Nov 2026,Maple Leaf Foods Inc.,INV-3002,EFT,300.00,USD,"
    "Business Cheque,{status}\n"
)
MAPLE_LINE = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>NOV2026</MsgId><CreDtTm>2026-12-01T06:00:00</CreDtTm></GrpHdr>
<Stmt><Id>STMT-2026-11</Id><Acct><Id><IBAN>US00BANK0000000000001</IBAN></Id><Ccy>USD</Ccy></Acct>
<Ntry><NtryRef>R4</NtryRef><Amt Ccy="USD">300.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-11-26</Dt></BookgDt><AcctSvcrRef>R4</AcctSvcrRef><NtryDtls><TxDtls>
<RltdPties><Dbtr><Nm>ML FOODS</Nm></Dbtr></RltdPties><RmtInf><Ustrd>EFT INV-3002</Ustrd></RmtInf>
</TxDtls></NtryDtls></Ntry></Stmt></BkToCstmrStmt></Document>
"""


def test_a_bank_line_whose_payment_is_deleted_waits_with_the_customer_of_the_invoice_it_names(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "customers.json").write_text(json.dumps(MAPLE), encoding="utf-8")
    assert cli("customers", "import", "webhook_customers", "customers.json").code == 0
    (workspace / "invoices.csv").write_text(MAPLE_INVOICE, encoding="utf-8")
    (workspace / "payments.csv").write_text(MAPLE_PAYMENT.format(status="AUTHORISED"), encoding="utf-8")
    (workspace / "payments-now.csv").write_text(MAPLE_PAYMENT.format(status="DELETED"), encoding="utf-8")
    (workspace / "november.xml").write_text(MAPLE_LINE, encoding="utf-8")
    assert cli("import", "invoices.csv", "payments.csv").code == 0
    assert "1 receipts linked" in cli("import", "november.xml").out
    assert "1 receipts unlinked" in cli("import", "payments-now.csv").out

    (waiting,) = json.loads(cli("reconcile", "list", "--json").out)
    maple = json.loads(cli("customers", "list", "--json").out)[0]["account_no"]
    assert waiting["document"] == "camt053 R4"
    assert waiting["candidates"] == [
        {"account_no": maple, "tier": 1, "score": 100, "why": "invoice INV-3002 in the document"}
    ]
    applied = cli("reconcile", "apply", str(waiting["id"]))
    assert (applied.code, applied.out.strip()) == (0, f"item #{waiting['id']}: applied to {maple}"), (
        applied.err
    )
    assert json.loads(cli("reconcile", "list", "--json").out) == []


def test_status_shows_a_failed_files_name_with_brackets_as_it_is(cli: Cli, workspace: Path) -> None:
    (workspace / "inbox").mkdir()
    (workspace / "inbox" / "stmt[march].xml").write_text("<Document><BkToCstmrStmt>", encoding="utf-8")
    cli("inbox", "--folder", "inbox", "--settle", "0")
    assert (workspace / "inbox" / "failed" / "stmt[march].xml").is_file()
    shown = " ".join(cli("status").out.split())
    assert "stmt[march].xml" in shown


def test_an_export_lacking_a_column_its_mapping_reads_imports_and_says_which_reads_as_empty(
    cli: Cli, workspace: Path
) -> None:
    payments = REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv"
    text = payments.read_text(encoding="utf-8-sig").replace(",CustomerID,", ",Customer ID,", 1)
    (workspace / "payments.csv").write_text(text, encoding="utf-8")
    said = "note: columns the mapping zoho_books.payments reads are not in the file, so read as empty: "
    tried = cli("import", "payments.csv", "--dry-run")
    assert tried.code == 0, tried.err
    assert said + "'CustomerID' (party_external_id)" in tried.out
    [result] = json.loads(cli("import", "payments.csv", "--json").out)
    assert result["status"] == "imported"
    assert result["notes"] == [
        said.removeprefix("note: ")
        + "'CustomerID' (party_external_id); if the export names them otherwise, rename their `source`"
    ]
    again = cli("import", str(payments))
    assert "note:" not in again.out


def test_an_export_saved_as_utf8_with_a_bom_under_a_mapping_declaring_cp1252_imports_as_utf8_saying_so(
    cli: Cli, workspace: Path
) -> None:
    mapping = workspace / "mappings" / "export_zoho_books_payments.toml"
    text = mapping.read_text(encoding="utf-8").replace(
        'kind = "document"', 'kind = "document"\nencoding = "cp1252"'
    )
    mapping.write_text(text, encoding="utf-8")
    payments = REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv"
    assert payments.read_bytes().startswith(codecs.BOM_UTF8)  # as Zoho Books writes it
    (workspace / "payments.csv").write_bytes(payments.read_bytes())
    tried = cli("import", "payments.csv", "--dry-run")
    assert tried.code == 0, tried.err
    assert "payments.csv: dry-run (zoho_books.payments): 5 documents" in tried.out
    assert (
        "note: the file starts with a UTF-8 byte order mark, so it was read as UTF-8, not as cp1252, the "
        "encoding the mapping declares: remove `encoding` from the mapping"
    ) in " ".join(tried.out.split())


def test_a_typo_in_one_mapping_file_stops_no_import_the_last_valid_set_stays_in_force(
    cli: Cli, workspace: Path
) -> None:
    assert cli("import", "statement.xml").code == 0  # the mapping set is seen valid
    contacts = workspace / "mappings" / "zoho_contacts.toml"
    contacts.write_text(contacts.read_text(encoding="utf-8").replace('"email"', '"emial"'), encoding="utf-8")
    payments = REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv"
    shutil.copy(payments, workspace / "payments.csv")

    result = cli("import", "payments.csv")

    assert result.code == 0, result.err
    assert result.out.startswith("payments.csv: imported (zoho_books.payments)")
    assert "mapping problem(s), using mapping set" in result.err
    assert "zoho_contacts.toml" in result.err


def test_an_import_told_to_stop_stops_between_two_batches_and_the_next_import_goes_on(
    cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_IMPORTS__BATCH_SIZE", "1")

    @contextmanager
    def ctrl_c_after_a_batch(name: str) -> Iterator[Callable[[int], None]]:
        yield lambda rows: retry.STOPPING.set()  # as the signal handler does

    with monkeypatch.context() as stopping:
        stopping.setattr(imports_cli, "rows_progress", ctrl_c_after_a_batch)
        try:
            first = cli("import", "statement.xml", "statement.xml")
        finally:
            retry.STOPPING.clear()
    assert first.code == 3
    assert first.err.count("stopped early — its batches imported so far stay; import it again") == 1
    assert first.out == ""

    again = cli("import", "statement.xml")
    assert again.code == 0, again.err
    assert "statement.xml: imported (camt053)" in again.out
    assert "unchanged" in again.out  # the first batch, committed before the stop
    assert cli("ledger", "verify").code == 0


def test_an_import_stopped_while_another_process_imports_exits_3_saying_nothing_of_the_file_was_imported(
    cli: Cli, workspace: Path
) -> None:
    container = build_container(load_settings(), logging=False)
    try:
        with lease(container.sessions, IMPORTS):  # another process importing a big file
            stopped = stopped_while_waiting(workspace, "import", "statement.xml")
    finally:
        container.close()

    assert stopped.code == 3, stopped.out
    assert "Traceback" not in stopped.out
    assert "statement.xml: stopped early — nothing of it was imported: imports was running elsewhere" in (
        stopped.out
    )
    assert "nothing of it was done here; run it again" in stopped.out
    assert "batches imported so far stay" not in stopped.out
    again = cli("import", "statement.xml")
    assert again.code == 0, again.err
    assert "statement.xml: imported (camt053)" in again.out
    assert "unchanged" not in again.out  # nothing of it was imported before


def test_a_dry_run_lists_each_row_it_would_quarantine_with_its_reason_the_text_the_first_twenty(
    cli: Cli, workspace: Path
) -> None:
    payments = REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv"
    (workspace / "payments.csv").write_bytes(payments.read_bytes())
    tried = cli("import", "payments.csv", "--dry-run")
    assert tried.code == 0, tried.err
    assert "would quarantine payments.csv:7: amount (Amount): not an amount: '…'" in tried.out
    [result] = json.loads(cli("import", "payments.csv", "--dry-run", "--json").out)
    assert len(result["would_quarantine"]) == result["counts"]["quarantined"] == 2
    assert result["would_quarantine"][0] == {
        "ref": "payments.csv:7",
        "reason": "amount (Amount): not an amount: '…'",  # as quarantine list has it: the cell left out
    }
    lines = payments.read_text(encoding="utf-8-sig").splitlines()
    bad = [
        lines[6].replace("PMT-00044", f"PMT-9{n:02d}").replace("2954000000112004", f"29549{n:02d}")
        for n in range(25)
    ]
    (workspace / "many.csv").write_text("\n".join([lines[0], *bad]) + "\n", encoding="utf-8")
    many = cli("import", "many.csv", "--dry-run")
    assert many.out.count("would quarantine many.csv:") == 20
    assert "… and 5 more (--json lists them all)" in many.out
    assert len(json.loads(cli("import", "many.csv", "--dry-run", "--json").out)[0]["would_quarantine"]) == 25


VOID_FIRST_CUSTOMER = [
    {
        "type": "customer.created",
        "timestamp": "2026-03-01T00:00:00Z",
        "data": {"id": "7000001", "name": "Birchwood Supplies LLC", "type": "SME", "currency": "USD"}
        | {"email": "ap@birchwood.example.com", "address": {"country": "US"}},
    }
]


def birchwood_invoice(status: str, total: str) -> str:
    """A Zoho Books invoices export of one invoice, INV-1, in `status`, of `total` USD."""
    return (
        "Invoice Date,Invoice ID,Invoice Number,Invoice Status,Customer ID,Customer Name,Due Date,"
        "PurchaseOrder,Currency Code,Exchange Rate,Item Name,Quantity,Item Price,Item Total,Total,Balance\n"
        f"2026-03-02,5000000001,INV-1,{status},7000001,Birchwood Supplies LLC,2026-04-01,,USD,1.00,Service,"
        f"1,{total},{total},{total},{total}\n"
    )


@pytest.fixture
def void_first(cli: Cli, workspace: Path) -> Path:
    """Invoice INV-1 void in march.csv, the first file to list it, then open again in april.csv (Zoho
    Books' "Convert to Open") and in may.csv, changed to 150.00."""
    (workspace / "customers.json").write_text(json.dumps(VOID_FIRST_CUSTOMER), encoding="utf-8")
    assert cli("customers", "import", "webhook_customers", "customers.json").code == 0
    for name, status, total in (("march", "Void", "100.00"), ("april", "Sent", "100.00")):
        (workspace / f"{name}.csv").write_text(birchwood_invoice(status, total), encoding="utf-8")
    (workspace / "may.csv").write_text(birchwood_invoice("Sent", "150.00"), encoding="utf-8")
    assert "1 withdrawn before import" in cli("import", "march.csv").out
    return workspace


def open_quarantine(cli: Cli) -> list[dict[str, object]]:
    records: list[dict[str, object]] = json.loads(cli("quarantine", "list", "--json").out)["records"]
    return records


def owed_by_birchwood(cli: Cli) -> list[str]:
    """What Birchwood owes, net, each currency's amount as `ledger balance --json` says it."""
    (account,) = json.loads(cli("customers", "list", "--json").out)
    shown = cli("ledger", "balance", str(account["account_no"]), "--json")
    assert shown.code == 0, shown.err
    return [f"{net['amount']} {net['currency']}" for net in json.loads(shown.out)["net_receivable"]]


def test_an_invoice_void_when_first_seen_and_open_in_a_later_file_waits_in_quarantine_saying_both_files(
    cli: Cli, void_first: Path
) -> None:
    april = cli("import", "april.csv")

    assert april.code == 0, april.err
    assert "1 quarantined" in april.out
    assert "kept reversed" not in april.out
    (held,) = open_quarantine(cli)
    assert held["ref"] == "april.csv:2"
    assert held["reason"] == (
        "zoho_books.invoices 5000000001 was withdrawn (void, deleted) in march.csv when first seen and is "
        "live in april.csv (invoice INV-1): an older export imported late, or re-opened since? To post it: "
        "`connector quarantine retry ID --accept-changes`; to keep it out: `connector quarantine resolve ID "
        '--note "kept out"`'
    )
    may = cli("import", "may.csv")
    assert "1 quarantined" in may.out
    assert [record["ref"] for record in open_quarantine(cli)] == ["april.csv:2", "may.csv:2"]
    assert owed_by_birchwood(cli) in ([], ["0.00 USD"])
    assert cli("ledger", "verify").code == 0


def test_an_invoice_void_when_first_seen_and_accepted_live_posts_as_the_last_file_says_once(
    cli: Cli, void_first: Path
) -> None:
    assert "1 quarantined" in cli("import", "april.csv").out
    (held,) = open_quarantine(cli)
    retried = cli("quarantine", "retry", str(held["id"]), "--accept-changes")
    assert retried.code == 0, retried.err
    assert "1 went through (resolved)" in retried.out
    assert open_quarantine(cli) == []
    assert owed_by_birchwood(cli) == ["100.00 USD"]
    assert "1 invoices posted" in cli("import", "may.csv").out  # changed: reposted at 150.00
    assert owed_by_birchwood(cli) == ["150.00 USD"]
    for name in ("march.csv", "april.csv", "may.csv"):
        again = cli("import", name)
        assert again.code == 0, again.err
        assert "skipped" in again.out
    assert open_quarantine(cli) == []
    assert owed_by_birchwood(cli) == ["150.00 USD"]
    assert cli("ledger", "verify").code == 0


def test_an_invoice_void_when_first_seen_and_open_in_two_later_files_accepted_posts_the_last_ones_amount(
    cli: Cli, void_first: Path
) -> None:
    cli("import", "april.csv")
    cli("import", "may.csv")
    ids = [str(record["id"]) for record in open_quarantine(cli)]
    retried = cli("quarantine", "retry", *ids, "--accept-changes")
    assert retried.code == 0, retried.err
    assert open_quarantine(cli) == []
    assert owed_by_birchwood(cli) == ["150.00 USD"]
    assert cli("ledger", "verify").code == 0


def test_an_invoice_void_when_first_seen_kept_out_by_a_person_stays_out_of_later_files_unasked(
    cli: Cli, void_first: Path
) -> None:
    cli("import", "april.csv")
    (held,) = open_quarantine(cli)
    resolved = cli("quarantine", "resolve", str(held["id"]), "--note", "an older export")
    assert resolved.code == 0, resolved.err

    may = cli("import", "may.csv")

    assert may.code == 0, may.err
    assert "1 kept reversed" in may.out
    assert "quarantined" not in may.out
    (void_first / "june.csv").write_text(birchwood_invoice("Sent", "150.00") + "\n")  # other bytes
    assert "1 unchanged" in cli("import", "june.csv").out
    assert open_quarantine(cli) == []
    assert owed_by_birchwood(cli) in ([], ["0.00 USD"])
    assert cli("ledger", "verify").code == 0
