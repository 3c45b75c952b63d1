"""`ledger verify` finds a reversal deleted with its postings and its balances adjusted by hand: nothing
names a reversal, but the document recorded as reversed (or the decision superseded) whose entry then
stands again says it. A ledger built through the importer, every kind of correction in it, verifies."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.statements.ofx import OfxParser
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.imports import reconcile
from connector.imports.corrections import reverse_entry
from connector.imports.models import ImportedDocument, ReconciliationItem
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.ledger.models import JournalEntry
from connector.sync.models import QuarantinedRecord
from connector.sync.quarantine import resolve_records
from tests.integration.test_imports import OFX as OFX_STATEMENT
from tests.integration.test_imports import PARSERS, assert_ledger_verifies, corrected, invoice, ofx, write
from tests.integration.test_same_receipt import line, payment, statuses
from tests.integration.test_verify_references import delete_entry

ON = date(2026, 3, 20)
ALPHA = "DE89370400440532013000"  # the payer of a line a person applied, which the bank returns


def by_hand(container: Container, entry_id: int | None, *, returned: bool = False) -> int:
    assert entry_id is not None
    with unit_of_work(container.sessions) as session:
        accounts = Accounts.of(container.settings.ledger.chart)
        reason = "returned by the bank" if returned else "voided in the books"
        reversal = reverse_entry(
            session,
            entry_id,
            ON,
            reason,
            "finance",
            container.cipher,
            accounts,
            matching=container.settings.imports.matching,
            returned=returned,
        )
        return reversal.entry_id


def withdrawal(document: dict[str, Any]) -> dict[str, Any]:
    """`document` voided (deleted) in its source."""
    return {**document, "id": f"{document['id']}:withdrawn", "reverses": document["id"], "withdrawn": True}


def reversal_of(container: Container, entry_id: int | None) -> int:
    with unit_of_work(container.sessions) as session:
        return session.scalars(select(JournalEntry.id).where(JournalEntry.reverses_id == entry_id)).one()


def varied_ledger(container: Container, customers: dict[str, str], tmp_path: Path) -> dict[str, int]:
    """Invoices changed and reposted, voided by hand, withdrawn before and after their import, voided to
    zero, withdrawn and live again; payments and bank lines linked whichever came first, a linked payment
    withdrawn and live again, one stopped by hand, one the bank returned (reversed by hand as told); a line
    returned, sent again changed; a line a person applied, returned; OFX lines deleted and replaced, one
    sent again changed. The entries whose reversal each test deletes."""
    acme, qinghe = customers["acme"], customers["qinghe"]
    ids: dict[str, int] = {}
    paid = payment("P-60", acme, "90.00", "2026-03-02")
    books = [
        invoice("INV-1", acme, "1000.00"),
        invoice("INV-2", acme, "500.00"),
        invoice("INV-3", qinghe, "300.00"),
        invoice("INV-4", qinghe, "200.00"),
        paid,
        payment("P-70", acme, "80.00", "2026-03-02"),
    ]
    import_file(container, write(tmp_path / "books1.jsonl", *books), PARSERS)
    returned = line("B-1", "100.00", "2026-03-03", references=[acme])
    bank = [
        line("B-60", "90.00", "2026-03-03", payer="Acme"),
        line("B-70", "80.00", "2026-03-03", references=[acme]),
        line("B-64", "40.00", "2026-03-03", payer="X"),
        returned,
        line("B-5", "1500.00", "2026-03-03", payer="Alpha Handel GmbH", bank_account=ALPHA),
    ]
    import_file(container, write(tmp_path / "bank1.jsonl", *bank), PARSERS)
    with unit_of_work(container.sessions) as session:
        document = session.scalars(select(ImportedDocument.id).where(ImportedDocument.external_id == "B-5"))
        item = session.scalars(
            select(ReconciliationItem).where(ReconciliationItem.document_id == document.one())
        ).one()
        accounts = Accounts.of(container.settings.ledger.chart)
        reconcile.apply(session, item.id, qinghe, accounts, "finance", date(2026, 3, 5))
        assert item.entry_id is not None
        ids["application"] = item.entry_id
    ids["voided"] = by_hand(container, statuses(container)["INV-2"][1])
    books = [
        payment("P-64", acme, "40.00", "2026-03-02"),
        invoice("INV-1", acme, "1100.00"),  # changed: reposted
        withdrawal(invoice("INV-3", qinghe, "300.00")),
        withdrawal(paid),
        invoice("INV-4", qinghe, "0.00"),  # voided to zero
        withdrawal(invoice("INV-9", qinghe, "9.00")),  # before it was ever imported
    ]
    import_file(container, write(tmp_path / "books2.jsonl", *books), PARSERS)
    by_hand(container, statuses(container)["P-64"][1])  # the line's entry: the payment stops paying
    returns = [
        line("B-2", "-100.00", "2026-03-05", bank_reversal=True, references=[acme]),
        line("B-6", "-1500.00", "2026-03-05", bank_reversal=True, bank_account=ALPHA),
        line("B-71", "-80.00", "2026-03-05", bank_reversal=True, references=[acme]),
    ]
    import_file(container, write(tmp_path / "bank2.jsonl", *returns), PARSERS)
    with unit_of_work(container.sessions) as session:  # the linked line's return, reversed as told
        told = select(QuarantinedRecord.id).where(QuarantinedRecord.reason.contains("line B-70"))
        resolve_records(session, [session.scalars(told).one()], "receipt reversed", "finance")
    by_hand(container, statuses(container)["P-70"][1], returned=True)
    resent = returned | {"references": [acme, "sent again"]}
    import_file(container, write(tmp_path / "bank3.jsonl", resent), PARSERS)  # kept reversed
    statements = {
        "f1.ofx": ofx(("X", "20260302", "100.00"), ("Y", "20260303", "50.00")),
        "f2.ofx": OFX_STATEMENT.format(
            transactions=corrected("X2", "100.00", "DELETE", "X") + corrected("Y2", "60.00", "REPLACE", "Y")
        ),
        "f3.ofx": ofx(("X", "20260302", "100.00"), name="Payer, sent again"),  # kept reversed
    }
    for name, text in statements.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        import_file(container, tmp_path / name, [OfxParser()])
    live = [invoice("INV-3", qinghe, "300.00"), paid, payment("P-61", acme, "1.00", "2026-03-12")]
    import_file(container, write(tmp_path / "books3.jsonl", *live), PARSERS)  # live again
    found = statuses(container)
    assert {key: found[key][0] for key in ("INV-1", "INV-3", "P-60", "B-60", "P-64", "B-64", "B-70")} == {
        "INV-1": "posted",
        "INV-3": "posted",
        "P-60": "linked",
        "B-60": "posted",
        "P-64": "reversed",
        "B-64": "unapplied",
        "B-70": "linked",
    }
    assert found["P-64"][1] == found["B-64"][1]  # reversed, its entry the line's own, which stands
    reversed_ = ("INV-2", "INV-4", "INV-9", "P-70", "B-1", "B-5", "4417:X", "4417:Y")
    assert [found[key][0] for key in reversed_] == [
        "reversed",
        "ignored",
        "reversed",
        "reversed",
        "reversed",
        "reversed",
        "reversed",
        "reversed",
    ]
    with unit_of_work(container.sessions) as session:
        assert session.get_one(ReconciliationItem, item.id).status == "superseded"
    ids["returned"] = reversal_of(container, found["B-1"][1])
    ids["deleted"] = reversal_of(container, found["4417:X"][1])
    ids["superseded"] = reversal_of(container, ids["application"])
    ids["item"] = item.id
    return ids


def test_a_ledger_built_with_every_kind_of_correction_verifies(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    varied_ledger(container, customers, tmp_path)
    assert_ledger_verifies(container)


@pytest.mark.parametrize(
    ("deleted", "named", "made_by"),
    [
        ("voided", "invoice test 'INV-2' (imported from books1.jsonl row 2)", None),
        ("returned", "bank line test 'B-1' (imported from bank3.jsonl row 1)", "B-2"),
        ("deleted", "bank line ofx '4417:X' (imported from f3.ofx row 1)", "4417:X2"),
    ],
)
def test_a_document_recorded_as_reversed_whose_reversal_was_deleted_is_named(
    container: Container,
    customers: dict[str, str],
    tmp_path: Path,
    deleted: str,
    named: str,
    made_by: str | None,
) -> None:
    ids = varied_ledger(container, customers, tmp_path)
    entry = statuses(container)[named.split("'")[1]][1]

    violations = delete_entry(container, ids[deleted])

    detail = f"recorded as reversed, but its entry {entry} stands: no entry reverses it"
    assert [(v.subject, v.detail) for v in violations if v.check == "reversed"] == [(named, detail)]
    # A bank's return or deletion line names the reversal it made (`verify_records.entry_references`).
    made = [v.subject.split("'")[1] for v in violations if v.check == "reference"]
    assert made == ([made_by] if made_by else [])
    assert len(violations) == 1 + len(made)


def test_a_decision_superseded_whose_applications_reversal_was_deleted_is_named(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    ids = varied_ledger(container, customers, tmp_path)

    violations = delete_entry(container, ids["superseded"])

    subject = f"reconciliation item {ids['item']} of bank line test 'B-5' (imported from bank1.jsonl row 5)"
    detail = (
        f"superseded, but its entry {ids['application']}, which applied the receipt to a customer, stands: "
        "no entry reverses it"
    )
    assert [(v.check, v.subject, v.detail) for v in violations] == [("reversed", subject, detail)]
