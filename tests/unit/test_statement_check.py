"""The bank reconciliation's comparison: statement lines against the ledger's bank entries, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from connector.cli.statement_report import reconciliation_text
from connector.documents import Document, Origin, Party, Problem, Statement
from connector.errors import FileFormatError
from connector.imports.statement_check import (
    BankEntry,
    ImportRecord,
    LedgerSide,
    Period,
    StatementLines,
    StatementReport,
    check_statement,
    statement_period,
)
from connector.imports.statement_reconcile import FileReconciliation, group_statements
from connector.money import Money


def march(day: int) -> date:
    return date(2026, 3, day)


def line(
    external_id: str,
    amount: str,
    day: int = 4,
    currency: str = "EUR",
    *,
    value_day: int | None = None,
    references: tuple[str, ...] = (),
    row: int = 1,
    bank_reversal: bool = False,
) -> Document:
    return Document(
        kind="bank_line",
        source="camt053",
        external_id=external_id,
        date=march(day),
        value_date=march(value_day) if value_day else None,
        amount=Money.of(amount, currency),
        origin=Origin("statement.xml", row),
        party=Party(name="Müller GmbH"),
        references=references,
        bank_reversal=bank_reversal,
        account="DE89370400440532013000",
    )


def header(
    opening: str | None = "0.00",
    closing: str | None = None,
    start: int = 1,
    end: int = 31,
    currency: str = "EUR",
    source: str = "camt053",
    from_balances: bool = False,
) -> Statement:
    return Statement(
        period_from_balances=from_balances,
        source=source,
        account="DE89370400440532013000",
        currency=currency,
        origin=Origin("statement.xml"),
        statement_id="2026-03",
        period_start=march(start),
        period_end=march(end),
        opening=Money.of(opening, currency) if opening is not None else None,
        closing=Money.of(closing, currency) if closing is not None else None,
    )


def entry(
    entry_id: int,
    amount: str,
    day: int = 4,
    currency: str = "EUR",
    *,
    source: str = "zoho_books",
    external_id: str | None = None,
    memo: str = "",
    counterpart: tuple[int, date] | None = None,
    is_reversal: bool = False,
) -> BankEntry:
    return BankEntry(
        entry_id=entry_id,
        source=source,
        external_id=external_id or f"P-{entry_id}",
        posting_date=march(day),
        amount=Money.of(amount, currency),
        memo=memo,
        is_reversal=is_reversal,
        counterpart_id=counterpart[0] if counterpart else None,
        counterpart_date=counterpart[1] if counterpart else None,
    )


def check(
    statement: Statement, lines: list[Document], ledger: LedgerSide, window_days: int = 3
) -> StatementReport:
    return check_statement(StatementLines(statement, tuple(lines)), ledger, window_days)


def closing_after(lines: list[Document], opening: str = "0.00") -> str:
    total = Money.of(opening, "EUR").minor + sum(x.amount.minor for x in lines if x.amount.currency == "EUR")
    return str(Money(total, "EUR").amount)


def test_a_line_the_import_posted_matches_its_own_entry_whatever_else_has_the_same_amount() -> None:
    lines = [line("A-1", "100.00")]
    ledger = LedgerSide(
        entries=[entry(7, "100.00", day=4), entry(8, "100.00", day=4, source="camt053", external_id="A-1")],
        imported={("camt053", "A-1"): ImportRecord("posted", 8)},
    )
    report = check(header(closing="100.00"), lines, ledger)
    assert [(m.entry.entry_id, m.how) for m in report.matched] == [(8, "imported from this statement")]
    assert [m.entry.entry_id for m in report.missing_entries] == [7]
    assert report.reconciles


def test_a_line_never_imported_matches_a_receipt_of_another_source_by_amount_and_date() -> None:
    report = check(
        header(closing="250.00"), [line("A-1", "250.00", day=4)], LedgerSide([entry(3, "250.00", day=6)])
    )
    (matched,) = report.matched
    assert (matched.entry.entry_id, matched.by_import, matched.days) == (3, False, 2)
    assert matched.how == "amount and date (±2 days)"
    assert (report.missing_lines, report.missing_entries) == ((), ())
    assert report.balances.unexplained == Money.zero("EUR")


def test_the_window_is_counted_from_the_value_date_too_and_not_beyond_it() -> None:
    near_value_date = check(
        header(), [line("A-1", "80.00", day=4, value_day=9)], LedgerSide([entry(1, "80.00", day=11)])
    )
    assert [m.days for m in near_value_date.matched] == [2]
    too_far = check(header(), [line("A-1", "80.00", day=4)], LedgerSide([entry(1, "80.00", day=8)]))
    assert too_far.matched == ()
    assert [m.reason for m in too_far.missing_lines] == ["never imported"]


def test_the_closest_date_wins_over_file_order() -> None:
    # Taken in file order, A-1 would take entry 1 (a day away) and leave A-2 nothing within the window.
    lines = [line("A-1", "50.00", day=5, row=1), line("A-2", "50.00", day=6, row=2)]
    report = check(header(), lines, LedgerSide([entry(1, "50.00", day=6), entry(2, "50.00", day=2)]))
    assert {m.line.external_id: (m.entry.entry_id, m.days) for m in report.matched} == {
        "A-1": (2, 3),
        "A-2": (1, 0),
    }


def test_a_shared_reference_breaks_a_tie_in_dates() -> None:
    lines = [line("A-1", "50.00", references=("Rechnung INV-2026-0007",))]
    entries = [entry(1, "50.00", memo="receipt PAY-1"), entry(2, "50.00", memo="receipt INV-2026-0007")]
    (matched,) = check(header(), lines, LedgerSide(entries)).matched
    assert (matched.entry.entry_id, matched.reference) == (2, "INV-2026-0007")
    assert matched.how == "amount and date (±0 days), reference INV-2026-0007"


def test_each_ledger_entry_matches_one_line_at_most() -> None:
    lines = [line("A-1", "75.00", row=1), line("A-2", "75.00", row=2)]
    report = check(header(closing="150.00"), lines, LedgerSide([entry(1, "75.00")]))
    assert [m.line.external_id for m in report.matched] == ["A-1"]
    assert [(m.line.external_id, m.reason) for m in report.missing_lines] == [("A-2", "never imported")]
    assert report.balances.difference == Money.of("75.00", "EUR")
    assert report.reconciles


def test_an_entry_and_its_reversal_in_the_period_are_neither_matched_nor_missing() -> None:
    entries = [
        entry(1, "300.00", day=4, counterpart=(2, march(5))),
        entry(2, "-300.00", day=5, counterpart=(1, march(4)), is_reversal=True),
    ]
    report = check(header(closing="300.00"), [line("A-1", "300.00", day=4)], LedgerSide(entries))
    assert (report.matched, report.missing_entries) == ((), ())
    assert [m.reason for m in report.missing_lines] == ["never imported"]
    assert report.balances.ledger_movement == Money.zero("EUR")
    assert report.reconciles


def test_a_line_whose_entry_was_reversed_is_missing_with_the_reason() -> None:
    entries = [
        entry(1, "300.00", source="camt053", external_id="A-1", counterpart=(2, march(9))),
        entry(
            2,
            "-300.00",
            day=9,
            source="camt053",
            external_id="A-1",
            counterpart=(1, march(4)),
            is_reversal=True,
        ),
    ]
    ledger = LedgerSide(entries, imported={("camt053", "A-1"): ImportRecord("posted", 1)})
    report = check(header(closing="300.00"), [line("A-1", "300.00")], ledger)
    assert [m.reason for m in report.missing_lines] == ["its entry 1 was reversed"]
    assert report.reconciles


def test_an_entry_reversed_after_the_period_counts_in_it_and_is_missing_from_the_bank_with_a_note() -> None:
    entries = [entry(1, "40.00", day=30, counterpart=(2, date(2026, 4, 2)))]
    report = check(header(end=31), [], LedgerSide(entries))
    assert [m.note for m in report.missing_entries] == [
        "reversed by entry 2 on 2026-04-02, outside the period"
    ]
    assert report.balances.ledger_movement == Money.of("40.00", "EUR")
    assert report.balances.unexplained == Money.zero("EUR")


def test_a_reversal_in_the_period_of_an_earlier_entry_is_missing_from_the_bank_with_a_note() -> None:
    entries = [entry(2, "-40.00", day=2, counterpart=(1, date(2026, 2, 27)), is_reversal=True)]
    report = check(header(), [], LedgerSide(entries))
    assert [m.note for m in report.missing_entries] == ["reverses entry 1 of 2026-02-27, outside the period"]
    assert report.reconciles


def test_lines_in_another_currency_are_matched_apart_and_kept_out_of_the_balances() -> None:
    lines = [line("A-1", "100.00"), line("A-2", "99.99", currency="USD"), line("A-3", "5.00", currency="USD")]
    entries = [entry(1, "100.00"), entry(2, "99.99", currency="USD"), entry(3, "12.00", currency="USD")]
    report = check(header(closing="100.00"), lines, LedgerSide(entries))
    assert [m.line.external_id for m in report.matched] == ["A-1"]
    assert [(m.line.external_id, m.entry.entry_id) for m in report.other_matched] == [("A-2", 2)]
    assert [m.line.external_id for m in report.other_missing] == ["A-3"]
    assert report.missing_entries == ()  # a USD receipt is kept out of the EUR balances …
    assert [m.entry.entry_id for m in report.other_missing_entries] == [3]  # … but listed apart
    assert report.other_currencies == ("USD",)
    assert report.balances.lines_total == report.balances.ledger_movement == Money.of("100.00", "EUR")
    assert report.reconciles


def test_a_line_is_never_matched_to_an_entry_in_another_currency() -> None:
    report = check(header(), [line("A-1", "10.00")], LedgerSide([entry(1, "10.00", currency="USD")]))
    assert report.matched == report.other_matched == ()


def test_a_statement_whose_lines_do_not_add_up_to_its_closing_balance_does_not_reconcile() -> None:
    lines = [line("A-1", "100.00")]
    report = check(header(opening="1000.00", closing="1109.00"), lines, LedgerSide([entry(1, "100.00")]))
    balances = report.balances
    assert balances.self_check == Money.of("-9.00", "EUR")
    assert (balances.statement_movement, balances.ledger_movement) == (
        Money.of("109.00", "EUR"),
        Money.of("100.00", "EUR"),
    )
    assert balances.unexplained == Money.of("9.00", "EUR")
    assert not report.reconciles


def test_without_balances_the_movement_is_the_sum_of_the_lines_and_nothing_is_self_checked() -> None:
    lines = [line("A-1", "100.00"), line("A-2", "-30.00")]
    report = check(header(opening=None, closing="500.00"), lines, LedgerSide([entry(1, "100.00")]))
    assert report.balances.statement_movement == Money.of("70.00", "EUR")
    assert report.balances.self_check is None
    assert report.reconciles


def test_a_line_whose_entry_is_of_another_amount_is_not_matched_to_it_but_said_to_have_changed() -> None:
    ledger = LedgerSide(  # the bank sent A-1 again as 99.00: the import reversed 100.00 and posted that
        [entry(5, "99.00", source="camt053", external_id="A-1")],
        {("camt053", "A-1"): ImportRecord("posted", 5)},
    )
    report = check(header(closing="100.00"), [line("A-1", "100.00")], ledger)
    assert report.matched == ()
    (missing,) = report.missing_lines
    assert missing.reason.startswith("changed since this statement: the bank sent it again as 99.00 EUR")
    assert (missing.changed, missing.receipt_changed) == (True, False)
    assert not report.reconciles


def test_a_line_linked_to_a_payment_changed_since_is_said_to_be_so_not_sent_again_by_the_bank() -> None:
    ledger = LedgerSide(  # A-1 was linked to payment P-5, changed since to 99.00 (imported before the fix)
        [entry(5, "99.00", source="zoho_books.payments", external_id="P-5")],
        {("camt053", "A-1"): ImportRecord("linked", 5)},
    )
    report = check(header(closing="100.00"), [line("A-1", "100.00")], ledger)
    (missing,) = report.missing_lines
    assert missing.reason == (
        "linked to the receipt zoho_books.payments P-5, which changed since to 99.00 EUR (entry 5): the "
        "ledger holds none of this line's 100.00 EUR"
    )
    assert (missing.changed, missing.receipt_changed) == (True, True)
    assert not report.reconciles
    text = reconciliation_text(FileReconciliation("statement.xml", "camt053", 3, (report,), ()))
    assert (
        "  Does NOT reconcile: 1 line(s) linked to a receipt that changed since to other money: the ledger "
        "holds none of theirs (see above)"
    ) in text
    assert not any("the bank sent" in row for row in text)


def test_a_line_matched_to_an_entry_after_the_period_is_a_timing_difference_not_an_unexplained_one() -> None:
    lines = [line("A-1", "60.00", day=31)]
    report = check(
        header(closing="60.00"),
        lines,
        LedgerSide([BankEntry(9, "zoho_books", "P-9", date(2026, 4, 1), Money.of("60.00", "EUR"))]),
    )
    (matched,) = report.matched
    assert not matched.in_period
    assert report.balances.ledger_movement == Money.zero("EUR")
    assert report.balances.timing == Money.of("60.00", "EUR")
    assert report.reconciles


def test_lines_missing_from_the_ledger_say_why() -> None:
    lines = [
        line("OUT", "-20.00", row=1),
        line("RVSL", "-30.00", references=("Rueckbuchung", "RVSL"), row=2, bank_reversal=True),
        line("BAD", "40.00", row=3),
        line("NEW", "50.00", row=4),
        line("NEW-OUT", "-60.00", row=5),
        line("GONE", "70.00", row=6),
        line("RETURN", "-70.00", row=7, bank_reversal=True),
        line("BACK", "15.00", row=8, bank_reversal=True),
    ]
    ledger = LedgerSide(
        imported={
            ("camt053", "OUT"): ImportRecord("ignored", note="money out of the account: not a receipt"),
            ("camt053", "GONE"): ImportRecord("reversed", 3),
            ("camt053", "RETURN"): ImportRecord("reversal", note="reverses GONE (returned receipt)"),
            ("camt053", "BACK"): ImportRecord(
                "ignored", note="a returned payment (money back in): not a receipt"
            ),
        },
        quarantined={("camt053", "BAD"): "no customer for this bank_line"},
    )
    report = check(header(closing=closing_after(lines)), lines, ledger)
    assert {m.line.external_id: m.reason for m in report.missing_lines} == {
        "OUT": "money out: not a receivable, not posted",
        "RVSL": "money out (a reversal booked by the bank): not a receivable, never imported",
        "BAD": "quarantined: no customer for this bank_line",
        "NEW": "never imported",
        "NEW-OUT": "money out: not a receivable, never imported",
        "GONE": "reversed by a later line: its entry and the reversal cancel",
        "RETURN": "reverses GONE (returned receipt): the import reversed the entry of the line it cancels, "
        "this one is not posted",
        "BACK": "a returned payment (money back in): not a receipt, not posted",
    }
    assert report.reconciles


def test_a_line_reversed_after_the_period_still_matches_the_entry_it_posted() -> None:
    reversed_later = entry(
        3, "70.00", day=30, source="camt053", external_id="GONE", counterpart=(4, date(2026, 4, 2))
    )
    ledger = LedgerSide([reversed_later], imported={("camt053", "GONE"): ImportRecord("reversed", 3)})
    report = check(header(closing="70.00"), [line("GONE", "70.00", day=30)], ledger)
    assert [(m.entry.entry_id, m.by_import, m.in_period) for m in report.matched] == [(3, True, True)]
    assert report.missing_entries == ()
    assert report.reconciles


def test_a_line_the_import_reversed_is_not_matched_by_amount_and_date() -> None:
    ledger = LedgerSide([entry(1, "70.00")], imported={("camt053", "GONE"): ImportRecord("reversed", 3)})
    report = check(header(), [line("GONE", "70.00")], ledger)
    assert report.matched == ()
    assert [m.entry.entry_id for m in report.missing_entries] == [1]


def test_a_period_of_balance_dates_starts_the_day_after_the_opening_balance_or_on_the_first_line() -> None:
    lines = [line("A-1", "1.00", day=3), line("A-2", "1.00", day=4)]
    assert statement_period(header(start=2, end=4, from_balances=True), lines) == Period(march(3), march(4))
    assert statement_period(header(start=2, end=4, from_balances=True), lines[1:]) == Period(
        march(3), march(4)
    )
    assert statement_period(header(start=3, end=4, from_balances=True), lines) == Period(march(3), march(4))
    assert statement_period(header(start=2, end=4), lines) == Period(march(2), march(4))  # a stated period


def test_a_statement_of_a_day_without_movements_has_a_period_and_reconciles() -> None:
    quiet = header(opening="10.00", closing="10.00", start=2, end=3, from_balances=True)
    assert statement_period(quiet, []) == Period(march(3), march(3))
    assert check(quiet, [], LedgerSide()).reconciles


def test_a_statement_without_a_period_takes_it_from_its_lines() -> None:
    statement = Statement("ofx", "4417", "EUR", Origin("bank.ofx"))
    lines = [line("A-1", "1.00", day=9), line("A-2", "1.00", day=3)]
    assert statement_period(statement, lines) == Period(march(3), march(9))
    assert statement_period(statement, []) is None


def test_lines_belong_to_the_statement_that_follows_them_and_a_headerless_tail_is_kept_apart() -> None:
    first, second, tail = line("A-1", "1.00"), line("B-1", "2.00"), line("C-1", "3.00")
    pending = Problem(Origin("statement.xml", 2), "pending entry, not booked")
    one, two = header(), header(currency="JPY", opening="0")
    groups = list(group_statements([first, pending, one, second, two, tail]))
    assert [(g.statement, g.lines, g.unreadable) for g in groups] == [
        (one, (first,), (pending,)),
        (two, (second,), ()),
        (None, (tail,), ()),
    ]
    report = check_statement(groups[2], LedgerSide(), 3)
    assert (report.header_read, report.statement.currency, report.reconciles) == (False, "EUR", False)


def test_lines_whose_statement_header_cannot_be_read_stay_apart_from_the_next_statement() -> None:
    first, second = line("A-1", "999.00"), line("B-1", "2.00")
    broken = Problem(Origin("statement.sta", 1), "statement without an account (:25:)", header=True)
    two = header()
    groups = list(group_statements([first, broken, second, two]))
    assert [(g.statement, g.lines, g.unreadable) for g in groups] == [
        (None, (first,), (broken,)),
        (two, (second,), ()),
    ]
    assert not check_statement(groups[0], LedgerSide(), 3).reconciles


def test_an_unreadable_entry_that_no_balance_accounts_for_keeps_a_statement_from_reconciling() -> None:
    ofx_like = header(opening=None, closing="10.00")
    unreadable = Problem(Origin("bank.ofx", 2), "transaction not readable: not an amount: '2.500.00'")
    repeated = Problem(Origin("bank.ofx", 3), "the same transaction again", unbooked=True)
    matched = [line("A-1", "10.00")]
    ledger = LedgerSide(entries=(entry(1, "10.00"),))
    for problems, reconciles in (((unreadable,), False), ((repeated,), True)):
        report = check_statement(StatementLines(ofx_like, tuple(matched), problems), ledger, 3)
        assert report.balances.unexplained.minor == 0
        assert report.reconciles is reconciles
    with_balances = header(opening="0.00", closing="10.00")
    report = check_statement(StatementLines(with_balances, tuple(matched), (unreadable,)), ledger, 3)
    assert report.reconciles  # its balances account for every entry, read or not


def test_a_file_of_invoices_is_not_a_bank_statement() -> None:
    invoice = Document(
        "invoice", "zoho_books", "INV-1", march(1), Money.of("1.00", "EUR"), Origin("invoices.csv", 2)
    )
    with pytest.raises(FileFormatError, match=r"invoices\.csv: not a bank statement"):
        list(group_statements([invoice]))


def test_a_receipt_of_no_known_bank_account_counts_where_a_line_matches_it_and_is_missed_nowhere() -> None:
    """The statement's account is kept apart; receipts posted to the bank role's account (an export
    that named no deposit account) may be its money: one matching a line counts, the other is not
    listed as missing from this bank (it may be another account's)."""
    lines = [line("A-1", "450.00", day=4)]
    ledger = LedgerSide(
        [
            replace(entry(1, "450.00", day=4), unassigned=True),
            replace(entry(2, "77.00", day=5), unassigned=True),
        ],
        ledger_account="100201",
    )
    report = check(header(closing="450.00"), lines, ledger)
    assert [m.entry.entry_id for m in report.matched] == [1]
    assert report.missing_entries == ()
    assert report.balances.ledger_movement == Money.of("450.00", "EUR")
    assert report.reconciles
    assert report.ledger_account == "100201"


def test_the_reversal_of_an_unassigned_receipt_a_line_claimed_is_missing_from_the_bank() -> None:
    """The line matched the receipt (dated before the period: timing); the receipt was reversed in the
    period, which the bank never shows: the reversal is this account's, and missing from the bank."""
    receipt = replace(entry(1, "300.00", day=1, counterpart=(2, march(10))), unassigned=True)
    reversal = replace(
        entry(2, "-300.00", day=10, counterpart=(1, march(1)), is_reversal=True), unassigned=True
    )
    report = check(header(start=3), [line("A-1", "300.00", day=3)], LedgerSide([receipt, reversal]))
    assert [(m.entry.entry_id, m.in_period) for m in report.matched] == [(1, False)]
    assert [m.entry.entry_id for m in report.missing_entries] == [2]
    assert report.balances.ledger_movement == Money.of("-300.00", "EUR")
    assert report.balances.unexplained == Money.zero("EUR")


def test_a_line_matches_its_own_accounts_entry_before_an_unassigned_receipt_nearer_in_date() -> None:
    own, elsewhere = entry(1, "80.00", day=6), replace(entry(2, "80.00", day=5), unassigned=True)
    report = check(header(closing="80.00"), [line("A-1", "80.00", day=4)], LedgerSide([own, elsewhere]))
    assert [m.entry.entry_id for m in report.matched] == [1]
    assert report.missing_entries == ()


def test_a_line_a_later_line_replaces_is_in_no_balance_before_between_and_after_the_import() -> None:
    old, paid = line("X001", "2000.00", row=1), line("X002", "56400.50", day=6, row=2)
    new = replace(line("X003", "2200.00", day=6, row=3), replaces="X001")  # OFX CORRECTACTION=REPLACE
    statement, lines = header(opening=None, closing="68600.50"), [old, paid, new]
    posted = [
        entry(2, "56400.50", day=6, source="camt053", external_id="X002"),
        entry(4, "2200.00", day=6, source="camt053", external_id="X003"),
    ]
    first = entry(1, "2000.00", source="camt053", external_id="X001", counterpart=(3, march(6)))
    reversal = entry(3, "-2000.00", day=6, source="camt053", external_id="X001", is_reversal=True)
    stages = {
        "before": LedgerSide(),
        "between": LedgerSide(  # the statement's first download imported, without the correction
            [replace(first, counterpart_id=None, counterpart_date=None), posted[0]],
            imported={
                ("camt053", "X001"): ImportRecord("unapplied", 1),
                ("camt053", "X002"): ImportRecord("unapplied", 2),
            },
        ),
        "after": LedgerSide(
            [first, replace(reversal, counterpart_id=1, counterpart_date=march(4)), *posted],
            imported={
                ("camt053", "X001"): ImportRecord("reversed", 1),
                ("camt053", "X002"): ImportRecord("unapplied", 2),
                ("camt053", "X003"): ImportRecord("unapplied", 4),
            },
        ),
    }
    reports = {stage: check(statement, lines, ledger) for stage, ledger in stages.items()}

    for report in reports.values():
        assert report.balances.lines_total == Money.of("58600.50", "EUR")  # X003 instead of X001
        assert [(m.line.external_id, m.reason) for m in report.replaced] == [
            (
                "X001",
                "replaced by row 3 (an OFX correction): not counted, the bank's balance holds 2,200.00 EUR "
                "instead",
            )
        ]
        listed = [m.line.external_id for m in report.matched] + [
            m.line.external_id for m in report.missing_lines
        ]
        assert "X001" not in listed
        assert report.reconciles
    assert [m.line.external_id for m in reports["before"].missing_lines] == ["X002", "X003"]
    between = reports["between"]
    assert [(m.line.external_id, m.reason) for m in between.missing_lines] == [("X003", "never imported")]
    assert [(m.entry.entry_id, m.note) for m in between.missing_entries] == [
        (1, "posted for row 1, which row 3 replaces (an OFX correction): importing the statement reverses it")
    ]
    after = reports["after"]
    assert [m.line.external_id for m in after.matched] == ["X002", "X003"]
    assert (after.missing_lines, after.missing_entries) == ((), ())
    text = reconciliation_text(FileReconciliation("bank.ofx", "ofx", 3, (after,), ()))
    assert "  Lines an OFX correction takes out, in no balance (1)" in text


def test_a_line_replacing_one_of_an_earlier_statement_counts_whole_against_the_reversal_of_that_line() -> (
    None
):
    new = replace(line("X003", "2200.00", day=6, row=1), replaces="X001")
    statement = header(opening=None, closing="2200.00")
    earlier = entry(1, "2000.00", day=1, source="camt053", external_id="X001", counterpart=(3, march(6)))
    earlier = replace(earlier, posting_date=date(2026, 2, 25))
    reversal = entry(3, "-2000.00", day=6, source="camt053", external_id="X001", is_reversal=True)
    ledger = LedgerSide(
        [
            earlier,
            replace(reversal, counterpart_id=1, counterpart_date=date(2026, 2, 25)),
            entry(4, "2200.00", day=6, source="camt053", external_id="X003"),
        ],
        imported={("camt053", "X003"): ImportRecord("unapplied", 4)},
    )

    before, after = check(statement, [new], LedgerSide()), check(statement, [new], ledger)

    assert before.balances.lines_total == after.balances.lines_total == Money.of("2200.00", "EUR")
    assert (before.replaced, after.replaced) == ((), ())
    assert [m.line.external_id for m in after.matched] == ["X003"]
    assert [(m.entry.entry_id, m.note) for m in after.missing_entries] == [
        (3, "reverses entry 1 of 2026-02-25, outside the period")
    ]
    assert before.reconciles
    assert after.reconciles


def test_an_ofx_deletion_never_imported_says_which_row_it_deletes_and_that_the_pair_cancels() -> None:
    deleted, paid = line("X001", "2000.00", row=1), line("X002", "56400.50", day=6, row=2)
    deletion = replace(line("X003", "-2000.00", day=6, row=3), reverses="X001")  # CORRECTACTION=DELETE
    elsewhere = replace(line("X009", "-80.00", day=7, row=4), reverses="X000")  # a line of no row here
    lines = [deleted, paid, deletion, elsewhere]

    report = check(header(opening=None, closing="56320.50"), lines, LedgerSide())

    assert {m.line.external_id: m.reason for m in report.missing_lines} == {
        "X001": "deleted by row 3 (an OFX correction): the pair cancels, never imported",
        "X002": "never imported",
        "X003": "deletes row 1 (an OFX correction): the pair cancels, never imported",
        "X009": "deletes X000 (an OFX correction), not a line of this statement, never imported",
    }
    assert report.balances.lines_total == Money.of("56320.50", "EUR")
    assert report.reconciles


@pytest.mark.parametrize("replace_first", [True, False], ids=["replace-first", "delete-first"])
def test_a_line_deleted_and_replaced_is_the_first_corrections_and_counts_once_whatever_their_order(
    replace_first: bool,
) -> None:
    old, paid = line("X001", "2000.00", row=1), line("X002", "56400.50", day=6, row=2)
    new = replace(line("X003", "2200.00", day=6), replaces="X001")  # OFX CORRECTACTION=REPLACE
    deletion = replace(line("X004", "-2000.00", day=7), reverses="X001")  # CORRECTACTION=DELETE
    first, then = (new, deletion) if replace_first else (deletion, new)
    lines = [
        old,
        paid,
        replace(first, origin=Origin("statement.xml", 3)),
        replace(then, origin=Origin("statement.xml", 4)),
    ]

    report = check(header(opening=None, closing="58600.50"), lines, LedgerSide())

    assert report.balances.lines_total == Money.of("58600.50", "EUR")  # 56,400.50 + 2,200.00, as imported
    again = "corrects row 1, which row 3 already corrected (an OFX correction)"
    reasons = {m.line.external_id: m.reason for m in (*report.missing_lines, *report.replaced)}
    if replace_first:
        assert reasons["X004"] == f"{again}: not counted, the import posts nothing for it"
        assert [m.line.external_id for m in report.replaced] == ["X001", "X004"]
    else:
        assert reasons["X003"] == f"{again}: it counts in full, never imported"
        assert reasons["X004"] == "deletes row 1 (an OFX correction): the pair cancels, never imported"
    assert report.reconciles


@pytest.mark.parametrize("held", [True, False], ids=["replacement-quarantined", "replacement-never-imported"])
def test_the_receipt_of_a_linked_line_a_later_line_replaces_is_said_to_be_reversed_by_a_person(
    held: bool,
) -> None:
    old = line("X001", "2000.00", row=1)
    new = replace(line("X003", "2200.00", day=6, row=2), replaces="X001")  # OFX CORRECTACTION=REPLACE
    reason = (
        "the bank replaced line X001, linked to PAY-7: reverse that receipt where it was recorded "
        "(`connector ledger reverse 7 --on 2026-03-06 --returned --reason …`), then resolve this record"
    )
    ledger = LedgerSide(
        entries=[entry(7, "2000.00", external_id="PAY-7")],  # the Zoho Books payment's receipt
        imported={("camt053", "X001"): ImportRecord("linked", 7)},
        quarantined={("camt053", "X003"): reason} if held else {},
    )

    report = check(header(opening=None, closing="2200.00"), [old, new], ledger)

    [(entry_id, note)] = [(m.entry.entry_id, m.note) for m in report.missing_entries]
    assert entry_id == 7
    assert "importing the statement reverses it" not in note
    if held:
        assert (
            note
            == f"posted for row 1, which row 2 replaces (an OFX correction): row 2 is quarantined: {reason}"
        )
    else:
        assert note == (
            "posted for row 1, which row 2 replaces (an OFX correction): importing the statement holds row 2 "
            "for a person, who reverses this receipt (`connector ledger reverse`)"
        )


def test_a_line_replaced_by_a_line_replaced_in_turn_names_the_end_of_the_chain() -> None:
    old, paid = line("X001", "2000.00", row=1), line("X002", "56400.50", day=6, row=2)
    new = replace(line("X003", "2200.00", day=6, row=3), replaces="X001")  # OFX CORRECTACTION=REPLACE
    newer = replace(line("X004", "2500.00", day=7, row=4), replaces="X003")

    report = check(header(opening=None, closing="58900.50"), [old, paid, new, newer], LedgerSide())

    assert report.balances.lines_total == Money.of("58900.50", "EUR")  # 56,400.50 + 2,500.00
    assert {m.line.external_id: m.reason for m in report.replaced} == {
        "X001": "replaced by row 3, then by row 4 (OFX corrections): not counted, the bank's balance holds "
        "2,500.00 EUR instead",
        "X003": "replaced by row 4 (an OFX correction): not counted, the bank's balance holds 2,500.00 EUR "
        "instead",
    }
    assert report.reconciles
