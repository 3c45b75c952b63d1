"""Customer figures from a posted ledger, on SQLite and PostgreSQL: every figure checked by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from connector.bootstrap import Container
from connector.cli.figures import figures_payload
from connector.credit import figures as figures_module
from connector.credit.figures import customer_credit, customer_figures
from connector.credit.history import record_status_changes
from connector.credit.rules import CreditSettings
from connector.db import unit_of_work
from connector.errors import CustomerError
from connector.ledger.customers import NewCustomer
from connector.ledger.entries import EntryDraft, Line, Voucher
from connector.ledger.queries import customer_balances
from connector.mapping.apply import map_record
from connector.mapping.files import load_mapping_set
from connector.mapping.model import FIGURES
from connector.master.models import CustomerEvent
from connector.money import Money
from tests.conftest import REPO
from tests.integration.test_master import master

AS_OF = date(2026, 4, 1)
RULES = CreditSettings()


class Books:
    """Posts documents through the ledger with the configured chart's codes."""

    def __init__(self, container: Container) -> None:
        self.container = container
        chart = container.settings.ledger.chart
        self.bank, self.ar, self.advances, self.revenue = (
            chart.bank.code,
            chart.receivable.code,
            chart.advances.code,
            chart.revenue.code,
        )

    def customer(
        self, name: str, currency: str, limit: str | None, terms: int, **extra: Any
    ) -> tuple[int, str]:
        new = NewCustomer(
            name,
            extra.pop("customer_type", "KA"),
            extra.pop("region", "SH"),
            currency,
            credit_limit=Money.of(limit, currency) if limit is not None else None,
            payment_terms_days=terms,
            **extra,
        )
        with unit_of_work(self.container.sessions) as session:
            view = self.container.customers(session).create(new)
        return view.id, view.account_no

    def post(
        self,
        source: str,
        number: str,
        day: date,
        *lines: Line,
        document_date: date | None = None,
        due_date: date | None = None,
    ) -> int:
        draft = EntryDraft(
            source, number, day, Voucher(source), tuple(lines), document_date=document_date, due_date=due_date
        )
        with unit_of_work(self.container.sessions) as session:
            return self.container.ledger(session).post(draft).entry_id

    def invoice(self, number: str, customer: str, amount: Money, day: date, due: date | None = None) -> int:
        return self.post(
            "books",
            number,
            day,
            Line.debit(self.ar, amount, customer),
            Line.credit(self.revenue, amount),
            document_date=day,
            due_date=due,
        )

    def receipt(self, number: str, customer: str, amount: Money, day: date, *, advance: bool = False) -> int:
        account = self.advances if advance else self.ar
        return self.post(
            "bank", number, day, Line.debit(self.bank, amount), Line.credit(account, amount, customer)
        )

    def credit_note(self, number: str, customer: str, amount: Money, day: date) -> int:
        return self.post(
            "books", number, day, Line.debit(self.revenue, amount), Line.credit(self.ar, amount, customer)
        )

    def reverse(self, entry_id: int, day: date) -> None:
        with unit_of_work(self.container.sessions) as session:
            self.container.ledger(session).reverse(entry_id, posting_date=day)

    def figures(self, ids: list[int], as_of: date = AS_OF) -> dict[int, dict[str, Any]]:
        with unit_of_work(self.container.sessions) as session:
            return customer_figures(session, ids, as_of, self.container.settings.ledger.chart, RULES)


def cny(amount: str) -> Money:
    return Money.of(amount, "CNY")


@pytest.fixture
def books(container: Container) -> Books:
    return Books(container)


def post_mingyuan(books: Books) -> tuple[int, str]:
    """Invoices, receipts, an advance, a credit note, a voided invoice, a bounced and a future receipt."""
    customer_id, no = books.customer("上海明远贸易有限公司", "CNY", "10000.00", 30, value_tier="high")
    books.invoice("INV-1", no, cny("3000.00"), date(2025, 11, 1))  # due 2025-12-01: settled
    books.invoice("INV-2", no, cny("4000.00"), date(2026, 1, 10))  # due 2026-02-09: 3,300.00 open, 51 days
    books.invoice("INV-3", no, cny("2500.00"), date(2026, 3, 1))  # due 2026-03-31: open, 1 day
    voided = books.invoice("INV-4", no, cny("700.00"), date(2026, 3, 5))
    books.reverse(voided, date(2026, 3, 6))  # cancels INV-4 instead of paying INV-1
    books.receipt("R-1", no, cny("2000.00"), date(2026, 1, 20))
    books.receipt("R-2", no, cny("1500.00"), date(2026, 3, 10))
    books.receipt("R-3", no, cny("600.00"), date(2026, 3, 15), advance=True)  # unapplied credit
    books.credit_note("CN-1", no, cny("200.00"), date(2026, 3, 20))  # settles INV-2, not a payment
    bounced = books.receipt("R-4", no, cny("500.00"), date(2026, 3, 25))
    books.reverse(bounced, date(2026, 3, 26))
    books.receipt("R-5", no, cny("300.00"), date(2026, 4, 5))  # after the as-of date
    return customer_id, no


def test_every_figure_of_a_customer_with_invoices_receipts_credits_and_reversals(books: Books) -> None:
    customer_id, no = post_mingyuan(books)
    assert books.figures([customer_id])[customer_id] == {
        "account_number": no,
        "customer_type": "KA",
        "region": "SH",
        "value_tier": "high",
        "currency": "CNY",
        "balance": Decimal("5200.00"),
        "receivable": Decimal("5800.00"),
        "unapplied_credit": Decimal("600.00"),
        "overdue": Decimal("5200.00"),  # the balance: R-3's 600.00 set against INV-2, the oldest
        "aging_current": Decimal("0.00"),
        "aging_1_30": Decimal("2500.00"),
        "aging_31_60": Decimal("2700.00"),
        "aging_61_90": Decimal("0.00"),
        "aging_90_plus": Decimal("0.00"),
        "credit_limit": Decimal("10000.00"),
        "available_credit": Decimal("4800.00"),
        "credit_score": 64,  # the score module's formula, worked in tests/unit/test_credit_score.py
        "credit_status": "WATCH",
        "credit_status_reason": "2,700.00 CNY is 31+ days past due (oldest due 2026-02-09)",
        "other_currencies": None,
        "payment_terms_days": 30,
        "last_payment_date": date(2026, 3, 15),  # R-4 bounced, R-5 is later than as_of
        "last_payment_amount": Decimal("600.00"),
        "paid_trailing_12m": Decimal("4100.00"),  # R-1 + R-2 + R-3
        "as_of": AS_OF,
    }


def test_the_status_reason_reads_the_same_the_next_day_so_nothing_is_pushed_again_for_it(
    books: Books,
) -> None:
    customer_id, _ = post_mingyuan(books)
    with unit_of_work(books.container.sessions) as session:
        chart = books.container.settings.ledger.chart
        today = customer_credit(session, [customer_id], AS_OF, chart, RULES)[customer_id]
        tomorrow = customer_credit(session, [customer_id], AS_OF + timedelta(days=1), chart, RULES)[
            customer_id
        ]
    assert today.status_reason == tomorrow.status_reason


def test_the_status_reason_judges_what_unapplied_credit_leaves_unpaid(books: Books) -> None:
    customer_id, _ = post_mingyuan(books)
    with unit_of_work(books.container.sessions) as session:
        credit = customer_credit(session, [customer_id], AS_OF, books.container.settings.ledger.chart, RULES)
    assert credit[customer_id].status_reason == "2,700.00 CNY is 31+ days past due (oldest due 2026-02-09)"
    assert [(item.due, item.amount_minor) for item in credit[customer_id].open_items] == [
        (date(2026, 2, 9), 330000),
        (date(2026, 3, 31), 250000),
    ]
    # the 600.00 of unapplied credit settles the oldest first: what the aging buckets count
    assert [(item.due, item.amount_minor) for item in credit[customer_id].unpaid] == [
        (date(2026, 2, 9), 270000),
        (date(2026, 3, 31), 250000),
    ]
    items = figures_payload(credit[customer_id])["open_items"]
    assert [(item["amount"], item["unpaid"]) for item in items] == [
        (Decimal("3300.00"), Decimal("2700.00")),
        (Decimal("2500.00"), Decimal("2500.00")),
    ]


def test_a_customer_without_postings_has_zero_amounts_and_no_payment(books: Books) -> None:
    customer_id, _ = books.customer("Northwind Traders Ltd", "USD", None, 0, customer_type="SME", region="GB")
    found = books.figures([customer_id])[customer_id]
    assert set(found) == set(FIGURES)
    assert {key: found[key] for key in ("balance", "overdue", "paid_trailing_12m")} == dict.fromkeys(
        ("balance", "overdue", "paid_trailing_12m"), Decimal("0.00")
    )
    nothing = ("credit_limit", "available_credit", "last_payment_date", "last_payment_amount")
    assert [found[key] for key in nothing] == [None] * 4
    assert (found["credit_score"], found["credit_status"]) == (100, "OK")


def test_amounts_have_the_currencys_own_decimals_and_a_long_overdue_excess_blocks(books: Books) -> None:
    customer_id, no = books.customer("さくら商事株式会社", "JPY", "100000", 30, region="JP")
    books.invoice("INV-J1", no, Money.of("120000", "JPY"), date(2025, 10, 1))  # due 10-31: 152 days late
    found = books.figures([customer_id])[customer_id]
    assert (found["aging_90_plus"], found["available_credit"]) == (Decimal("120000"), Decimal("-20000"))
    assert str(found["receivable"]) == "120000"
    assert found["credit_status"] == "BLOCKED"


def test_past_dates_give_that_days_figures_and_today_matches_the_stored_balances(books: Books) -> None:
    customer_id, no = post_mingyuan(books)
    before = books.figures([customer_id], date(2026, 1, 15))[customer_id]
    assert (before["receivable"], before["aging_current"], before["aging_31_60"]) == (
        Decimal("7000.00"),
        Decimal("4000.00"),
        Decimal("3000.00"),
    )
    assert before["last_payment_date"] is None
    later = books.figures([customer_id], date(2026, 12, 31))[customer_id]
    with unit_of_work(books.container.sessions) as session:
        stored = {line.account_code: line.balance.amount for line in customer_balances(session, no)}
    assert later["receivable"] == stored[books.ar] == Decimal("5500.00")
    assert later["unapplied_credit"] == -stored[books.advances]
    assert later["paid_trailing_12m"] == Decimal("4400.00")


def test_only_existing_customers_come_back_and_chunks_give_the_same_figures(
    books: Books, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = []
    for index in range(5):
        customer_id, no = books.customer(f"客户{index}", "CNY", "1000.00", 30)
        books.invoice(f"INV-C{index}", no, cny(f"{index + 1}00.00"), date(2026, 3, 20))
        ids.append(customer_id)
    whole = books.figures([*ids, 999_999, ids[0]])
    assert sorted(whole) == ids
    assert [whole[i]["receivable"] for i in ids] == [Decimal(f"{n}00.00") for n in range(1, 6)]
    monkeypatch.setattr(figures_module, "CHUNK", 2)
    assert books.figures([999_999, *reversed(ids)]) == whole


def test_an_invoice_is_due_when_it_says_whatever_the_customers_terms(books: Books) -> None:
    customer_id, no = books.customer("Qinghe", "CNY", None, 30)
    books.invoice("INV-D1", no, cny("1000.00"), date(2026, 3, 1), due=date(2026, 5, 30))  # terms say 03-31
    books.invoice("INV-D2", no, cny("10.00"), date(2026, 3, 1))  # no due date: the terms', 03-31
    found = books.figures([customer_id], as_of=date(2026, 4, 15))[customer_id]
    assert (found["aging_current"], found["aging_1_30"], found["overdue"]) == (
        Decimal("1000.00"),
        Decimal("10.00"),
        Decimal("10.00"),
    )


def test_the_trailing_year_runs_from_the_day_after_the_same_day_a_year_before(books: Books) -> None:
    customer_id, no = books.customer("Leap", "CNY", None, 30)
    books.receipt("R-OLD", no, cny("1.00"), date(2023, 6, 30), advance=True)  # a year before: out
    books.receipt("R-IN", no, cny("100.00"), date(2023, 7, 1), advance=True)  # 366 days in a leap year
    books.receipt("R-NEW", no, cny("500.00"), date(2024, 6, 30), advance=True)
    assert books.figures([customer_id], as_of=date(2024, 6, 30))[customer_id]["paid_trailing_12m"] == Decimal(
        "600.00"
    )


def test_a_customer_merged_into_another_brings_its_debt_and_payments_into_that_ones_figures(
    books: Books,
) -> None:
    survivor_id, survivor = books.customer("Mingyuan", "CNY", None, 30)
    absorbed_id, absorbed = books.customer("Mingyuan Trading", "CNY", None, 30)
    books.invoice("INV-S", survivor, cny("100.00"), date(2026, 3, 20))
    books.invoice("INV-A", absorbed, cny("3000.00"), date(2025, 11, 1))  # 121 days past due on 04-01
    books.receipt("R-A", absorbed, cny("1000.00"), date(2026, 1, 5))
    with master(books.container) as m:
        m.merge(survivor, absorbed, "the same company")
    found = books.figures([survivor_id])[survivor_id]
    assert (found["balance"], found["aging_90_plus"], found["last_payment_date"]) == (
        Decimal("2100.00"),
        Decimal("2000.00"),
        date(2026, 1, 5),
    )
    both = books.figures([survivor_id, absorbed_id])  # asked for together: the same figures
    assert (both[survivor_id]["balance"], both[absorbed_id]["balance"]) == (
        Decimal("2100.00"),
        Decimal("2000.00"),
    )


def test_an_unmerged_customer_stands_on_its_own_again_with_its_records_debt_and_payments(
    books: Books,
) -> None:
    survivor_id, survivor = books.customer("Mingyuan", "CNY", None, 30)
    absorbed_id, absorbed = books.customer("Mingyuan Trading", "CNY", None, 30)
    books.invoice("INV-S", survivor, cny("100.00"), date(2026, 3, 20))
    books.invoice("INV-A", absorbed, cny("3000.00"), date(2026, 3, 1))
    with master(books.container) as m:
        m.merge(survivor, absorbed, "the same company")
    with master(books.container) as m:
        assert m.unmerge(absorbed, "not the same company after all").status == "active"
        with pytest.raises(CustomerError, match="is not merged into another customer"):
            m.unmerge(absorbed)
    found = books.figures([survivor_id, absorbed_id])
    assert (found[survivor_id]["balance"], found[absorbed_id]["balance"]) == (
        Decimal("100.00"),
        Decimal("3000.00"),
    )


def test_a_merged_customers_invoices_fall_due_by_the_terms_they_were_issued_on(books: Books) -> None:
    survivor_id, survivor = books.customer("Mingyuan", "CNY", None, 30)
    absorbed_id, absorbed = books.customer("Mingyuan Trading", "CNY", None, 60)
    books.invoice("INV-A", absorbed, cny("1000.00"), date(2026, 3, 1))  # 60 days: due 04-30
    with master(books.container) as m:
        m.merge(survivor, absorbed, "the same company")
    found = books.figures([survivor_id, absorbed_id], as_of=date(2026, 4, 15))
    for customer_id in (survivor_id, absorbed_id):
        assert (found[customer_id]["aging_current"], found[customer_id]["overdue"]) == (
            Decimal("1000.00"),
            Decimal("0.00"),
        )


def test_postings_in_another_currency_stay_out_of_the_customers_figures(
    books: Books, caplog: pytest.LogCaptureFixture
) -> None:
    customer_id, no = books.customer("Globex", "CNY", None, 30)
    books.invoice("INV-X1", no, cny("100.00"), date(2026, 3, 20))
    books.invoice("INV-X2", no, Money.of("50.00", "USD"), date(2026, 3, 20))
    assert books.figures([customer_id])[customer_id]["receivable"] == Decimal("100.00")
    assert "postings in a currency other than their own" in caplog.text


def test_what_is_long_past_due_in_another_currency_still_sets_the_credit_status(books: Books) -> None:
    customer_id, no = books.customer("Globex", "CNY", None, 30)
    books.invoice("INV-X1", no, cny("100.00"), date(2026, 3, 20))
    books.invoice("INV-X2", no, Money.of("50000.00", "USD"), date(2025, 10, 1))  # due 10-31: 152 days
    with unit_of_work(books.container.sessions) as session:
        chart = books.container.settings.ledger.chart
        (credit,) = customer_credit(session, [customer_id], AS_OF, chart, RULES).values()
    assert (credit.figures["balance"], credit.figures["overdue"]) == (Decimal("100.00"), Decimal("0.00"))
    assert credit.figures["credit_status"] == "BLOCKED"
    assert credit.status_reason == "in USD: 50,000.00 USD is 91+ days past due (oldest due 2025-10-31)"
    assert credit.figures["credit_status_reason"] == credit.status_reason


def test_what_is_owed_in_other_currencies_is_told_beside_the_amounts_with_what_of_it_is_overdue(
    books: Books,
) -> None:
    customer_id, no = books.customer("Globex", "CNY", "50000", 30)
    books.invoice("INV-X1", no, cny("100.00"), date(2026, 3, 20))
    books.invoice("INV-X2", no, Money.of("60000.00", "USD"), date(2026, 3, 25))
    books.invoice("INV-X3", no, Money.of("500.00", "USD"), date(2026, 2, 14))
    books.invoice("INV-X4", no, Money.of("1000", "JPY"), date(2026, 3, 25))
    figures = books.figures([customer_id])[customer_id]
    assert figures["other_currencies"] == "1,000 JPY; 60,500.00 USD (500.00 overdue)"
    assert (figures["balance"], figures["available_credit"]) == (Decimal("100.00"), Decimal("49900.00"))
    assert (figures["credit_status"], figures["credit_status_reason"][:18]) == ("OK", "within every rule:")


def test_the_figures_map_cleanly_through_the_shipped_zoho_accounts_map(books: Books) -> None:
    customer_id, no = post_mingyuan(books)
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert problems == []
    assert mappings is not None
    outbound = mappings.for_source("zoho.Accounts", "outbound")
    assert outbound is not None
    mapped = map_record(outbound, books.figures([customer_id])[customer_id])
    assert mapped.errors == {}
    assert mapped.values["Credit_Status"] == "关注 Watch"
    assert mapped.values["Last_Payment_Date"] == "2026-03-15"
    assert mapped.values["Outstanding_Balance"] == Decimal("5200.00")
    assert mapped.values["Payment_Terms"] == "Net 30"
    assert mapped.values["Account_Number"] == no


def test_each_credit_status_change_is_recorded_once_with_its_reason(books: Books) -> None:
    customer_id, no = books.customer("Status Co", "CNY", "10000.00", 30)
    books.invoice("INV-H1", no, cny("900.00"), date(2026, 1, 1))  # due 01-31: 61 days past due on 04-02

    def record(as_of: date, today: date = date(2026, 12, 31)) -> int:
        with unit_of_work(books.container.sessions) as session:
            chart, rules = books.container.settings.ledger.chart, RULES
            return record_status_changes(
                session, customer_credit(session, [customer_id], as_of, chart, rules).values(), as_of, today
            )

    assert record(date(2026, 4, 2), today=date(2026, 1, 15)) == 0  # a projection records nothing
    assert record(date(2026, 2, 1)) == 0  # 1 day past due: still OK, as it always was
    assert record(date(2026, 4, 2)) == 1
    assert record(date(2026, 4, 3)) == 0  # still HOLD: nothing new to record
    assert record(date(2026, 2, 1)) == 0  # a past day's figures rewrite no history
    books.receipt("R-H1", no, cny("900.00"), date(2026, 4, 5))
    assert record(date(2026, 4, 6)) == 1
    with unit_of_work(books.container.sessions) as session:
        details = session.scalars(
            select(CustomerEvent.detail)
            .where(CustomerEvent.kind == "credit_status")
            .order_by(CustomerEvent.id)
        ).all()
    assert [detail.split(" — ")[0] for detail in details] == ["HOLD", "OK"]
    assert (
        details[0]
        == "HOLD — 900.00 CNY is 61+ days past due (oldest due 2026-01-31) (as of 2026-04-02, was OK)"
    )
    assert details[1].endswith("(as of 2026-04-06, was HOLD)")
