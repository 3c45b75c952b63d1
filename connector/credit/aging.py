"""Open items and aging of a customer's receivable: pure functions over its AR lines, in minor units.

How AR postings become open items (the settlement rule):

1. **Reversals cancel.** An entry and its reversal, both on or before the as-of date, cancel each
   other and are both left out: a voided invoice is gone, a reversed receipt pays nothing. (A
   reversal whose original is not among the lines is kept as an ordinary line.)
2. **Debits are open items.** Every remaining AR debit (invoice, debit note) is an open item due on
   the due date its document states, else at its document date (else posting date) plus the
   customer's payment terms.
3. **Credits settle what they name, then oldest first (FIFO).** A credit (receipt, credit note) that
   names invoices (`applies_to`: the source's own applications, or invoice numbers in its reference)
   settles those first, each up to the amount named (once per receipt, however many of its lines
   carry the names). The rest of every AR credit is pooled and settles
   the open items in order of due date (then entry id), whenever it was posted. What the pool cannot
   settle stays open; a pool larger than every debit leaves a credit over (the receivable is then
   negative and every bucket is zero).
4. **A credit kept for later settles what it names once that is posted.** A receipt that came before
   what it pays (nothing was owed: it went to the customer's advances) settles the invoices it names,
   each up to the amount named, when they are among the lines (`named_only`). The rest of it is not
   pooled: it is the customer's unapplied credit, as its ledger keeps it. Such credits settle at most
   what is left on the customer's advances (`kept_minor`): money paid back since (a refund) pays
   nothing, and what it named is owed again.

Aging counts days past due at the as-of date: 0 or less is `current`, then 1–30, 31–60, 61–90 and
more than 90 days. Open items sum to the receivable whenever it is not negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class ArLine:
    """One entry's net amount on a customer's AR account, in the customer's currency (debit > 0)."""

    entry_id: int
    posting_date: date
    amount_minor: int
    document_date: date | None = None
    reverses_id: int | None = None
    applies_to: tuple[tuple[int, int], ...] = ()  # (debit entry id, at most how much) it names, in order
    due_date: date | None = None  # the invoice's own, when its document stated one
    named_only: bool = False  # on the advances account: it settles only what it names (rule 4)


@dataclass(frozen=True, slots=True)
class OpenItem:
    """What is still unpaid of one AR debit, and when it falls due."""

    entry_id: int
    due: date
    amount_minor: int  # > 0


@dataclass(frozen=True, slots=True)
class Aging:
    """Open receivable per bucket of days past due, in minor units."""

    current: int = 0
    days_1_30: int = 0
    days_31_60: int = 0
    days_61_90: int = 0
    days_90_plus: int = 0
    oldest_days_past_due: int = 0  # of the oldest open item; 0 when nothing is past due

    @property
    def past_due(self) -> tuple[int, int, int, int]:
        """The past-due buckets, youngest first: 1–30, 31–60, 61–90, 90+."""
        return (self.days_1_30, self.days_31_60, self.days_61_90, self.days_90_plus)

    @property
    def overdue(self) -> int:
        return sum(self.past_due)

    @property
    def total(self) -> int:
        return self.current + self.overdue


def cancel_reversals(lines: Iterable[ArLine]) -> list[ArLine]:
    """The lines without each reversed entry and its reversal (both present), in their given order."""
    listed = list(lines)
    present = {line.entry_id for line in listed}
    cancelled = {
        line.reverses_id for line in listed if line.reverses_id is not None and line.reverses_id in present
    }
    return [
        line
        for line in listed
        if line.entry_id not in cancelled and (line.reverses_id is None or line.reverses_id not in cancelled)
    ]


def settle_fifo(debits: Sequence[OpenItem], credit_minor: int) -> tuple[list[OpenItem], int]:
    """Settle `debits` in the order given with a credit pool: (what stays open, credit left over).

    A negative pool settles nothing. No open item ever comes out negative or larger than it went in.
    """
    left = max(credit_minor, 0)
    still_open: list[OpenItem] = []
    for item in debits:
        if left >= item.amount_minor:
            left -= item.amount_minor
        elif left > 0:
            still_open.append(OpenItem(item.entry_id, item.due, item.amount_minor - left))
            left = 0
        else:
            still_open.append(item)
    return still_open, left


def due_date(line: ArLine, payment_terms_days: int) -> date:
    """The due date the invoice states, else its date plus the customer's payment terms."""
    if line.due_date is not None:
        return line.due_date
    return (line.document_date or line.posting_date) + timedelta(days=payment_terms_days)


def open_items(lines: Iterable[ArLine], payment_terms_days: int) -> tuple[list[OpenItem], int]:
    """The settlement rule above: (open items oldest first, credit left over after every debit)."""
    items, left, _ = settle(lines, payment_terms_days)
    return items, left


def settle(
    lines: Iterable[ArLine], payment_terms_days: int, kept_minor: int | None = None
) -> tuple[list[OpenItem], int, int]:
    """`open_items`, and how much of the customer's advances settled what they name (rule 4): that
    much of its unapplied credit is spent, never more than `kept_minor` (what is left on its advances,
    when known)."""
    # What a kept credit's reversal undoes is gone with it (rule 1); alone, it is no debit of AR.
    kept = [line for line in cancel_reversals(lines) if not (line.named_only and line.amount_minor > 0)]
    owed = {line.entry_id: line.amount_minor for line in kept if line.amount_minor > 0}
    # What each receipt names of an invoice and has not paid yet: its lines on AR and on advances (one
    # entry, split when less was owed than received) pay that much between them, never each.
    named: dict[tuple[int, int], int] = {}
    pool = spent = 0
    for line in sorted(kept, key=lambda line: line.entry_id):  # in posting order, however they came
        credit = -line.amount_minor
        for debit, at_most in _by_invoice(line.applies_to) if credit > 0 else ():
            paid = min(credit, named.setdefault((line.entry_id, debit), at_most), owed.get(debit, 0))
            if line.named_only and kept_minor is not None:
                paid = min(paid, kept_minor - spent)  # the ledger no longer holds what was paid back
            if paid > 0:
                owed[debit] -= paid
                named[(line.entry_id, debit)] -= paid
                credit -= paid
                spent += paid if line.named_only else 0
        pool += 0 if line.named_only else max(credit, 0)
    debits = sorted(
        (
            OpenItem(line.entry_id, due_date(line, payment_terms_days), owed[line.entry_id])
            for line in kept
            if line.amount_minor > 0 and owed[line.entry_id] > 0
        ),
        key=lambda item: (item.due, item.entry_id),
    )
    items, left = settle_fifo(debits, pool)
    return items, left, spent


def _by_invoice(applies_to: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """What a receipt names of each invoice, its parts added up (one payment applied to one invoice on
    two rows of its export), in the order first named."""
    totals: dict[int, int] = {}
    for debit, at_most in applies_to:
        totals[debit] = totals.get(debit, 0) + at_most
    return list(totals.items())


def days_past_due(item: OpenItem, as_of: date) -> int:
    return (as_of - item.due).days


def aging(items: Iterable[OpenItem], as_of: date) -> Aging:
    """Bucket open items by days past due at `as_of`."""
    buckets = [0, 0, 0, 0, 0]
    oldest = 0
    for item in items:
        days = days_past_due(item, as_of)
        if days <= 0:
            buckets[0] += item.amount_minor
            continue
        oldest = max(oldest, days)
        buckets[1 if days <= 30 else 2 if days <= 60 else 3 if days <= 90 else 4] += item.amount_minor
    current, days_1_30, days_31_60, days_61_90, days_90_plus = buckets
    return Aging(current, days_1_30, days_31_60, days_61_90, days_90_plus, oldest)


def past_due_at_least(items: Iterable[OpenItem], as_of: date, days: int) -> int:
    """How much of the open items is `days` or more days past due at `as_of` (days ≥ 1)."""
    threshold = max(days, 1)
    return sum(item.amount_minor for item in items if days_past_due(item, as_of) >= threshold)
