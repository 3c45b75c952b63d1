from __future__ import annotations

from datetime import date

import pytest

from connector.errors import InvalidEntryError, UnbalancedEntryError
from connector.ledger.entries import EntryDraft, Line, Voucher, check_draft, content_hash
from connector.money import Money

CNY_100 = Money.of("100", "CNY")


def draft(*lines: Line) -> EntryDraft:
    return EntryDraft("bank", "PAY-1", date(2026, 3, 1), Voucher("payment", "a.csv", 2), tuple(lines))


def test_a_balanced_entry_passes() -> None:
    check_draft(draft(Line.debit("1002", CNY_100), Line.credit("1122", CNY_100, "KA1")))


def test_an_entry_off_by_one_cent_is_refused_with_the_difference() -> None:
    with pytest.raises(UnbalancedEntryError, match=r"0.01 CNY off in CNY"):
        check_draft(draft(Line.debit("1002", Money(10001, "CNY")), Line.credit("1122", CNY_100, "KA1")))


def test_each_currency_must_balance_on_its_own() -> None:
    usd = Money.of("100", "USD")
    with pytest.raises(UnbalancedEntryError, match="USD"):
        check_draft(draft(Line.debit("1002", CNY_100), Line.credit("1122", usd, "KA1")))


def test_a_single_line_or_a_zero_line_is_refused() -> None:
    with pytest.raises(UnbalancedEntryError, match="at least two lines"):
        check_draft(draft(Line.debit("1002", CNY_100)))
    with pytest.raises(UnbalancedEntryError, match="zero amount"):
        check_draft(draft(Line.debit("1002", Money(0, "CNY")), Line.credit("1122", Money(0, "CNY"), "KA1")))


def hash_of(lines: list[tuple[str, int | None, str, int]], memo: str = "") -> str:
    return content_hash(
        source="bank",
        external_id="PAY-1",
        revision=1,
        reverses_id=None,
        posting_date=date(2026, 3, 1),
        value_date=None,
        document_date=None,
        memo=memo,
        document_type="payment",
        lines=lines,
    )


def test_content_hash_ignores_line_order() -> None:
    debit, credit = ("1002", None, "CNY", 10000), ("1122", 7, "CNY", -10000)
    assert hash_of([debit, credit]) == hash_of([credit, debit])


def test_content_hash_changes_with_amount_memo_or_customer() -> None:
    base = hash_of([("1002", None, "CNY", 10000), ("1122", 7, "CNY", -10000)])
    assert base != hash_of([("1002", None, "CNY", 10100), ("1122", 7, "CNY", -10100)])
    assert base != hash_of([("1002", None, "CNY", 10000), ("1122", 8, "CNY", -10000)])
    assert base != hash_of([("1002", None, "CNY", 10000), ("1122", 7, "CNY", -10000)], memo="x")


@pytest.mark.parametrize("memo", ["a\x1fb", "\x1e", "x\x1f\x1ey"])
def test_separator_control_characters_in_document_text_are_refused(memo: str) -> None:
    with pytest.raises(InvalidEntryError, match="'PAY-1': its text contains an ASCII separator"):
        hash_of([("1002", None, "CNY", 10000), ("1122", 7, "CNY", -10000)], memo=memo)


def test_a_draft_without_its_key_is_refused() -> None:
    lines = (Line.debit("1002", CNY_100), Line.credit("1122", CNY_100, "KA1"))
    with pytest.raises(InvalidEntryError, match="source and external id are required"):
        check_draft(EntryDraft("bank", "", date(2026, 3, 1), Voucher("payment"), lines))


def test_content_hash_is_stable_across_releases() -> None:
    # Stored hashes decide replay versus conflict: a change to the hash input would turn every
    # re-import of an already posted document into a conflict.
    lines = [("1122", 7, "CNY", -10000), ("1002", None, "CNY", 10000)]
    assert hash_of(lines) == "caa20e21b536600b509ecb5a217f19af73217715d9864756fb70800297c9124e"
    full = content_hash(
        source="bank",
        external_id="PAY-1",
        revision=2,
        reverses_id=41,
        posting_date=date(2026, 3, 1),
        value_date=date(2026, 3, 2),
        document_date=date(2026, 2, 27),
        memo="收款 March",
        document_type="payment",
        lines=lines,
    )
    assert full == "9747311f71f48ed0d45b50116d049363828eccd785a9ea32b36b2c8d5e75ed5a"
    with_tax = [("6001", None, "CNY", -10000), ("1122", 7, "CNY", 11300), ("2221", None, "CNY", -1300)]
    assert hash_of(with_tax) == "a45d13cbadc95d4d45737acb5b5507622ec282474ecc070ee8039ecbbacb6679"
