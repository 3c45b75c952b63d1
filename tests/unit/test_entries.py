from __future__ import annotations

from datetime import date

import pytest

from connector.errors import UnbalancedEntryError
from connector.ledger.entries import EntryDraft, Line, Voucher, check_balanced, draft_hash
from connector.money import Money

CNY_100 = Money.of("100", "CNY")


FIRST_FILE = Voucher("payment", "a.csv", 2)


def draft(*lines: Line, voucher: Voucher = FIRST_FILE, memo: str = "") -> EntryDraft:
    return EntryDraft("bank", "PAY-1", date(2026, 3, 1), voucher, tuple(lines), memo=memo)


def test_a_balanced_entry_passes() -> None:
    check_balanced(draft(Line.debit("1002", CNY_100), Line.credit("1122", CNY_100, "KA1")))


def test_an_entry_off_by_one_cent_is_refused_with_the_difference() -> None:
    with pytest.raises(UnbalancedEntryError, match=r"0.01 CNY off in CNY"):
        check_balanced(draft(Line.debit("1002", Money(10001, "CNY")), Line.credit("1122", CNY_100, "KA1")))


def test_each_currency_must_balance_on_its_own() -> None:
    usd = Money.of("100", "USD")
    with pytest.raises(UnbalancedEntryError, match="USD"):
        check_balanced(draft(Line.debit("1002", CNY_100), Line.credit("1122", usd, "KA1")))


def test_a_single_line_or_a_zero_line_is_refused() -> None:
    with pytest.raises(UnbalancedEntryError, match="at least two lines"):
        check_balanced(draft(Line.debit("1002", CNY_100)))
    with pytest.raises(UnbalancedEntryError, match="zero amount"):
        check_balanced(
            draft(Line.debit("1002", Money(0, "CNY")), Line.credit("1122", Money(0, "CNY"), "KA1"))
        )


def test_content_hash_ignores_line_order_and_where_the_voucher_was_found() -> None:
    one = draft(Line.debit("1002", CNY_100), Line.credit("1122", CNY_100, "KA1"))
    other = draft(
        Line.credit("1122", CNY_100, "KA1"),
        Line.debit("1002", CNY_100),
        voucher=Voucher("payment", "b.csv", 9),
    )
    assert draft_hash(one) == draft_hash(other)


def test_content_hash_changes_with_amount_memo_or_customer() -> None:
    base = draft_hash(draft(Line.debit("1002", CNY_100), Line.credit("1122", CNY_100, "KA1")))
    cny_101 = Money.of("101", "CNY")
    assert base != draft_hash(draft(Line.debit("1002", cny_101), Line.credit("1122", cny_101, "KA1")))
    assert base != draft_hash(draft(Line.debit("1002", CNY_100), Line.credit("1122", CNY_100, "KA2")))
    assert base != draft_hash(
        draft(Line.debit("1002", CNY_100), Line.credit("1122", CNY_100, "KA1"), memo="x")
    )
