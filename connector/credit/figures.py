"""Each customer's ledger figures, as the push to the CRM sends them through an outbound mapping.

`customer_figures(session, ids, as_of, chart, rules)` gives, per customer id that exists, every figure
of `connector.mapping.model.FIGURES`. Amounts are `Decimal` in major units of the customer's currency
(with exactly its ISO 4217 decimals), dates `datetime.date`, the score an `int`; a figure that does not
apply is `None` (no credit limit, no payment yet).

    receivable        the customer's AR balance, less what its advances already paid of the invoices
                      they name (`aging` rule 4: the ledger keeps that money on advances): what its
                      open items sum to, never negative (a credit on AR, as a receipt whose invoice
                      was voided leaves, is unapplied credit)
    unapplied_credit  the credit on the advances account, positive (a debit balance shows negative),
                      less what of it paid named invoices, plus any credit on AR: the credit still
                      there to use
    balance           receivable − unapplied_credit: the AR balance less the advances balance
    aging_*, overdue  what is really unpaid by days past due: the open AR items (settlement rule:
                      `connector.credit.aging`) less the unapplied credit, set against the oldest
                      first; they add up to the balance (when neither it nor that credit is negative)
    available_credit  credit_limit − balance
    last_payment_*    the latest payment (`connector.credit.reads.receipts`), by the day the money came:
                      what the customer paid, the receipts of one voucher (bank money and note) as
                      one, with what its `.kept` credit note settled (a bank's charge, a discount)
    paid_trailing_12m payments of the year ending on as_of (after the same day a year before)
    credit_score      `connector.credit.score`; credit_status: `connector.credit.rules`
    credit_status_reason  the rule that set the status, with amounts and days (at most 255 characters)
    other_currencies  what is owed in other currencies, "60,500.00 USD (500.00 overdue)"; None if nothing

A customer merged into another counts in that one's figures: its invoices, receipts and credit.
Aging, score and status judge what is really unpaid: unapplied credit is first set against the oldest
open items, so a payment booked before the invoices it pays gives the figures it gives after them.
Everything is read as of the end of `as_of`, in the customer's currency; postings in another currency
are left out of the amounts (and logged), but what is past due in them counts in the credit status,
named in its reason with its currency. Ids are read in chunks of `CHUNK` with four set-based queries
each; the arithmetic runs in Python.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from connector.credit import reads
from connector.credit.aging import ArLine, OpenItem, aging, due_date, settle, settle_fifo
from connector.credit.rules import CreditPosition, CreditSettings, credit_status
from connector.credit.score import credit_score
from connector.money import Money, exponent
from connector.settings import ChartSettings

log = logging.getLogger(__name__)
_T = TypeVar("_T", ArLine, reads.Receipt)

CHUNK = 900  # ids per IN list: under every driver's bound-parameter limit


@dataclass(frozen=True)
class CustomerCredit:
    """A customer's figures with what explains them: the status reason, the open AR items (they sum to
    the receivable) and what of them stays unpaid once the unapplied credit settles the oldest first
    (what the aging buckets count: they sum to the balance)."""

    customer_id: int
    figures: dict[str, Any]
    status_reason: str
    open_items: tuple[OpenItem, ...]
    unpaid: tuple[OpenItem, ...]


def customer_figures(
    session: Session,
    customer_ids: Sequence[int],
    as_of: date,
    chart: ChartSettings,
    rules: CreditSettings,
) -> dict[int, dict[str, Any]]:
    """Customer id → its figures (every FIGURES key), for each requested id that exists."""
    return {
        customer_id: credit.figures
        for customer_id, credit in customer_credit(session, customer_ids, as_of, chart, rules).items()
    }


def customer_credit(
    session: Session,
    customer_ids: Sequence[int],
    as_of: date,
    chart: ChartSettings,
    rules: CreditSettings,
) -> dict[int, CustomerCredit]:
    """Customer id → its figures and their explanation, for each requested id that exists."""
    wanted = sorted(set(customer_ids))
    found: dict[int, CustomerCredit] = {}
    for start in range(0, len(wanted), CHUNK):
        found.update(_chunk(session, wanted[start : start + CHUNK], as_of, chart, rules))
    return found


def _chunk(
    session: Session, ids: Sequence[int], as_of: date, chart: ChartSettings, rules: CreditSettings
) -> dict[int, CustomerCredit]:
    receivable_code, advances_code = chart.receivable.code, chart.advances.code
    counted = reads.counted_in(session, ids)  # a merged customer's ledger counts for the one it went into
    every = list(counted)
    every_row = reads.customers(session, every)
    requested = set(ids)
    rows = [row for row in every_row if row.id in requested]
    if not rows:
        return {}
    own_terms = {row.id: row.payment_terms_days for row in every_row}
    ar = _folded(
        _due_by_own_terms(reads.ar_lines(session, every, receivable_code, as_of, advances_code), own_terms),
        counted,
    )
    advances = _summed(reads.account_sums(session, every, advances_code, as_of), counted)
    paid = _folded(reads.chart_receipts(session, every, chart, as_of), counted)
    currencies = {row.id: row.currency for row in rows}
    terms = {row.id: row.payment_terms_days for row in rows}
    numbers = {row.id: row.account_no for row in rows}
    foreign = {
        customer_id
        for customer_id, currency in (*ar, *advances, *paid)
        if currency != currencies.get(customer_id, currency)
    }
    if foreign:
        log.warning(
            "%d customer(s) have postings in a currency other than their own; those are not in their "
            "amounts, only in their credit status (%s)",
            len(foreign),
            ", ".join(sorted(numbers.get(customer_id, f"id {customer_id}") for customer_id in foreign)[:20]),
        )
    owed_elsewhere: dict[int, list[CreditPosition]] = {}
    for customer_id, currency in sorted({*ar, *advances}):
        if customer_id in foreign and currency != currencies[customer_id]:
            lines = ar.get((customer_id, currency), [])
            owed_elsewhere.setdefault(customer_id, []).append(
                _position_in(
                    currency, lines, advances.get((customer_id, currency), 0), terms[customer_id], as_of
                )
            )
    return {
        row.id: _credit(
            row,
            ar.get((row.id, row.currency), []),
            advances.get((row.id, row.currency), 0),
            paid.get((row.id, row.currency), []),
            as_of,
            rules,
            owed_elsewhere.get(row.id, ()),
        )
        for row in rows
    }


REASON_LENGTH = 255  # a CRM's single-line text field


def _fitted(text: str) -> str:
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def _owed(position: CreditPosition) -> str:
    """What a customer owes in a currency not its own, and how much of it is past due."""
    owed = Money(position.balance_minor, position.currency)
    late = sum(minor for _, minor in position.past_due)
    return f"{owed} ({Money(late, position.currency).amount:,} overdue)" if late else str(owed)


def _position_in(
    currency: str, lines: list[ArLine], advances_minor: int, terms: int, as_of: date
) -> CreditPosition:
    """What a customer owes in a currency not its own, for the days-past-due rules (no limit, no score)."""
    items, receivable, unapplied = ledger_amounts(lines, advances_minor, terms)
    unpaid, _ = settle_fifo(items, unapplied)
    return CreditPosition(currency, receivable - unapplied, None, None, tuple(unpaid), as_of, own=False)


def _folded(
    found: dict[tuple[int, str], list[_T]], counted: dict[int, list[int]]
) -> dict[tuple[int, str], list[_T]]:
    """Per-customer lists under each customer that counts them (a merged customer's under the one it
    went into too), each list in the order of its items (entry ids, or receipt dates)."""
    folded: dict[tuple[int, str], list[_T]] = {}
    for (customer_id, currency), items in found.items():
        for counting in counted.get(customer_id, [customer_id]):
            folded.setdefault((counting, currency), []).extend(items)
    return {key: sorted(items, key=attrgetter("posting_date", "entry_id")) for key, items in folded.items()}


def _due_by_own_terms(
    found: dict[tuple[int, str], list[ArLine]], terms: Mapping[int, int]
) -> dict[tuple[int, str], list[ArLine]]:
    """Each invoice that states no due date falls due by the terms of the customer it was issued to: a
    merged customer's invoices keep their due dates under the customer they went into."""
    return {
        (customer_id, currency): [
            line
            if line.due_date is not None or line.amount_minor <= 0 or customer_id not in terms
            else replace(line, due_date=due_date(line, terms[customer_id]))
            for line in lines
        ]
        for (customer_id, currency), lines in found.items()
    }


def _summed(found: dict[tuple[int, str], int], counted: dict[int, list[int]]) -> dict[tuple[int, str], int]:
    summed: dict[tuple[int, str], int] = {}
    for (customer_id, currency), total in found.items():
        for counting in counted.get(customer_id, [customer_id]):
            summed[(counting, currency)] = summed.get((counting, currency), 0) + total
    return summed


def _credit(
    row: reads.CustomerRow,
    lines: list[ArLine],
    advances_minor: int,
    receipts: list[reads.Receipt],
    as_of: date,
    rules: CreditSettings,
    owed_elsewhere: Sequence[CreditPosition] = (),
) -> CustomerCredit:
    currency = row.currency
    digits = -exponent(currency)

    def amount(minor: int) -> Decimal:  # as `money.to_decimal`, in one step: it runs 15 times per customer
        return Decimal(minor).scaleb(digits)

    items, receivable, unapplied = ledger_amounts(lines, advances_minor, row.payment_terms_days)
    balance = receivable - unapplied
    # The unused credit settles the oldest items, as a receipt on AR would: what is left is really unpaid
    unpaid, _ = settle_fifo(items, unapplied)
    buckets = aging(unpaid, as_of)
    last = receipts[-1] if receipts else None
    window_start = _year_before(as_of) + timedelta(days=1)
    trailing = sum(receipt.amount_minor for receipt in receipts if receipt.posting_date >= window_start)
    limit = row.credit_limit_minor
    score = credit_score(
        buckets,
        balance_minor=balance,
        limit_minor=limit,
        last_payment=last.posting_date if last else None,
        payment_terms_days=row.payment_terms_days,
        as_of=as_of,
    )
    position = CreditPosition(currency, balance, limit, score, tuple(unpaid), as_of)
    status, reason = credit_status(position, rules, owed_elsewhere)
    figures: dict[str, Any] = {
        "account_number": row.account_no,
        "customer_type": row.customer_type,
        "region": row.region,
        "value_tier": row.value_tier,
        "currency": currency,
        "balance": amount(balance),
        "receivable": amount(receivable),
        "unapplied_credit": amount(unapplied),
        "overdue": amount(buckets.overdue),
        "aging_current": amount(buckets.current),
        "aging_1_30": amount(buckets.days_1_30),
        "aging_31_60": amount(buckets.days_31_60),
        "aging_61_90": amount(buckets.days_61_90),
        "aging_90_plus": amount(buckets.days_90_plus),
        "credit_limit": amount(limit) if limit is not None else None,
        "available_credit": amount(limit - balance) if limit is not None else None,
        "credit_score": score,
        "credit_status": status,
        "credit_status_reason": _fitted(reason),
        "other_currencies": _fitted("; ".join(_owed(p) for p in owed_elsewhere if p.balance_minor)) or None,
        "payment_terms_days": row.payment_terms_days,
        "last_payment_date": last.posting_date if last else None,
        "last_payment_amount": amount(last.amount_minor) if last else None,
        "paid_trailing_12m": amount(trailing),
        "as_of": as_of,
    }
    return CustomerCredit(row.id, figures, reason, tuple(items), tuple(unpaid))


def ledger_amounts(
    lines: Sequence[ArLine], advances_minor: int, payment_terms_days: int
) -> tuple[list[OpenItem], int, int]:
    """(open items, receivable, unapplied credit) of a customer's AR lines and advances balance.

    The receivable is what the open items sum to, never negative; the unapplied credit is the rest of
    the balance (AR balance + advances balance = receivable − unapplied credit). An advance that paid an
    invoice it names is so moved from the credit to the receivable; a credit on AR that settles nothing
    (a receipt or credit note whose invoice was voided, one beyond what is owed) is moved to the credit.
    Advances pay what they name only out of what is left on the account: one paid back since (a refund
    of money applied to an invoice not imported then) leaves its invoice owed.
    """
    items, _, _ = settle(lines, payment_terms_days, kept_minor=max(0, -advances_minor))
    receivable = sum(item.amount_minor for item in items)
    balance = sum(line.amount_minor for line in lines if not line.named_only) + advances_minor
    return items, receivable, receivable - balance


def _year_before(day: date) -> date:
    """The same day a year before (29 February: the 28th)."""
    return (
        day.replace(year=day.year - 1, day=28)
        if (day.month, day.day) == (2, 29)
        else day.replace(year=day.year - 1)
    )
