"""Open items and aging: reversals cancel, credits settle the oldest debits first, buckets by days late."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.credit.aging import (
    Aging,
    ArLine,
    OpenItem,
    aging,
    cancel_reversals,
    open_items,
    past_due_at_least,
    settle,
    settle_fifo,
)

D = date(2026, 1, 1)


def line(
    entry_id: int, minor: int, day: int = 0, *, document_day: int | None = None, reverses: int | None = None
):
    document_date = D + timedelta(days=document_day) if document_day is not None else None
    return ArLine(entry_id, D + timedelta(days=day), minor, document_date, reverses)


def test_an_invoice_falls_due_at_its_document_date_plus_the_payment_terms() -> None:
    items, left = open_items([line(1, 1000, day=10, document_day=3)], payment_terms_days=30)
    assert (items, left) == ([OpenItem(1, D + timedelta(days=33), 1000)], 0)


def test_an_invoice_without_a_document_date_falls_due_from_its_posting_date() -> None:
    [item], _ = open_items([line(1, 1000, day=10)], payment_terms_days=0)
    assert item.due == D + timedelta(days=10)


def test_receipts_settle_the_oldest_invoices_first_and_leave_the_rest_of_a_partly_paid_one_open() -> None:
    lines = [line(1, 1000, day=0), line(2, 500, day=5), line(3, 700, day=9), line(4, -1200, day=20)]
    items, left = open_items(lines, payment_terms_days=30)
    assert items == [OpenItem(2, D + timedelta(days=35), 300), OpenItem(3, D + timedelta(days=39), 700)]
    assert left == 0


def test_a_receipt_naming_an_invoice_settles_it_and_leaves_an_older_one_open() -> None:
    named = ArLine(3, D + timedelta(days=20), -300, applies_to=((2, 300),))
    items, left = open_items([line(1, 1000, day=0), line(2, 300, day=5), named], payment_terms_days=30)
    assert (items, left) == ([OpenItem(1, D + timedelta(days=30), 1000)], 0)


def test_a_credit_kept_in_advances_settles_only_what_it_names_and_says_how_much_it_spent() -> None:
    kept = ArLine(1, D, -500, applies_to=((3, 300),), named_only=True)  # came before the invoices
    items, left, spent = settle([kept, line(2, 1000, day=0), line(3, 300, day=5)], payment_terms_days=30)
    assert items == [OpenItem(2, D + timedelta(days=30), 1000)]  # its other 200 is no AR credit
    assert (left, spent) == (0, 300)


def test_a_receipt_split_between_receivable_and_advances_pays_what_it_names_only_once() -> None:
    # 1,000 received when 600 was owed: 600 to AR, 400 kept in advances; it names 300 of invoice 3.
    on_ar = ArLine(2, D + timedelta(days=64), -600, applies_to=((3, 300),))
    kept = ArLine(2, D + timedelta(days=64), -400, applies_to=((3, 300),), named_only=True)
    invoices = [line(1, 600, day=0), line(3, 1000, day=66)]
    items, left, spent = settle([invoices[0], on_ar, kept, invoices[1]], payment_terms_days=30)
    assert items == [OpenItem(1, D + timedelta(days=30), 300), OpenItem(3, D + timedelta(days=96), 700)]
    assert (left, spent) == (0, 0)


def test_a_receipt_applied_to_one_invoice_in_two_parts_pays_it_both() -> None:
    two_parts = ArLine(3, D + timedelta(days=20), -1800, applies_to=((2, 1000), (2, 800)))
    items, _ = open_items([line(1, 800, day=0), line(2, 1800, day=5), two_parts], payment_terms_days=30)
    assert items == [OpenItem(1, D + timedelta(days=30), 800)]


def test_a_credit_kept_in_advances_and_reversed_settles_nothing() -> None:
    kept = ArLine(1, D, -300, applies_to=((2, 300),), named_only=True)
    undone = ArLine(4, D + timedelta(days=9), 300, reverses_id=1, named_only=True)  # the receipt bounced
    items, _, spent = settle([kept, line(2, 300, day=5), undone], payment_terms_days=0)
    assert (items, spent) == ([OpenItem(2, D + timedelta(days=5), 300)], 0)


def test_what_a_named_invoice_does_not_need_settles_the_oldest_others() -> None:
    named = ArLine(3, D + timedelta(days=20), -500, applies_to=((2, 500),))
    items, _ = open_items([line(1, 1000, day=0), line(2, 300, day=5), named], payment_terms_days=30)
    assert items == [OpenItem(1, D + timedelta(days=30), 800)]


def test_a_receipt_names_no_more_of_an_invoice_than_its_application_says() -> None:
    named = ArLine(3, D + timedelta(days=20), -500, applies_to=((2, 100),))
    items, _ = open_items([line(1, 400, day=0), line(2, 300, day=5), named], payment_terms_days=30)
    assert items == [OpenItem(2, D + timedelta(days=35), 200)]


def test_credits_settle_by_due_date_whenever_they_were_posted() -> None:
    backdated = line(5, 400, day=30, document_day=1)  # posted late, dated early: it is the oldest
    items, _ = open_items([line(1, 1000, day=10), line(2, -400, day=20), backdated], payment_terms_days=0)
    assert items == [OpenItem(1, D + timedelta(days=10), 1000)]


def test_a_reversed_invoice_and_its_reversal_cancel_instead_of_paying_the_oldest_invoice() -> None:
    lines = [line(1, 1000, day=0), line(2, 300, day=5), line(3, -300, day=6, reverses=2)]
    items, left = open_items(lines, payment_terms_days=30)
    assert (items, left) == ([OpenItem(1, D + timedelta(days=30), 1000)], 0)


def test_a_reversed_receipt_pays_nothing() -> None:
    lines = [line(1, 1000), line(2, -1000, day=5), line(3, 1000, day=6, reverses=2)]
    assert open_items(lines, payment_terms_days=0) == ([OpenItem(1, D, 1000)], 0)


def test_a_reversal_whose_original_is_not_among_the_lines_is_an_ordinary_line() -> None:
    assert cancel_reversals([line(1, 1000), line(3, -200, reverses=99)]) == [
        line(1, 1000),
        line(3, -200, reverses=99),
    ]


def test_credit_beyond_every_debit_is_left_over_and_nothing_stays_open() -> None:
    assert open_items([line(1, 1000), line(2, -1500, day=3)], payment_terms_days=0) == ([], 500)


def test_a_negative_credit_pool_settles_nothing() -> None:
    debits = [OpenItem(1, D, 100)]
    assert settle_fifo(debits, -50) == (debits, 0)


@pytest.mark.parametrize(
    ("days_late", "bucket"),
    [
        (-5, "current"),
        (0, "current"),
        (1, "days_1_30"),
        (30, "days_1_30"),
        (31, "days_31_60"),
        (60, "days_31_60"),
        (61, "days_61_90"),
        (90, "days_61_90"),
        (91, "days_90_plus"),
        (400, "days_90_plus"),
    ],
)
def test_buckets_count_whole_days_past_due_at_the_as_of_date(days_late: int, bucket: str) -> None:
    as_of = date(2026, 6, 30)
    found = aging([OpenItem(1, as_of - timedelta(days=days_late), 1234)], as_of)
    assert getattr(found, bucket) == 1234
    assert found.total == 1234
    assert found.oldest_days_past_due == max(days_late, 0)
    assert found.overdue == (0 if bucket == "current" else 1234)


def test_past_due_at_least_sums_the_items_that_late_or_later() -> None:
    as_of = date(2026, 6, 30)
    items = [OpenItem(i, as_of - timedelta(days=late), 100 * i) for i, late in ((1, 95), (2, 61), (3, 10))]
    assert past_due_at_least(items, as_of, 61) == 300
    assert past_due_at_least(items, as_of, 91) == 100
    assert past_due_at_least(items, as_of, 0) == 600  # "0 days past due" means past due at all


def test_an_empty_aging_is_all_zero() -> None:
    assert aging([], D) == Aging()


# --- properties ---------------------------------------------------------------------------------------

amounts = st.integers(min_value=-(10**9), max_value=10**9).filter(bool)
ar_lines = st.lists(
    st.tuples(amounts, st.integers(0, 400), st.one_of(st.none(), st.integers(0, 400))), max_size=30
).map(
    lambda rows: [
        line(index + 1, minor, day=day, document_day=document_day)
        for index, (minor, day, document_day) in enumerate(rows)
    ]
)


@given(ar_lines, st.integers(0, 120), st.integers(0, 900))
def test_buckets_sum_to_the_receivable_when_it_is_not_negative(lines, terms: int, as_of_day: int) -> None:
    receivable = sum(item.amount_minor for item in lines)
    items, left = open_items(lines, terms)
    found = aging(items, D + timedelta(days=as_of_day))
    if receivable >= 0:
        assert (found.total, left) == (receivable, 0)
    else:
        assert (found.total, left) == (0, -receivable)


@given(ar_lines, st.integers(0, 120))
def test_fifo_never_leaves_a_negative_item_and_settles_oldest_first(lines, terms: int) -> None:
    items, _ = open_items(lines, terms)
    debits = {entry.entry_id: entry.amount_minor for entry in lines if entry.amount_minor > 0}
    assert all(0 < item.amount_minor <= debits[item.entry_id] for item in items)
    # only the oldest open item may be partly paid; everything after it is untouched
    assert all(item.amount_minor == debits[item.entry_id] for item in items[1:])
    # nothing older than the oldest open item is still open: the open items are the youngest debits
    all_debits = sorted(
        (entry for entry in lines if entry.amount_minor > 0),
        key=lambda entry: ((entry.document_date or entry.posting_date), entry.entry_id),
    )
    open_ids = [item.entry_id for item in items]
    assert [entry.entry_id for entry in all_debits[len(all_debits) - len(open_ids) :]] == open_ids


@given(ar_lines, st.integers(0, 60), st.randoms(use_true_random=False))
def test_the_order_lines_arrive_in_does_not_change_the_open_items(
    lines, terms: int, rnd: random.Random
) -> None:
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    assert open_items(shuffled, terms) == open_items(lines, terms)


@given(ar_lines, st.integers(0, 60))
def test_reversing_any_entry_leaves_the_open_items_as_if_it_never_was(lines, terms: int) -> None:
    if not lines:
        return
    victim = lines[len(lines) // 2]
    reversal = ArLine(
        10_000, victim.posting_date, -victim.amount_minor, victim.document_date, victim.entry_id
    )
    without = [entry for entry in lines if entry is not victim]
    assert open_items([*lines, reversal], terms) == open_items(without, terms)


@given(ar_lines, st.integers(0, 120), st.integers(0, 900), st.randoms(use_true_random=False))
def test_buckets_sum_to_the_receivable_whatever_the_credits_name(
    lines, terms: int, as_of_day: int, rnd: random.Random
) -> None:
    ids = [entry.entry_id for entry in lines]
    naming = [
        ArLine(
            entry.entry_id,
            entry.posting_date,
            entry.amount_minor,
            entry.document_date,
            applies_to=tuple((rnd.choice(ids), rnd.randint(1, 10**9)) for _ in range(rnd.randint(0, 2))),
        )
        for entry in lines
    ]
    receivable = sum(item.amount_minor for item in lines)
    items, left = open_items(naming, terms)
    assert all(item.amount_minor > 0 for item in items)
    found = aging(items, D + timedelta(days=as_of_day))
    assert (found.total, left) == ((receivable, 0) if receivable >= 0 else (0, -receivable))
    shuffled = list(naming)
    rnd.shuffle(shuffled)
    assert open_items(shuffled, terms) == (items, left)
