"""What counts as one payment, the same for a customer's last payment, its trailing year and its value
tier: money received that credits the customer, one voucher's parts and a payment's `.kept` as one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.ledger.entries import Line
from connector.master.tiers import receipts_by_customer
from connector.money import Money
from tests.integration.test_credit_figures import AS_OF, Books, cny


@pytest.fixture
def books(container: Container) -> Books:
    return Books(container)


def tier_payments(books: Books, as_of: date = AS_OF) -> dict[tuple[int, str], tuple[int, int]]:
    with unit_of_work(books.container.sessions) as session:
        return receipts_by_customer(session, books.container.settings.ledger.chart, as_of, 365)


def paid(books: Books, customer_id: int) -> tuple[Decimal | None, Decimal]:
    figures = books.figures([customer_id])[customer_id]
    return figures["last_payment_amount"], figures["paid_trailing_12m"]


def test_a_refund_is_no_payment_in_the_value_tier_nor_in_the_figures(books: Books) -> None:
    customer_id, no = books.customer("Refunded", "CNY", None, 30)
    books.receipt("R-1", no, cny("350000.00"), date(2026, 3, 1), advance=True)
    refund = cny("50000.00")
    books.post(
        "books",
        "RF-1",
        date(2026, 3, 10),
        Line.debit(books.advances, refund, no),
        Line.credit(books.bank, refund),
    )
    assert tier_payments(books) == {(customer_id, "CNY"): (35_000_000, 1)}
    assert paid(books, customer_id) == (Decimal("350000.00"), Decimal("350000.00"))


def test_a_receipt_applied_from_unapplied_receipts_counts_in_the_value_tier(books: Books) -> None:
    customer_id, no = books.customer("Applied", "EUR", None, 30)
    eur = Money.of("480.00", "EUR")
    unapplied = books.container.settings.ledger.chart.unapplied.code
    books.post("camt", "NTRY-1", date(2026, 3, 2), Line.debit(books.bank, eur), Line.credit(unapplied, eur))
    books.post(
        "reconcile", "apply-1", date(2026, 3, 3), Line.debit(unapplied, eur), Line.credit(books.ar, eur, no)
    )
    assert tier_payments(books) == {(customer_id, "EUR"): (48_000, 1)}
    assert paid(books, customer_id) == (Decimal("480.00"), Decimal("480.00"))

