"""`ledger verify` finds an entry deleted with its postings and its balances adjusted by hand: every figure
still adds up, but what named the entry (a reversal, a document, a receipt's application) says it is gone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, text

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.imports import reconcile
from connector.imports.models import ImportedDocument, ReceiptApplication, ReconciliationItem
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.ledger.verify import verify_ledger
from connector.ledger.violations import Violation
from tests.integration.test_imports import PARSERS, invoice, write
from tests.integration.test_verify import build_ledger


@contextmanager
def without_foreign_keys(container: Container) -> Iterator[Connection]:
    """A transaction the database's foreign keys do not hold up: a hand edit with them off (the sqlite3
    shell's default), a restore with triggers disabled."""
    with container.engine.connect() as connection:
        sqlite: Any = connection.connection.driver_connection if connection.dialect.name == "sqlite" else None
        if sqlite is not None:
            sqlite.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, or it does nothing
        try:
            with connection.begin():
                if sqlite is None:
                    connection.execute(text("SET LOCAL session_replication_role = replica"))
                yield connection
        finally:
            if sqlite is not None:
                sqlite.execute("PRAGMA foreign_keys=ON")


def delete_entry(container: Container, entry_id: int) -> list[Violation]:
    """Entry `entry_id` deleted with its postings, the stored balances adjusted to match; what verify
    then reports."""
    with without_foreign_keys(container) as connection:
        postings = connection.execute(
            text(
                "SELECT account_code, customer_id, currency, amount_minor FROM postings WHERE entry_id = :id"
            ),
            {"id": entry_id},
        ).all()
        assert postings
        for account, customer, currency, amount in postings:
            fix = "SET balance_minor = balance_minor - :amount, posting_count = posting_count - 1"
            where = "WHERE account_code = :account AND currency = :currency"
            values = {"amount": amount, "account": account, "currency": currency, "customer": customer}
            connection.execute(text(f"UPDATE account_balances {fix} {where}"), values)
            if customer is not None:
                connection.execute(
                    text(f"UPDATE customer_balances {fix} {where} AND customer_id = :customer"), values
                )
        connection.execute(text("DELETE FROM postings WHERE entry_id = :id"), {"id": entry_id})
        connection.execute(text("DELETE FROM journal_entries WHERE id = :id"), {"id": entry_id})
    with unit_of_work(container.sessions) as session:
        return verify_ledger(session).violations


def imported(container: Container, customers: dict[str, str], tmp_path: Path) -> dict[str, int]:
    """An invoice, and a bank line from an unknown payer that a person applied to its customer naming
    the invoice: the entry ids of the invoice and of the application."""
    path = write(
        tmp_path / "march.jsonl",
        invoice("INV-1", customers["acme"], "1000.00"),
        {"kind": "bank_line", "id": "B-1", "amount": "88.00", "payer": "张三"},
    )
    import_file(container, path, PARSERS)
    with unit_of_work(container.sessions) as session:
        [waiting] = reconcile.queue(session, container.cipher)
        accounts = Accounts.of(container.settings.ledger.chart)
        named = [("INV-1", 8800)]
        reconcile.apply(session, waiting.id, customers["acme"], accounts, "finance", date(2026, 3, 20), named)
    with unit_of_work(container.sessions) as session:
        invoice_entry = session.scalars(
            select(ImportedDocument.entry_id).where(ImportedDocument.external_id == "INV-1")
        ).one()
        application = session.scalars(select(ReconciliationItem.entry_id)).one()
        assert invoice_entry is not None
        assert application is not None
        assert session.scalars(select(ReceiptApplication.entry_id)).all() == [application]
        verified = verify_ledger(session)
    assert verified.ok, verified.violations
    return {"invoice": invoice_entry, "application": application}


def test_a_reversal_of_an_entry_deleted_with_its_postings_names_it(container: Container) -> None:
    ids = build_ledger(container)
    violations = delete_entry(container, ids["wrong"])
    assert [(v.check, v.subject, v.detail) for v in violations] == [
        (
            "reference",
            f"entry {ids['reversal']} (zoho_books INV-3)",
            f"it reverses entry {ids['wrong']}, which does not exist",
        )
    ]


def test_an_imported_document_whose_entry_was_deleted_with_its_postings_names_it(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    ids = imported(container, customers, tmp_path)
    violations = delete_entry(container, ids["invoice"])
    assert [(v.check, v.subject, v.detail) for v in violations] == [
        (
            "reference",
            "invoice test 'INV-1' (imported from march.jsonl row 1)",
            f"its entry {ids['invoice']} (1,000.00 CNY) does not exist",
        )
    ]


def test_an_application_deleted_with_its_postings_is_named_by_its_reconciliation_item(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    ids = imported(container, customers, tmp_path)
    with unit_of_work(container.sessions) as session:
        item = session.scalars(select(ReconciliationItem.id)).one()
    violations = delete_entry(container, ids["application"])
    assert (
        "reference",
        f"reconciliation item {item} of bank line test 'B-1' (imported from march.jsonl row 2)",
        f"its entry {ids['application']}, applying the receipt to a customer, does not exist",
    ) in [(v.check, v.subject, v.detail) for v in violations]


def test_an_application_deleted_with_its_postings_is_named_by_its_receipt_applications(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    ids = imported(container, customers, tmp_path)
    with unit_of_work(container.sessions) as session:
        application = session.scalars(select(ReceiptApplication.id)).one()
    violations = delete_entry(container, ids["application"])
    assert [(v.subject, v.detail) for v in violations if v.subject.startswith("receipt application")] == [
        (
            f"receipt application {application} (to invoice INV-1)",
            f"its receipt's entry {ids['application']} does not exist",
        )
    ]
    assert [v.check for v in violations] == ["reference", "reference"]
