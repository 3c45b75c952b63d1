"""Importing documents into the ledger, on SQLite and PostgreSQL: exactly once, matched, traceable.

The files here are JSON lines read by a small parser written for these tests (the `DocumentParser`
port); the real formats have parser tests of their own.
"""

from __future__ import annotations

import dataclasses
import gc
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import openpyxl  # type: ignore[import-untyped]
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from adapters.exports.iif import IifParser
from adapters.statements.camt053 import Camt053Parser
from adapters.statements.mt940 import Mt940Parser
from adapters.statements.ofx import OfxParser
from connector.bootstrap import Container
from connector.cli.imports import describe
from connector.credit.aging import open_items
from connector.credit.figures import customer_figures
from connector.credit.reads import ar_lines
from connector.db import unit_of_work
from connector.documents import (
    Allocation,
    Document,
    DocumentParser,
    Origin,
    Parsed,
    Party,
    Problem,
    fingerprint,
)
from connector.errors import FileFormatError
from connector.imports import pipeline, reconcile
from connector.imports.known import KnownCustomers
from connector.imports.models import ImportedDocument, ImportedFile, ReconciliationItem
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.imports.statement_reconcile import reconcile_file
from connector.ledger.customers import NewCustomer
from connector.ledger.models import AccountBalance, Customer, JournalEntry
from connector.ledger.queries import customer_balances
from connector.ledger.verify import verify_ledger
from connector.mapping.files import MappingSet
from connector.master.lifecycle import merge
from connector.money import Money
from connector.security.cipher import FieldCipher
from connector.security.keys import read_keyring_file, save_keyring
from connector.security.rotation import reencrypt_all
from connector.sync.models import QuarantinedRecord
from connector.sync.quarantine import resolve_records
from connector.sync.quarantine_retry import retry
from connector.sync.runs import close_abandoned_runs, run_history
from tests.conftest import REPO
from tests.integration.helpers import add_customer, disk_full_on_commit
from tests.integration.test_master import master


class JsonLines:
    """One document per line: {"kind", "id", "date", "amount", "currency", ...}; a bad line is a Problem."""

    format = "test_jsonl"

    def sniff(self, head: bytes, name: str) -> bool:
        return name.endswith(".jsonl")

    def parse(self, path: str, name: str) -> Iterator[Parsed]:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                origin = Origin(name, number, line.strip())
                try:
                    yield _document(json.loads(line), origin)
                except (KeyError, ValueError) as exc:
                    yield Problem(origin, f"unreadable line: {exc}")


def _document(data: dict[str, Any], origin: Origin) -> Document:
    currency = data.get("currency", "CNY")
    return Document(
        kind=data["kind"],
        source=data.get("source", "test"),
        external_id=data["id"],
        date=date.fromisoformat(data.get("date", "2026-03-01")),
        amount=Money.of(data["amount"], currency),
        origin=origin,
        party=Party(
            name=data.get("payer"), account_no=data.get("account_no"), bank_account=data.get("bank_account")
        ),
        number=data.get("number"),
        references=tuple(data.get("references", ())),
        allocations=tuple(
            Allocation(n, Money.of(a, data.get("applied_currency", currency)))
            for n, a in data.get("applied", {}).items()
        ),
        reverses=data.get("reverses"),
        replaces=data.get("replaces"),
        bank_reversal=data.get("bank_reversal", False),
        account=data.get("account"),
        withdrawn=data.get("withdrawn", False),
        return_reason=data.get("return_reason"),
    )


PARSERS = [JsonLines()]


class BreaksAtBrokenLine(JsonLines):
    """JSON lines until a line `BROKEN`: there the file cannot be read any further."""

    def parse(self, path: str, name: str) -> Iterator[Parsed]:
        for item in super().parse(path, name):
            if item.origin.raw == "BROKEN":
                raise FileFormatError(f"{name}: line {item.origin.row} ends the readable part")
            yield item


def write(path: Path, *documents: dict[str, Any] | str) -> Path:
    lines = [d if isinstance(d, str) else json.dumps(d, ensure_ascii=False) for d in documents]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def receivable(container: Container, account_no: str) -> Money:
    with unit_of_work(container.sessions) as session:
        lines = customer_balances(session, account_no)
    code = container.settings.ledger.chart.receivable.code
    return next((line.balance for line in lines if line.account_code == code), Money.zero("CNY"))


def invoice(number: str, account_no: str, amount: str, **more: Any) -> dict[str, Any]:
    return {
        "kind": "invoice",
        "id": number,
        "number": number,
        "account_no": account_no,
        "amount": amount,
        **more,
    }


def open_invoices(
    container: Container, account_no: str, as_of: date, currency: str = "CNY"
) -> list[tuple[str | None, int]]:
    """(invoice number, minor units still open) of the customer's open items in `currency`, oldest first."""
    receivable_code = container.settings.ledger.chart.receivable.code
    with unit_of_work(container.sessions) as session:
        customer_id = session.scalars(select(Customer.id).where(Customer.account_no == account_no)).one()
        lines = ar_lines(session, [customer_id], receivable_code, as_of).get((customer_id, currency), [])
        numbers = dict(session.execute(select(ImportedDocument.entry_id, ImportedDocument.number)).all())
    items, _ = open_items(lines, payment_terms_days=30)
    return [(numbers[item.entry_id], item.amount_minor) for item in items]


def in_batches_of(size: int, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports read `size` documents a batch for this test (the container is shared by the session's
    tests: the setting goes back after this one)."""
    imports = container.settings.imports.model_copy(update={"batch_size": size})
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"imports": imports}))


def assert_ledger_verifies(container: Container) -> None:
    with unit_of_work(container.sessions) as session:
        report = verify_ledger(session)
    assert report.ok, report.violations


def test_a_receipt_naming_its_invoice_settles_it_and_a_second_import_changes_nothing(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    path = write(
        tmp_path / "march.jsonl",
        invoice("INV-1", acme, "1000.00"),
        {"kind": "payment", "id": "P-1", "amount": "1000.00", "references": ["货款 INV-1"]},
    )
    first = import_file(container, path, PARSERS)
    assert (first.status, first.counts["invoices_posted"], first.counts["payments_posted"]) == (
        "imported",
        1,
        1,
    )
    assert receivable(container, acme) == Money.zero("CNY")
    again = import_file(container, path, PARSERS)
    assert again.status == "skipped"
    assert "the same content was imported as march.jsonl" in again.reason
    copy = write(tmp_path / "march-again.jsonl", invoice("INV-1", acme, "1000.00"), "")
    assert import_file(container, copy, PARSERS).counts["unchanged"] == 1
    with unit_of_work(container.sessions) as session:
        payment = session.scalars(select(ImportedDocument).where(ImportedDocument.external_id == "P-1")).one()
        assert (payment.match_tier, payment.match_score, payment.status) == (1, 100, "posted")
        assert payment.match_rule == "invoice INV-1 in the document"
        assert session.scalar(select(func.count()).select_from(JournalEntry)) == 2
    assert_ledger_verifies(container)


def test_a_receipt_from_an_unknown_payer_waits_in_unapplied_receipts_for_a_person(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "bank.jsonl", {"kind": "bank_line", "id": "B-1", "amount": "88.00", "payer": "张三"}
    )
    result = import_file(container, path, PARSERS)
    assert result.counts["receipts_unapplied"] == 1
    with unit_of_work(container.sessions) as session:
        item = session.scalars(select(ReconciliationItem)).one()
        assert (item.status, json.loads(item.candidates_json)) == ("open", [])
        entry = session.get_one(JournalEntry, session.scalars(select(ImportedDocument.entry_id)).one())
        assert entry.memo == "receipt B-1, payer not identified"
    assert_ledger_verifies(container)


def test_a_payer_name_close_to_a_customers_is_a_candidate_not_a_posting(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "bank.jsonl",
        {"kind": "bank_line", "id": "B-2", "amount": "50.00", "payer": "上海明远贸易 有限公司"},
    )
    import_file(container, path, PARSERS)
    with unit_of_work(container.sessions) as session:
        [candidate] = json.loads(session.scalars(select(ReconciliationItem.candidates_json)).one())
    assert (candidate["account_no"], candidate["tier"], candidate["score"]) == (customers["acme"], 3, 100)


def test_a_receipt_allocated_to_another_customers_invoice_waits_naming_both_and_one_to_its_own_posts(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    bills = write(
        tmp_path / "bills.jsonl", invoice("AR1004", qinghe, "800.00"), invoice("AR1005", acme, "300.00")
    )
    import_file(container, bills, PARSERS)
    paid_by_acme = {"kind": "payment", "payer": "上海明远贸易有限公司", "account_no": "C0001"}  # no known id
    path = write(
        tmp_path / "receipts.jsonl",
        {**paid_by_acme, "id": "SKD502", "amount": "800.00", "applied": {"AR1004": "800.00"}},
        {**paid_by_acme, "id": "SKD503", "amount": "300.00", "applied": {"AR1005": "300.00"}},
    )
    result = import_file(container, path, PARSERS)
    assert (result.counts["payments_posted"], result.counts["receipts_unapplied"]) == (1, 1)
    assert receivable(container, acme) == Money.zero("CNY")  # its own invoice, paid by itself: posted
    assert receivable(container, qinghe) == Money.of("800.00", "CNY")  # nobody's until a person says
    with unit_of_work(container.sessions) as session:
        item = session.scalars(select(ReconciliationItem)).one()
        waiting = session.get_one(ImportedDocument, item.document_id)
    assert waiting.external_id == "SKD502"
    assert [(c["account_no"], c["tier"], c["why"]) for c in json.loads(item.candidates_json)] == [
        (qinghe, 1, "invoice AR1004 in the document"),
        (acme, 3, "named in the document (its name exactly)"),
    ]
    assert waiting.match_rule == (
        f"the document points to 2 customers ({qinghe}: invoice AR1004 in the document; {acme}: named in the "
        "document (its name exactly)): waiting for a person"
    )
    assert_ledger_verifies(container)


def test_a_file_imported_after_another_process_rotated_the_keys_reads_and_seals_with_the_new_key(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    first = write(tmp_path / "first.jsonl", invoice("INV-1", customers["acme"], "10.00"))
    assert import_file(container, first, PARSERS).status == "imported"  # this process's key ring read
    keys_file = container.settings.security.keys_file
    rotated = read_keyring_file(keys_file).rotated()
    save_keyring(keys_file, rotated)  # `connector keys rotate` in another process …
    reencrypt_all(container.sessions, FieldCipher(rotated))  # … re-sealing every name under its new key
    path = write(
        tmp_path / "bank.jsonl",
        {"kind": "bank_line", "id": "B-9", "amount": "50.00", "payer": "上海明远贸易 有限公司"},
    )

    result = import_file(container, path, PARSERS)

    assert (result.status, result.reason) == ("imported", "")
    with unit_of_work(container.sessions) as session:
        [candidate] = json.loads(session.scalars(select(ReconciliationItem.candidates_json)).one())
        payer = session.scalars(select(ReconciliationItem.payer_enc)).one()
    assert candidate["account_no"] == customers["acme"]  # the name re-sealed under the new key was read
    assert (payer or "").startswith(f"{rotated.active_id}:")  # what it wrote: sealed with the new key


def test_a_known_payer_bank_account_posts_to_its_customer_and_an_overpayment_becomes_its_credit(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    path = write(
        tmp_path / "mixed.jsonl",
        invoice("INV-7", acme, "300.00"),
        {"kind": "bank_line", "id": "B-3", "amount": "500.00", "bank_account": "6222021000001234"},
    )
    result = import_file(container, path, PARSERS)
    assert result.counts["receipts_posted"] == 1
    with unit_of_work(container.sessions) as session:
        lines = {(line.account_code, str(line.balance)) for line in customer_balances(session, acme)}
        tier = session.scalars(
            select(ImportedDocument.match_tier).where(ImportedDocument.external_id == "B-3")
        )
        assert tier.one() == 2
    chart = container.settings.ledger.chart
    assert lines == {(chart.receivable.code, "0.00 CNY"), (chart.advances.code, "-200.00 CNY")}
    assert_ledger_verifies(container)


def test_a_payment_applied_to_a_younger_invoice_pays_that_one_and_leaves_the_older_open(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    books = write(
        tmp_path / "books.jsonl",
        invoice("INV-F-1", acme, "1000.00", date="2026-01-05"),
        invoice("INV-F-2", acme, "300.00", date="2026-03-01"),
        {
            "kind": "payment",
            "id": "P-F",
            "amount": "300.00",
            "date": "2026-03-10",
            "applied": {"INV-F-2": "300.00"},
        },
        {"kind": "payment", "id": "P-G", "amount": "100.00", "date": "2026-03-11", "references": ["INV-F-2"]},
    )
    import_file(container, books, PARSERS)
    # P-F pays INV-F-2 as applied; P-G names INV-F-2, already paid, and so pays the oldest
    assert open_invoices(container, acme, date(2026, 3, 15)) == [("INV-F-1", 90000)]


def test_a_changed_document_is_reversed_and_reposted_as_its_next_revision(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "v1.jsonl", invoice("INV-9", acme, "100.00")), PARSERS)
    result = import_file(container, write(tmp_path / "v2.jsonl", invoice("INV-9", acme, "120.00")), PARSERS)
    assert result.counts["reposted"] == 1
    assert receivable(container, acme) == Money.of("120.00", "CNY")
    with unit_of_work(container.sessions) as session:
        document = session.scalars(select(ImportedDocument)).one()
        assert (document.revision, document.status) == (2, "posted")
        memos = sorted(session.scalars(select(JournalEntry.memo)))
    assert "test INV-9 changed: reversed, reposted as revision 2" in memos
    assert_ledger_verifies(container)


def test_a_re_export_changing_every_document_reposts_them_in_as_many_statements_for_many_as_for_few(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]

    def changed_export(prefix: str, count: int) -> tuple[Path, Path]:
        def documents(cents: str) -> list[dict[str, Any]]:
            return [
                document
                for n in range(count)
                for document in (
                    invoice(f"{prefix}-INV-{n}", acme, f"100.{cents}"),
                    {
                        "kind": "bank_line",
                        "id": f"{prefix}-B-{n}",
                        "amount": f"7.{cents}",
                        "payer": "Nobody Known",
                    },
                )
            ]

        return write(tmp_path / f"{prefix}1.jsonl", *documents("00")), write(
            tmp_path / f"{prefix}2.jsonl", *documents("50")
        )

    def statements_reposting(prefix: str, count: int) -> int:
        first, changed = changed_export(prefix, count)
        import_file(container, first, PARSERS)
        executed: list[str] = []

        def count_it(*args: Any) -> None:
            executed.append(args[2])

        event.listen(container.engine, "before_cursor_execute", count_it)
        try:
            result = import_file(container, changed, PARSERS)
        finally:
            event.remove(container.engine, "before_cursor_execute", count_it)
        assert result.counts["reposted"] == 2 * count
        return len(executed)

    assert statements_reposting("FEW", 5) == statements_reposting("MANY", 60)
    assert receivable(container, acme) == Money(65 * 100_50, "CNY")
    assert_ledger_verifies(container)


def test_a_changed_receipt_waiting_for_a_person_is_reversed_and_waits_again_as_its_next_revision(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    line = {"kind": "bank_line", "id": "B-UNK", "amount": "777.00", "payer": "Somebody Unknown"}
    import_file(container, write(tmp_path / "a.jsonl", {**line, "references": ["misc"]}), PARSERS)
    again = import_file(
        container, write(tmp_path / "b.jsonl", {**line, "references": ["misc, corrected"]}), PARSERS
    )
    assert (again.status, again.counts["reposted"], again.counts["receipts_unapplied"]) == ("imported", 1, 1)
    with unit_of_work(container.sessions) as session:
        document = session.scalars(select(ImportedDocument)).one()
        item = session.scalars(select(ReconciliationItem)).one()
        assert (document.revision, document.status, item.status) == (2, "unapplied", "open")
    assert_ledger_verifies(container)


def test_a_file_imported_again_for_its_bad_rows_leaves_a_document_a_later_file_changed_as_it_is(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    payment = {"kind": "payment", "id": "P-5", "account_no": acme}
    older = write(tmp_path / "older.jsonl", {**payment, "amount": "1600.00"}, "not json")
    import_file(container, older, PARSERS)
    import_file(container, write(tmp_path / "newer.jsonl", {**payment, "amount": "1700.00"}), PARSERS)

    preview = import_file(container, older, PARSERS, again=True, rows={2}, dry_run=True)
    retried = import_file(container, older, PARSERS, again=True, rows={2})  # row 2 was quarantined

    assert (preview.counts["not_retried"], preview.counts["reposted"]) == (1, 0)
    assert (retried.counts["not_retried"], retried.counts["reposted"], retried.counts["quarantined"]) == (
        1,
        0,
        1,
    )
    with unit_of_work(container.sessions) as session:
        document = session.scalars(select(ImportedDocument)).one()
        assert (document.revision, document.amount_minor, document.status) == (2, 170000, "posted")
    assert_ledger_verifies(container)


def test_bad_lines_and_invoices_without_a_known_customer_are_quarantined_and_the_rest_imports(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "rough.jsonl",
        "{not json",
        invoice("INV-20", "NOBODY01", "10.00", payer="Nobody Ltd"),
        invoice("INV-21", customers["qinghe"], "10.00"),
        {"kind": "bank_line", "id": "B-OUT", "amount": "-25.00"},
    )
    result = import_file(container, path, PARSERS)
    assert (result.counts["quarantined"], result.counts["invoices_posted"]) == (2, 1)
    assert result.counts["ignored_outgoing"] == 1
    with unit_of_work(container.sessions) as session:
        reasons = {q.record_ref: q.reason for q in session.scalars(select(QuarantinedRecord))}
    assert reasons["rough.jsonl:1"].startswith("unreadable line")
    assert reasons["rough.jsonl:2"] == (
        "no customer for this invoice (account number NOBODY01): no rule found a customer"
    )


def test_a_document_of_no_amount_is_recorded_as_ignored_and_posted_once_it_has_one(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    trial = invoice("INV-T0", acme, "0.00")  # a free trial's invoice
    nothing = {"kind": "payment", "id": "P-T0", "amount": "0.00", "account_no": acme}

    first = import_file(container, write(tmp_path / "a.jsonl", trial, nothing), PARSERS)
    other_bytes = {"kind": "x"}  # (quarantined) so that the file is read, not skipped as the same
    again = import_file(container, write(tmp_path / "b.jsonl", trial, nothing, other_bytes), PARSERS)
    billed = import_file(container, write(tmp_path / "c.jsonl", {**trial, "amount": "12.00"}), PARSERS)

    assert (first.counts["ignored_zero_amount"], first.counts["quarantined"]) == (2, 0)
    assert again.counts["unchanged"] == 2
    assert billed.counts["invoices_posted"] == 1
    with unit_of_work(container.sessions) as session:
        records = {d.external_id: (d.status, d.match_rule) for d in session.scalars(select(ImportedDocument))}
    assert records == {"INV-T0": ("posted", ANY), "P-T0": ("ignored", "a zero amount: nothing to post")}
    assert_ledger_verifies(container)


def test_a_reversal_cancels_the_original_receipt(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    path = write(
        tmp_path / "bank.jsonl",
        invoice("INV-30", acme, "70.00"),
        {"kind": "bank_line", "id": "B-30", "amount": "70.00", "references": ["INV-30"]},
        {"kind": "bank_line", "id": "B-30R", "amount": "-70.00", "reverses": "B-30"},
    )
    result = import_file(container, path, PARSERS)
    assert result.counts["reversed"] == 1
    assert receivable(container, acme) == Money.of("70.00", "CNY")
    assert_ledger_verifies(container)


def test_a_banks_return_naming_its_line_says_the_return_reason_in_the_reversal(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "bank.jsonl",
        invoice("INV-31", customers["acme"], "70.00"),
        {"kind": "bank_line", "id": "B-31", "amount": "70.00", "references": ["INV-31"]},
        {"kind": "bank_line", "id": "B-31R", "amount": "-70.00", "reverses": "B-31", "return_reason": "AC04"},
    )
    assert import_file(container, path, PARSERS).counts["reversed"] == 1
    with unit_of_work(container.sessions) as session:
        line = session.scalars(select(ImportedDocument).where(ImportedDocument.external_id == "B-31R")).one()
        entry = session.get_one(JournalEntry, line.entry_id)
    assert entry.memo == "returned (AC04): reversed by test B-31R"
    assert line.match_rule == "reverses B-31 (AC04)"
    assert_ledger_verifies(container)


def test_a_return_naming_its_payer_never_reverses_another_payers_receipt_of_that_amount(
    container: Container, tmp_path: Path
) -> None:
    """The returned direct debit came in a collection booked as one batch entry: the only receipt of its
    amount is another payer's transfer, which stays."""
    day_one = write(
        tmp_path / "day1.jsonl",
        {"kind": "bank_line", "id": "DD-BATCH-1", "date": "2026-03-10", "amount": "300.00"},
        {
            "kind": "bank_line",
            "id": "TRF-Y",
            "date": "2026-03-10",
            "amount": "100.00",
            "payer": "Kunde Y",
            "bank_account": "FR1420041010050500013M02606",
        },
    )
    import_file(container, day_one, PARSERS)
    returned = {
        "kind": "bank_line",
        "id": "RET-Z",
        "date": "2026-03-13",
        "amount": "-100.00",
        "payer": "Kunde Z",
        "bank_account": "DE89370400440532013000",
        "bank_reversal": True,
    }

    result = import_file(container, write(tmp_path / "day3.jsonl", returned), PARSERS)

    assert (result.counts["reversed"], result.counts["quarantined"]) == (0, 1)
    with unit_of_work(container.sessions) as session:
        statuses = dict(session.execute(select(ImportedDocument.external_id, ImportedDocument.status)).all())
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
    assert statuses["TRF-Y"] == "unapplied"
    assert "the lines of that amount (TRF-Y) are others'" in reason


def test_a_bank_returning_a_receipt_reverses_it_and_the_customer_owes_again(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    march = write(
        tmp_path / "march.jsonl",
        invoice("INV-40", acme, "80.00"),
        {
            "kind": "bank_line",
            "id": "B-40",
            "date": "2026-03-02",
            "amount": "80.00",
            "references": ["INV-40"],
        },
        {"kind": "bank_line", "id": "B-41", "date": "2026-03-03", "amount": "-15.00"},
    )
    import_file(container, march, PARSERS)
    assert receivable(container, acme) == Money.zero("CNY")
    april = write(
        tmp_path / "april.jsonl",
        {"kind": "bank_line", "id": "R-1", "date": "2026-04-01", "amount": "-80.00", "bank_reversal": True},
        {"kind": "bank_line", "id": "R-2", "date": "2026-04-01", "amount": "15.00", "bank_reversal": True},
        {"kind": "bank_line", "id": "R-3", "date": "2026-04-01", "amount": "-99.00", "bank_reversal": True},
    )
    result = import_file(container, april, PARSERS)
    assert (result.counts["reversed"], result.counts["quarantined"]) == (2, 1)
    assert receivable(container, acme) == Money.of("80.00", "CNY")
    with unit_of_work(container.sessions) as session:
        statuses = dict(session.execute(select(ImportedDocument.external_id, ImportedDocument.status)).all())
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
    assert (statuses["B-40"], statuses["B-41"], statuses["R-1"], statuses["R-2"]) == (
        "reversed",
        "reversed",
        "reversal",
        "reversal",
    )
    assert reason == "a returned receipt of 99.00 CNY whose receipt was never imported"
    assert_ledger_verifies(container)


def test_an_invoice_quickbooks_desktop_voided_since_is_reversed_and_stays_so(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    qinghe = customers["qinghe"]
    block = (
        "!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\n"
        "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\n!ENDTRNS\n"
        "TRNS\t101\tINVOICE\t03/05/26\tAccounts Receivable\t杭州青禾科技\t{amount}\t7\t{memo}\n"
        "SPL\t102\tINVOICE\t03/05/26\tSales\t杭州青禾科技\t-{amount}\t7\t{memo}\n"
        "ENDTRNS\n"
    )
    parsers = [IifParser(currency="CNY", index_key=lambda: container.keyring.index_key)]
    issued, voided = tmp_path / "issued.iif", tmp_path / "voided.iif"
    issued.write_text(block.format(amount="1500.00", memo="March"), encoding="utf-8")
    voided.write_text(
        block.format(amount="0.00", memo="VOID: March").replace("-0.00", "0.00"), encoding="utf-8"
    )
    assert import_file(container, issued, parsers).counts["invoices_posted"] == 1
    assert receivable(container, qinghe) == Money.of("1500.00", "CNY")

    assert import_file(container, voided, parsers).counts["reversed"] == 1

    assert receivable(container, qinghe) == Money.zero("CNY")
    assert import_file(container, issued, parsers, again=True).counts["unchanged"] == 1
    assert receivable(container, qinghe) == Money.zero("CNY")
    assert_ledger_verifies(container)


QINGHE_IIF = (
    "!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\n"
    "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\n!ENDTRNS\n"
    "TRNS\t201\tINVOICE\t03/05/26\tAccounts Receivable\t{name}\t1200.00\t1001\tMarch\n"
    "SPL\t202\tINVOICE\t03/05/26\tSales\t{name}\t-1200.00\t1001\t\n"
    "ENDTRNS\n"
)


def test_an_iif_file_without_a_currency_column_is_in_the_ledgers_currency_unless_iif_currency_says(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "qb.iif"
    path.write_text(QINGHE_IIF.format(name="杭州青禾科技"), encoding="utf-8")

    assert import_file(container, path, container.document_parsers()).counts["invoices_posted"] == 1

    assert receivable(container, customers["qinghe"]) == Money.of("1200.00", "CNY")
    settings = container.settings
    euro = settings.model_copy(
        update={"imports": settings.imports.model_copy(update={"iif_currency": "EUR"})}
    )
    parsers = dataclasses.replace(container, settings=euro).document_parsers()
    assert next(p for p in parsers if isinstance(p, IifParser)).currency == "EUR"


def test_an_iif_file_from_a_chinese_windows_naming_a_job_posts_to_its_customer(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "qb.iif"
    path.write_bytes(QINGHE_IIF.format(name="杭州青禾科技:仓库").encode("gbk"))

    assert import_file(container, path, container.document_parsers()).counts["invoices_posted"] == 1

    assert receivable(container, customers["qinghe"]) == Money.of("1200.00", "CNY")
    assert_ledger_verifies(container)


def test_an_iif_payment_with_a_discount_settles_the_invoice_whole(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "qb.iif"
    path.write_text(
        QINGHE_IIF.format(name="杭州青禾科技")
        + "TRNS\t301\tPAYMENT\t03/20/26\tUndeposited Funds\t杭州青禾科技\t1176.00\t512\tInv 1001\n"
        + "SPL\t302\tPAYMENT\t03/20/26\tAccounts Receivable\t杭州青禾科技\t-1200.00\t512\t\n"
        + "SPL\t303\tPAYMENT\t03/20/26\tDiscounts Given\t杭州青禾科技\t24.00\t512\t\n"
        + "ENDTRNS\n",
        encoding="utf-8",
    )

    result = import_file(container, path, container.document_parsers())

    assert (result.counts["documents"], result.counts["quarantined"]) == (3, 0)
    assert receivable(container, customers["qinghe"]) == Money.zero("CNY")
    with unit_of_work(container.sessions) as session:
        held = session.scalars(select(ImportedDocument).where(ImportedDocument.source == "qb_iif"))
        kinds = {(d.external_id, d.kind, d.amount_minor) for d in held}
    assert kinds == {
        ("201", "invoice", 120000),
        ("301", "payment", 117600),
        ("301.kept", "credit_note", 2400),
    }
    assert_ledger_verifies(container)


def test_a_returned_receipt_sent_again_with_other_content_stays_reversed(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    line = {"kind": "bank_line", "id": "B-50", "date": "2026-03-02", "amount": "80.00"}
    returned = {
        "kind": "bank_line",
        "id": "R-50",
        "date": "2026-04-01",
        "amount": "-80.00",
        "bank_reversal": True,
    }
    import_file(
        container,
        write(tmp_path / "m.jsonl", invoice("INV-50", acme, "80.00"), {**line, "references": ["INV-50"]}),
        PARSERS,
    )
    import_file(container, write(tmp_path / "a.jsonl", returned), PARSERS)

    resent = write(tmp_path / "m2.jsonl", {**line, "references": ["INV-50 Rechnung"]})
    result = import_file(container, resent, PARSERS)

    assert (result.counts["kept_reversed"], result.counts["receipts_posted"]) == (1, 0)
    assert receivable(container, acme) == Money.of("80.00", "CNY")
    with unit_of_work(container.sessions) as session:
        document = session.scalars(
            select(ImportedDocument).where(ImportedDocument.external_id == "B-50")
        ).one()
        assert (document.revision, document.status) == (2, "reversed")
    assert_ledger_verifies(container)


def test_a_replacement_line_reverses_the_line_it_replaces_and_posts_its_own_amount(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    path = write(
        tmp_path / "bank.jsonl",
        invoice("INV-50", acme, "100.00"),
        {"kind": "bank_line", "id": "B-50", "amount": "60.00", "references": ["INV-50"]},
        {"kind": "bank_line", "id": "B-51", "amount": "100.00", "references": ["INV-50"], "replaces": "B-50"},
    )
    import_file(container, path, PARSERS)
    assert receivable(container, acme) == Money.zero("CNY")
    with unit_of_work(container.sessions) as session:
        statuses = dict(session.execute(select(ImportedDocument.external_id, ImportedDocument.status)).all())
    assert (statuses["B-50"], statuses["B-51"]) == ("reversed", "posted")
    assert_ledger_verifies(container)


def test_a_credit_note_beyond_what_is_owed_leaves_its_rest_as_credit_as_an_overpayment_would(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    qinghe = customers["qinghe"]
    credit = {**invoice("CN-1", qinghe, "250.00", date="2026-03-02"), "kind": "credit_note"}
    before = write(tmp_path / "a.jsonl", invoice("N1", qinghe, "100.00", date="2026-03-01"), credit)
    import_file(container, before, PARSERS)
    import_file(
        container, write(tmp_path / "b.jsonl", invoice("N2", qinghe, "80.00", date="2026-03-03")), PARSERS
    )

    with unit_of_work(container.sessions) as session:
        balances = {line.account_code: line.balance for line in customer_balances(session, qinghe)}
    chart = container.settings.ledger.chart
    assert balances[chart.receivable.code] == Money.of("80.00", "CNY")  # never a negative receivable
    assert balances[chart.advances.code] == Money.of("-150.00", "CNY")  # its credit, as unapplied credit
    assert open_invoices(container, qinghe, date(2026, 3, 31)) == [("N2", 8000)]
    assert_ledger_verifies(container)


def test_a_credit_note_taking_an_invoices_id_waits_in_quarantine_and_the_invoice_stands(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "inv.jsonl", invoice("1001", acme, "500.00")), PARSERS)
    memo = {**invoice("1001", acme, "50.00"), "kind": "credit_note"}

    result = import_file(container, write(tmp_path / "memo.jsonl", memo), PARSERS)

    assert (result.counts["quarantined"], result.counts["reversed"]) == (1, 0)
    assert receivable(container, acme) == Money.of("500.00", "CNY")
    with unit_of_work(container.sessions) as session:
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
    assert reason.startswith(
        "test 1001 was imported as an invoice; this credit note has its id, so it is another"
    )
    assert_ledger_verifies(container)


def test_a_credit_note_naming_an_invoice_in_another_currency_waits_in_quarantine_saying_so(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    qinghe = customers["qinghe"]  # its figures are in CNY
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-1", qinghe, "1000.00")), PARSERS)
    memo = {
        **invoice("CN-1", qinghe, "100.00", currency="USD", applied={"INV-1": "100.00"}),
        "kind": "credit_note",
    }

    result = import_file(container, write(tmp_path / "memo.jsonl", memo), PARSERS)

    assert (result.counts["quarantined"], result.counts["credit_notes_posted"]) == (1, 0)
    assert open_invoices(container, qinghe, date(2026, 3, 31)) == [("INV-1", 100000)]
    with unit_of_work(container.sessions) as session:
        balances = [line.balance for line in customer_balances(session, qinghe)]
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
    assert balances == [Money.of("1000.00", "CNY")]  # nothing in USD: no credit out of it
    assert reason == (
        f"names invoice INV-1 of {qinghe}, in CNY: a USD credit note does not settle an invoice in "
        f"another currency (applied to {qinghe}, it counts in its USD balance and INV-1 stays open): "
        "nothing is posted; correct it in the accounting system (its currency, or the invoice it "
        "names), then import it again or resolve this record"
    )
    assert_ledger_verifies(container)


ZOHO_INVOICES_HEADER = (
    "Invoice Date,Invoice ID,Invoice Number,Invoice Status,Customer ID,Customer Name,Due Date,"
    "PurchaseOrder,Currency Code,Exchange Rate,Item Name,Quantity,Item Price,Item Total,Total,Balance"
)


def zoho_books_invoices(path: Path, *rows: tuple[str, str, str]) -> Path:
    """A Zoho Books invoice export of Acme Trading Co.'s 50.00 USD invoices: (id, number, status)."""
    lines = [
        f"2026-03-02,{ident},{number},{status},,Acme Trading Co.,2026-04-01,,USD,1.00,Widget,1,50.00,"
        "50.00,50.00,50.00"
        for ident, number, status in rows
    ]
    path.write_text("\n".join([ZOHO_INVOICES_HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def acme_invoice_exports(
    container: Container, tmp_path: Path
) -> tuple[list[DocumentParser], Callable[..., Path], Callable[[], Money]]:
    """Acme Trading Co. made in the ledger: the parsers, a writer of its Zoho Books invoice exports
    (`another_export_of`, named in `tmp_path`) and what it owes."""
    with unit_of_work(container.sessions) as session:
        acme = container.customers(session).create(NewCustomer("Acme Trading Co.", "SME", "US", "USD"))

    def export(name: str, *rows: tuple[str, str, str]) -> Path:
        return another_export_of(tmp_path / name, *rows)

    return container.document_parsers(), export, lambda: receivable(container, acme.account_no)


def another_export_of(path: Path, *rows: tuple[str, str, str]) -> Path:
    """`zoho_books_invoices` with a draft named after the file besides: each export other bytes, so none
    is skipped as a file imported before."""
    return zoho_books_invoices(path, *rows, (path.name, path.name, "Draft"))


def test_an_invoice_voided_after_its_import_is_reversed_and_one_void_from_the_start_posts_nothing(
    container: Container, tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        acme = container.customers(session).create(NewCustomer("Acme Trading Co.", "SME", "US", "USD"))

    def export(name: str, *rows: tuple[str, str, str]) -> Path:
        return zoho_books_invoices(tmp_path / name, *rows)

    parsers = container.document_parsers()
    import_file(container, export("march.csv", ("9001", "INV-9001", "Sent")), parsers)
    assert receivable(container, acme.account_no) == Money.of("50.00", "USD")

    voided = export("april.csv", ("9001", "INV-9001", "Void"), ("9002", "INV-9002", "Void"))
    result = import_file(container, voided, parsers)

    assert (result.counts["reversed"], result.counts["withdrawn_before_import"]) == (1, 1)
    assert result.counts["quarantined"] == 0
    assert receivable(container, acme.account_no) == Money.zero("USD")
    again = import_file(container, voided, parsers, again=True)
    assert again.counts["unchanged"] == 2
    assert receivable(container, acme.account_no) == Money.zero("USD")
    assert_ledger_verifies(container)


EXPORTS = REPO / "tests" / "fixtures" / "exports"


def xero_customers(container: Container) -> dict[str, str]:
    """The customers of the Xero fixtures by nickname: harbour and kiwi (NZD), sydney (AUD)."""
    return {
        "harbour": add_customer(container, "Harbour Cafe Ltd", currency="NZD"),
        "kiwi": add_customer(container, "Kiwi Builders", currency="NZD"),
        "sydney": add_customer(container, "Sydney Imports Pty Ltd", currency="AUD"),
    }


def test_xero_invoices_and_credit_notes_are_what_customers_owe_and_xero_payments_settle_them(
    container: Container,
) -> None:
    parsers = container.document_parsers()
    xero = xero_customers(container)

    invoices = import_file(container, EXPORTS / "xero_invoices.csv", parsers)

    assert invoices.format == "xero.invoices"
    assert (invoices.counts["invoices_posted"], invoices.counts["credit_notes_posted"]) == (3, 1)
    assert (invoices.counts["withdrawn_before_import"], invoices.counts["quarantined"]) == (2, 0)
    owed = {nickname: receivable(container, account) for nickname, account in xero.items()}
    assert owed == {  # each invoice's total once, whatever its line items; drafts and voided ones nothing
        "harbour": Money.of("1150.00", "NZD"),
        "kiwi": Money.of("805.00", "NZD"),  # INV-0043 920.00 less credit note CN-0007 115.00
        "sydney": Money.of("2200.00", "AUD"),
    }
    again = import_file(container, EXPORTS / "xero_invoices.csv", parsers, again=True)
    assert again.counts["unchanged"] == again.counts["documents"] == 6
    assert {nickname: receivable(container, account) for nickname, account in xero.items()} == owed

    payments = import_file(container, EXPORTS / "xero_payments.csv", parsers)

    assert payments.counts["payments_posted"] == 3  # INV-0044's is dated 31 Feb: quarantined
    assert {nickname: receivable(container, account) for nickname, account in xero.items()} == {
        "harbour": Money.zero("NZD"),
        "kiwi": Money.of("305.00", "NZD"),
        "sydney": Money.zero("AUD"),
    }
    assert_ledger_verifies(container)


def test_a_xero_invoice_voided_in_a_later_export_is_reversed_and_that_export_again_changes_nothing(
    container: Container, tmp_path: Path
) -> None:
    parsers = container.document_parsers()
    xero = xero_customers(container)
    import_file(container, EXPORTS / "xero_invoices.csv", parsers)
    later = tmp_path / "april.csv"
    text = (EXPORTS / "xero_invoices.csv").read_text("utf-8")
    voided = text.replace(",1150.00,150.00,1150.00,0.00,", ",1150.00,150.00,0.00,0.00,").replace(
        ",PAID\n", ",VOIDED\n", 3
    )
    later.write_text(voided, encoding="utf-8")

    result = import_file(container, later, parsers)

    assert (result.counts["reversed"], result.counts["quarantined"]) == (1, 0)
    assert receivable(container, xero["harbour"]) == Money.zero("NZD")
    assert receivable(container, xero["sydney"]) == Money.of("2200.00", "AUD")  # still PAID: it stands
    assert import_file(container, later, parsers, again=True).counts["reversed"] == 0
    assert receivable(container, xero["harbour"]) == Money.zero("NZD")
    assert_ledger_verifies(container)


def test_zoho_books_credit_notes_lower_what_their_customers_owe_and_a_void_one_is_reversed(
    container: Container, tmp_path: Path
) -> None:
    parsers = container.document_parsers()
    acme = add_customer(container, "Acme Trading Co.", currency="USD")
    muller = add_customer(container, "Müller Maschinenbau GmbH", currency="EUR")
    xingchen = add_customer(container, "上海星辰贸易有限公司")
    import_file(container, EXPORTS / "zoho_books_invoices.csv", parsers)
    assert receivable(container, acme) == Money.of("3800.00", "USD")  # INV-000101 and INV-000102

    notes = import_file(container, EXPORTS / "zoho_books_credit_notes.csv", parsers)

    assert notes.format == "zoho_books.credit_notes"
    assert (notes.counts["credit_notes_posted"], notes.counts["withdrawn_before_import"]) == (3, 1)
    assert notes.counts["quarantined"] == 0
    assert receivable(container, acme) == Money.of("3450.00", "USD")  # CN-00011: 350.00, its two items once
    assert receivable(container, muller) == Money.of("2400.00", "EUR")
    assert receivable(container, xingchen) == Money.of("9600.00", "CNY")
    again = import_file(container, EXPORTS / "zoho_books_credit_notes.csv", parsers, again=True)
    assert again.counts["unchanged"] == again.counts["documents"] == 4
    later = tmp_path / "april.csv"
    text = (EXPORTS / "zoho_books_credit_notes.csv").read_text("utf-8-sig")
    later.write_text(text.replace(",CN-00011,Open,", ",CN-00011,Void,"), encoding="utf-8")

    voided = import_file(container, later, parsers)

    assert voided.counts["reversed"] == 1
    assert receivable(container, acme) == Money.of("3800.00", "USD")
    assert_ledger_verifies(container)


def test_a_company_bracketing_a_place_in_its_name_is_no_namesake_of_the_one_without_it(
    container: Container,
) -> None:
    with unit_of_work(container.sessions) as session:
        directory = container.customers(session)
        mainland = directory.create(
            NewCustomer("浙江宁波华东进出口贸易有限公司", "SME", "ZJ", "CNY")
        ).account_no
        hong_kong = directory.create(
            NewCustomer("明远国际贸易（香港）有限公司", "SME", "HK", "HKD")
        ).account_no
    with unit_of_work(container.sessions) as session:
        known = KnownCustomers(session, container.cipher, container.settings.ledger.chart.receivable.code)
        # the Hong Kong company's receipt scores 92 against its mainland namesake: no name match
        assert known.by_name("浙江宁波华东进出口贸易（香港）有限公司", 90) == []
        assert known.by_name("浙江宁波华东进出口贸易有限公司", 90) == [(mainland, 100)]
        assert known.by_name("明远国际贸易有限公司", 85) == []  # nor the other way round
        assert known.by_exact_name("明远国际贸易(香港)有限公司") == [hong_kong]
        assert known.by_exact_name("明远国际贸易香港有限公司") == [hong_kong]  # its place, unbracketed


def kingdee_bills(path: Path, account_no: str, *bills: tuple[str, str, str]) -> Path:
    """A 金蝶 应收单 list of 1,000.00 CNY bills of one customer: (单据编号, 单据状态, 作废状态)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(
        ["单据编号", "业务日期", "到期日", "客户编码", "客户", "币别", "价税合计", "单据状态", "作废状态"]
    )
    for number, status, void in bills:
        row = [number, "2026-03-05", "2026-04-04", account_no, "北京青禾科技有限公司", "人民币", 1000]
        sheet.append([*row, status, void])
    book.save(path)
    return path


def test_a_kingdee_bill_un_audited_or_voided_after_its_import_is_reversed_and_one_in_audit_posts_once_audited(
    container: Container, tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        qinghe = container.customers(session).create(NewCustomer("北京青禾科技有限公司", "SME", "BJ", "CNY"))
    parsers = container.document_parsers()

    def export(name: str, *bills: tuple[str, str, str]) -> Path:
        return kingdee_bills(tmp_path / name, qinghe.account_no, *bills)

    def owed() -> Money:
        return receivable(container, qinghe.account_no)

    march = export(
        "march.xlsx", ("AR101", "已审核", "未作废"), ("AR102", "已审核", "未作废"), ("AR103", "审核中", "")
    )
    first = import_file(container, march, parsers)
    assert (first.counts["invoices_posted"], first.counts["withdrawn_before_import"]) == (2, 1)
    assert owed() == Money.of("2000", "CNY")

    april = export(
        "april.xlsx", ("AR101", "重新审核", ""), ("AR102", "重新审核", "已作废"), ("AR103", "已审核", "")
    )
    second = import_file(container, april, parsers)

    assert (second.counts["reversed"], second.counts["invoices_posted"]) == (2, 1)  # AR103 audited now
    assert second.counts["quarantined"] == 0
    assert owed() == Money.of("1000", "CNY")
    may = export(
        "may.xlsx", ("AR101", "已审核", ""), ("AR102", "重新审核", "已作废"), ("AR103", "已审核", "")
    )
    third = import_file(container, may, parsers)
    assert (third.counts["restored"], third.counts["unchanged"]) == (1, 2)  # AR101 audited again
    assert owed() == Money.of("2000", "CNY")
    assert_ledger_verifies(container)


def test_an_invoice_restored_after_its_void_is_posted_again_and_voided_again_is_reversed_again(
    container: Container, tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        acme = container.customers(session).create(NewCustomer("Acme Trading Co.", "SME", "US", "USD"))
    parsers = container.document_parsers()

    def export(name: str, status: str) -> Path:  # another draft in each: no two files are the same bytes
        return zoho_books_invoices(tmp_path / name, ("9001", "INV-9001", status), (name, name, "Draft"))

    def owed() -> Money:
        return receivable(container, acme.account_no)

    march, april = export("march.csv", "Sent"), export("april.csv", "Void")
    import_file(container, march, parsers)
    assert import_file(container, april, parsers).counts["reversed"] == 1
    may = export("may.csv", "Sent")  # Zoho Books: "Convert to Open" on the void invoice

    restored = import_file(container, may, parsers)

    assert (restored.counts["invoices_posted"], restored.counts["restored"]) == (1, 1)
    assert (
        describe(restored)
        .splitlines()[0]
        .endswith("(of them 1 void or deleted before and live again: posted again)")
    )
    assert owed() == Money.of("50.00", "USD")
    assert import_file(container, may, parsers, again=True).counts["unchanged"] == 1
    for older in (march, april):  # taken up again, an earlier file says nothing new
        assert import_file(container, older, parsers, again=True).counts["unchanged"] == 1
    assert owed() == Money.of("50.00", "USD")
    with unit_of_work(container.sessions) as session:
        entries = session.execute(
            select(JournalEntry.voucher_file, JournalEntry.is_reversal, JournalEntry.memo).order_by(
                JournalEntry.id
            )
        ).all()
    assert [(file, reversal) for file, reversal, _ in entries] == [
        ("march.csv", False),
        ("april.csv", True),
        ("may.csv", False),
    ]
    assert entries[2].memo == "invoice INV-9001; live again after its withdrawal in april.csv"

    voided_again = import_file(container, export("june.csv", "Void"), parsers)

    assert voided_again.counts["reversed"] == 1
    assert owed() == Money.zero("USD")
    assert import_file(container, may, parsers, again=True).counts["unchanged"] == 1
    assert owed() == Money.zero("USD")
    assert import_file(container, export("july.csv", "Paid"), parsers).counts["restored"] == 1
    assert owed() == Money.of("50.00", "USD")
    assert_ledger_verifies(container)


def test_an_export_listing_an_invoice_both_void_and_open_leaves_it_void_whatever_it_was_before(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsers, export, owed = acme_invoice_exports(container, tmp_path)
    live, void = ("9001", "INV-9001", "Sent"), ("9001", "INV-9001", "Void")

    import_file(container, export("march.csv", live), parsers)
    import_file(container, export("april.csv", void), parsers)
    for month, rows in (("may", (live, void)), ("june", (void, live))):
        assert import_file(container, export(f"{month}.csv", *rows), parsers).status == "imported"
        assert owed() == Money.zero("USD"), month
    import_file(container, export("july.csv", live), parsers)
    assert owed() == Money.of("50.00", "USD")
    for month, rows in (("august", (void, live)), ("september", (live, void))):
        import_file(container, export(f"{month}.csv", *rows), parsers)
        assert owed() == Money.zero("USD"), month
        import_file(container, export(f"{month}-open.csv", live), parsers)
    in_batches_of(1, container, monkeypatch)  # the two rows in two batches
    for month, rows in (("october", (live, void)), ("november", (live, void)), ("december", (void, live))):
        import_file(container, export(f"{month}.csv", *rows), parsers)
        assert owed() == Money.zero("USD"), month
    import_file(container, export("january.csv", live), parsers)
    assert owed() == Money.of("50.00", "USD")
    import_file(container, export("february.csv", void, live), parsers)
    assert owed() == Money.zero("USD")
    assert_ledger_verifies(container)


def test_an_ofx_2_statement_with_a_bom_pays_part_of_one_invoice_and_two_whole_and_honours_its_corrections(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    invoices = [
        invoice("INV-7001", acme, "1000.00", currency="USD"),
        invoice("INV-7002", qinghe, "500.00", currency="USD"),
        invoice("INV-7003", qinghe, "750.00", currency="USD"),
    ]
    import_file(container, write(tmp_path / "invoices.jsonl", *invoices), PARSERS)
    statement = REPO / "tests" / "fixtures" / "statements" / "checking_v2_corrections_bom.ofx"

    result = import_file(container, statement, [OfxParser()])

    assert result.counts["quarantined"] == 1  # the FITID repeated with identical content: booked once
    as_of = date(2026, 3, 31)
    assert open_invoices(container, acme, as_of, "USD") == [("INV-7001", 54250)]  # 400 + 57.50 (not 75)
    assert open_invoices(container, qinghe, as_of, "USD") == []  # one line of 1,250 pays both
    with unit_of_work(container.sessions) as session:
        statuses = dict(session.execute(select(ImportedDocument.external_id, ImportedDocument.status)).all())
    account = "4417 0099 3321"
    assert statuses[f"{account}:20260312-0001"] == "reversed"  # CORRECTACTION DELETE
    assert statuses[f"{account}:20260320-0001"] == "reversed"  # CORRECTACTION REPLACE
    again = import_file(container, statement, [OfxParser()], again=True)
    assert again.counts["unchanged"] == result.counts["documents"]
    assert_ledger_verifies(container)


def test_what_named_a_customer_merged_away_finds_the_one_it_went_into(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-81", qinghe, "300.00")), PARSERS)
    with master(container) as customer_master:
        merge(customer_master, acme, qinghe, "duplicate")
    by_invoice = {"kind": "payment", "id": "P-81", "amount": "300.00", "references": ["货款 INV-81"]}
    by_number = {"kind": "payment", "id": "P-82", "amount": "50.00", "references": [f"acct {qinghe}"]}

    result = import_file(container, write(tmp_path / "pay.jsonl", by_invoice, by_number), PARSERS)

    assert result.counts["payments_posted"] == 2
    with unit_of_work(container.sessions) as session:
        owners = set(
            session.execute(
                select(ImportedDocument.external_id, Customer.account_no)
                .join(Customer, Customer.id == ImportedDocument.customer_id)
                .where(ImportedDocument.kind == "payment")
            ).all()
        )
    assert owners == {("P-81", acme), ("P-82", acme)}
    with unit_of_work(container.sessions) as session:
        survivor = session.scalars(select(Customer.id).where(Customer.account_no == acme)).one()
        chart, credit = container.settings.ledger.chart, container.settings.credit
        figures = customer_figures(session, [survivor], date(2026, 3, 31), chart, credit)[survivor]
    assert (figures["receivable"], figures["overdue"]) == (0, 0)  # INV-81 settled, though on qinghe's ledger
    assert figures["unapplied_credit"] == Decimal("50.00")  # P-82's: nothing else was owed
    assert_ledger_verifies(container)


def test_an_advance_whose_invoice_a_credit_note_settled_too_is_still_credit_to_use(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    paid = {"kind": "payment", "id": "P-E1", "account_no": acme, "amount": "300.00", "date": "2026-02-01"}
    import_file(container, write(tmp_path / "p.jsonl", {**paid, "applied": {"INV-E1": "300.00"}}), PARSERS)
    billed = invoice("INV-E1", acme, "300.00", date="2026-02-05")
    credited = {
        "kind": "credit_note",
        "id": "CN-E1",
        "account_no": acme,
        "amount": "300.00",
        "date": "2026-02-06",
    }
    import_file(container, write(tmp_path / "i.jsonl", billed, credited), PARSERS)

    with unit_of_work(container.sessions) as session:
        survivor = session.scalars(select(Customer.id).where(Customer.account_no == acme)).one()
        chart, credit = container.settings.ledger.chart, container.settings.credit
        figures = customer_figures(session, [survivor], date(2026, 4, 1), chart, credit)[survivor]

    assert (figures["receivable"], figures["unapplied_credit"], figures["balance"]) == (
        Decimal("0.00"),
        Decimal("300.00"),
        Decimal("-300.00"),
    )


def test_a_payment_imported_before_the_invoice_it_names_settles_it_once_it_is_posted(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    paid = {
        "kind": "payment",
        "id": "P-E1",
        "account_no": acme,
        "amount": "500.00",
        "date": "2026-02-01",
        "applied": {"INV-E1": "300.00"},
    }
    import_file(container, write(tmp_path / "payments.jsonl", paid), PARSERS)  # nothing owed yet: advances
    billed = (
        invoice("INV-E0", acme, "1000.00", date="2025-12-01"),
        invoice("INV-E1", acme, "300.00", date="2026-01-01"),
    )
    import_file(container, write(tmp_path / "invoices.jsonl", *billed), PARSERS)

    def figures() -> dict[str, Any]:
        with unit_of_work(container.sessions) as session:
            survivor = session.scalars(select(Customer.id).where(Customer.account_no == acme)).one()
            chart, credit = container.settings.ledger.chart, container.settings.credit
            return customer_figures(session, [survivor], date(2026, 4, 1), chart, credit)[survivor]

    before = figures()
    # 300.00 of the advance paid INV-E1, as the payment said: 200.00 of it is left to use; INV-E0 is owed
    assert (before["receivable"], before["unapplied_credit"], before["balance"]) == (
        Decimal("1000.00"),
        Decimal("200.00"),
        Decimal("800.00"),
    )
    assert before["overdue"] == Decimal("800.00")  # INV-E0 less the 200.00 left to use, as the balance
    reversal = {
        "kind": "payment",
        "id": "P-E1-R",
        "amount": "500.00",
        "date": "2026-03-01",
        "reverses": "P-E1",
    }
    import_file(container, write(tmp_path / "bounced.jsonl", reversal), PARSERS)
    assert figures()["overdue"] == Decimal("1300.00")  # the payment bounced: INV-E1 is owed again
    assert_ledger_verifies(container)


def test_a_payment_imported_before_the_invoices_it_pays_gives_the_aging_it_gives_imported_after(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    early, late = customers["acme"], customers["qinghe"]
    for no, first, then in ((early, "payment", "invoices"), (late, "invoices", "payment")):
        files = {
            "payment": write(
                tmp_path / f"{no}-pay.jsonl",
                {
                    "kind": "payment",
                    "id": f"P-{no}",
                    "account_no": no,
                    "amount": "1000.00",
                    "date": "2025-11-01",
                },
            ),
            "invoices": write(
                tmp_path / f"{no}-inv.jsonl",
                invoice(f"L1-{no}", no, "1000.00", date="2025-11-10"),  # due 12-10
                invoice(f"L2-{no}", no, "1000.00", date="2026-02-19"),  # due 03-21
            ),
        }  # acme's payment finds nothing owed (advances); qinghe's pays L1, the oldest
        import_file(container, files[first], PARSERS)
        import_file(container, files[then], PARSERS)
    with unit_of_work(container.sessions) as session:
        ids = dict(session.execute(select(Customer.account_no, Customer.id)).all())
        chart, credit = container.settings.ledger.chart, container.settings.credit
        found = customer_figures(session, [ids[early], ids[late]], date(2026, 3, 31), chart, credit)
    judged = ("balance", "overdue", "aging_current", "aging_1_30", "aging_90_plus", "credit_status_reason")
    paid_first, billed_first = ({key: found[ids[no]][key] for key in judged} for no in (early, late))
    assert paid_first == billed_first  # the advance is set against L1 as the receipt on AR pays it
    assert (paid_first["balance"], paid_first["overdue"], paid_first["aging_1_30"]) == (
        Decimal("1000.00"),
    ) * 3
    assert found[ids[early]]["unapplied_credit"] == Decimal("1000.00")  # still there, as its ledger keeps it


def test_a_receipt_after_a_merge_pays_the_merged_customers_invoice_it_names_not_the_oldest(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    invoices = (
        invoice("INV-A1", acme, "300.00", date="2025-12-31"),  # due 2026-01-30: 61 days past due on 04-01
        invoice("INV-Q1", qinghe, "300.00", date="2026-03-20"),  # due 04-19: not yet
    )
    import_file(container, write(tmp_path / "inv.jsonl", *invoices), PARSERS)
    with master(container) as customer_master:
        merge(customer_master, acme, qinghe, "duplicate")
    paid = {
        "kind": "payment",
        "id": "P-Q1",
        "amount": "300.00",
        "date": "2026-03-25",
        "references": ["INV-Q1"],
    }

    import_file(container, write(tmp_path / "pay.jsonl", paid), PARSERS)

    with unit_of_work(container.sessions) as session:
        survivor = session.scalars(select(Customer.id).where(Customer.account_no == acme)).one()
        chart, credit = container.settings.ledger.chart, container.settings.credit
        figures = customer_figures(session, [survivor], date(2026, 4, 1), chart, credit)[survivor]
    assert (figures["aging_current"], figures["aging_61_90"]) == (0, Decimal("300.00"))  # INV-A1 still owed
    assert figures["credit_status"] != "OK"


def test_what_named_a_customer_merged_twice_over_finds_the_last_survivor(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    with unit_of_work(container.sessions) as session:
        third = (
            container.customers(session).create(NewCustomer("苏州第三贸易", "SME", "JS", "CNY")).account_no
        )
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-91", qinghe, "300.00")), PARSERS)
    with master(container) as customer_master:
        merge(customer_master, acme, qinghe, "duplicate")
    with master(container) as customer_master:
        merge(customer_master, third, acme, "duplicate")
    pay = {"kind": "payment", "id": "P-91", "amount": "300.00", "references": ["货款 INV-91"]}

    result = import_file(container, write(tmp_path / "pay.jsonl", pay), PARSERS)

    assert result.counts["payments_posted"] == 1
    assert receivable(container, third) == Money.of("-300.00", "CNY")  # its own; qinghe's +300 counts in
    assert_ledger_verifies(container)


def test_a_withdrawal_names_its_own_accounts_line_and_a_payments_whatever_account_it_shows(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    line = {"kind": "bank_line", "id": "REF-1", "amount": "100.00", "account": "DE11"}
    import_file(container, write(tmp_path / "a.jsonl", line), PARSERS)
    gone = {"kind": "bank_line", "id": "REF-1:withdrawn", "amount": "70.00", "account": "DE22"}
    other_account = {**gone, "reverses": "REF-1", "withdrawn": True}
    first = import_file(container, write(tmp_path / "b.jsonl", other_account), PARSERS)
    assert (first.status, first.counts["withdrawn_before_import"]) == ("imported", 1)
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-5", acme, "500.00")), PARSERS)
    pay = {"kind": "payment", "id": "P-5", "amount": "500.00", "account": "1002.01", "references": ["INV-5"]}
    import_file(container, write(tmp_path / "p1.jsonl", pay), PARSERS)
    deleted = {**pay, "id": "P-5:withdrawn", "account": "1002.02", "reverses": "P-5", "withdrawn": True}

    second = import_file(container, write(tmp_path / "p2.jsonl", deleted), PARSERS)

    assert (second.status, second.counts["reversed"]) == ("imported", 1)
    assert receivable(container, acme) == Money.of("500.00", "CNY")
    with unit_of_work(container.sessions) as session:
        statuses = dict(session.execute(select(ImportedDocument.external_id, ImportedDocument.status)).all())
    assert (statuses["REF-1"], statuses["REF-1@DE22"]) == ("unapplied", "reversed")
    assert_ledger_verifies(container)


def test_an_edited_voucher_whose_lines_change_rank_and_kind_is_reposted_as_changed(
    container: Container, tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        xc = container.customers(session).create(NewCustomer("上海星辰贸易有限公司", "SME", "SH", "CNY"))
    header = "日期,凭证字,凭证号,摘要,科目代码,科目名称,核算项目,币别,原币金额,借方金额,贷方金额"
    party = "C0001 上海星辰贸易有限公司"
    lines = [
        f"2026/3/2,记,7,销售,1122,应收账款,{party},人民币,1000.00,1000.00,",
        "2026/3/2,记,7,销售,6001,主营业务收入,,人民币,1000.00,,1000.00",
        f"2026/3/2,记,7,折扣,1122,应收账款,{party},人民币,200.00,,200.00",
        "2026/3/2,记,7,折扣,6603,财务费用,,人民币,200.00,200.00,",
    ]
    freight = [
        f"2026/3/2,记,7,运费,1122,应收账款,{party},人民币,50.00,50.00,",
        "2026/3/2,记,7,运费,6051,其他业务收入,,人民币,50.00,,50.00",
    ]
    first, edited = tmp_path / "v1.csv", tmp_path / "v2.csv"
    first.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    edited.write_text("\n".join([header, *lines, *freight]) + "\n", encoding="utf-8")
    parsers = container.document_parsers()
    import_file(container, first, parsers)
    assert receivable(container, xc.account_no) == Money.of("800.00", "CNY")

    result = import_file(container, edited, parsers)  # the freight line takes rank 2, a credit's before

    assert result.counts["quarantined"] == 0
    assert receivable(container, xc.account_no) == Money.of("850.00", "CNY")
    assert_ledger_verifies(container)


VOUCHER_HEADER = "日期,凭证字,凭证号,摘要,科目代码,科目名称,核算项目,币别,原币金额,借方金额,贷方金额"
XINGCHEN, HAICHUAN = "C0001 上海星辰贸易有限公司", "C0002 深圳海川电子有限公司"


def voucher(number: int, day: int, party: str, amount: str, other: str = "6001,主营业务收入") -> list[str]:
    """A 金蝶 voucher of two lines: the customer's receivable debited (credited, for a bank `other`)."""
    receivable = f"1122,应收账款,{party},人民币,{amount}"
    if other.startswith("100"):
        return [
            f"2026/3/{day},收,{number},收款,{other},,人民币,{amount},{amount},",
            f"2026/3/{day},收,{number},收款,{receivable},,{amount}",
        ]
    return [
        f"2026/3/{day},记,{number},销售,{receivable},{amount},",
        f"2026/3/{day},记,{number},销售,{other},,人民币,{amount},,{amount}",
    ]


def vouchers(path: Path, *lines: list[str]) -> Path:
    path.write_text("\n".join([VOUCHER_HEADER, *(row for rows in lines for row in rows)]) + "\n", "utf-8")
    return path


def books_customers(container: Container) -> tuple[str, str]:
    with unit_of_work(container.sessions) as session:
        directory = container.customers(session)
        xc = directory.create(NewCustomer("上海星辰贸易有限公司", "SME", "SH", "CNY")).account_no
        hc = directory.create(NewCustomer("深圳海川电子有限公司", "SME", "GD", "CNY")).account_no
    return xc, hc


def test_a_voucher_a_later_export_of_its_days_no_longer_holds_waits_for_a_person(
    container: Container, tmp_path: Path
) -> None:
    xc, hc = books_customers(container)
    header = VOUCHER_HEADER
    xingchen, haichuan = XINGCHEN, HAICHUAN
    first, renumbered = tmp_path / "v1.csv", tmp_path / "v2.csv"
    first.write_text(
        "\n".join([header, *voucher(5, 2, xingchen, "1000.00"), *voucher(6, 3, haichuan, "2000.00")]) + "\n",
        encoding="utf-8",
    )
    # 记-5 deleted in the books, the period renumbered: 海川's voucher is 记-5 now
    renumbered.write_text("\n".join([header, *voucher(5, 3, haichuan, "2000.00")]) + "\n", encoding="utf-8")
    parsers = container.document_parsers()
    import_file(container, first, parsers)

    result = import_file(container, renumbered, parsers)

    assert result.counts["missing_from_this_export"] == 1
    with unit_of_work(container.sessions) as session:
        [reason] = session.scalars(select(QuarantinedRecord.reason)).all()
    assert reason.startswith(
        "voucher line 2026-03-记-6#1 (invoice of 2,000.00 CNY, imported from v1.csv row 4) is not in v2.csv, "
        "which holds the vouchers of 2026-03-03 to 2026-03-03: deleted or renumbered in the books?"
    )
    assert (receivable(container, xc), receivable(container, hc)) == (
        Money.zero("CNY"),
        Money.of("4000", "CNY"),
    )
    assert import_file(container, renumbered, parsers, again=True).counts["missing_from_this_export"] == 1
    with unit_of_work(container.sessions) as session:
        [held] = session.scalars(select(QuarantinedRecord.id)).all()  # the same, again
    [outcome] = retry(container, [held], parsers=lambda: parsers, mappings=no_mapping_set)
    assert (outcome.status, outcome.message) == (
        "not replayed",
        "it waits for a person's decision, no retry's: do as its reason says, then resolve it",
    )
    assert_ledger_verifies(container)


def held_reasons(container: Container) -> list[str]:
    with unit_of_work(container.sessions) as session:
        return list(session.scalars(select(QuarantinedRecord.reason).order_by(QuarantinedRecord.id)))


def test_an_older_export_imported_after_a_newer_one_flags_nothing_the_newer_one_holds(
    container: Container, tmp_path: Path
) -> None:
    books_customers(container)
    parsers = container.document_parsers()
    first_two = (voucher(1, 2, XINGCHEN, "10.00"), voucher(2, 6, XINGCHEN, "20.00"))
    entered_since = (voucher(3, 9, XINGCHEN, "30.00"), voucher(4, 3, XINGCHEN, "40.00"))  # 记-4 dated 3/3
    import_file(container, vouchers(tmp_path / "to_10.csv", *first_two, *entered_since), parsers)
    older = import_file(container, vouchers(tmp_path / "to_06.csv", *first_two), parsers)
    assert older.counts["missing_from_this_export"] == 0
    assert held_reasons(container) == []


def test_a_voucher_refused_in_the_later_export_is_not_taken_for_one_the_books_dropped(
    container: Container, tmp_path: Path
) -> None:
    books_customers(container)
    parsers = container.document_parsers()
    import_file(container, vouchers(tmp_path / "a.csv", voucher(5, 2, XINGCHEN, "10.00")), parsers)
    unbalanced = [*voucher(5, 2, XINGCHEN, "10.00")[:1], voucher(5, 2, XINGCHEN, "11.00")[1]]
    dry = import_file(container, vouchers(tmp_path / "b.csv", unbalanced), parsers, dry_run=True)
    result = import_file(container, vouchers(tmp_path / "b.csv", unbalanced), parsers)
    assert (dry.counts["missing_from_this_export"], result.counts["missing_from_this_export"]) == (0, 0)
    assert "not checked for vouchers the books no longer hold" in " ".join(result.notes)
    assert not any(reason.startswith("voucher line") for reason in held_reasons(container))


def test_a_voucher_receipt_linked_to_its_bank_line_is_not_flagged_when_the_books_drop_it(
    container: Container, tmp_path: Path
) -> None:
    books_customers(container)
    parsers = [*PARSERS, *container.document_parsers()]
    banked = {"kind": "bank_line", "id": "B-1", "amount": "8000.00", "date": "2026-03-02", "payer": "海川"}
    import_file(container, write(tmp_path / "bank.jsonl", banked), parsers)
    received = vouchers(tmp_path / "a.csv", voucher(2, 2, HAICHUAN, "8000.00", "100201,银行存款"))
    assert import_file(container, received, parsers).counts["receipts_linked"] == 1
    later = vouchers(tmp_path / "b.csv", voucher(3, 2, XINGCHEN, "5.00"))
    dry = import_file(container, later, parsers, dry_run=True)
    assert (
        dry.counts["missing_from_this_export"],
        import_file(container, later, parsers).counts["missing_from_this_export"],
    ) == (0, 0)


def test_a_voucher_the_books_dropped_is_counted_by_a_dry_run_too(
    container: Container, tmp_path: Path
) -> None:
    books_customers(container)
    parsers = container.document_parsers()
    import_file(
        container,
        vouchers(tmp_path / "a.csv", voucher(5, 2, XINGCHEN, "10.00"), voucher(6, 2, XINGCHEN, "20.00")),
        parsers,
    )
    dry = import_file(
        container, vouchers(tmp_path / "b.csv", voucher(5, 2, XINGCHEN, "10.00")), parsers, dry_run=True
    )
    assert (dry.counts["missing_from_this_export"], held_reasons(container)) == (1, [])


QBO_PAYMENTS = (
    "Date,Transaction Type,Num,Customer,Memo/Description,Payment Method,Deposit To,Amount,Currency\n"
)


def qbo_payments(path: Path, *rows: tuple[str, str, str]) -> Path:
    """A QuickBooks Online payments report of (customer, Num, amount) rows, all of 03/09/2026."""
    lines = [
        f'03/09/2026,Payment,{num},{customer},,Check,Undeposited Funds,"{amount}",USD'
        for customer, num, amount in rows
    ]
    path.write_text(QBO_PAYMENTS + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def usd_banked(container: Container) -> Money:
    with unit_of_work(container.sessions) as session:
        balance = session.get(AccountBalance, (container.settings.ledger.chart.bank.code, "USD"))
    return Money(balance.balance_minor if balance else 0, "USD")


def test_a_payment_exported_again_after_its_customer_was_renamed_waits_for_a_person_never_posts_twice(
    container: Container, tmp_path: Path
) -> None:
    parsers = container.document_parsers()
    first = qbo_payments(tmp_path / "march.csv", ("Globex Inc", "4009", "1,000.00"))
    renamed = qbo_payments(tmp_path / "march-again.csv", ("Globex Incorporated", "4009", "1,000.00"))
    import_file(container, first, parsers)

    again = import_file(container, renamed, parsers)

    assert again.counts["quarantined"] == 1
    assert usd_banked(container) == Money.of("1000.00", "USD")
    with unit_of_work(container.sessions) as session:
        record = session.scalars(select(QuarantinedRecord)).one()
    assert record.reason.startswith("maybe quickbooks_online.payments ")
    assert " exported again as " in record.reason
    assert "(imported from march.csv row 2) with other text" in record.reason
    (accepted,) = retry(  # a person: another payment after all
        container, [record.id], parsers=lambda: parsers, mappings=no_mapping_set, accept_changes=True
    )
    assert accepted.resolved == [record.id]
    assert usd_banked(container) == Money.of("2000.00", "USD")
    assert_ledger_verifies(container)


def test_a_payment_whose_amount_was_corrected_at_its_source_waits_for_a_person_never_posts_twice(
    container: Container, tmp_path: Path
) -> None:
    parsers = container.document_parsers()
    import_file(container, qbo_payments(tmp_path / "march.csv", ("Acme Corp", "1045", "1,250.00")), parsers)
    corrected = ("Acme Corp", "1045", "1,200.00")  # cheque 1045 of the same day, its amount corrected

    again = import_file(container, qbo_payments(tmp_path / "march-again.csv", corrected), parsers)

    assert again.counts["quarantined"] == 1
    assert usd_banked(container) == Money.of("1250.00", "USD")
    with unit_of_work(container.sessions) as session:
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
    assert "(imported from march.csv row 2) with other text" in reason
    assert "the same payment number and date" in reason
    assert "reverse what that one posted" in reason
    others = qbo_payments(
        tmp_path / "others.csv", ("Initech LLC", "1046", "80.00"), ("Acme Corp", "1047", "9.00")
    )
    assert import_file(container, others, parsers).counts["quarantined"] == 0  # other cheques: posted
    assert usd_banked(container) == Money.of("1339.00", "USD")
    assert_ledger_verifies(container)


IIF_COLUMNS = (
    "!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\n"
    "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\n"
    "!ENDTRNS\n"
)


def iif_without_ids(path: Path, invoice_amount: str, deposited_to: str) -> Path:
    """A QuickBooks Desktop export from a file never synced: no TRNSID, so its ids are digests."""
    path.write_text(
        IIF_COLUMNS
        + f"TRNS\t\tINVOICE\t03/02/26\tAccounts Receivable\tBlue Sky Cafe\t{invoice_amount}\t1001\t\n"
        + f"SPL\t\tINVOICE\t03/02/26\tIncome\tBlue Sky Cafe\t-{invoice_amount}\t1001\t\n"
        + "ENDTRNS\n"
        + f"TRNS\t\tPAYMENT\t03/05/26\t{deposited_to}\tBlue Sky Cafe\t500.00\t\t\n"
        + "SPL\t\tPAYMENT\t03/05/26\tAccounts Receivable\tBlue Sky Cafe\t-500.00\t\t\n"
        + "ENDTRNS\n",
        encoding="utf-8",
    )
    return path


def qbo_invoices(path: Path, amount: str, memo: str = "") -> Path:
    """A QuickBooks Online invoice list holding invoice 1001 of Blue Sky Cafe, of `amount` (0.00: void)."""
    path.write_text(
        "Date,Transaction Type,Num,Customer,Memo/Description,Due Date,Amount,Open Balance,Currency\n"
        f"2026-03-02,Invoice,1001,Blue Sky Cafe,{memo},2026-04-01,{amount},{amount},USD\n",
        encoding="utf-8",
    )
    return path


def test_an_invoice_voided_in_quickbooks_online_says_its_posting_was_reversed_for_reading_zero(
    container: Container, tmp_path: Path
) -> None:
    parsers = container.document_parsers()
    blue_sky = add_customer(container, "Blue Sky Cafe", currency="USD")
    import_file(container, qbo_invoices(tmp_path / "march.csv", "120.00"), parsers)
    assert receivable(container, blue_sky) == Money.of("120.00", "USD")

    voided = import_file(container, qbo_invoices(tmp_path / "april.csv", "0.00"), parsers)

    assert receivable(container, blue_sky) == Money.zero("USD")
    assert voided.counts == Counter(documents=1, ignored_zero_amount=1, reversed_now_zero=1)
    assert describe(voided).endswith(
        "1 documents — 1 ignored zero amount (of them 1 posted before and 0.00 now, voided: reversed)"
    )
    with unit_of_work(container.sessions) as session:
        why = session.scalars(select(ImportedDocument.match_rule)).one()
        memo = session.scalars(select(JournalEntry.memo).where(JournalEntry.is_reversal)).one()
    assert why == "a zero amount now (voided): what it posted before is reversed, nothing to post"
    assert memo == "quickbooks_online.invoices 1001 reads 0.00 USD now (voided): reversed"
    billed_again = import_file(container, qbo_invoices(tmp_path / "may.csv", "120.00", "again"), parsers)
    assert billed_again.counts["invoices_posted"] == 1
    assert receivable(container, blue_sky) == Money.of("120.00", "USD")
    assert_ledger_verifies(container)


def test_an_iif_export_without_ids_edited_and_exported_again_waits_for_a_person_never_posts_twice(
    container: Container, tmp_path: Path
) -> None:
    parsers = container.document_parsers()
    add_customer(container, "Blue Sky Cafe", currency="USD")
    first = import_file(
        container, iif_without_ids(tmp_path / "march.iif", "800.00", "Undeposited Funds"), parsers
    )
    assert (first.counts["invoices_posted"], first.counts["receipts_unapplied"]) == (1, 1)

    again = import_file(container, iif_without_ids(tmp_path / "edited.iif", "850.00", "Checking"), parsers)

    assert again.counts == Counter(documents=2, quarantined=2)
    with unit_of_work(container.sessions) as session:
        reasons = sorted(session.scalars(select(QuarantinedRecord.reason)))
    assert [" exported again as " in reason for reason in reasons] == [True, True]
    assert sum("the same invoice number" in reason for reason in reasons) == 1
    assert sum("reverse what that one posted" in reason for reason in reasons) == 1
    assert_ledger_verifies(container)


def test_a_payment_a_person_said_was_exported_again_is_not_held_again_by_the_next_export(
    container: Container, tmp_path: Path
) -> None:
    parsers = container.document_parsers()
    import_file(container, qbo_payments(tmp_path / "march.csv", ("Globex Inc", "4009", "1,000.00")), parsers)
    renamed = ("Globex Incorporated", "4009", "1,000.00")
    import_file(container, qbo_payments(tmp_path / "april.csv", renamed), parsers)
    with unit_of_work(container.sessions) as session:
        held = session.scalars(select(QuarantinedRecord)).one()
        resolve_records(session, [held.id], "exported again", "finance")

    later = import_file(
        container, qbo_payments(tmp_path / "may.csv", renamed, ("Initech LLC", "7", "5.00")), parsers
    )

    assert (later.counts["quarantined"], later.counts["unchanged"]) == (0, 1)
    assert usd_banked(container) == Money.of("1005.00", "USD")
    assert_ledger_verifies(container)


def test_an_export_holding_a_payment_as_it_was_and_another_alike_posts_the_other(
    container: Container, tmp_path: Path
) -> None:
    parsers = container.document_parsers()
    import_file(container, qbo_payments(tmp_path / "a.csv", ("Globex Inc", "", "500.00")), parsers)
    both = qbo_payments(tmp_path / "b.csv", ("Initech LLC", "", "500.00"), ("Globex Inc", "", "500.00"))

    result = import_file(container, both, parsers)

    assert (result.counts["quarantined"], result.counts["unchanged"]) == (0, 1)
    assert usd_banked(container) == Money.of("1000.00", "USD")
    assert_ledger_verifies(container)


def test_a_payment_like_one_that_comes_again_further_down_in_another_batch_is_posted_not_held(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsers = container.document_parsers()
    import_file(container, qbo_payments(tmp_path / "a.csv", ("Globex Inc", "", "500.00")), parsers)
    in_batches_of(1, container, monkeypatch)  # the new one and the old one in batches of their own
    both = qbo_payments(tmp_path / "b.csv", ("Initech LLC", "", "500.00"), ("Globex Inc", "", "500.00"))

    result = import_file(container, both, parsers)

    assert (result.counts["quarantined"], result.counts["unchanged"], result.counts["documents"]) == (0, 1, 2)
    assert usd_banked(container) == Money.of("1000.00", "USD")
    assert_ledger_verifies(container)


MT940 = """:20:STMT
:25:60050101/7405500001
:28C:0
:60F:C260301EUR100,00
{lines}
:62F:C260331EUR{closing}
"""


@pytest.mark.parametrize("bank_ref", ["//TR2603030001", ""], ids=["bank-reference", "none"])
def test_a_statement_line_exported_again_with_other_text_never_posts_twice(
    container: Container, tmp_path: Path, bank_ref: str
) -> None:
    line = (
        f":61:2603030303CR1500,00NTRFNONREF{bank_ref}\n:86:166?00GUTSCHRIFT?20SVWZ+Rechnung RE-0142{{more}}"
    )
    first, again = tmp_path / "w1.sta", tmp_path / "w2.sta"
    first.write_text(MT940.format(lines=line.format(more=""), closing="1600,00"), encoding="utf-8")
    again.write_text(MT940.format(lines=line.format(more="?21 Danke"), closing="1600,00"), encoding="utf-8")
    import_file(container, first, [Mt940Parser()])

    result = import_file(container, again, [Mt940Parser()])

    assert (result.counts["reposted"], result.counts["quarantined"]) == ((1, 0) if bank_ref else (0, 1))
    with unit_of_work(container.sessions) as session:
        banked = session.get_one(AccountBalance, (container.settings.ledger.chart.bank.code, "EUR"))
    assert banked.balance_minor == 150000  # the money came once
    assert_ledger_verifies(container)


CAMT_ENTRIES = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Id>S1</Id>
<Acct><Id><IBAN>DE44500105175407324931</IBAN></Id><Ccy>EUR</Ccy></Acct>{entries}</Stmt></BkToCstmrStmt></Document>
"""


def camt_entry(amount: str, indicator: str, day: str, text: str, *, reversal: bool = False) -> str:
    """An entry without AcctSvcrRef: its id is a digest of its content."""
    return (
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
        + ("<RvslInd>true</RvslInd>" if reversal else "")
        + f"<Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt>"
        + f"<NtryDtls><TxDtls><RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )


def test_a_line_sent_again_with_other_text_and_returned_in_the_same_file_leaves_no_money(
    container: Container, tmp_path: Path
) -> None:
    first, again = tmp_path / "e1.xml", tmp_path / "e2.xml"
    first.write_text(CAMT_ENTRIES.format(entries=camt_entry("500.00", "CRDT", "2026-03-05", "Rechnung 17")))
    returned = camt_entry("500.00", "DBIT", "2026-03-07", "Rueckgabe", reversal=True)
    again.write_text(
        CAMT_ENTRIES.format(
            entries=camt_entry("500.00", "CRDT", "2026-03-05", "Rechnung 17 Danke") + returned
        )
    )
    import_file(container, first, [Camt053Parser()])

    result = import_file(container, again, [Camt053Parser()])

    assert (result.counts["reversed"], result.counts["quarantined"]) == (1, 1)  # the copy waits for a person
    with unit_of_work(container.sessions) as session:
        banked = session.get(AccountBalance, (container.settings.ledger.chart.bank.code, "EUR"))
    assert banked is None or banked.balance_minor == 0
    assert_ledger_verifies(container)


def test_a_statement_line_of_another_account_is_never_taken_for_one_exported_again(
    container: Container, tmp_path: Path
) -> None:
    line = ":61:2603100310CR640,00NTRFNONREF\n:86:166?00GUTSCHRIFT?20SVWZ+{text}"
    first, other = tmp_path / "b1.sta", tmp_path / "d1.sta"
    first.write_text(MT940.format(lines=line.format(text="RE 55"), closing="740,00"), encoding="utf-8")
    elsewhere = MT940.replace("60050101/7405500001", "70070101/9999900009")
    other.write_text(elsewhere.format(lines=line.format(text="RE 56"), closing="740,00"), encoding="utf-8")
    import_file(container, first, [Mt940Parser()])

    result = import_file(container, other, [Mt940Parser()])

    assert (result.counts["quarantined"], result.counts["receipts_unapplied"]) == (0, 1)
    assert_ledger_verifies(container)


MT940_OF_CAMT_ACCOUNT = """:20:STMT
:25:DE44500105175407324931
:28C:0
:60F:C260301EUR0,00
:61:2603050305CR500,00NTRFNONREF//TR-1
:86:166?00GUTSCHRIFT?20SVWZ+Rechnung 17
:61:2603050305CR500,00NTRFNONREF//TR-2
:86:166?00GUTSCHRIFT?20SVWZ+Rechnung 18
:62F:C260305EUR1000,00
"""


@pytest.mark.parametrize("first_format", ["mt940", "camt053"])
def test_one_accounts_statement_in_two_formats_posts_its_lines_once_whichever_came_first(
    container: Container, tmp_path: Path, first_format: str
) -> None:
    mt940, camt = tmp_path / "day.sta", tmp_path / "day.xml"
    mt940.write_text(MT940_OF_CAMT_ACCOUNT, encoding="utf-8")
    entries = "".join(camt_entry("500.00", "CRDT", "2026-03-05", f"Rechnung {n}") for n in (17, 18))
    elsewhere = camt_entry("500.00", "CRDT", "2026-03-06", "Rechnung 19")  # the next day: another payment
    camt.write_text(CAMT_ENTRIES.format(entries=entries + elsewhere))
    parsers: list[DocumentParser] = [Mt940Parser(), Camt053Parser()]
    first, then = (mt940, camt) if first_format == "mt940" else (camt, mt940)
    import_file(container, first, parsers)

    result = import_file(container, then, parsers)

    new_money = 1 if then == camt else 0  # the CAMT statement's next day
    assert (result.counts["quarantined"], result.counts["receipts_unapplied"]) == (2, new_money)
    bank = (container.settings.ledger.chart.bank.code, "EUR")
    with unit_of_work(container.sessions) as session:
        assert session.get_one(AccountBalance, bank).balance_minor == 150000  # 17, 18 once; 19
        records = session.scalars(select(QuarantinedRecord).order_by(QuarantinedRecord.id)).all()
        assert [" in another format as " in record.reason for record in records] == [True, True]
        assert first.name in records[0].reason
        resolve_records(session, [record.id for record in records], "another format", "finance")

    again = import_file(container, then, parsers, again=True)

    assert (again.counts["quarantined"], again.counts["unchanged"]) == (0, 3 if then == camt else 2)
    with unit_of_work(container.sessions) as session:
        assert session.get_one(AccountBalance, bank).balance_minor == 150000
        accounts = Accounts.of(container.settings.ledger.chart)
        checked = reconcile_file(session, then, parsers[then == camt], accounts, 3, lambda: container.cipher)
    (report,) = checked.statements
    assert report.reconciles  # its lines are the other format's entries
    # a composite id (`sha256:…`) is no reference the two share
    assert [m.how for m in report.matched][:2] == ["amount and date (±0 days)"] * 2
    assert_ledger_verifies(container)


def test_two_new_payments_like_one_missing_from_an_earlier_export_are_both_held(
    container: Container, tmp_path: Path
) -> None:
    parsers = container.document_parsers()
    earlier = (("Globex Inc", "", "500.00"), ("Initech LLC", "", "500.00"))
    import_file(container, qbo_payments(tmp_path / "r1.csv", *earlier), parsers)
    again = (("Hooli", "", "500.00"), ("Globex Incorporated", "", "500.00"), ("Initech LLC", "", "500.00"))

    result = import_file(container, qbo_payments(tmp_path / "r2.csv", *again), parsers)

    assert (result.counts["quarantined"], result.counts["unchanged"]) == (2, 1)  # a person tells which
    assert usd_banked(container) == Money.of("1000.00", "USD")
    assert_ledger_verifies(container)


@pytest.mark.parametrize("size", [1, 10_000])
def test_credit_notes_and_invoices_in_one_batch_settle_as_one_by_one(
    container: Container,
    customers: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
) -> None:
    acme = customers["acme"]
    in_batches_of(size, container, monkeypatch)
    import_file(
        container, write(tmp_path / "a.jsonl", invoice("INV-A", acme, "100.00", date="2026-03-01")), PARSERS
    )
    later = [
        {**invoice("CN-1", acme, "150.00", date="2026-03-02"), "kind": "credit_note"},
        invoice("INV-B", acme, "100.00", date="2026-03-03"),
        {**invoice("CN-2", acme, "80.00", date="2026-03-04"), "kind": "credit_note"},
    ]
    import_file(container, write(tmp_path / "b.jsonl", *later), PARSERS)

    with unit_of_work(container.sessions) as session:
        balances = {line.account_code: line.balance for line in customer_balances(session, acme)}
    chart = container.settings.ledger.chart
    # CN-1 settles INV-A and leaves 50 as credit; CN-2 settles 80 of INV-B
    assert balances[chart.receivable.code] == Money.of("20.00", "CNY")
    assert balances[chart.advances.code] == Money.of("-50.00", "CNY")
    assert_ledger_verifies(container)


def test_a_void_export_imported_before_the_one_it_voids_keeps_the_invoice_from_posting(
    container: Container, tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        acme = container.customers(session).create(NewCustomer("Acme Trading Co.", "SME", "US", "USD"))
    parsers = container.document_parsers()
    april = zoho_books_invoices(tmp_path / "april.csv", ("9101", "INV-9101", "Void"))
    march = zoho_books_invoices(tmp_path / "march.csv", ("9101", "INV-9101", "Sent"))
    assert import_file(container, april, parsers).counts["withdrawn_before_import"] == 1

    late = import_file(container, march, parsers)

    assert (late.counts["invoices_posted"], late.counts["quarantined"]) == (0, 1)  # a person tells
    assert receivable(container, acme.account_no) == Money.zero("CNY")
    with unit_of_work(container.sessions) as session:
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
    assert reason.startswith(
        "zoho_books.invoices 9101 was withdrawn (void, deleted) in april.csv when first seen and is live in "
        "march.csv (invoice INV-9101): an older export imported late, or re-opened since?"
    )
    assert_ledger_verifies(container)


def test_an_invoice_void_before_its_import_and_accepted_live_later_is_withdrawn_again_by_a_void_alike(
    container: Container, tmp_path: Path
) -> None:
    parsers, export, owed = acme_invoice_exports(container, tmp_path)
    live, void = ("9001", "INV-9001", "Sent"), ("9001", "INV-9001", "Void")

    assert import_file(container, export("march.csv", void), parsers).counts["withdrawn_before_import"] == 1
    for month, rows in (("april", (live, void)), ("april-again", (void, live))):
        both = import_file(container, export(f"{month}.csv", *rows), parsers)
        assert (both.counts["quarantined"], owed().minor) == (0, 0), month  # the void stands
    assert import_file(container, export("may.csv", live), parsers).counts["quarantined"] == 1
    with unit_of_work(container.sessions) as session:
        held = session.scalars(select(QuarantinedRecord.id)).one()

    (accepted,) = retry(
        container, [held], parsers=lambda: parsers, mappings=no_mapping_set, accept_changes=True
    )

    assert (accepted.resolved, accepted.counts["restored"]) == ([held], 1)
    assert owed() == Money.of("50.00", "USD")
    assert import_file(container, export("june.csv", void), parsers).counts["reversed"] == 1  # as march's
    assert owed() == Money.zero("USD")
    assert import_file(container, export("july.csv", live), parsers).counts["restored"] == 1
    assert owed() == Money.of("50.00", "USD")
    assert_ledger_verifies(container)


def test_a_credit_note_under_a_reversed_invoices_id_waits_in_quarantine_too(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "inv.jsonl", invoice("1002", acme, "500.00")), PARSERS)
    void = {"kind": "invoice", "id": "1002:void", "amount": "500.00", "reverses": "1002"}
    import_file(container, write(tmp_path / "void.jsonl", void), PARSERS)
    memo = {**invoice("1002", acme, "50.00"), "kind": "credit_note"}

    result = import_file(container, write(tmp_path / "memo.jsonl", memo), PARSERS)

    assert (result.counts["quarantined"], result.counts["kept_reversed"]) == (1, 0)


def no_mapping_set() -> MappingSet:
    raise AssertionError("an import retry needs no mapping set")


def test_a_replacement_before_its_original_waits_in_quarantine_and_replaces_it_when_retried(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    replacement = {"kind": "bank_line", "id": "B-53", "amount": "100.00", "references": ["INV-52"]}
    early = write(
        tmp_path / "early.jsonl", invoice("INV-52", acme, "100.00"), {**replacement, "replaces": "B-52"}
    )
    first = import_file(container, early, PARSERS)
    assert first.counts["quarantined"] == 1
    with unit_of_work(container.sessions) as session:
        (record,) = session.scalars(select(QuarantinedRecord)).all()
    assert record.reason.startswith("it replaces test B-52, which was never imported")
    late = write(
        tmp_path / "late.jsonl",
        {"kind": "bank_line", "id": "B-52", "amount": "60.00", "references": ["INV-52"]},
    )
    import_file(container, late, PARSERS)
    assert receivable(container, acme) == Money.of("40.00", "CNY")  # not 100 and 60 received

    (outcome,) = retry(container, [record.id], parsers=lambda: PARSERS, mappings=no_mapping_set)

    assert (outcome.status, outcome.resolved) == ("retried", [record.id])

    assert receivable(container, acme) == Money.zero("CNY")
    assert_ledger_verifies(container)


def test_a_file_unreadable_midway_keeps_the_batches_before_and_leaves_the_garbage_collector_running(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_batches_of(2, container, monkeypatch)
    acme = customers["acme"]
    path = write(
        tmp_path / "cut.jsonl",
        invoice("INV-60", acme, "10.00"),
        invoice("INV-61", acme, "20.00"),
        invoice("INV-62", acme, "40.00"),
        "BROKEN",
    )
    read: list[int] = []
    result = import_file(container, path, [BreaksAtBrokenLine()], progress=read.append)
    assert (result.status, result.reason) == ("failed", "cut.jsonl: line 4 ends the readable part")
    assert gc.isenabled()  # paused only while a batch is read and posted
    assert read == [2]
    assert receivable(container, acme) == Money.of("30.00", "CNY")
    assert_ledger_verifies(container)


def test_a_number_longer_than_the_ledger_keeps_quarantines_its_document_and_the_rest_is_posted(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    long_number = "INV-" + "9" * 240
    path = write(
        tmp_path / "long.jsonl",
        {**invoice("INV-LONG", acme, "10.00"), "number": long_number},
        {
            "kind": "payment",
            "id": "P-1",
            "amount": "5.00",
            "account_no": acme,
            "applied": {long_number: "5.00"},
        },
        invoice("INV-OK", acme, "20.00"),
    )

    result = import_file(container, path, PARSERS)

    assert (result.status, result.counts["quarantined"], result.counts["documents"]) == ("imported", 2, 1)
    assert receivable(container, acme) == Money.of("20.00", "CNY")
    with unit_of_work(container.sessions) as session:
        reasons = session.scalars(select(QuarantinedRecord.reason).order_by(QuarantinedRecord.id)).all()
    assert reasons == [
        "number longer than the ledger keeps (244 characters, at most 200)",
        "invoice number longer than the ledger keeps (244 characters, at most 200)",
    ]


def test_an_amount_applied_in_another_currency_than_its_payments_quarantines_its_row_saying_so(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    paid = {"kind": "payment", "id": "P-1", "amount": "100.00", "currency": "USD", "account_no": acme}
    path = write(
        tmp_path / "payments.jsonl",
        invoice("INV-1", acme, "700.00"),
        {**paid, "applied": {"INV-1": "700.00"}, "applied_currency": "CNY"},
    )

    result = import_file(container, path, PARSERS)

    assert (result.counts["quarantined"], result.counts["invoices_posted"]) == (1, 1)
    assert open_invoices(container, acme, date(2026, 3, 31)) == [("INV-1", 70000)]
    with unit_of_work(container.sessions) as session:
        [reason] = session.scalars(select(QuarantinedRecord.reason)).all()
    assert reason == (
        "amount applied to invoice INV-1 in CNY, the document's in USD: no currency is converted"
    )


def test_an_amount_no_document_has_quarantines_its_row_and_the_rest_is_posted(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    path = write(
        tmp_path / "shifted.jsonl",
        invoice("INV-OK", acme, "1234.50"),
        invoice("INV-SHIFTED", acme, "99999999999999999999.00"),  # a bank account in the amount column
    )

    result = import_file(container, path, PARSERS)

    assert (result.status, result.counts["quarantined"], result.counts["documents"]) == ("imported", 1, 1)
    assert receivable(container, acme) == Money.of("1234.50", "CNY")
    with unit_of_work(container.sessions) as session:
        [reason] = session.scalars(select(QuarantinedRecord.reason)).all()
    assert reason == "amount out of range: 99,999,999,999,999,999,999.00 CNY (a column shifted?)"


def test_a_statement_amount_of_more_digits_than_a_decimal_holds_quarantines_its_line_not_the_file(
    container: Container, tmp_path: Path
) -> None:
    huge = "9" * 40
    entries = camt_entry(f"{huge}.00", "CRDT", "2026-03-05", "Rechnung 1") + camt_entry(
        "50.00", "CRDT", "2026-03-05", "Rechnung 2"
    )
    path = tmp_path / "huge.xml"
    path.write_text(CAMT_ENTRIES.format(entries=entries), encoding="utf-8")

    result = import_file(container, path, [Camt053Parser()])

    assert (result.status, result.counts["quarantined"], result.counts["receipts_unapplied"]) == (
        "imported",
        1,
        1,
    )
    with unit_of_work(container.sessions) as session:
        [reason] = session.scalars(select(QuarantinedRecord.reason)).all()
    assert reason.startswith("amount out of range: 9,999,999,999,999,999")


def test_one_id_twice_in_a_file_with_other_content_is_quarantined_whichever_batch_it_falls_in(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_batches_of(2, container, monkeypatch)
    acme = customers["acme"]
    path = write(
        tmp_path / "sorted.jsonl",
        invoice("INV-70", acme, "10.00"),
        invoice("INV-71", acme, "20.00"),
        invoice("INV-72", acme, "40.00"),
        invoice("INV-70", acme, "80.00"),  # the same id, in a later batch, saying something else
        invoice("INV-71", acme, "20.00"),  # the same id saying the same: one document
    )

    result = import_file(container, path, PARSERS)

    assert (result.counts["quarantined"], result.counts["unchanged"], result.counts["reposted"]) == (1, 1, 0)
    assert receivable(container, acme) == Money.of("70.00", "CNY")
    with unit_of_work(container.sessions) as session:
        [held] = session.scalars(select(QuarantinedRecord)).all()
    assert (held.record_ref, held.reason) == (
        "sorted.jsonl:4",
        "the same document appears again in the file with other content (row 1)",
    )
    assert import_file(container, path, PARSERS, again=True).counts["reposted"] == 0
    assert_ledger_verifies(container)


def test_a_payment_exported_again_with_its_invoices_in_another_order_is_the_same_document(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    invoices = [invoice("INV-81", acme, "10.00"), invoice("INV-82", acme, "5.00")]
    payment = {"kind": "payment", "id": "P-80", "amount": "15.00", "account_no": acme}
    applied = {"INV-82": "5.00", "INV-81": "10.00"}
    import_file(container, write(tmp_path / "a.jsonl", *invoices, {**payment, "applied": applied}), PARSERS)

    reordered = write(tmp_path / "b.jsonl", {**payment, "applied": dict(reversed(applied.items()))})

    assert import_file(container, reordered, PARSERS).counts["unchanged"] == 1
    assert receivable(container, acme) == Money.zero("CNY")
    assert_ledger_verifies(container)


def test_a_payment_whose_fingerprint_was_stored_in_file_order_is_still_recognised(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    payment = {"kind": "payment", "id": "P-90", "amount": "15.00", "account_no": acme}
    line = {**payment, "applied": {"INV-92": "5.00", "INV-91": "10.00"}}
    first = write(tmp_path / "a.jsonl", line)
    import_file(container, first, PARSERS)
    [document] = [item for item in JsonLines().parse(str(first), "a.jsonl") if isinstance(item, Document)]
    with unit_of_work(container.sessions) as session:  # as an earlier version stored it
        stored = session.scalars(select(ImportedDocument).where(ImportedDocument.external_id == "P-90")).one()
        stored.fingerprint = fingerprint(document, allocations_as_read=True)
    assert stored.fingerprint != fingerprint(document)

    again = write(tmp_path / "again.jsonl", line, invoice("INV-93", acme, "1.00"))

    assert import_file(container, again, PARSERS).counts["unchanged"] == 1
    assert_ledger_verifies(container)


def test_a_changed_invoice_whose_customer_is_not_found_is_posted_once_the_cause_is_fixed(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "a.jsonl", invoice("INV-95", acme, "100.00")), PARSERS)
    moved = {
        "kind": "invoice",
        "id": "INV-95",
        "number": "INV-95",
        "amount": "120.00",
        "payer": "宁波新港物流有限公司",
    }
    changed = write(tmp_path / "b.jsonl", moved)

    first = import_file(container, changed, PARSERS)

    assert (first.counts["quarantined"], first.counts["reposted"]) == (1, 0)
    assert receivable(container, acme) == Money.zero("CNY")  # the earlier revision is reversed
    with unit_of_work(container.sessions) as session:
        directory = container.customers(session)
        ningbo = directory.create(NewCustomer("宁波新港物流有限公司", "SME", "ZJ", "CNY")).account_no
    retried = import_file(container, changed, PARSERS, again=True, rows=[1])
    assert (retried.counts["invoices_posted"], retried.counts["reposted"]) == (1, 1)
    assert receivable(container, ningbo) == Money.of("120.00", "CNY")
    assert_ledger_verifies(container)


def test_the_earlier_content_of_a_changed_invoice_imported_again_is_posted_again(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    original = invoice("INV-96", acme, "100.00")
    import_file(container, write(tmp_path / "a.jsonl", original), PARSERS)
    moved = {**invoice("INV-96", acme, "120.00"), "account_no": None, "payer": "无人公司"}
    import_file(container, write(tmp_path / "b.jsonl", moved), PARSERS)
    assert receivable(container, acme) == Money.zero("CNY")

    back = import_file(
        container, write(tmp_path / "c.jsonl", original, invoice("INV-97", acme, "1.00")), PARSERS
    )

    assert back.counts["reposted"] == 1
    assert receivable(container, acme) == Money.of("101.00", "CNY")
    assert_ledger_verifies(container)


def test_a_kingdee_voucher_export_posts_its_receivable_lines_once(
    container: Container, tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        directory = container.customers(session)
        xingchen = directory.create(NewCustomer("上海星辰贸易有限公司", "SME", "SH", "CNY")).account_no
        directory.create(NewCustomer("深圳海川电子有限公司", "SME", "GD", "CNY"))
    vouchers = REPO / "tests" / "fixtures" / "exports" / "kingdee_vouchers.csv"
    parsers = container.document_parsers()

    first = import_file(container, vouchers, parsers)

    assert first.format == "kingdee.vouchers"
    assert (first.counts["invoices_posted"], first.counts["credit_notes_posted"]) == (1, 1)
    assert first.counts["receipts_unapplied"] == 3  # named customers wait for a person (tier 3)
    assert first.counts["quarantined"] == 3  # the unbalanced voucher; two customers unknown
    assert receivable(container, xingchen) == Money.of("10800.00", "CNY")  # 11,300 less the 500 return
    again = import_file(container, vouchers, parsers, again=True)
    assert again.counts["unchanged"] == 5
    assert_ledger_verifies(container)


def ledger_counts(container: Container) -> int:
    with unit_of_work(container.sessions) as session:
        return session.scalar(select(func.count()).select_from(JournalEntry)) or 0


def test_the_bills_and_the_vouchers_of_one_set_of_books_are_never_both_posted(
    container: Container, tmp_path: Path
) -> None:
    exports = REPO / "tests" / "fixtures" / "exports"
    parsers = container.document_parsers()
    assert import_file(container, exports / "kingdee_receipts.csv", parsers).status == "imported"
    entries = ledger_counts(container)

    refused = import_file(container, exports / "kingdee_vouchers.csv", parsers)

    assert (refused.status, ledger_counts(container)) == ("failed", entries)
    assert (refused.reason or "").startswith(
        "kingdee.vouchers and kingdee.receipts are two forms of the same books"
    )
    assert import_file(container, exports / "yonyou_receipts.xlsx", parsers).status == "imported"  # others'
    both = container.settings.imports.model_copy(update={"both_forms_of_books": True})
    told = dataclasses.replace(container, settings=container.settings.model_copy(update={"imports": both}))
    assert import_file(told, exports / "kingdee_vouchers.csv", parsers).status == "imported"
    assert (
        import_file(container, exports / "kingdee_invoices.csv", parsers).status == "failed"
    )  # the other way
    assert_ledger_verifies(container)


def test_a_retry_of_a_file_imported_beside_the_other_form_of_its_books_is_not_refused(
    container: Container, tmp_path: Path
) -> None:
    exports = REPO / "tests" / "fixtures" / "exports"
    parsers = container.document_parsers()
    import_file(container, exports / "kingdee_receipts.csv", parsers)  # its red receipt held
    both = container.settings.imports.model_copy(update={"both_forms_of_books": True})
    told = dataclasses.replace(container, settings=container.settings.model_copy(update={"imports": both}))
    import_file(told, exports / "kingdee_vouchers.csv", parsers)
    with unit_of_work(container.sessions) as session:
        red = session.scalars(
            select(QuarantinedRecord.id).where(QuarantinedRecord.record_ref == "kingdee_receipts.csv:10")
        ).one()

    [outcome] = retry(container, [red], parsers=lambda: parsers, mappings=no_mapping_set)

    assert (outcome.status, red in outcome.still_open) == ("retried", True)  # tried again, held again
    with unit_of_work(container.sessions) as session:
        statuses = set(session.scalars(select(ImportedFile.status)))
    assert statuses == {"imported"}


def test_a_kingdee_red_receipt_refunding_an_advance_waits_for_the_advance_then_pays_it_back(
    container: Container,
) -> None:
    with unit_of_work(container.sessions) as session:
        beichen = container.customers(session).create(NewCustomer("北京北辰科技有限公司", "SME", "BJ", "CNY"))
    exports = REPO / "tests" / "fixtures" / "exports"
    parsers = container.document_parsers()
    # SKD00000106: 6,600 in advance (预收款), its payer known by name only: it waits for a person. So its
    # red receipt SKD00000107 (红字 退预收款, 600 of it paid back) finds no credit yet, and is held.
    receipts = import_file(container, exports / "kingdee_receipts.csv", parsers)
    assert (receipts.counts["refunds_posted"], receipts.counts["quarantined"]) == (0, 2)
    with unit_of_work(container.sessions) as session:
        red = session.scalars(
            select(QuarantinedRecord).where(QuarantinedRecord.record_ref == "kingdee_receipts.csv:10")
        ).one()
        assert red.reason.startswith(f"a refund of 600.00 CNY to {beichen.account_no}, whose credit")
        advance = session.scalars(
            select(ReconciliationItem.id)
            .join(ImportedDocument, ImportedDocument.id == ReconciliationItem.document_id)
            .where(ImportedDocument.external_id == "SKD00000106")
        ).one()
        reconcile.apply(
            session,
            advance,
            beichen.account_no,
            Accounts.of(container.settings.ledger.chart),
            "test",
            date(2026, 3, 9),
        )

    [outcome] = retry(container, [red.id], parsers=lambda: parsers, mappings=no_mapping_set)

    assert red.id not in outcome.still_open
    with unit_of_work(container.sessions) as session:
        lines = {line.account_code: line.balance for line in customer_balances(session, beichen.account_no)}
    assert lines == {"2203": Money.of("-6000", "CNY")}
    assert_ledger_verifies(container)


def test_a_kingdee_receipt_paying_part_of_its_bill_leaves_the_rest_open_and_a_red_receipt_waits(
    container: Container,
) -> None:
    with unit_of_work(container.sessions) as session:
        haichuan = container.customers(session).create(
            NewCustomer("深圳海川电子有限公司", "SME", "GD", "CNY")
        )
    exports = REPO / "tests" / "fixtures" / "exports"
    parsers = container.document_parsers()
    import_file(container, exports / "kingdee_invoices.csv", parsers)  # AR00000210: 8,000; 红字 -800

    receipts = import_file(container, exports / "kingdee_receipts.csv", parsers)

    assert receipts.counts["payments_posted"] == 1  # SKD00000102: 5,000 of AR00000210, by the bill it names
    assert open_invoices(container, haichuan.account_no, date(2026, 3, 31)) == [("AR00000210", 220000)]
    with unit_of_work(container.sessions) as session:
        kept = dict(session.execute(select(QuarantinedRecord.record_ref, QuarantinedRecord.reason)).all())
    red = kept["kingdee_receipts.csv:10"]  # 红字收款单 SKD00000107: a refund of a customer not known here
    assert red.startswith("no customer for this refund")
    same_in_utf8 = import_file(container, exports / "kingdee_receipts_utf8_bom.csv", parsers)
    # Each document unchanged, but the refund: still no customer, it is held again.
    assert (same_in_utf8.counts["unchanged"], same_in_utf8.counts["quarantined"]) == (
        receipts.counts["documents"] - 1,
        2,
    )
    assert open_invoices(container, haichuan.account_no, date(2026, 3, 31)) == [("AR00000210", 220000)]
    assert_ledger_verifies(container)


@pytest.mark.parametrize("batch_size", [2, 10_000])
def test_an_id_told_twice_in_a_later_export_too_is_never_reposted_over_the_first(
    container: Container,
    customers: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_size: int,
) -> None:
    in_batches_of(batch_size, container, monkeypatch)
    acme = customers["acme"]
    rows = [
        invoice("INV-70", acme, "10.00"),
        invoice("INV-71", acme, "20.00"),
        invoice("INV-72", acme, "40.00"),
        invoice("INV-70", acme, "80.00"),
    ]
    import_file(container, write(tmp_path / "jan.jsonl", *rows), PARSERS)

    feb = import_file(
        container, write(tmp_path / "feb.jsonl", *rows, invoice("INV-73", acme, "1.00")), PARSERS
    )

    assert (feb.counts["reposted"], feb.counts["quarantined"]) == (0, 1)
    assert receivable(container, acme) == Money.of("71.00", "CNY")
    assert_ledger_verifies(container)


@pytest.mark.parametrize("batch_size", [2, 10_000])
def test_an_id_whose_first_row_went_to_quarantine_is_quarantined_again_further_down(
    container: Container,
    customers: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_size: int,
) -> None:
    in_batches_of(batch_size, container, monkeypatch)
    acme = customers["acme"]
    path = write(
        tmp_path / "a.jsonl",
        invoice("INV-74", "NOBODY", "10.00"),  # no customer: quarantined
        invoice("INV-75", acme, "20.00"),
        invoice("INV-76", acme, "40.00"),
        invoice("INV-74", acme, "80.00"),  # the same invoice, said otherwise
    )

    result = import_file(container, path, PARSERS)

    assert result.counts["quarantined"] == 2
    assert receivable(container, acme) == Money.of("60.00", "CNY")


def test_a_dry_run_of_a_retry_says_what_the_retry_does_for_an_id_told_twice(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_batches_of(2, container, monkeypatch)
    acme = customers["acme"]
    path = write(
        tmp_path / "sorted.jsonl",
        invoice("INV-77", acme, "10.00"),
        invoice("INV-78", acme, "20.00"),
        invoice("INV-79", acme, "40.00"),
        invoice("INV-77", acme, "80.00"),
    )
    import_file(container, path, PARSERS)

    dry = import_file(container, path, PARSERS, again=True, rows=[4], dry_run=True)
    real = import_file(container, path, PARSERS, again=True, rows=[4])

    assert dry.counts["quarantined"] == real.counts["quarantined"] == 1
    assert dry.counts["reposted"] == real.counts["reposted"] == 0


OFX = """OFXHEADER:100
DATA:OFXSGML
VERSION:102

<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>CNY
<BANKACCTFROM><BANKID>1<ACCTID>4417</BANKACCTFROM>
<BANKTRANLIST>{transactions}</BANKTRANLIST>
</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""


def ofx(*transactions: tuple[str, str, str], name: str = "Payer") -> str:
    records = "".join(
        f"<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>{day}<TRNAMT>{amount}<FITID>{fitid}<NAME>{name}</STMTTRN>"
        for fitid, day, amount in transactions
    )
    return OFX.format(transactions=records)


def banked(container: Container) -> Money:
    with unit_of_work(container.sessions) as session:
        code = container.settings.ledger.chart.bank.code
        balance = session.get(AccountBalance, (code, "CNY"))
    return Money(balance.balance_minor if balance else 0, "CNY")


@pytest.mark.parametrize(
    "later",
    [
        [("X", "20260303", "200.00"), ("Y", "20260304", "5.00")],
        [("X", "20260303", "200.00"), ("X", "20260302", "100.00")],
    ],
    ids=["overlapping-download", "same-lines-other-order"],
)
def test_a_fitid_the_bank_reissued_is_two_lines_whatever_the_downloads_overlap_or_order(
    container: Container, tmp_path: Path, later: list[tuple[str, str, str]]
) -> None:
    first = tmp_path / "f1.ofx"
    first.write_text(ofx(("X", "20260302", "100.00"), ("X", "20260303", "200.00")), encoding="utf-8")
    second = tmp_path / "f2.ofx"
    second.write_text(ofx(*later), encoding="utf-8")
    parsers = [OfxParser()]
    import_file(container, first, parsers)

    again = import_file(container, second, parsers)

    assert again.counts["reposted"] == 0
    expected = "305.00" if ("Y", "20260304", "5.00") in later else "300.00"
    assert banked(container) == Money.of(expected, "CNY")
    assert_ledger_verifies(container)


@pytest.mark.parametrize("reissued_first", [False, True], ids=["plain-id", "digest-id"])
def test_a_line_downloaded_again_with_other_text_is_a_change_of_it_never_a_second_receipt(
    container: Container, tmp_path: Path, reissued_first: bool
) -> None:
    lines = [("9", "20260302", "500.00")]
    if reissued_first:  # the line holds the id a re-issued FITID was given
        lines.insert(0, ("9", "20260301", "80.00"))
    first, second = tmp_path / "u1.ofx", tmp_path / "u2.ofx"
    first.write_text(ofx(*lines, name="ALPHA INC"), encoding="utf-8")
    second.write_text(ofx(*lines, name="ALPHA INC PPD ID 1234"), encoding="utf-8")
    import_file(container, first, [OfxParser()])

    again = import_file(container, second, [OfxParser()])

    assert again.counts["reposted"] == len(lines)
    assert banked(container) == Money.of("580.00" if reissued_first else "500.00", "CNY")
    assert_ledger_verifies(container)


def corrected(fitid: str, amount: str, action: str, of: str) -> str:
    """An OFX record correcting FITID `of` (CORRECTACTION `action`)."""
    return (
        f"<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260302<TRNAMT>{amount}<FITID>{fitid}"
        f"<CORRECTFITID>{of}<CORRECTACTION>{action}<NAME>Payer</STMTTRN>"
    )


@pytest.mark.parametrize(
    ("chain", "left"),
    [
        ([corrected("2", "150.00", "REPLACE", "1"), corrected("3", "170.00", "REPLACE", "2")], "170.00"),
        ([corrected("2", "150.00", "REPLACE", "1"), corrected("3", "150.00", "DELETE", "2")], "0.00"),
    ],
    ids=["replaced-twice", "replacement-deleted"],
)
@pytest.mark.parametrize("original_before", [False, True], ids=["one-file", "original-imported-before"])
def test_a_chain_of_corrections_in_one_file_is_applied_in_file_order(
    container: Container, tmp_path: Path, chain: list[str], left: str, original_before: bool
) -> None:
    original = "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260302<TRNAMT>100.00<FITID>1<NAME>Payer</STMTTRN>"
    if original_before:
        earlier = tmp_path / "original.ofx"
        earlier.write_text(OFX.format(transactions=original), encoding="utf-8")
        import_file(container, earlier, [OfxParser()])
    statement = tmp_path / "chain.ofx"
    statement.write_text(
        OFX.format(transactions="".join([*([] if original_before else [original]), *chain])), encoding="utf-8"
    )

    result = import_file(container, statement, [OfxParser()])

    assert result.counts["quarantined"] == 0
    assert banked(container) == Money.of(left, "CNY")
    assert_ledger_verifies(container)


@pytest.mark.parametrize(("action", "left"), [("DELETE", "0.00"), ("REPLACE", "150.00")])
def test_a_correction_under_the_fitid_it_corrects_is_applied_to_that_line_in_one_file(
    container: Container, tmp_path: Path, action: str, left: str
) -> None:
    original = "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260302<TRNAMT>100.00<FITID>X<NAME>Payer</STMTTRN>"
    amount = "100.00" if action == "DELETE" else "150.00"
    statement = tmp_path / "corrected.ofx"
    statement.write_text(
        OFX.format(transactions=original + corrected("X", amount, action, "X")), encoding="utf-8"
    )

    result = import_file(container, statement, [OfxParser()])

    assert result.counts["quarantined"] == 0
    assert banked(container) == Money.of(left, "CNY")
    assert_ledger_verifies(container)


@pytest.mark.parametrize("action", ["DELETE", "REPLACE"])
@pytest.mark.parametrize(
    "before",
    [None, OfxParser, lambda: OfxAsBefore()],
    ids=["one-file", "lines-imported-before", "lines-imported-before-under-the-ids-of-before"],
)
def test_a_correction_of_a_fitid_the_bank_gave_several_lines_is_held_naming_them_never_as_never_imported(
    container: Container, tmp_path: Path, action: str, before: Callable[[], OfxParser] | None
) -> None:
    record = "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260302<TRNAMT>{}<FITID>X<NAME>{}</STMTTRN>"
    reissued = record.format("100.00", "ALPHA") + record.format("50.00", "BETA")
    correction = corrected("D", "100.00", action, "X")
    in_one_file = before is None
    if before is not None:  # under the ids of before, the first line holds the plain id
        earlier = tmp_path / "reissued.ofx"
        earlier.write_text(OFX.format(transactions=reissued), encoding="utf-8")
        import_file(container, earlier, [before()])
    statement = tmp_path / "correction.ofx"
    statement.write_text(
        OFX.format(transactions=(reissued if in_one_file else "") + correction), encoding="utf-8"
    )

    result = import_file(container, statement, [OfxParser()])

    assert result.counts["quarantined"] == 1
    with unit_of_work(container.sessions) as session:
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
        rows = session.execute(select(ImportedDocument.amount_minor, ImportedDocument.entry_id))
        entries = {amount: entry for amount, entry in rows}
    verb = "reverses" if action == "DELETE" else "replaces"
    assert reason.startswith(f"it {verb} ofx 4417:X, an id the bank gave 2 lines (4417:X")
    assert "which was never imported" not in reason
    assert f"100.00 CNY on 2026-03-02, entry {entries[10000]}" in reason
    assert f"50.00 CNY on 2026-03-02, entry {entries[5000]}" in reason
    assert "`connector ledger reverse ENTRY --on 2026-03-02 --reason …`" in reason
    assert banked(container) == Money.of("150.00", "CNY")
    assert_ledger_verifies(container)


CARD = """OFXHEADER:100
DATA:OFXSGML
VERSION:102

<OFX>{bank}<CREDITCARDMSGSRSV1><CCSTMTTRNRS><CCSTMTRS><CURDEF>CNY
<CCACCTFROM><ACCTID>6225880012345678</CCACCTFROM><BANKTRANLIST>
<STMTTRN><TRNTYPE>PAYMENT<DTPOSTED>20260305<TRNAMT>5000.00<FITID>C1<NAME>还款 THANK YOU</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260306<TRNAMT>42.50<FITID>C2<NAME>Payer</STMTTRN>
</BANKTRANLIST></CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>
"""


def test_a_credit_card_statement_is_refused_as_a_whole_posting_no_receipt(
    container: Container, tmp_path: Path
) -> None:
    card = tmp_path / "card.ofx"
    card.write_text(CARD.format(bank=""), encoding="utf-8")

    result = import_file(container, card, [OfxParser()])

    assert result.status == "failed"
    assert "credit-card statement (card …5678)" in result.reason
    assert "6225880012345678" not in result.reason
    assert banked(container) == Money(0, "CNY")


def test_a_credit_card_statement_beside_a_bank_statement_is_left_out_with_a_notice(
    container: Container, tmp_path: Path
) -> None:
    bank = ofx(("B1", "20260305", "100.00")).split("<OFX>")[1].split("</OFX>")[0]
    both = tmp_path / "both.ofx"
    both.write_text(CARD.format(bank=bank), encoding="utf-8")

    result = import_file(container, both, [OfxParser()])

    assert (result.status, result.counts["documents"]) == ("imported", 1)
    (note,) = result.notes
    assert note.startswith("the credit-card statement of card …5678 (2 transactions) is left out")
    assert banked(container) == Money.of("100.00", "CNY")


def same_money(*payers: str) -> str:
    """A statement whose lines share one FITID and one money (100.00 on 2 March), told apart by payer."""
    record = "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260302<TRNAMT>100.00<FITID>X<NAME>{}</STMTTRN>"
    return OFX.format(transactions="".join(record.format(payer) for payer in payers))


@pytest.mark.parametrize(
    "earlier", [("ALPHA", "BETA"), ("BETA",), ("ALPHA",)], ids=["both", "the-later-one", "the-first-one"]
)
def test_payments_of_one_money_under_a_reissued_fitid_are_each_posted_once_whatever_the_files_order(
    container: Container, tmp_path: Path, earlier: tuple[str, ...]
) -> None:
    first, second, third = tmp_path / "r1.ofx", tmp_path / "r2.ofx", tmp_path / "r3.ofx"
    first.write_text(same_money(*earlier), encoding="utf-8")
    second.write_text(same_money("BETA", "ALPHA"), encoding="utf-8")
    third.write_text(same_money("ALPHA", "GAMMA", "BETA"), encoding="utf-8")
    import_file(container, first, [OfxParser()])

    again = import_file(container, second, [OfxParser()])
    assert (again.counts["unchanged"], again.counts["reposted"]) == (len(earlier), 0)
    assert banked(container) == Money.of("200.00", "CNY")
    more = import_file(container, third, [OfxParser()])  # a third payment: added, the two unchanged

    assert (more.counts["unchanged"], more.counts["reposted"]) == (2, 0)
    assert banked(container) == Money.of("300.00", "CNY")
    with unit_of_work(container.sessions) as session:
        assert "reversed" not in set(session.scalars(select(ImportedDocument.status)))
    assert_ledger_verifies(container)


def test_a_line_of_a_reissued_fitids_one_money_whose_text_changed_is_held_never_posted_beside_it(
    container: Container, tmp_path: Path
) -> None:
    first, second = tmp_path / "t1.ofx", tmp_path / "t2.ofx"
    first.write_text(same_money("ALPHA", "BETA"), encoding="utf-8")
    second.write_text(same_money("ALPHA", "BETA PPD ID 1234"), encoding="utf-8")  # the bank's text grew
    import_file(container, first, [OfxParser()])

    again = import_file(container, second, [OfxParser()])

    assert (again.counts["unchanged"], again.counts["quarantined"]) == (1, 1)
    assert banked(container) == Money.of("200.00", "CNY")
    with unit_of_work(container.sessions) as session:
        held = session.scalars(select(QuarantinedRecord)).one()
        assert held.reason.startswith("maybe ofx 4417:X#")
        assert "exported again as 4417:X#" in held.reason
        resolve_records(session, [held.id], "exported again", "clerk")
    third = tmp_path / "t3.ofx"
    third.write_text(same_money("BETA PPD ID 1234", "ALPHA"), encoding="utf-8")
    assert import_file(container, third, [OfxParser()]).counts["unchanged"] == 2  # a person said so
    assert banked(container) == Money.of("200.00", "CNY")
    assert_ledger_verifies(container)


class OfxAsBefore(OfxParser):
    """OFX lines under the ids they were given before ids were tied to content: a FITID's first line in
    the file took the plain id, a later one its money's digest id (".2", ".3" … for lines of one money)."""

    def parse(self, path: str, name: str) -> Iterator[Parsed]:
        plain: set[str] = set()
        counted: Counter[str] = Counter()
        for item in super().parse(path, name):
            if isinstance(item, Document):
                money = item.alias if "#" not in item.external_id else item.external_id.split(".")[0]
                assert money is not None
                base = money.partition("#")[0]
                counted[money] += 1
                later = money + (f".{counted[money]}" if counted[money] > 1 else "")
                given = base if base not in plain else later
                plain.add(base)
                item = dataclasses.replace(item, external_id=given, alias=None, known_as=())
            yield item


def test_lines_of_a_reissued_fitid_imported_under_their_ids_of_before_are_unchanged_in_any_order(
    container: Container, tmp_path: Path
) -> None:
    record = "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>{}<TRNAMT>{}<FITID>X<NAME>{}</STMTTRN>"
    alpha, beta = record.format("20260302", "100.00", "ALPHA"), record.format("20260302", "100.00", "BETA")
    gamma = record.format("20260303", "40.00", "GAMMA")
    before, now, alone = tmp_path / "b.ofx", tmp_path / "n.ofx", tmp_path / "a.ofx"
    before.write_text(OFX.format(transactions=alpha + beta + gamma), encoding="utf-8")
    now.write_text(OFX.format(transactions=gamma + beta + alpha), encoding="utf-8")
    alone.write_text(OFX.format(transactions=beta), encoding="utf-8")
    import_file(container, before, [OfxAsBefore()])

    assert import_file(container, now, [OfxParser()]).counts["unchanged"] == 3
    assert import_file(container, alone, [OfxParser()]).counts["unchanged"] == 1
    assert banked(container) == Money.of("240.00", "CNY")
    assert_ledger_verifies(container)


def test_a_fitid_reused_on_another_day_is_another_line_not_a_change_of_the_first(
    container: Container, tmp_path: Path
) -> None:
    day1, day2 = tmp_path / "day1.ofx", tmp_path / "day2.ofx"
    day1.write_text(ofx(("1", "20260302", "100.00")), encoding="utf-8")
    day2.write_text(ofx(("1", "20260303", "250.00")), encoding="utf-8")
    import_file(container, day1, [OfxParser()])

    second = import_file(container, day2, [OfxParser()])

    assert second.counts["reposted"] == 0
    assert banked(container) == Money.of("350.00", "CNY")
    both = tmp_path / "both.ofx"  # a later download with both days: each line once
    both.write_text(ofx(("1", "20260302", "100.00"), ("1", "20260303", "250.00")), encoding="utf-8")
    assert import_file(container, both, [OfxParser()]).counts["unchanged"] == 2
    again = tmp_path / "day2-again.ofx"
    again.write_text(ofx(("1", "20260303", "250.00")) + "\n", encoding="utf-8")
    assert import_file(container, again, [OfxParser()]).counts["unchanged"] == 1
    assert banked(container) == Money.of("350.00", "CNY")
    assert_ledger_verifies(container)


def test_an_import_killed_part_way_is_recorded_with_the_counts_of_the_batches_it_committed(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_batches_of(2, container, monkeypatch)
    upload = write(
        tmp_path / "april.jsonl", *[invoice(f"INV-A{n}", customers["acme"], "10.00") for n in range(5)]
    )
    monkeypatch.setattr(pipeline, "_finish", lambda *args: None)  # killed: nothing after it runs

    def killed(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(container, upload, PARSERS, progress=killed)
    with unit_of_work(container.sessions) as session:
        close_abandoned_runs(session)  # the next start

    with unit_of_work(container.sessions) as session:
        [run] = run_history(session, job="import")
    assert (run.status, run.counts) == ("failed", {"documents": 2, "invoices_posted": 2})


def test_an_import_whose_commit_fails_is_recorded_with_the_counts_of_the_batches_committed_and_the_reason(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_batches_of(2, container, monkeypatch)
    upload = write(
        tmp_path / "may.jsonl", *[invoice(f"INV-M{n}", customers["acme"], "10.00") for n in range(5)]
    )
    with (
        disk_full_on_commit(container, monkeypatch, pipeline, "_import_batch", 2, nth=2),
        pytest.raises(OperationalError),
    ):
        import_file(container, upload, PARSERS)

    committed = {"documents": 2, "invoices_posted": 2}
    with unit_of_work(container.sessions) as session:
        [run] = run_history(session, job="import")
        row = session.scalars(select(ImportedFile).where(ImportedFile.name == "may.jsonl")).one()
        posted = session.scalar(select(func.count()).select_from(ImportedDocument))
        assert (row.status, json.loads(row.counts_json), posted) == ("failed", committed, 2)
    assert (run.status, run.counts) == ("failed", committed)
    assert run.error == "OperationalError: database or disk is full (see the log)"
    assert row.error == run.error


def test_a_refund_put_off_to_the_files_end_is_paid_out_of_a_payment_held_there_as_maybe_exported_again(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = container.settings  # a batch a document, Acme known by its name (tier 3)
    matching = settings.imports.matching.model_copy(update={"auto_post_tiers": 3})
    imports = settings.imports.model_copy(update={"batch_size": 1, "matching": matching})
    monkeypatch.setattr(container, "settings", settings.model_copy(update={"imports": imports}))
    acme = add_customer(container, "Acme Corp", currency="USD", region="CA")
    parsers = container.document_parsers()
    import_file(container, qbo_payments(tmp_path / "march.csv", ("Acme Corp", "1045", "1,250.00")), parsers)
    # The refund goes beyond the 1,250.00 Acme has until cheque 1046 (like 1045 of the same day) counts:
    # that one waits to the file's end for 1045 to come unchanged, and the refund too.
    april = qbo_payments(
        tmp_path / "april.csv",
        ("Acme Corp", "R-7", "-1,300.00"),
        ("Acme Corp", "1045", "1,200.00"),
        ("Acme Corp", "1045", "1,250.00"),
    )

    imported = import_file(container, april, parsers)

    assert (imported.counts["refunds_posted"], imported.counts["quarantined"]) == (1, 0)
    with unit_of_work(container.sessions) as session:
        lines = {line.account_code: line.balance for line in customer_balances(session, acme)}
    assert lines == {"2203": Money.of("-1150.00", "USD")}
    assert_ledger_verifies(container)
