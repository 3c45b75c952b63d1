"""What counts as one payment, the same for a customer's last payment, its trailing year and its value
tier: money received that credits the customer, one voucher's parts and a payment's `.kept` as one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connector.bootstrap import Container
from connector.credit.reads import chart_receipts
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


def test_a_voucher_paid_partly_by_note_and_partly_by_wire_is_one_payment_of_its_whole_amount(
    books: Books,
) -> None:
    customer_id, no = books.customer("Voucher", "CNY", None, 30)
    day = date(2026, 3, 13)
    wire, note = cny("1000.00"), cny("2000.00")
    books.receipt("R-EARLIER", no, cny("10.00"), date(2026, 3, 1))
    books.post("kingdee", "收-13#1", day, Line.debit(books.bank, wire), Line.credit(books.ar, wire, no))
    books.post("kingdee", "收-13#1.note", day, Line.debit(books.bank, note), Line.credit(books.ar, note, no))
    assert paid(books, customer_id) == (Decimal("3000.00"), Decimal("3010.00"))
    assert tier_payments(books) == {(customer_id, "CNY"): (301_000, 2)}


def test_a_payment_whose_bank_kept_a_charge_counts_what_the_customer_paid(books: Books) -> None:
    customer_id, no = books.customer("Charged", "CNY", None, 30)
    day = date(2026, 3, 20)
    banked, charge = cny("985.00"), cny("15.00")
    books.post("zoho_books", "P-1", day, Line.debit(books.bank, banked), Line.credit(books.ar, banked, no))
    kept = books.post(
        "zoho_books", "P-1.kept", day, Line.debit(books.revenue, charge), Line.credit(books.ar, charge, no)
    )
    books.post("other", "P-1.kept", day, Line.debit(books.revenue, charge), Line.credit(books.ar, charge, no))
    assert paid(books, customer_id) == (Decimal("1000.00"), Decimal("1000.00"))
    assert tier_payments(books) == {(customer_id, "CNY"): (100_000, 1)}
    books.reverse(kept, date(2026, 3, 21))  # the charge withdrawn: only the money banked is left
    assert paid(books, customer_id) == (Decimal("985.00"), Decimal("985.00"))


def test_receipts_since_a_day_are_the_payments_from_that_day_on_as_every_receipt_gives_them(
    books: Books,
) -> None:
    customer_id, no = books.customer("Windowed", "CNY", None, 30)
    for number, day in (
        ("R-OLD", date(2025, 3, 31)),
        ("R-EDGE", date(2025, 4, 2)),
        ("R-NEW", date(2026, 3, 1)),
    ):
        books.receipt(number, no, cny("100.00"), day)
    bounced = books.receipt("R-BOUNCED", no, cny("50.00"), date(2026, 3, 2))
    books.reverse(bounced, date(2026, 3, 3))
    since = date(2025, 4, 2)
    chart = books.container.settings.ledger.chart
    with unit_of_work(books.container.sessions) as session:
        every = chart_receipts(session, [customer_id], chart, AS_OF)
        windowed = chart_receipts(session, [customer_id], chart, AS_OF, since=since)
    [(key, receipts)] = every.items()
    assert windowed == {key: [receipt for receipt in receipts if receipt.posting_date >= since]}
    assert [receipt.amount_minor for receipt in windowed[key]] == [10_000, 10_000]
    assert tier_payments(books) == {(customer_id, "CNY"): (20_000, 2)}
