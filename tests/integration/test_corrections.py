"""A person reversing an entry, on SQLite and PostgreSQL: a voided invoice or a bounced payment stops
counting, its document stays reversed when imported again, and every figure still traces."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import LedgerError
from connector.imports import reconcile
from connector.imports.corrections import reverse_entry
from connector.imports.models import ImportedDocument
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.ledger.models import JournalEntry
from tests.integration.test_imports import PARSERS, assert_ledger_verifies, invoice, receivable, write
from tests.integration.test_same_receipt import line, owes

ON = date(2026, 3, 20)


def document(container: Container, external_id: str) -> ImportedDocument:
    with unit_of_work(container.sessions) as session:
        return session.scalars(
            select(ImportedDocument).where(ImportedDocument.external_id == external_id)
        ).one()


def reverse(container: Container, entry_id: int, reason: str = "voided in the books") -> int:
    with unit_of_work(container.sessions) as session:
        accounts = Accounts.of(container.settings.ledger.chart)
        return reverse_entry(
            session,
            entry_id,
            ON,
            reason,
            "finance",
            container.cipher,
            accounts,
            matching=container.settings.imports.matching,
        ).entry_id


def test_a_voided_invoice_reversed_by_hand_stops_counting_and_stays_reversed_when_imported_again(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    path = write(tmp_path / "inv.jsonl", invoice("INV-2007", acme, "500.00"))
    import_file(container, path, PARSERS)
    entry_id = document(container, "INV-2007").entry_id
    assert entry_id is not None

    reversal = reverse(container, entry_id)

    assert receivable(container, acme).minor == 0
    voided = document(container, "INV-2007")
    assert (voided.status, voided.match_rule.endswith("reversed by finance: voided in the books")) == (
        "reversed",
        True,
    )
    with unit_of_work(container.sessions) as session:
        assert session.get_one(JournalEntry, reversal).memo == "reversed by finance: voided in the books"
    copy = write(tmp_path / "inv-again.jsonl", invoice("INV-2007", acme, "500.00"), "")
    assert import_file(container, copy, PARSERS).counts["unchanged"] == 1
    assert receivable(container, acme).minor == 0
    with pytest.raises(LedgerError, match="already reversed"):
        reverse(container, entry_id)
    assert_ledger_verifies(container)


def test_a_bounced_receipt_applied_by_a_person_is_reversed_with_its_application(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(
        container, write(tmp_path / "b.jsonl", line("B-1", "300.00", "2026-03-10", payer="X")), PARSERS
    )
    with unit_of_work(container.sessions) as session:
        [waiting] = reconcile.queue(session, container.cipher)
        accounts = Accounts.of(container.settings.ledger.chart)
        reconcile.apply(session, waiting.id, acme, accounts, "finance", ON)
    assert owes(container, acme).minor == -30000
    application = document(container, "B-1")
    with unit_of_work(container.sessions) as session:
        applied = session.scalars(
            select(JournalEntry.id).where(
                JournalEntry.source == "reconcile", JournalEntry.is_reversal.is_(False)
            )
        ).one()
    with pytest.raises(LedgerError, match="reverse the receipt's own entry"):
        reverse(container, applied)

    assert application.entry_id is not None
    reverse(container, application.entry_id, "bounced: account closed")

    assert owes(container, acme).minor == 0
    assert document(container, "B-1").status == "reversed"
    assert_ledger_verifies(container)
