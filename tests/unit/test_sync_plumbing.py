"""Cursor positions, read-ahead, exact JSON, retry waits and the credit meter."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.zoho.limits import Concurrency, CreditMeter, MemorySpendingLog, edition_budget, write_cost
from connector.errors import BudgetExhaustedError
from connector.exact_json import dumps_exact
from connector.sync.cursors import Position
from connector.sync.prefetch import prefetched, prefetched_runs
from connector.sync.push_send import DEAD_AFTER, retry_wait

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_position_keeps_the_ids_seen_at_its_latest_instant() -> None:
    moved = Position(None).advanced([("a", at(1)), ("b", at(3)), ("c", at(3))], signpost=at(10))
    assert moved == Position(at(3), frozenset({"b", "c"}))
    assert moved.advanced([("d", at(3))], at(10)) == Position(at(3), frozenset({"b", "c", "d"}))


def test_a_position_never_moves_past_the_runs_signpost() -> None:
    moved = Position(at(1), frozenset({"a"})).advanced([("b", at(5)), ("late", at(11))], signpost=at(10))
    assert moved == Position(at(5), frozenset({"b"}))


def test_a_record_stamped_in_the_runs_own_second_is_read_again_next_run() -> None:
    # It may change again later in that second and keep its stamp: the cursor stays before the second.
    started = at(10) + timedelta(milliseconds=400)
    moved = Position(at(1), frozenset({"a"})).advanced([("b", at(5)), ("same second", at(10))], started)
    assert moved == Position(at(5), frozenset({"b"}))


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 20)), max_size=30), st.integers(0, 20))
def test_advancing_page_by_page_is_the_same_as_advancing_at_once(
    stamps: list[tuple[str, int]], cut: int
) -> None:
    records = [(record_id, at(s)) for record_id, s in sorted(stamps, key=lambda x: x[1])]
    split = min(cut, len(records))
    in_pages = Position(None).advanced(records[:split], at(15)).advanced(records[split:], at(15))
    assert in_pages == Position(None).advanced(records, at(15))


def test_read_ahead_yields_every_item_in_order_and_raises_the_producers_error_in_place() -> None:
    def produce() -> Iterator[int]:
        yield from range(5)
        raise RuntimeError("page 6 failed")

    got: list[int] = []
    with pytest.raises(RuntimeError, match="page 6 failed"):
        for item in prefetched(produce(), depth=2):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_leaving_a_read_ahead_early_stops_its_worker() -> None:
    produced: list[int] = []

    def produce() -> Iterator[int]:
        for n in range(1_000):
            produced.append(n)
            yield n

    for item in prefetched(produce(), depth=2):
        if item == 3:
            break
    assert len(produced) < 10
    assert not any(t.name == "prefetch" and t.is_alive() for t in threading.enumerate())


def test_runs_of_pages_keep_every_page_in_order_stop_at_the_limit_and_end_with_the_error() -> None:
    pages = [[n, n] for n in range(10)]

    def produce() -> Iterator[list[int]]:
        yield from pages
        raise RuntimeError("page 11 failed")

    runs: list[list[list[int]]] = []
    with pytest.raises(RuntimeError, match="page 11 failed"):
        for run in prefetched_runs(produce(), depth=8, limit=5, size=len):
            time.sleep(0.01)  # storing takes a while: pages queue up behind
            runs.append(run)
    assert [page for run in runs for page in run] == pages
    assert all(sum(map(len, run)) - len(run[-1]) < 5 for run in runs)  # the last page crossed the limit
    assert max(len(run) for run in runs) > 1  # waiting pages went together


def test_exact_json_writes_decimals_as_plain_numbers() -> None:
    text = dumps_exact(
        {"a": Decimal("1E+3").quantize(Decimal("0.01")), "b": [Decimal("-0.10"), None, "¥"], "c": True}
    )
    assert text == '{"a":1000.00,"b":[-0.10,null,"¥"],"c":true}'
    with pytest.raises(ValueError, match="cannot be written as a JSON number"):
        dumps_exact(Decimal("NaN"))


def test_refused_records_wait_longer_each_time_up_to_a_day() -> None:
    waits = [retry_wait(n) for n in range(1, DEAD_AFTER + 3)]
    assert waits[:3] == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]
    assert waits == sorted(waits)
    assert waits[-1] == timedelta(hours=24)


def test_write_costs_follow_zohos_table() -> None:
    assert [write_cost(n) for n in (1, 10, 11, 100, 1_000)] == [1, 1, 2, 10, 10]


def test_edition_budgets_follow_zohos_table() -> None:
    assert edition_budget("free", 3) == 5_000
    assert edition_budget("enterprise", 10) == 60_000
    assert edition_budget("standard", 1_000) == 100_000  # capped


def test_the_meter_sees_other_replicas_spending_when_it_resyncs() -> None:
    log = MemorySpendingLog()
    now = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    mine = CreditMeter("zoho", 100, log, clock=lambda: now, resync_every=2)
    log.add("zoho", now.replace(minute=0), 95)  # another replica spent 95
    mine.charge(1, "call 1")
    mine.charge(1, "call 2")  # resync: 95 + 1 written, then this one
    with pytest.raises(BudgetExhaustedError):
        mine.charge(5, "call 3")


def test_spending_older_than_a_day_no_longer_counts() -> None:
    log = MemorySpendingLog()
    now = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    log.add("zoho", now - timedelta(hours=25), 1_000)
    assert CreditMeter("zoho", 100, log, clock=lambda: now).remaining() == 100


def test_spending_in_the_hour_the_day_began_still_counts_so_the_budget_is_never_spent_twice() -> None:
    log = MemorySpendingLog()
    spent_at = datetime(2026, 11, 23, 10, 50, tzinfo=UTC)
    log.add("zoho", spent_at.replace(minute=0), 100)
    later = spent_at + timedelta(hours=23, minutes=20)  # those credits were spent within the last 24 h
    assert CreditMeter("zoho", 100, log, clock=lambda: later).remaining() == 0


def test_complex_calls_share_a_smaller_pool() -> None:
    pool = Concurrency("ultimate")
    assert pool.limit == 25
    held = [pool.slot(True) for _ in range(10)]
    for slot in held:
        slot.__enter__()
    acquired = pool._complex.acquire(blocking=False)
    assert not acquired
    for slot in held:
        slot.__exit__(None, None, None)
