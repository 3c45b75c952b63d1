"""Random sequences of postings, replays, conflicting re-posts and reversals keep every invariant."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connector.db import unit_of_work
from connector.errors import IdempotencyConflictError, ReversalError
from connector.ledger.entries import EntryDraft, Line, Voucher
from connector.ledger.models import Customer, CustomerBalance, Posting
from connector.ledger.verify import verify_ledger
from connector.money import Money
from tests.conftest import LedgerDatabase
from tests.integration.helpers import add_customer

CURRENCIES = ("CNY", "JPY", "KWD", "USD")
KINDS = {"invoice": ("1122", "6001"), "receipt": ("1002", "1122"), "advance": ("1002", "2203")}

post = st.tuples(
    st.just("post"),
    st.integers(0, 2),
    st.sampled_from(sorted(KINDS)),
    st.integers(1, 10**9),
    st.sampled_from(CURRENCIES),
)
earlier = st.tuples(st.sampled_from(["replay", "conflict", "reverse"]), st.integers(0, 50))
operations = st.lists(st.one_of(post, earlier), min_size=1, max_size=25)


def make_draft(number: int, customer: str, kind: str, minor: int, currency: str) -> EntryDraft:
    debit, credit = KINDS[kind]
    money = Money(minor, currency)
    lines = (
        Line.debit(debit, money, customer if debit in ("1122", "2203") else None),
        Line.credit(credit, money, customer if credit in ("1122", "2203") else None),
    )
    return EntryDraft(
        "prop", f"DOC-{number}", date(2026, 1, 1 + number % 28), Voucher(kind, "p.csv", number), lines
    )


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_operation_sequences_keep_every_invariant(
    backend: str, request: pytest.FixtureRequest, ops: list[tuple[Any, ...]]
) -> None:
    database: LedgerDatabase = request.getfixturevalue(f"{backend}_database")
    database.reset()
    container = database.container
    customers = [add_customer(container, f"C{i}", region=f"R{i}") for i in range(3)]
    posted: list[tuple[EntryDraft, int]] = []
    reversed_ids: set[int] = set()
    expected: dict[tuple[str, str, str], int] = defaultdict(int)

    def apply(draft: EntryDraft, sign: int) -> None:
        for line in draft.lines:
            if line.customer:
                expected[(line.customer, line.account, line.amount.currency)] += sign * line.amount.minor

    for op in ops:
        if op[0] == "post":
            _, who, kind, minor, currency = op
            draft = make_draft(len(posted), customers[who], kind, minor, currency)
            with unit_of_work(container.sessions) as session:
                result = container.ledger(session).post(draft)
            assert result.created
            posted.append((draft, result.entry_id))
            apply(draft, +1)
            continue
        if not posted:
            continue
        draft, entry_id = posted[op[1] % len(posted)]
        if op[0] == "replay":
            with unit_of_work(container.sessions) as session:
                again = container.ledger(session).post(draft)
            assert (again.entry_id, again.created) == (entry_id, False)
        elif op[0] == "conflict":
            bigger = replace(
                draft, lines=tuple(replace(line, amount=line.amount + line.amount) for line in draft.lines)
            )
            with pytest.raises(IdempotencyConflictError), unit_of_work(container.sessions) as session:
                container.ledger(session).post(bigger)
        elif entry_id in reversed_ids:
            with pytest.raises(ReversalError), unit_of_work(container.sessions) as session:
                container.ledger(session).reverse(entry_id, posting_date=date(2026, 2, 1))
        else:
            with unit_of_work(container.sessions) as session:
                container.ledger(session).reverse(entry_id, posting_date=date(2026, 2, 1))
            reversed_ids.add(entry_id)
            apply(draft, -1)

    with unit_of_work(container.sessions) as session:
        assert verify_ledger(session).violations == []
        stored = {
            (account_no, row.account_code, row.currency): row.balance_minor
            for row, account_no in session.execute(
                select(CustomerBalance, Customer.account_no).join(
                    Customer, Customer.id == CustomerBalance.customer_id
                )
            )
        }
        assert {k: v for k, v in stored.items() if v} == {k: v for k, v in expected.items() if v}
        trial = session.execute(
            select(Posting.currency, func.sum(Posting.amount_minor)).group_by(Posting.currency)
        )
        assert all(total == 0 for _, total in trial)
