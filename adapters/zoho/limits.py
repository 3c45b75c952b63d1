"""Zoho's limits on the client side: what a call costs, how many may run at once, the daily budget.

Zoho counts API credits per org over a rolling 24 hours and answers 429 when they run out, which
would also starve every other integration of the org. The connector therefore spends against its own
configured budget (`zoho.daily_credit_budget`, default: the edition's allowance) and stops a cycle
cleanly — `BudgetExhaustedError` — before the org's allowance is gone. Spending is kept in the database
per hour, so every daemon replica and every restart sees the same total.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from connector.errors import BudgetExhaustedError
from connector.settings import ZohoEdition

CONCURRENCY: dict[str, int] = {
    "free": 5,
    "standard": 10,
    "professional": 15,
    "enterprise": 20,
    "ultimate": 25,
}
SUB_CONCURRENCY = 10  # Zoho's pool for "complex" calls (sorted listings, writes of > 10 records …)
_CREDITS_PER_USER: dict[str, int] = {
    "standard": 250,
    "professional": 500,
    "enterprise": 1000,
    "ultimate": 2000,
}
_CREDIT_CAPS: dict[str, int | None] = {
    "standard": 100_000,
    "professional": 3_000_000,
    "enterprise": 5_000_000,
    "ultimate": None,
}
DELETED_COST = 2
MAX_WRITE_COST = 10
WINDOW = timedelta(hours=24)
REMOTE_FRESH = timedelta(hours=1)  # how long Zoho's X-API-CREDITS-REMAINING is believed


def edition_budget(edition: ZohoEdition, licensed_users: int) -> int:
    """Zoho's credits per rolling 24 hours for an edition (caps per the current v8 limits page)."""
    if edition == "free":
        return 5_000
    total = 50_000 + _CREDITS_PER_USER[edition] * licensed_users
    cap = _CREDIT_CAPS[edition]
    return total if cap is None else min(total, cap)


def write_cost(records: int) -> int:
    """Insert, update and upsert cost one credit per 10 records, at most 10 per call."""
    return min(MAX_WRITE_COST, max(1, math.ceil(records / 10)))


@dataclass(frozen=True)
class CallCost:
    credits: int
    complex_call: bool  # counts against the sub-concurrency pool of 10


def listing_cost(sorted_listing: bool, custom_view: bool = False) -> CallCost:
    return CallCost(3 if custom_view else 1, sorted_listing or custom_view)


def write_call_cost(records: int) -> CallCost:
    return CallCost(write_cost(records), records > 10)


PLAIN_CALL = CallCost(1, False)
DELETED_CALL = CallCost(DELETED_COST, False)


class Concurrency:
    """At most the edition's number of calls in flight, and at most 10 of them complex."""

    def __init__(self, edition: ZohoEdition) -> None:
        self.limit = CONCURRENCY[edition]
        self._all = threading.BoundedSemaphore(self.limit)
        self._complex = threading.BoundedSemaphore(min(SUB_CONCURRENCY, self.limit))

    @contextmanager
    def slot(self, complex_call: bool) -> Iterator[None]:
        with self._all:
            if complex_call:
                with self._complex:
                    yield
            else:
                yield


class SpendingLog(Protocol):
    """Where credits spent are kept: the database in the daemon, memory in unit tests."""

    def spent_since(self, provider: str, since: datetime) -> int: ...

    def add(self, provider: str, hour: datetime, credits: int) -> None: ...


class MemorySpendingLog:
    def __init__(self) -> None:
        self.hours: dict[tuple[str, datetime], int] = {}

    def spent_since(self, provider: str, since: datetime) -> int:
        return sum(n for (p, hour), n in self.hours.items() if p == provider and hour >= since)

    def add(self, provider: str, hour: datetime, credits: int) -> None:
        self.hours[(provider, hour)] = self.hours.get((provider, hour), 0) + credits


class CreditMeter:
    """Counts credits per call against the budget; refuses a call the budget cannot pay for.

    Spending is written to the log in batches (every `resync_every` calls and on `flush`), and the
    total is re-read then, so other replicas' spending is seen; a job that commits transactions as it
    goes writes it in each of them too (`take_unwritten`). `X-API-CREDITS-REMAINING`, when Zoho sends
    it, is the org's real remainder: the meter never plans to spend past it either.
    """

    def __init__(
        self,
        provider: str,
        budget: int,
        log: SpendingLog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        resync_every: int = 100,
    ) -> None:
        self.provider = provider
        self.budget = budget
        self.log = log
        self.clock = clock
        self.resync_every = resync_every
        self.remote_remaining: int | None = None
        self._remote_at: datetime | None = None
        self.spent_by_me = 0
        self._lock = threading.Lock()
        self._calls = 0
        self._unwritten: dict[datetime, int] = {}
        self._in_flight = 0  # taken to be written in a transaction not yet committed
        self._spent = self._read()

    def _read(self) -> int:
        # From the hour holding the window's start: an hour too much at most, never an hour's spending missed
        return self.log.spent_since(self.provider, _hour(self.clock() - WINDOW))

    def flush(self) -> None:
        """Write what this meter spent to the log and read the total again (call when a cycle ends).

        The lock is not held meanwhile: a pull holding SQLite's write lock in a transaction writes its
        credits there (`take_unwritten`), and would wait for this lock while this write waited for it."""
        taken = self.take_unwritten()
        done: dict[datetime, int] = {}
        try:
            for hour, credits in taken.items():
                self.log.add(self.provider, hour, credits)
                done[hour] = credits
        finally:
            self.written(done)
            self.give_back({hour: credits for hour, credits in taken.items() if hour not in done})
        total = self._read()
        with self._lock:  # what is not in the log yet is this meter's: counted on top
            self._spent = total + self._in_flight + sum(self._unwritten.values())

    def take_unwritten(self) -> dict[datetime, int]:
        """What this meter spent and has not written (credits by hour), for the caller to write in a
        transaction of its own; then `written` once it committed, or `give_back` if it did not."""
        with self._lock:
            taken, self._unwritten = self._unwritten, {}
            self._in_flight += sum(taken.values())
            return taken

    def written(self, taken: Mapping[datetime, int]) -> None:
        with self._lock:
            self._in_flight -= sum(taken.values())

    def give_back(self, taken: Mapping[datetime, int]) -> None:
        """Credits taken whose transaction did not commit: written with the next ones."""
        with self._lock:
            self._in_flight -= sum(taken.values())
            for hour, credits in taken.items():
                self._unwritten[hour] = self._unwritten.get(hour, 0) + credits

    def charge(self, credits: int, what: str) -> None:
        """Record `credits` for a call about to be made, or raise `BudgetExhaustedError` for it."""
        with self._lock:
            self._calls += 1
            resync = self._calls % self.resync_every == 0
        if resync:
            self.flush()
        with self._lock:
            if self._spent + credits > self.budget:
                raise BudgetExhaustedError(
                    f"{self.provider}: the daily API credit budget ({self.budget}) is spent "
                    f"({self._spent} used in the last 24 h); {what} waits for the next cycle"
                )
            self._forget_stale_remote_locked()
            if self.remote_remaining is not None and credits > self.remote_remaining:
                raise BudgetExhaustedError(
                    f"{self.provider}: the org has {self.remote_remaining} API credits left; "
                    f"{what} waits for the next cycle"
                )
            self._spent += credits
            self.spent_by_me += credits
            if self.remote_remaining is not None:
                self.remote_remaining -= credits
            hour = _hour(self.clock())
            self._unwritten[hour] = self._unwritten.get(hour, 0) + credits

    def observe_remaining(self, header: str | None) -> None:
        """Take Zoho's `X-API-CREDITS-REMAINING` (sent once half the org's credits are used)."""
        if header is None:
            return
        try:
            remaining = int(header)
        except ValueError:
            return
        with self._lock:
            self.remote_remaining, self._remote_at = max(0, remaining), self.clock()

    def _forget_stale_remote_locked(self) -> None:
        """Zoho's window rolls and stops sending the header once credits return: a remainder it said
        more than `REMOTE_FRESH` ago is no longer believed, so a call goes out and asks again."""
        if self._remote_at is not None and self.clock() - self._remote_at > REMOTE_FRESH:
            self.remote_remaining = self._remote_at = None

    def remaining(self) -> int:
        with self._lock:
            self._forget_stale_remote_locked()
            mine = self.budget - self._spent
            return max(0, mine if self.remote_remaining is None else min(mine, self.remote_remaining))


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
