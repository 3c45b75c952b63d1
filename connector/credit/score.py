"""The credit score: 0–100 (higher is better), a pure function of the aging, the limit and payments.

    score = round_half_up(clamp(100 − A − U − H, 0, 100))

A, the aging penalty (0–60), from the aging of what the customer really owes (`figures` first sets
unapplied credit against the oldest open items):

    A = 40 × (¼·d1_30 + ½·d31_60 + ¾·d61_90 + 1·d90_plus) / total open      (0 when nothing is open)
      + 20 × weight of the oldest non-empty past-due bucket (¼, ½, ¾ or 1; 0 when nothing is past due)

U, the utilisation penalty (0–25), with balance = receivable − unapplied credit:

    U = 0                                          without a credit limit, or when balance ≤ 0
      = 20 × min(balance / limit, 1) + 5 × [balance > limit]      (a limit of 0 with balance > 0: 25)

H, the payment-history penalty (0–15), only while the customer owes something (balance > 0):

    H = 15 × min(late, 90) / 90,  late = max(0, days since the last receipt − payment terms days)
      = 15 when the customer never paid and something is past due; 5 when it never paid, nothing late

Examples: nothing owed → 100; everything 1–30 days late, half the limit used, paid on time → 100 −
15 − 10 − 0 = 75; everything 90+ days late, over the limit, nothing received for 120 days on
30-day terms → 100 − 60 − 25 − 15 = 0. The arithmetic is exact (fractions), never float.
"""

from __future__ import annotations

import math
from datetime import date
from fractions import Fraction

from connector.credit.aging import Aging

BUCKET_QUARTERS = (1, 2, 3, 4)  # the weights ¼, ½, ¾, 1 of 1–30, 31–60, 61–90, 90+, in quarters
AGING_SHARE_POINTS = 40
AGING_WORST_POINTS = 20
UTILISATION_POINTS = 20
OVER_LIMIT_POINTS = 5
HISTORY_POINTS = 15
HISTORY_UNKNOWN_POINTS = 5
HISTORY_FULL_AFTER_DAYS = 90
NOTHING = Fraction(0)


def aging_penalty(aging: Aging) -> Fraction:
    """A: one exact fraction per customer (the score runs for every customer of every push)."""
    quarters = worst = 0
    for weight, amount in zip(BUCKET_QUARTERS, aging.past_due, strict=True):
        if amount > 0:
            quarters += weight * amount
            worst = weight
    if not worst:
        return NOTHING
    share = Fraction(AGING_SHARE_POINTS * quarters, 4 * aging.total)
    return share + Fraction(AGING_WORST_POINTS * worst, 4)


def utilisation_penalty(balance_minor: int, limit_minor: int | None) -> Fraction:
    if limit_minor is None or balance_minor <= 0:
        return NOTHING
    if limit_minor <= 0:
        return Fraction(UTILISATION_POINTS + OVER_LIMIT_POINTS)
    used = Fraction(UTILISATION_POINTS * min(balance_minor, limit_minor), limit_minor)
    return used + OVER_LIMIT_POINTS if balance_minor > limit_minor else used


def history_penalty(
    balance_minor: int, overdue_minor: int, last_payment: date | None, payment_terms_days: int, as_of: date
) -> Fraction:
    if balance_minor <= 0:
        return NOTHING
    if last_payment is None:
        return Fraction(HISTORY_POINTS if overdue_minor > 0 else HISTORY_UNKNOWN_POINTS)
    late = max(0, (as_of - last_payment).days - payment_terms_days)
    return Fraction(HISTORY_POINTS * min(late, HISTORY_FULL_AFTER_DAYS), HISTORY_FULL_AFTER_DAYS)


def credit_score(
    aging: Aging,
    *,
    balance_minor: int,
    limit_minor: int | None,
    last_payment: date | None,
    payment_terms_days: int,
    as_of: date,
) -> int:
    """The module's formula; the same inputs always give the same score."""
    raw = (
        100
        - aging_penalty(aging)
        - utilisation_penalty(balance_minor, limit_minor)
        - history_penalty(balance_minor, aging.overdue, last_payment, payment_terms_days, as_of)
    )
    return min(100, max(0, math.floor(raw + Fraction(1, 2))))
