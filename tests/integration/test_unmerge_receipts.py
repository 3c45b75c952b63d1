"""An unmerge takes back the receipts posted to the survivor while merged that named the unmerged one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.imports.models import ImportedDocument
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.imports.unmerged import unmerge
from connector.ledger.customers import NewCustomer
from connector.ledger.queries import customer_balances
from connector.master.lifecycle import merge
from connector.money import Money
from tests.integration.test_imports import PARSERS, assert_ledger_verifies, invoice, receivable, write
from tests.integration.test_master import master


def _payment(external_id: str, account_no: str, amount: str) -> dict[str, Any]:
    return {"kind": "payment", "id": external_id, "amount": amount, "account_no": account_no}


def test_an_unmerge_reposts_to_the_unmerged_customer_the_receipts_that_named_it_while_merged(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    survivor, first = customers["acme"], customers["qinghe"]
    with unit_of_work(container.sessions) as session:
        second = (
            container.customers(session).create(NewCustomer("苏州第三贸易", "SME", "JS", "CNY")).account_no
        )
    bills = (invoice("I-2", first, "2000.00"), invoice("I-5", second, "3000.00"))
    import_file(container, write(tmp_path / "inv.jsonl", *bills), PARSERS)
    import_file(container, write(tmp_path / "p2.jsonl", _payment("P-2", first, "700.00")), PARSERS)
    with master(container) as customer_master:
        merge(customer_master, survivor, first, "duplicate")
    with master(container) as customer_master:
        merge(customer_master, survivor, second, "duplicate")
    paid = (_payment("P-3", first, "300.00"), _payment("P-4", second, "1000.00"))
    assert (
        import_file(container, write(tmp_path / "pay.jsonl", *paid), PARSERS).counts["payments_posted"] == 2
    )
    accounts = Accounts.of(container.settings.ledger.chart)

    with master(container) as customer_master:
        apart = unmerge(customer_master, accounts, first, "two companies")
    with master(container) as customer_master:
        again = unmerge(customer_master, accounts, second, "two companies")

    assert [(m.external_id, m.survivor, m.absorbed) for m in apart.moved] == [("P-3", survivor, first)]
    assert [m.named for m in again.moved] == [f"account number {second}"]
    assert receivable(container, first) == Money.of("1000.00", "CNY")
    assert receivable(container, second) == Money.of("2000.00", "CNY")
    with unit_of_work(container.sessions) as session:
        left = {line.balance for line in customer_balances(session, survivor)}
        owners = dict(
            session.execute(
                select(ImportedDocument.external_id, ImportedDocument.revision).where(
                    ImportedDocument.kind == "payment"
                )
            ).all()
        )
    assert left == {Money.zero("CNY")}  # neither a credit on its receivable nor an advance
    assert owners == {"P-2": 1, "P-3": 2, "P-4": 2}  # each moved once, as its next revision
    assert import_file(container, tmp_path / "pay.jsonl", PARSERS, again=True).counts["unchanged"] == 2
    assert receivable(container, first) == Money.of("1000.00", "CNY")
    assert_ledger_verifies(container)
