"""The credit score: the documented formula, its bounds, and that worse behaviour never scores higher."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from connector.credit.aging import Aging
from connector.credit.score import credit_score

AS_OF = date(2026, 6, 30)
NOTHING = Aging()


def score(
    aging: Aging = NOTHING,
    *,
    balance: int = 0,
    limit: int | None = None,
    paid_days_ago: int | None = 0,
    terms: int = 30,
) -> int:
    last = AS_OF - timedelta(days=paid_days_ago) if paid_days_ago is not None else None
    return credit_score(
        aging,
        balance_minor=balance,
        limit_minor=limit,
        last_payment=last,
        payment_terms_days=terms,
        as_of=AS_OF,
    )


def test_a_customer_who_owes_nothing_scores_100() -> None:
    assert score(balance=0, limit=1000, paid_days_ago=None) == 100
    assert score(balance=-500, limit=0, paid_days_ago=None) == 100


def test_the_docstring_examples_hold() -> None:
    late_a_little = Aging(days_1_30=5000)
    assert score(late_a_little, balance=5000, limit=10000, paid_days_ago=20) == 75  # 100 − 15 − 10 − 0
    very_late = Aging(days_90_plus=20000)
    assert score(very_late, balance=20000, limit=10000, paid_days_ago=120) == 0  # 100 − 60 − 25 − 15


def test_aging_counts_the_weighted_overdue_share_and_the_worst_bucket() -> None:
    # 40 × (¼·2500 + ½·2700) / 5200 + 20 × ½ = 25.19…; utilisation 20 × 0.52 = 10.4; paid on time
    assert score(Aging(days_1_30=2500, days_31_60=2700), balance=5200, limit=10000, paid_days_ago=17) == 64


def test_the_score_rounds_half_up() -> None:
    # 100 − (40 × ¾ + 20 × ¾) − 20 × 0.15 − 15 × 45/90 = 44.5
    assert score(Aging(days_61_90=1500), balance=1500, limit=10000, paid_days_ago=75) == 45


def test_without_a_credit_limit_utilisation_costs_nothing() -> None:
    assert score(Aging(current=10**9), balance=10**9, limit=None) == 100


def test_a_zero_limit_with_a_balance_costs_the_full_utilisation_penalty() -> None:
    assert score(Aging(current=100), balance=100, limit=0) == 75


def test_a_customer_that_never_paid_loses_15_when_late_and_5_otherwise() -> None:
    assert score(Aging(current=100), balance=100, paid_days_ago=None) == 95
    assert score(Aging(days_1_30=100), balance=100, paid_days_ago=None) == 100 - 15 - 15


def test_payments_late_beyond_the_terms_cost_up_to_15_after_90_days() -> None:
    owed = Aging(current=100)
    assert score(owed, balance=100, paid_days_ago=30, terms=30) == 100
    assert score(owed, balance=100, paid_days_ago=75, terms=30) == 93  # 15 × 45/90 = 7.5 → 92.5 → 93
    assert score(owed, balance=100, paid_days_ago=400, terms=30) == 85


money = st.integers(0, 10**12)
agings = st.builds(Aging, money, money, money, money, money)


@given(
    agings,
    st.integers(-(10**12), 10**12),
    st.one_of(st.none(), money),
    st.one_of(st.none(), st.integers(0, 800)),
)
def test_the_score_is_always_between_0_and_100(aging: Aging, balance: int, limit, paid_days_ago) -> None:
    assert 0 <= score(aging, balance=balance, limit=limit, paid_days_ago=paid_days_ago) <= 100


@given(agings, st.integers(0, 3), st.integers(1, 10**9), st.one_of(st.none(), money), st.integers(0, 400))
def test_moving_money_to_an_older_bucket_never_raises_the_score(
    aging: Aging, bucket: int, moved: int, limit, paid_days_ago: int
) -> None:
    values = [aging.current, *aging.past_due]
    older = list(values)
    taken = min(moved, older[bucket])
    older[bucket] -= taken
    older[bucket + 1] += taken
    balance = sum(values)
    before = score(Aging(*values), balance=balance, limit=limit, paid_days_ago=paid_days_ago)
    after = score(Aging(*older), balance=balance, limit=limit, paid_days_ago=paid_days_ago)
    assert after <= before


@given(agings, money, money, st.one_of(st.none(), money), st.integers(0, 400))
def test_a_larger_balance_never_raises_the_score(aging: Aging, balance: int, more: int, limit, paid) -> None:
    assert score(aging, balance=balance + more, limit=limit, paid_days_ago=paid) <= score(
        aging, balance=balance, limit=limit, paid_days_ago=paid
    )
