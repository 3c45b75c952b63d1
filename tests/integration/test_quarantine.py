"""Quarantined records on SQLite and PostgreSQL: listed without their raw input, shown with it, retried
where they can be replayed, resolved by hand with a note. Nothing leaves quarantine unexplained."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from adapters.statements.camt053 import Camt053Parser
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.documents import Origin
from connector.errors import ConnectorError
from connector.imports.models import ImportedFile
from connector.imports.pipeline import import_file
from connector.imports.row_quarantine import quarantine_input
from connector.mapping.files import MappingSet, load_mapping_set, parse_mapping_texts
from connector.master import sync as master_sync
from connector.master.models import CustomerBinding
from connector.master.sync import sync_customers
from connector.money import Money
from connector.sync.models import QuarantinedRecord, SyncRun
from connector.sync.quarantine import list_records, resolve_records, show_record
from connector.sync.quarantine_retry import retry
from connector.sync.runs import quarantine, start_run, without_its_values
from tests.conftest import REPO
from tests.integration.helpers import add_customer, disk_full_on_commit
from tests.integration.test_imports import PARSERS, assert_ledger_verifies, invoice, receivable, write
from tests.integration.test_statement_reconcile import camt_file, entry_xml, statement_xml
from tests.unit.test_classify import shipped_policy


def parsers() -> list[Any]:
    return list(PARSERS)


def no_mappings() -> MappingSet:
    raise AssertionError("an import retry needs no mapping set")


def shipped() -> MappingSet:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    return mappings


def record(container: Container, record_id: int) -> QuarantinedRecord:
    with unit_of_work(container.sessions) as session:
        found = session.get_one(QuarantinedRecord, record_id)
        session.expunge(found)
        return found


def by_ref(container: Container) -> dict[str, int]:
    with unit_of_work(container.sessions) as session:
        return {entry.ref: entry.id for entry in list_records(session, status="all")}


def rough_file(container: Container, path: Path, *more: dict[str, Any]) -> dict[str, int]:
    """A file with an unreadable first line and the given documents, imported once."""
    result = import_file(container, write(path, "{not json", *more), PARSERS)
    assert result.status == "imported"
    return by_ref(container)


@pytest.mark.parametrize(
    "value", ["Robert Wilson\n12 High St, Leeds", 'Jane O\'Neil "VIP" 1,150.00', "Robert\xa0Wilson"]
)
def test_a_reason_keeps_out_a_value_it_quotes_with_escapes_as_repr_writes_it(value: str) -> None:
    reason = f"amount (Amount): not an amount: {value!r} (write it as 1,234.50)"
    mark = repr(value)[0]  # repr quotes with " what holds a '
    kept = without_its_values(reason, {"raw": f"x,{value},y"})
    assert kept == f"amount (Amount): not an amount: {mark}…{mark} (write it as 1,234.50)"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("x,王五,y", "'…' and 'w'"), ("Liwu,2,y", "'王五' and 'w'"), ("x,1.500,w", "'王五' and '…'")],
)
def test_a_reason_keeps_out_a_short_value_only_where_the_record_holds_it_whole(raw: str, shown: str) -> None:
    assert without_its_values("'王五' and 'w'", {"raw": raw}) == shown


def test_a_reason_keeps_its_hint_of_punctuation_and_names_an_amount_through_the_import(
    container: Container, tmp_path: Path
) -> None:
    header = (REPO / "tests" / "fixtures" / "exports" / "kingdee_receipts_utf8_bom.csv").read_text(
        "utf-8-sig"
    )
    rows = [
        "SKD00000109,2026/3/2,已审核,客户,C0001,上海星辰贸易有限公司,人民币,1.500,电汇,3月货款,AR00000201,1.500",
        "SKD00000110,2026/3/2,已审核,客户,C0001,上海星辰贸易有限公司,人民币,-600.00,电汇,3月货款,,",
    ]
    export = tmp_path / "receipts.csv"
    export.write_text("\n".join([*header.splitlines()[:2], *rows]) + "\n", encoding="utf-8")
    xingchen = add_customer(container, "上海星辰贸易有限公司", customer_type="SME")

    result = import_file(container, export, container.document_parsers(), format="kingdee.receipts")

    assert result.counts["quarantined"] == 2
    thousands, refund = reasons(container)
    assert "1.500 may be 1,500 (a '.' grouping thousands) or 1.5" in thousands
    assert '(separator = "," for 1.500,00, "." for 1,500.00)' in thousands
    assert refund.startswith(f"a refund of 600.00 CNY to {xingchen}, whose credit")
    assert "星辰" not in thousands + refund


def test_a_reason_keeps_out_the_values_of_the_record_it_quotes_which_stay_encrypted(
    container: Container, tmp_path: Path
) -> None:
    shifted = invoice("INV-40", "", "Jane Q Private jane.private@example.com")  # a column shifted
    held = rough_file(container, tmp_path / "shifted.jsonl", shifted)["shifted.jsonl:2"]
    with unit_of_work(container.sessions) as session:
        reasons = list(session.scalars(select(QuarantinedRecord.reason)))
        shown = show_record(session, container.cipher, held)
    assert all("jane.private" not in reason for reason in reasons)
    assert "'…'" in " ".join(reasons)
    assert "jane.private@example.com" in json.dumps(shown.raw, ensure_ascii=False)


ZOHO_PAYMENTS_HEADER = (
    "Payment Number,CustomerPayment ID,Date,Customer Name,CustomerID,Mode,Reference Number,Description,"
    "Amount,Unused Amount,Currency Code,Exchange Rate,Deposit To,Invoice Number,Invoice Date,"
    "Amount Applied to Invoice"
)


@pytest.mark.parametrize("currency", ["zeb", "zebcurrencyname", "  Quuxcurr  "])
def test_a_reason_keeps_out_a_value_its_converter_upper_cased_or_stripped(
    container: Container, tmp_path: Path, currency: str
) -> None:
    export = tmp_path / "payments.csv"
    row = f"P1,9001,2026-03-02,Alpha Person,C1,Bank,R1,D1,100.00,0,{currency},1,Bank,INV1,2026-01-01,100.00"
    export.write_text(f"{ZOHO_PAYMENTS_HEADER}\n{row}\n", encoding="utf-8")

    assert import_file(container, export, container.document_parsers()).counts["quarantined"] == 1
    [reason] = reasons(container)
    assert reason.startswith("currency (Currency Code): unknown currency code")
    assert currency.strip().casefold() not in reason.casefold()


@pytest.mark.parametrize(
    "amount",
    ['Helga "Hexe" Privatperson', 'Helga O\'Neil "Hexe" Privatperson', "Helga Privatperson " + "x" * 1000],
)
def test_a_reason_keeps_out_a_cell_value_the_csv_quoted_or_one_over_a_thousand_characters(
    container: Container, tmp_path: Path, amount: str
) -> None:
    export = tmp_path / "payments.csv"
    cell = '"' + amount.replace('"', '""') + '"'
    row = f"P1,9001,2026-03-02,Alpha Person,C1,Bank,R1,D1,{cell},0,USD,1,Bank,INV1,2026-01-01,100.00"
    export.write_text(f"{ZOHO_PAYMENTS_HEADER}\n{row}\n", encoding="utf-8")

    assert import_file(container, export, container.document_parsers()).counts["quarantined"] == 1
    [reason] = reasons(container)
    assert (reason, "Helga" in reason) == ("amount (Amount): not an amount: '…'", False)


def test_a_reason_keeps_out_a_value_the_statements_xml_escaped(container: Container, tmp_path: Path) -> None:
    entry = entry_xml("E1", "300.00", "Zebulon &amp; Quix Secret")
    statement = camt_file(tmp_path / "march.xml", statement_xml("MAR", 3, "0.00", "300.00", entry))

    assert import_file(container, statement, [Camt053Parser()]).counts["quarantined"] == 1
    [reason] = reasons(container)
    assert (reason, "Zebulon" in reason) == ("entry not readable: BookgDt '…' is not a date", False)


@pytest.mark.parametrize("currency", ["zeb", "zebulon secret"])
def test_a_customer_records_reason_keeps_out_a_currency_it_upper_cased(
    container: Container, currency: str
) -> None:
    data = {"id": "w-2", "name": "坏客户", "company": "坏客户有限公司", "currency": currency}
    records = [("hook 2", {"type": "customer.updated", "data": data})]

    counts = sync_customers(container, shipped(), "webhook_customers", records, "customers.import")

    [reason] = reasons(container)
    assert (counts["quarantined"], reason.startswith("currency: unknown currency code")) == (1, True)
    assert currency.casefold() not in reason.casefold()


def reasons(container: Container) -> list[str]:
    with unit_of_work(container.sessions) as session:
        return list(session.scalars(select(QuarantinedRecord.reason)))


def test_a_retry_posts_the_document_whose_customer_now_exists_and_keeps_the_bad_row_open(
    container: Container, tmp_path: Path
) -> None:
    known = add_customer(container, "杭州青禾科技", customer_type="SME")
    line = json.dumps(invoice("INV-40", "", "10.00", payer="Nobody Ltd"))
    refs = rough_file(
        container, tmp_path / "rough.jsonl", json.loads(line), invoice("INV-41", known, "20.00")
    )
    bad_row, document = refs["rough.jsonl:1"], refs["rough.jsonl:2"]
    with unit_of_work(container.sessions) as session:
        listed = list_records(session)
        shown = show_record(session, container.cipher, document)
    assert [(e.id, e.source, e.attempts, e.job) for e in listed] == [
        (bad_row, "test_jsonl", 1, "import"),
        (document, "test", 1, "import"),
    ]
    assert listed[1].reason == "no customer for this invoice: no rule found a customer"  # names nobody
    assert (shown.raw["raw"], shown.raw["external_id"], shown.raw["row"]) == (line, "INV-40", 2)

    nobody = add_customer(container, "Nobody Ltd", customer_type="SME")
    [outcome] = retry(container, [document], parsers=parsers, mappings=no_mappings)

    assert (outcome.status, outcome.resolved, outcome.still_open) == ("retried", [document], [bad_row])
    assert (outcome.counts["invoices_posted"], outcome.counts["not_retried"]) == (1, 1)
    posted, still_bad = record(container, document), record(container, bad_row)
    assert (posted.status, posted.resolved_by) == ("resolved", "retry")
    assert posted.resolution == f"went through on retry (run {outcome.run_id})"
    assert posted.resolved_at is not None
    assert (still_bad.status, still_bad.attempts, still_bad.run_id) == ("open", 2, outcome.run_id)
    assert receivable(container, nobody) == Money.of("10.00", "CNY")
    assert receivable(container, known) == Money.of("20.00", "CNY")  # posted once, not twice
    assert_ledger_verifies(container)


def test_a_retry_leaves_alone_a_row_a_person_resolved_and_a_change_the_policy_holds_back(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    voided = invoice("INV-50", "", "10.00", payer="Nobody Ltd")
    waiting = invoice("INV-51", "", "20.00", payer="Nobody Ltd")
    refs = rough_file(container, tmp_path / "april.jsonl", voided, waiting)
    with unit_of_work(container.sessions) as session:
        resolve_records(session, [refs["april.jsonl:2"]], "INV-50 was voided: do not post", "finance")
    nobody = add_customer(container, "Nobody Ltd", customer_type="SME")

    [outcome] = retry(container, [refs["april.jsonl:3"]], parsers=parsers, mappings=no_mappings)

    assert (outcome.counts["invoices_posted"], outcome.resolved) == (1, [refs["april.jsonl:3"]])
    assert receivable(container, nobody) == Money.of("20.00", "CNY")  # INV-51 only: INV-50 stays out
    held_back = container.settings.imports.model_copy(update={"changed_documents": "quarantine"})
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"imports": held_back}))
    changed = write(tmp_path / "may.jsonl", {**waiting, "amount": "25.00"})
    import_file(container, changed, PARSERS)
    held = by_ref(container)["may.jsonl:1"]

    [again] = retry(container, [held], parsers=parsers, mappings=no_mappings)

    assert (again.resolved, again.still_open) == ([], [held])
    assert record(container, held).status == "open"
    assert "connector quarantine retry ID --accept-changes" in record(container, held).reason
    assert receivable(container, nobody) == Money.of("20.00", "CNY")

    [accepted] = retry(container, [held], parsers=parsers, mappings=no_mappings, accept_changes=True)

    assert (accepted.resolved, accepted.counts["reposted"]) == ([held], 1)
    assert receivable(container, nobody) == Money.of("25.00", "CNY")  # the change, this once
    assert_ledger_verifies(container)


def test_accepting_the_change_of_one_document_leaves_the_files_other_changes_held_back(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held_back = container.settings.imports.model_copy(update={"changed_documents": "quarantine"})
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"imports": held_back}))
    known = add_customer(container, "杭州青禾科技", customer_type="SME")
    first, second = invoice("INV-60", known, "10.00"), invoice("INV-61", known, "20.00")
    import_file(container, write(tmp_path / "april.jsonl", first, second), PARSERS)
    changed = write(tmp_path / "may.jsonl", {**first, "amount": "11.00"}, {**second, "amount": "99999.00"})
    import_file(container, changed, PARSERS)
    refs = by_ref(container)
    accepted, unreviewed = refs["may.jsonl:1"], refs["may.jsonl:2"]

    [outcome] = retry(container, [accepted], parsers=parsers, mappings=no_mappings, accept_changes=True)

    assert (outcome.resolved, outcome.still_open, outcome.counts["reposted"]) == ([accepted], [unreviewed], 1)
    assert receivable(container, known) == Money.of("31.00", "CNY")  # INV-61 stays at 20.00
    assert_ledger_verifies(container)


def test_files_of_one_name_keep_their_different_bad_rows_apart_and_a_retry_counts_on_its_own_file(
    container: Container, tmp_path: Path
) -> None:
    january, february = tmp_path / "january" / "payments.jsonl", tmp_path / "february" / "payments.jsonl"
    january.parent.mkdir()
    february.parent.mkdir()
    import_file(container, write(january, "{january is cut"), PARSERS)
    import_file(container, write(february, "{february is cut"), PARSERS)
    with unit_of_work(container.sessions) as session:
        held = [(e.id, e.ref, e.attempts) for e in list_records(session)]
        raws = [show_record(session, container.cipher, record_id).raw["raw"] for record_id, _, _ in held]
    assert [(ref, attempts) for _, ref, attempts in held] == [("payments.jsonl:1", 1)] * 2
    assert raws == ["{january is cut", "{february is cut"]

    [outcome] = retry(container, [held[0][0]], parsers=parsers, mappings=no_mappings)

    assert outcome.still_open == [held[0][0]]
    assert [record(container, record_id).attempts for record_id, _, _ in held] == [2, 1]


EXPORTS = REPO / "tests" / "fixtures" / "exports"


def test_the_same_bad_rows_brought_back_by_an_export_of_another_name_or_encoding_stay_one_record_each(
    container: Container, tmp_path: Path
) -> None:
    parsers = container.document_parsers()
    import_file(container, EXPORTS / "kingdee_receipts.csv", parsers, format="kingdee.receipts")  # GBK
    before = {entry.ref: (entry.id, entry.reason) for entry in listed(container)}
    assert sorted(before) == ["kingdee_receipts.csv:10", "kingdee_receipts.csv:7"]
    twin = tmp_path / "收款单 UTF-8.csv"  # the same export saved again as UTF-8 with a BOM
    twin.write_bytes((EXPORTS / "kingdee_receipts_utf8_bom.csv").read_bytes())

    result = import_file(container, twin, parsers, format="kingdee.receipts")

    assert result.counts["quarantined"] == 2
    after = {entry.ref: (entry.id, entry.reason, entry.attempts) for entry in listed(container)}
    assert after == {  # where each was last seen, counted again
        "收款单 UTF-8.csv:7": (*before["kingdee_receipts.csv:7"], 2),
        "收款单 UTF-8.csv:10": (*before["kingdee_receipts.csv:10"], 2),
    }
    with unit_of_work(container.sessions) as session:
        shown = show_record(session, container.cipher, after["收款单 UTF-8.csv:7"][0]).raw
        imported = session.scalars(select(ImportedFile.id).where(ImportedFile.name == twin.name)).one()
    assert (shown["file"], shown["row"], shown["file_id"]) == (twin.name, 7, imported)


def test_an_export_imported_again_with_one_more_newline_keeps_its_bad_rows_as_they_were(
    container: Container, tmp_path: Path
) -> None:
    rows = [
        "P-1,9001,2026-03-02,Acme,C-1,Cash,,,12.3.4,0,USD,1,,,,",
        "P-2,9002,2026-03-02,Acme,C-1,Cash,,,also not an amount,0,USD,1,,,,",
        "P-1,9001,2026-03-02,Acme,C-1,Cash,,,12.3.4,0,USD,1,,,,",  # the same text on another row
    ]
    export = write(tmp_path / "payments.csv", ZOHO_PAYMENTS_HEADER, *rows)
    parsers = container.document_parsers()
    import_file(container, export, parsers, format="zoho_books.payments")
    first = [(entry.id, entry.ref) for entry in listed(container)]
    assert [ref for _, ref in first] == ["payments.csv:2", "payments.csv:3", "payments.csv:4"]
    again = tmp_path / "payments_again.csv"
    again.write_bytes(export.read_bytes() + b"\n")

    assert import_file(container, again, parsers, format="zoho_books.payments").status == "imported"

    assert [(entry.id, entry.ref, entry.attempts) for entry in listed(container)] == [
        (first[0][0], "payments_again.csv:2", 2),
        (first[1][0], "payments_again.csv:3", 2),
        (first[2][0], "payments_again.csv:4", 2),  # its own row still: one file's two rows stay two
    ]
    other = write(tmp_path / "april.csv", ZOHO_PAYMENTS_HEADER, rows[1].replace("P-2", "P-3"))
    import_file(container, other, parsers, format="zoho_books.payments")
    assert len(listed(container)) == 4  # other text: another record


def test_the_same_bad_line_on_two_accounts_statements_is_a_record_for_each_account(
    container: Container, tmp_path: Path
) -> None:
    camt = (REPO / "tests" / "fixtures" / "statements" / "camt053_v02_two_statements.xml").read_text("utf-8")
    head, rest = camt.split("<Stmt>", 1)
    first, tail = rest.split("</Stmt>", 1)[0], camt.rsplit("</Stmt>", 1)[1]
    for name, iban, statement in (
        ("a.xml", "DE89 3704 0044 0532 0130 00", "A-057"),
        ("b.xml", "DE44 5001 0517 5407 3249 31", "B-012"),
    ):
        text = first.replace("DE89 3704 0044 0532 0130 00", iban).replace("2026-03-04-EUR-057", statement)
        (tmp_path / name).write_text(f"{head}<Stmt>{text}</Stmt>{tail}", "utf-8")
    parsers = container.document_parsers()
    for name in ("a.xml", "b.xml"):
        assert import_file(container, tmp_path / name, parsers).counts["quarantined"] == 2

    held = [(entry.ref.split(":")[0], entry.attempts) for entry in listed(container)]

    assert sorted(held) == [("a.xml", 1), ("a.xml", 1), ("b.xml", 1), ("b.xml", 1)]  # each account's own


def listed(container: Container) -> list[Any]:
    with unit_of_work(container.sessions) as session:
        return list(list_records(session))


def test_each_statement_of_a_file_that_names_no_account_is_a_record_of_its_own(
    container: Container, tmp_path: Path
) -> None:
    camt = (REPO / "tests" / "fixtures" / "statements" / "camt053_v02_two_statements.xml").read_text("utf-8")
    nameless = re.sub(r"<Acct>\s*<Id>.*?</Id>\s*(?=<Ccy>)", "<Acct>", camt, flags=re.S)
    assert "<IBAN>DE89" not in nameless
    (path := tmp_path / "two.xml").write_text(nameless, "utf-8")

    import_file(container, path, container.document_parsers())

    with unit_of_work(container.sessions) as session:
        held = [show_record(session, container.cipher, entry.id) for entry in list_records(session)]
    statements = [entry for entry in held if entry.raw["row"] is None]
    assert [entry.entry.reason for entry in statements] == [
        "statement without an account id (Acct/Id) or a currency (Acct/Ccy)"
    ] * 2
    assert [entry.entry.attempts for entry in statements] == [1, 1]
    ids = [re.findall(r"<Id>(2026-03-04-[A-Z]+-\d+)</Id>", entry.raw["raw"]) for entry in statements]
    assert ids == [["2026-03-04-EUR-057"], ["2026-03-04-JPY-012"]]  # each its own text, none written over


def test_two_documents_of_one_row_that_fail_are_two_records_and_the_same_one_again_counts_an_attempt(
    container: Container,
) -> None:
    batch = Origin("returns.xml", 1, "<Ntry>R-9: two returned direct debits</Ntry>")
    with unit_of_work(container.sessions) as session:
        for external_id in ("R-9#1", "R-9#2", "R-9#2"):
            reason = f"returned receipt {external_id}: no receipt of its amount"
            quarantine_input(session, container.cipher, None, "camt053", batch, reason, 7, external_id)
        held = [show_record(session, container.cipher, entry.id) for entry in list_records(session)]
    assert [(entry.raw["external_id"], entry.entry.attempts) for entry in held] == [
        ("R-9#1", 1),
        ("R-9#2", 2),
    ]


def test_a_file_moved_away_is_a_clear_error_until_its_new_place_is_named(
    container: Container, tmp_path: Path
) -> None:
    path = tmp_path / "rough.jsonl"
    bad_row = rough_file(container, path)["rough.jsonl:1"]
    moved = tmp_path / "archive" / "renamed.jsonl"
    moved.parent.mkdir()
    path.rename(moved)

    [refused] = retry(container, [bad_row], parsers=parsers, mappings=no_mappings)

    assert refused.status == "error"
    assert refused.subject.startswith("rough.jsonl (imported file #")
    assert f"its bytes were expected at {path.resolve()}, but no file is there" in refused.message
    assert "--file PATH" in refused.message
    assert "`connector import PATH`" in refused.message
    assert (record(container, bad_row).attempts, record(container, bad_row).status) == (1, "open")

    [outcome] = retry(container, [bad_row], parsers=parsers, mappings=no_mappings, moved=[moved])

    assert (outcome.status, outcome.still_open) == ("retried", [bad_row])
    now = record(container, bad_row)  # the file keeps the name it came with, wherever it is kept
    assert (now.record_ref, now.status, now.attempts) == ("rough.jsonl:1", "open", 2)
    with unit_of_work(container.sessions) as session:
        assert session.scalars(select(ImportedFile.stored_path)).one() == str(moved.resolve())


def test_a_file_changed_where_it_is_kept_is_not_imported_in_its_place(
    container: Container, tmp_path: Path
) -> None:
    path = tmp_path / "rough.jsonl"
    bad_row = rough_file(container, path)["rough.jsonl:1"]
    write(path, "{still not json", "")

    [refused] = retry(container, [bad_row], parsers=parsers, mappings=no_mappings)

    assert refused.status == "error"
    assert f"the file at {path.resolve()} has changed since it was imported" in refused.message
    assert record(container, bad_row).attempts == 1


def test_resolving_by_hand_records_who_and_why_and_is_all_or_nothing(
    container: Container, tmp_path: Path
) -> None:
    refs = rough_file(container, tmp_path / "rough.jsonl", invoice("INV-50", "", "5.00", payer="Nobody Ltd"))
    bad_row, document = refs["rough.jsonl:1"], refs["rough.jsonl:2"]
    with unit_of_work(container.sessions) as session, pytest.raises(ConnectorError, match="needs a note"):
        resolve_records(session, [bad_row], "  ", "finance")
    with (
        unit_of_work(container.sessions) as session,
        pytest.raises(ConnectorError, match="no quarantined record #999"),
    ):
        resolve_records(session, [bad_row, 999], "typo in the export", "finance")
    assert record(container, bad_row).status == "open"

    with unit_of_work(container.sessions) as session:
        [entry] = resolve_records(session, [bad_row], "typo in the export; fixed in Zoho Books", "finance")
    assert (entry.status, entry.resolved_by, entry.resolution) == (
        "resolved",
        "finance",
        "typo in the export; fixed in Zoho Books",
    )
    with unit_of_work(container.sessions) as session:
        with pytest.raises(ConnectorError, match=f"#{bad_row} was resolved already by finance"):
            resolve_records(session, [bad_row], "again", "finance")
        assert [e.id for e in list_records(session)] == [document]
        assert [e.id for e in list_records(session, status="resolved")] == [bad_row]
        assert [e.id for e in list_records(session, status="all", source="test")] == [document]
        assert [e.id for e in list_records(session, status="all", job="pull")] == []
        with pytest.raises(ConnectorError, match="unknown quarantine status 'closed'"):
            list_records(session, status="closed")
    with pytest.raises(ConnectorError, match="resolved already"):
        retry(container, [bad_row], parsers=parsers, mappings=no_mappings)


def test_a_customer_record_in_an_unknown_currency_is_quarantined_and_the_rest_of_its_batch_goes_on(
    container: Container,
) -> None:
    mappings = shipped()
    good = {"type": "customer.updated", "data": {"id": "w-1", "name": "好客户", "company": "好客户有限公司"}}
    bad_data = {"id": "w-2", "name": "坏客户", "company": "坏客户有限公司", "currency": "XYZ"}
    bad = {"type": "customer.updated", "data": bad_data}
    records = [("hook 1", good), ("hook 2", bad)]

    counts = sync_customers(container, mappings, "webhook_customers", records, "customers.import")

    assert (counts["created"], counts["quarantined"]) == (1, 1)
    assert record(container, by_ref(container)["hook 2"]).reason.startswith("currency: ")


def test_a_customer_sync_killed_part_way_is_recorded_with_the_counts_of_what_it_committed(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(master_sync, "BATCH", 1)
    monkeypatch.setattr(master_sync, "finish_run", lambda *args: None)  # killed: nothing after it runs

    def records() -> Iterator[tuple[str, dict[str, Any]]]:
        yield (
            "hook 1",
            {"type": "customer.updated", "data": {"id": "w-1", "name": "好客户", "company": "好客户"}},
        )
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync_customers(container, shipped(), "webhook_customers", records(), "customers.import")
    with unit_of_work(container.sessions) as session:
        run = session.scalars(select(SyncRun).where(SyncRun.job == "customers.import")).one()
        assert json.loads(run.counts_json or "{}") == {"created": 1}


def test_a_customer_import_whose_commit_fails_is_recorded_with_the_counts_of_what_it_committed(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(master_sync, "BATCH", 1)
    records = [
        (
            f"hook {n}",
            {"type": "customer.updated", "data": {"id": f"w-c{n}", "name": f"客户{n}", "company": "某"}},
        )
        for n in (1, 2)
    ]
    with (
        disk_full_on_commit(container, monkeypatch, master_sync, "apply_mapped", 0, nth=2),
        pytest.raises(OperationalError),
    ):
        sync_customers(container, shipped(), "webhook_customers", records, "customers.import")
    with unit_of_work(container.sessions) as session:
        run = session.scalars(select(SyncRun).where(SyncRun.job == "customers.import")).one()
        assert json.loads(run.counts_json or "{}") == {"created": 1}  # the first batch's, not the second's
        assert run.error == "OperationalError: database or disk is full (see the log)"


NAME_REQUIRED = 'convert = ["fullwidth_to_halfwidth", "collapse_spaces", "required"]'
NAME_DEFAULTED = (
    'convert = ["fullwidth_to_halfwidth", "collapse_spaces", { name = "default", value = "(no name)" }]'
)


def test_a_customer_record_failing_its_mapping_counts_attempts_until_the_mapping_lets_it_through(
    container: Container,
) -> None:
    mappings = shipped()
    records = [
        ("f.csv row 2", {"id": "7001", "Email": "anon@example.cn"}),  # no Full_Name: a name is required
        ("f.csv row 3", {"id": "7002", "Full_Name": "Li Wei", "Email": "not-an-address"}),
    ]
    assert (
        sync_customers(container, mappings, "zoho_contacts", records, "customers.import")["quarantined"] == 2
    )
    refs = by_ref(container)
    nameless, bad_email = refs["f.csv row 2"], refs["f.csv row 3"]
    with unit_of_work(container.sessions) as session:
        assert show_record(session, container.cipher, nameless).raw == records[0][1]

    [outcome] = retry(container, [nameless, bad_email], parsers=parsers, mappings=lambda: mappings)

    assert (outcome.status, outcome.resolved, outcome.still_open) == ("retried", [], [nameless, bad_email])
    assert [record(container, i).attempts for i in (nameless, bad_email)] == [2, 2]
    with unit_of_work(container.sessions) as session:
        run = session.get_one(SyncRun, outcome.run_id)
        assert (run.job, run.source, run.mapping_digest) == (
            "customers.import",
            "zoho.Contacts",
            mappings.digest,
        )

    texts = {
        **mappings.texts,
        "zoho_contacts.toml": mappings.texts["zoho_contacts.toml"].replace(NAME_REQUIRED, NAME_DEFAULTED),
    }
    fixed, problems = parse_mapping_texts(REPO / "mappings", texts)
    assert fixed is not None, problems
    [preview] = retry(container, [nameless, bad_email], parsers=parsers, mappings=lambda: fixed, dry_run=True)
    assert (preview.status, preview.resolved, preview.still_open) == ("dry-run", [nameless], [bad_email])
    assert record(container, nameless).status == "open"  # a dry run changes nothing

    [outcome] = retry(container, [nameless, bad_email], parsers=parsers, mappings=lambda: fixed)

    assert (outcome.resolved, outcome.still_open, outcome.counts["created"]) == ([nameless], [bad_email], 1)
    assert record(container, nameless).resolution == f"went through on retry (run {outcome.run_id})"
    assert (record(container, bad_email).attempts, record(container, bad_email).status) == (3, "open")


def test_records_of_a_crm_pull_are_not_replayed_and_the_retry_says_why(container: Container) -> None:
    with unit_of_work(container.sessions) as session:
        run = start_run(session, "pull", "zoho.Contacts", "digest")
        quarantine(session, container.cipher, run, "zoho.Contacts", "zoho.Contacts 42", {"id": "42"}, "bad")
    [pulled] = by_ref(container).values()

    [outcome] = retry(container, [pulled], parsers=parsers, mappings=no_mappings)

    assert (outcome.status, outcome.subject) == ("not replayed", f"#{pulled} zoho.Contacts zoho.Contacts 42")
    assert "retried by the pull that next reads them" in outcome.message
    assert "resolve it when done" in outcome.message
    assert (record(container, pulled).status, record(container, pulled).attempts) == ("open", 1)
    with pytest.raises(ConnectorError, match="no quarantined record #404"):
        retry(container, [pulled, 404], parsers=parsers, mappings=no_mappings)


def test_a_customer_record_deleted_in_its_source_since_it_failed_is_not_replayed_back_to_life(
    container: Container,
) -> None:
    mappings = shipped()
    first = ("f.csv row 2", {"id": "7001", "Full_Name": "Li Wei", "Email": "li@example.cn"})
    sync_customers(container, mappings, "zoho_contacts", [first], "customers.import")
    later = ("g.csv row 2", {"id": "7001", "Email": "anon@example.cn"})  # the name left out: held
    sync_customers(container, mappings, "zoho_contacts", [later], "customers.import")
    [held] = by_ref(container).values()
    with unit_of_work(container.sessions) as session:
        container.master(session, shipped_policy(), actor="test").delete("zoho.Contacts", "7001")
    texts = {
        **mappings.texts,
        "zoho_contacts.toml": mappings.texts["zoho_contacts.toml"].replace(NAME_REQUIRED, NAME_DEFAULTED),
    }
    fixed, _ = parse_mapping_texts(REPO / "mappings", texts)
    assert fixed is not None

    [outcome] = retry(container, [held], parsers=parsers, mappings=lambda: fixed)

    assert outcome.counts == Counter(superseded=1)
    assert (record(container, held).resolution or "").startswith(
        "not replayed: the record was deleted in zoho"
    )
    with unit_of_work(container.sessions) as session:
        assert session.scalars(select(CustomerBinding.status)).one() == "deleted"


def test_a_customer_record_applied_again_since_it_failed_is_not_replayed_over_the_newer_one(
    container: Container,
) -> None:
    mappings = shipped()
    stale = ("f.csv row 2", {"id": "7001", "Email": "anon@example.cn"})
    sync_customers(container, mappings, "zoho_contacts", [stale], "customers.import")
    [held] = by_ref(container).values()
    corrected = ("g.csv row 2", {"id": "7001", "Full_Name": "Li Wei", "Email": "li@example.cn"})
    assert (
        sync_customers(container, mappings, "zoho_contacts", [corrected], "customers.import")["created"] == 1
    )
    texts = {
        **mappings.texts,
        "zoho_contacts.toml": mappings.texts["zoho_contacts.toml"].replace(NAME_REQUIRED, NAME_DEFAULTED),
    }
    fixed, _ = parse_mapping_texts(REPO / "mappings", texts)
    assert fixed is not None

    [outcome] = retry(container, [held], parsers=parsers, mappings=lambda: fixed)

    assert (outcome.superseded, outcome.resolved, outcome.still_open, outcome.run_id) == (
        [held],
        [],
        [],
        None,
    )
    assert outcome.counts == Counter(superseded=1)
    assert (record(container, held).resolution or "").startswith(
        "not replayed: a later version was applied on "
    )
    with unit_of_work(container.sessions) as session:
        customer_id = session.scalars(select(CustomerBinding.customer_id)).one()
        assert container.customers(session).view(customer_id).name == "Li Wei"


def test_an_update_that_failed_is_replayed_though_its_older_version_was_applied_later_in_its_run(
    container: Container,
) -> None:
    mappings = shipped()
    created = {"id": "7001", "Full_Name": "Li Wei", "Email": "li@example.cn"}
    updated = {"id": "7001", "Email": "li.wei@example.cn", "Modified_Time": "2026-11-05T09:30:00+08:00"}
    events = [
        ("events.json [0]", {**created, "Modified_Time": "2026-11-05T09:00:00+08:00"}),
        ("events.json [1]", updated),  # the name left out: held, after the run began
    ]
    counts = sync_customers(container, mappings, "zoho_contacts", events, "customers.import")
    assert (counts["created"], counts["quarantined"]) == (1, 1)
    [held] = by_ref(container).values()
    texts = {
        **mappings.texts,
        "zoho_contacts.toml": mappings.texts["zoho_contacts.toml"].replace(NAME_REQUIRED, NAME_DEFAULTED),
    }
    fixed, _ = parse_mapping_texts(REPO / "mappings", texts)
    assert fixed is not None

    [outcome] = retry(container, [held], parsers=parsers, mappings=lambda: fixed)

    assert (outcome.resolved, outcome.superseded, outcome.counts["updated"]) == ([held], [], 1)
    with unit_of_work(container.sessions) as session:
        customer_id = session.scalars(select(CustomerBinding.customer_id)).one()
        assert container.customers(session).view(customer_id).email == "li.wei@example.cn"


def test_records_failing_in_two_files_of_one_name_are_kept_apart_and_the_same_record_again_counts(
    container: Container,
) -> None:
    mappings = shipped()
    january = ("contacts.csv row 2", {"id": "7001", "Email": "li@example.cn"})  # no name: held
    february = ("contacts.csv row 2", {"id": "7002", "Email": "wang@example.cn"})
    for batch in ([january], [february], [(january[0], {**january[1], "Email": "li.wei@example.cn"})]):
        assert (
            sync_customers(container, mappings, "zoho_contacts", batch, "customers.import")["quarantined"]
            == 1
        )

    with unit_of_work(container.sessions) as session:
        held = [show_record(session, container.cipher, entry.id) for entry in list_records(session)]
    found = [(entry.raw["id"], entry.raw["Email"], entry.entry.attempts) for entry in held]
    assert found == [("7001", "li.wei@example.cn", 2), ("7002", "wang@example.cn", 1)]
