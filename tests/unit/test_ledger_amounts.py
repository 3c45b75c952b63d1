"""The receivable and unapplied credit of the figures: never negative, and they always make the balance."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from connector.credit.aging import ArLine, settle_fifo
from connector.credit.figures import ledger_amounts

D = date(2026, 1, 1)


@dataclass
class Books:
    """A customer's AR and advances lines as the posting rules write them and `reads.ar_lines` reads
    them: a receipt or credit note settles what is owed on AR, the rest goes to advances; the advances
    line of one that names an invoice is read `named_only`."""

    ar: list[ArLine] = field(default_factory=list)
    advances: list[ArLine] = field(default_factory=list)  # every advances line, named or not
    named: dict[int, tuple[int, int]] = field(default_factory=dict)  # entry → (invoice number, at most)
    invoices: dict[int, int] = field(default_factory=dict)  # invoice number → its entry id
    reversed: set[int] = field(default_factory=set)
    next_id: int = 1

    def _entry(self) -> tuple[int, date]:
        entry_id, self.next_id = self.next_id, self.next_id + 1
        return entry_id, D + timedelta(days=entry_id)

    def invoice(self, number: int, minor: int) -> None:
        if number in self.invoices:
            return
        entry_id, day = self._entry()
        self.invoices[number] = entry_id
        self.ar.append(ArLine(entry_id, day, minor))

    def credit(self, minor: int, names: tuple[int, int] | None) -> None:
        """A receipt or a credit note, naming (invoice number, at most how much) or nothing."""
        entry_id, day = self._entry()
        owed = sum(line.amount_minor for line in self.ar)
        to_receivable = max(0, min(minor, owed))
        if to_receivable:
            self.ar.append(ArLine(entry_id, day, -to_receivable))
        if minor - to_receivable:
            self.advances.append(ArLine(entry_id, day, to_receivable - minor))
        if names is not None:
            self.named[entry_id] = names

    def refund(self, minor: int) -> None:
        """Money paid back out of the advances, never beyond their credit (as the import refuses)."""
        paid_back = min(minor, -sum(line.amount_minor for line in self.advances))
        if paid_back > 0:
            entry_id, day = self._entry()
            self.advances.append(ArLine(entry_id, day, paid_back))

    def reverse(self, pick: int) -> None:
        candidates = sorted(
            {line.entry_id for line in (*self.ar, *self.advances) if line.reverses_id is None} - self.reversed
        )
        if not candidates:
            return
        original = candidates[pick % len(candidates)]
        self.reversed.add(original)
        entry_id, day = self._entry()
        for lines in (self.ar, self.advances):
            amount = sum(line.amount_minor for line in lines if line.entry_id == original)
            if amount:
                lines.append(ArLine(entry_id, day, -amount, reverses_id=original))

    def read(self) -> tuple[list[ArLine], int]:
        """(AR lines with the advances lines of receipts that name invoices, advances balance)."""

        def applies_to(line: ArLine) -> tuple[tuple[int, int], ...]:
            number, at_most = self.named.get(line.entry_id, (-1, 0))
            return ((self.invoices[number], at_most),) if number in self.invoices else ()

        lines = [replace(line, applies_to=applies_to(line)) for line in self.ar]
        lines += [
            replace(line, applies_to=applies_to(line), named_only=True)
            for line in self.advances
            if line.entry_id in self.named or line.reverses_id in self.named
        ]
        return lines, sum(line.amount_minor for line in self.advances)


minor = st.integers(1, 10**6)
naming = st.none() | st.tuples(st.integers(0, 4), minor)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("invoice"), st.integers(0, 4), minor),
        st.tuples(st.just("credit"), minor, naming),
        st.tuples(st.just("reverse"), st.integers(0, 100)),
    ),
    max_size=20,
)


def amounts_of(books: Books) -> tuple[int, int, int, int]:
    """(receivable, unapplied credit, balance, what stays unpaid once the credit settles the oldest)."""
    lines, advances = books.read()
    items, receivable, unapplied = ledger_amounts(lines, advances, 30)
    assert receivable == sum(item.amount_minor for item in items)
    balance = sum(line.amount_minor for line in books.ar) + advances
    unpaid, _ = settle_fifo(items, unapplied)
    return receivable, unapplied, balance, sum(item.amount_minor for item in unpaid)


def books_after(ops: list[tuple[object, ...]]) -> Books:
    """The books after `ops`, each (the `Books` method's name, its arguments)."""
    books = Books()
    for name, *arguments in ops:
        getattr(books, str(name))(*arguments)
    return books


def assert_the_amounts_make_the_balance(books: Books) -> None:
    receivable, unapplied, balance, unpaid = amounts_of(books)
    assert receivable >= 0
    assert unapplied >= 0
    assert receivable - unapplied == balance
    assert unpaid == max(balance, 0)


@given(operations)
def test_the_receivable_and_the_unapplied_credit_are_never_negative_and_always_make_the_balance(
    ops: list[tuple[object, ...]],
) -> None:
    assert_the_amounts_make_the_balance(books_after(ops))


def test_a_paid_invoice_voided_leaves_its_payment_whole_as_unapplied_credit() -> None:
    books = Books()
    books.invoice(1, 80000)  # 800.00
    books.credit(90000, (1, 80000))  # 900.00 paying it: 800.00 applied, 100.00 left over
    books.reverse(0)  # the invoice voided
    assert amounts_of(books) == (0, 90000, -90000, 0)


# Refunds, without reversals: a receipt reversed after its money was paid back leaves advances in debit.
with_refunds = st.lists(
    st.one_of(
        st.tuples(st.just("invoice"), st.integers(0, 4), minor),
        st.tuples(st.just("credit"), minor, naming),
        st.tuples(st.just("refund"), minor),
    ),
    max_size=20,
)


@given(with_refunds)
def test_refunds_of_advances_leave_the_receivable_and_the_unapplied_credit_making_the_balance(
    ops: list[tuple[object, ...]],
) -> None:
    assert_the_amounts_make_the_balance(books_after(ops))


def test_an_invoice_whose_named_advance_was_refunded_before_it_came_is_owed_whole() -> None:
    books = Books()
    books.credit(300000, (1, 300000))  # 3,000.00 applied to invoice 1, not imported yet: an advance
    books.refund(300000)  # all of it paid back
    books.invoice(1, 300000)
    assert amounts_of(books) == (300000, 0, 300000, 300000)
