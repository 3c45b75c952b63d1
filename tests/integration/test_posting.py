from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import delete, select, text, update

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import (
    IdempotencyConflictError,
    ImmutableEntryError,
    InvalidEntryError,
    LedgerError,
    ReversalError,
    UnbalancedEntryError,
    UnknownAccountError,
)
from connector.ledger.entries import EntryDraft, Line
from connector.ledger.models import AccountBalance, CustomerBalance, JournalEntry, Posting
from connector.ledger.posting import Reversing
from connector.ledger.queries import (
    DatedLater,
    balances_of,
    customer_balances,
    customer_entries,
    customer_id_for,
    dated_later,
    net_receivable,
    trial_balance,
)
from connector.ledger.verify import verify_ledger
from connector.money import MAX_MINOR, Money
from tests.integration.helpers import add_customer, invoice, receipt


def balances(container: Container, account_no: str) -> dict[str, Money]:
    with unit_of_work(container.sessions) as session:
        return {
            f"{b.account_code} {b.balance.currency}": b.balance
            for b in customer_balances(session, account_no)
        }


def assert_verified(container: Container) -> None:
    with unit_of_work(container.sessions) as session:
        report = verify_ledger(session)
    assert report.violations == []


def test_posting_updates_the_customer_and_control_balances_in_the_same_transaction(
    container: Container,
) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        ledger.post(invoice("INV-1", customer, "1000.00"))
        ledger.post(receipt("R-1", customer, "400.00"))
    assert balances(container, customer) == {"1122 CNY": Money.of("600.00", "CNY")}
    with unit_of_work(container.sessions) as session:
        control = session.get(AccountBalance, ("1122", "CNY"))
        assert control is not None
        assert control.balance_minor == 60000
        assert control.posting_count == 2
    assert_verified(container)


def test_a_failed_transaction_leaves_no_postings_and_no_balance_change(container: Container) -> None:
    customer = add_customer(container)
    with pytest.raises(RuntimeError), unit_of_work(container.sessions) as session:
        container.ledger(session).post(invoice("INV-1", customer, "1000.00"))
        raise RuntimeError("crash after posting, before commit")
    assert balances(container, customer) == {}
    with unit_of_work(container.sessions) as session:
        assert session.scalar(select(JournalEntry.id)) is None


def test_replaying_a_document_returns_the_existing_entry_and_changes_nothing(container: Container) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        first = container.ledger(session).post(invoice("INV-1", customer, "1000.00"))
    moved = replace(
        invoice("INV-1", customer, "1000.00"), voucher=replace(invoice("x", customer, "1").voucher, row=99)
    )
    with unit_of_work(container.sessions) as session:
        again = container.ledger(session).post(moved)
    assert (again.entry_id, again.created, first.created) == (first.entry_id, False, True)
    assert balances(container, customer) == {"1122 CNY": Money.of("1000.00", "CNY")}


def test_the_same_key_with_different_content_is_a_conflict(container: Container) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        container.ledger(session).post(invoice("INV-1", customer, "1000.00"))
    with (
        pytest.raises(IdempotencyConflictError, match="zoho_books document 'INV-1'"),
        unit_of_work(container.sessions) as session,
    ):
        container.ledger(session).post(invoice("INV-1", customer, "1000.01"))
    assert balances(container, customer) == {"1122 CNY": Money.of("1000.00", "CNY")}


def test_a_batch_posts_each_document_once_even_when_it_repeats_inside_the_batch(container: Container) -> None:
    customer = add_customer(container)
    drafts = [
        invoice("INV-1", customer, "10.00"),
        invoice("INV-2", customer, "20.00"),
        invoice("INV-1", customer, "10.00"),
    ]
    with unit_of_work(container.sessions) as session:
        results = container.ledger(session).post_many(drafts)
    assert [r.created for r in results] == [True, True, False]
    assert results[0].entry_id == results[2].entry_id
    assert balances(container, customer) == {"1122 CNY": Money.of("30.00", "CNY")}
    assert_verified(container)


def test_a_batch_with_a_conflict_inside_posts_nothing(container: Container) -> None:
    customer = add_customer(container)
    drafts = [invoice("INV-1", customer, "10.00"), invoice("INV-1", customer, "11.00")]
    with pytest.raises(IdempotencyConflictError), unit_of_work(container.sessions) as session:
        container.ledger(session).post_many(drafts)
    assert balances(container, customer) == {}


def test_unbalanced_entries_are_refused_before_anything_is_written(container: Container) -> None:
    customer = add_customer(container)
    draft = invoice("INV-1", customer, "10.00")
    broken = replace(draft, lines=(draft.lines[0], Line.credit("6001", Money.of("9.99", "CNY"))))
    with pytest.raises(UnbalancedEntryError, match="INV-1"), unit_of_work(container.sessions) as session:
        container.ledger(session).post(broken)


def test_an_amount_beyond_what_the_ledger_keeps_is_refused_naming_its_line(container: Container) -> None:
    customer = add_customer(container)
    huge = invoice("INV-HUGE", customer, str(2**63 - 1), currency="JPY")
    with (
        pytest.raises(InvalidEntryError, match=r"INV-HUGE.*line on 1122 .* is beyond what the ledger keeps"),
        unit_of_work(container.sessions) as session,
    ):
        container.ledger(session).post(huge)
    assert_verified(container)


def test_a_running_balance_past_what_the_ledger_holds_is_refused_and_nothing_of_its_batch_posts(
    container: Container,
) -> None:
    customer = add_customer(container, currency="JPY")
    most = str(MAX_MINOR)  # JPY has no minor unit: the largest line the ledger keeps

    def invoices(start: int, count: int) -> list[EntryDraft]:
        return [invoice(f"INV-{n}", customer, most, currency="JPY") for n in range(start, start + count)]

    with unit_of_work(container.sessions) as session:
        container.ledger(session).post_many(invoices(0, 9000))  # 9.0e18: still held
    for start, count in ((9000, 300), (20000, 10000)):  # past it with what is stored / within the batch
        with (
            pytest.raises(LedgerError, match="would pass what the ledger holds"),
            unit_of_work(container.sessions) as session,
        ):
            container.ledger(session).post_many(invoices(start, count))
    assert balances(container, customer)["1122 JPY"] == Money(9000 * MAX_MINOR, "JPY")
    assert_verified(container)


def test_a_new_revision_is_refused_while_the_one_before_stands_unreversed(
    container: Container,
) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        first = container.ledger(session).post(invoice("INV-9", customer, "100.00")).entry_id
    changed = replace(invoice("INV-9", customer, "120.00"), revision=2)
    with (
        pytest.raises(IdempotencyConflictError, match="revision 1 of it stands unreversed"),
        unit_of_work(container.sessions) as session,
    ):
        container.ledger(session).post(changed)
    with unit_of_work(container.sessions) as session:
        container.ledger(session).reverse(first, posting_date=date(2026, 3, 2))
        container.ledger(session).post(changed)
    assert balances(container, customer)["1122 CNY"] == Money.of("120.00", "CNY")
    assert_verified(container)


def test_two_revisions_of_one_document_in_one_batch_are_refused(container: Container) -> None:
    customer = add_customer(container)
    first, second = (
        invoice("INV-9", customer, "100.00"),
        replace(invoice("INV-9", customer, "120.00"), revision=2),
    )
    with (
        pytest.raises(IdempotencyConflictError, match="revisions 1, 2 of it in one batch"),
        unit_of_work(container.sessions) as session,
    ):
        container.ledger(session).post_many([first, second])
    assert_verified(container)


def test_unknown_accounts_and_customers_are_named_in_the_error(container: Container) -> None:
    customer = add_customer(container)
    draft = invoice("INV-1", customer, "10.00")
    with (
        pytest.raises(UnknownAccountError, match="account 9999 is not in the chart"),
        unit_of_work(container.sessions) as session,
    ):
        container.ledger(session).post(
            replace(draft, lines=(draft.lines[0], replace(draft.lines[1], account="9999")))
        )
    with (
        pytest.raises(UnknownAccountError, match="no customer with account number NOPE1"),
        unit_of_work(container.sessions) as session,
    ):
        container.ledger(session).post(invoice("INV-2", "NOPE1", "10.00"))


def test_subledger_accounts_need_a_customer_and_general_accounts_take_none(container: Container) -> None:
    customer = add_customer(container)
    money = Money.of("5", "CNY")
    draft = invoice("INV-1", customer, "5")
    with (
        pytest.raises(LedgerError, match="1122 needs a customer"),
        unit_of_work(container.sessions) as session,
    ):
        container.ledger(session).post(
            replace(draft, lines=(Line.debit("1122", money), Line.credit("6001", money)))
        )
    with (
        pytest.raises(LedgerError, match="6001 takes no customer"),
        unit_of_work(container.sessions) as session,
    ):
        container.ledger(session).post(
            replace(draft, lines=(Line.debit("1122", money, customer), Line.credit("6001", money, customer)))
        )


def test_each_currency_keeps_its_own_balance(container: Container) -> None:
    customer = add_customer(container, "Northwind Traders", currency="USD")
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        ledger.post(invoice("INV-USD", customer, "18450.00", "USD"))
        ledger.post(invoice("INV-JPY", customer, "1250000", "JPY"))
        ledger.post(invoice("INV-KWD", customer, "10.125", "KWD"))
        ledger.post(receipt("R-USD", customer, "10000.00", "USD"))
    with unit_of_work(container.sessions) as session:
        net = net_receivable(customer_balances(session, customer))
    assert net == {
        "JPY": Money.of("1250000", "JPY"),
        "KWD": Money.of("10.125", "KWD"),
        "USD": Money.of("8450.00", "USD"),
    }
    assert_verified(container)


def test_a_reversal_offsets_the_entry_and_both_stay_in_the_statement(container: Container) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        wrong = ledger.post(invoice("INV-1", customer, "999.00"))
        reversal = ledger.reverse(wrong.entry_id, posting_date=date(2026, 3, 9), memo="issued in error")
    assert balances(container, customer) == {"1122 CNY": Money(0, "CNY")}
    with unit_of_work(container.sessions) as session:
        lines = customer_entries(session, customer)
    assert [(line.entry_id, line.reversed_by, line.reverses_id) for line in lines] == [
        (wrong.entry_id, reversal.entry_id, None),
        (reversal.entry_id, None, wrong.entry_id),
    ]
    assert lines[1].running_balance == Money(0, "CNY")
    assert lines[0].voucher == "invoices.csv:2"
    assert_verified(container)


def test_an_entry_is_reversed_at_most_once_and_a_reversal_is_never_reversed(container: Container) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        entry = ledger.post(invoice("INV-1", customer, "1.00"))
        reversal = ledger.reverse(entry.entry_id, posting_date=date(2026, 3, 9))
    with (
        pytest.raises(ReversalError, match=f"already reversed by entry {reversal.entry_id}"),
        unit_of_work(container.sessions) as session,
    ):
        container.ledger(session).reverse(entry.entry_id, posting_date=date(2026, 3, 10))
    with (
        pytest.raises(ReversalError, match="is itself a reversal"),
        unit_of_work(container.sessions) as session,
    ):
        container.ledger(session).reverse(reversal.entry_id, posting_date=date(2026, 3, 10))


def test_many_entries_are_reversed_together_each_on_its_own_date_and_never_before_its_entry(
    container: Container,
) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        first = ledger.post(invoice("INV-1", customer, "10.00")).entry_id
        second = ledger.post(invoice("INV-2", customer, "2.50", day=20))
        reversals = ledger.reverse_many(
            [
                Reversing(first, date(2026, 3, 9), "first wrong"),
                Reversing(second.entry_id, date(2026, 3, 9), "second wrong"),
            ]
        )
        assert ledger.reversals_of([first, second.entry_id]) == {
            first: reversals[0].entry_id,
            second.entry_id: reversals[1].entry_id,
        }
    assert balances(container, customer) == {"1122 CNY": Money(0, "CNY")}
    with unit_of_work(container.sessions) as session:
        rows = session.execute(
            select(JournalEntry.reverses_id, JournalEntry.posting_date, JournalEntry.memo)
            .where(JournalEntry.is_reversal.is_(True))
            .order_by(JournalEntry.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        (first, date(2026, 3, 9), "first wrong"),
        (second.entry_id, date(2026, 3, 20), "second wrong"),  # not before the entry it reverses
    ]
    assert_verified(container)


def test_reversing_many_reverses_none_when_one_of_them_cannot_be(container: Container) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        entry = ledger.post(invoice("INV-1", customer, "10.00")).entry_id
        reversed_before = ledger.post(invoice("INV-2", customer, "2.00")).entry_id
        ledger.reverse(reversed_before, posting_date=date(2026, 3, 9))
    for wanted, error in (
        ([entry, reversed_before], "is already reversed"),
        ([entry, 999_999], "journal entry 999999 does not exist"),
        ([entry, entry], f"journal entry {entry} is to be reversed twice"),
    ):
        with pytest.raises(LedgerError, match=error), unit_of_work(container.sessions) as session:
            container.ledger(session).reverse_many([Reversing(one, date(2026, 3, 9)) for one in wanted])
    assert balances(container, customer) == {"1122 CNY": Money.of("10.00", "CNY")}
    assert_verified(container)


def test_a_reversed_document_replayed_is_still_the_original_entry(container: Container) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        entry = ledger.post(invoice("INV-1", customer, "1.00"))
        ledger.reverse(entry.entry_id, posting_date=date(2026, 3, 9))
        replay = ledger.post(invoice("INV-1", customer, "1.00"))
    assert (replay.entry_id, replay.created) == (entry.entry_id, False)
    assert balances(container, customer) == {"1122 CNY": Money(0, "CNY")}


def test_changing_a_posted_entry_through_the_orm_raises_a_clear_error(container: Container) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        entry_id = container.ledger(session).post(invoice("INV-1", customer, "1.00")).entry_id
    with (
        pytest.raises(ImmutableEntryError, match=f"journal entry {entry_id} .* cannot be changed"),
        unit_of_work(container.sessions) as session,
    ):
        entry = session.get(JournalEntry, entry_id)
        assert entry is not None
        entry.memo = "edited"
    with (
        pytest.raises(ImmutableEntryError, match="cannot be changed"),
        unit_of_work(container.sessions) as session,
    ):
        posting = session.scalars(select(Posting).where(Posting.entry_id == entry_id)).first()
        assert posting is not None
        posting.amount_minor = 1


def test_deleting_a_posted_entry_through_the_application_raises_a_clear_error(container: Container) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        entry_id = container.ledger(session).post(invoice("INV-1", customer, "1.00")).entry_id
    with (
        pytest.raises(ImmutableEntryError, match="cannot be deleted"),
        unit_of_work(container.sessions) as session,
    ):
        session.delete(session.get(JournalEntry, entry_id))
    with (
        pytest.raises(ImmutableEntryError, match="postings are posted and cannot be deleted"),
        unit_of_work(container.sessions) as session,
    ):
        session.execute(delete(Posting).where(Posting.entry_id == entry_id))
    with (
        pytest.raises(ImmutableEntryError, match="journal_entries are posted and cannot be updated"),
        unit_of_work(container.sessions) as session,
    ):
        session.execute(update(JournalEntry).values(memo="x"))
    assert_verified(container)


def test_stored_customer_balance_is_read_without_scanning_postings(container: Container) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        container.ledger(session).post_many([invoice(f"INV-{i}", customer, "1.00") for i in range(50)])
    with unit_of_work(container.sessions) as session:
        stored = session.scalars(select(CustomerBalance)).one()
    assert (stored.balance_minor, stored.posting_count) == (5000, 50)


def test_bulk_posted_dates_are_stored_exactly_as_the_orm_stores_them(container: Container) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        entry_id = container.ledger(session).post(invoice("INV-1", customer, "1.00", day=7)).entry_id
    with unit_of_work(container.sessions) as session:
        entry = session.get(JournalEntry, entry_id)
        assert entry is not None
        assert entry.posting_date == date(2026, 3, 7)
        assert entry.created_at.year >= 2026
        if session.get_bind().dialect.name == "sqlite":
            stored = session.execute(text("SELECT created_at FROM journal_entries")).scalar_one()
            orm_written = session.execute(text("SELECT created_at FROM customers")).scalar_one()
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", stored)
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", orm_written)


def test_balances_as_of_a_day_sum_the_postings_dated_on_or_before_it_and_say_what_is_dated_later(
    container: Container,
) -> None:
    customer = add_customer(container)
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        ledger.post(invoice("INV-1", customer, "1000.00", day=1))
        ledger.post(receipt("R-1", customer, "400.00", day=5))
        ledger.post(invoice("INV-2", customer, "250.00", "EUR", day=20))
    with unit_of_work(container.sessions) as session:
        customer_id = customer_id_for(session, customer)
        stored = balances_of(session, customer_id)
        on_10th = balances_of(session, customer_id, date(2026, 3, 10))
        later = dated_later(session, date(2026, 3, 10), [customer_id])
        everyone_later = dated_later(session, date(2026, 3, 3))
        trial = trial_balance(session, date(2026, 3, 10))
        trial_all = trial_balance(session, date(2026, 3, 31))
        on_31st = balances_of(session, customer_id, date(2026, 3, 31))
        nothing_later = dated_later(session, date(2026, 3, 31), [customer_id])
    assert [(b.balance, b.posting_count) for b in on_10th] == [(Money.of("600.00", "CNY"), 2)]
    assert on_31st == stored  # after the last posting: the stored running balances
    assert later == DatedLater(1, date(2026, 3, 20), (Money.of("250.00", "EUR"),))
    # the whole ledger's: what the entries after the day debit, per currency
    assert everyone_later == DatedLater(
        2, date(2026, 3, 5), (Money.of("400.00", "CNY"), Money.of("250.00", "EUR"))
    )
    assert nothing_later == DatedLater(0, None, ())
    on_10th_accounts = {(a.code, a.balance.currency): a.balance for a in trial if a.balance is not None}
    assert on_10th_accounts[("1122", "CNY")] == Money.of("600.00", "CNY")
    assert ("1122", "EUR") not in on_10th_accounts
    assert {a.code for a in trial} == {a.code for a in trial_all}  # every chart account listed
    with unit_of_work(container.sessions) as session:
        stored_accounts = {
            (b.account_code, b.currency): b.balance_minor for b in session.scalars(select(AccountBalance))
        }
    assert {(a.code, a.balance.currency): a.balance.minor for a in trial_all if a.balance} == stored_accounts
