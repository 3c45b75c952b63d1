"""What makes the push plan a customer's figures again, on SQLite and PostgreSQL: everything they are
computed from, including what posts nothing on the customer itself."""

from __future__ import annotations

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.imports.models import ReceiptApplication
from connector.ledger.customers import NewCustomer
from connector.sync.push import _inputs
from tests.integration.helpers import invoice, receipt
from tests.integration.test_master import master


def digest(container: Container, customer_id: int) -> str:
    with unit_of_work(container.sessions) as session:
        return _inputs(session, [customer_id], "zoho.Accounts|2026-04-01")[customer_id]


def test_a_receipt_naming_an_invoice_or_a_customer_merged_in_plans_the_customer_again(
    container: Container,
) -> None:
    with unit_of_work(container.sessions) as session:
        directory = container.customers(session)
        survivor = directory.create(NewCustomer("明远贸易", "SME", "SH", "CNY"))
        absorbed = directory.create(NewCustomer("明远贸易 (old record)", "SME", "SH", "CNY"))
        ledger = container.ledger(session)
        ledger.post(invoice("INV-1", survivor.account_no, "100.00"))
        paid = ledger.post(receipt("R-1", survivor.account_no, "100.00")).entry_id
        ledger.post(invoice("INV-9", absorbed.account_no, "900.00"))
    first = digest(container, survivor.id)

    with unit_of_work(container.sessions) as session:  # a payment export linked to R-1 names INV-1
        session.add(
            ReceiptApplication(
                entry_id=paid, customer_id=survivor.id, invoice_number="INV-1", amount_minor=10000
            )
        )
    named = digest(container, survivor.id)
    assert named != first

    with master(container) as m:
        m.merge(survivor.account_no, absorbed.account_no)
    merged = digest(container, survivor.id)
    assert merged not in (first, named)

    with unit_of_work(container.sessions) as session:  # posted on the merged record: the survivor's figures
        container.ledger(session).post(invoice("INV-10", absorbed.account_no, "10.00"))
    assert digest(container, survivor.id) != merged
