"""API credits (rolling 24 h budget, Zoho's cost table) and concurrency (per edition, plus sub-concurrency).

Zoho answers both with HTTP 429 TOO_MANY_REQUESTS; `X-API-CREDITS-REMAINING` appears once half the
day's credits are spent.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

DAY_S = 86_400


class Limits:
    """Counts calls in flight and credits spent; thread-safe (the test thread may read or reset it)."""

    def __init__(
        self, concurrency: int, sub_concurrency: int, budget: int, clock: Callable[[], float]
    ) -> None:
        self.concurrency = concurrency
        self.sub_concurrency = sub_concurrency
        self.budget = budget
        self.clock = clock
        self.in_flight = 0
        self.complex_in_flight = 0
        self.peak_in_flight = 0
        self._spent: deque[tuple[float, int]] = deque()
        self._used = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        """Admit a call unless `concurrency` calls are already being processed."""
        with self._lock:
            if self.in_flight >= self.concurrency:
                return False
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return True

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def enter_complex(self) -> bool:
        with self._lock:
            if self.complex_in_flight >= self.sub_concurrency:
                return False
            self.complex_in_flight += 1
            return True

    def leave_complex(self) -> None:
        with self._lock:
            self.complex_in_flight -= 1

    def _expire(self) -> None:
        horizon = self.clock() - DAY_S
        while self._spent and self._spent[0][0] <= horizon:
            self._used -= self._spent.popleft()[1]

    def charge(self, cost: int) -> bool:
        """Spend `cost` credits if the rolling 24-hour budget still has them."""
        with self._lock:
            self._expire()
            if self._used + cost > self.budget:
                return False
            self._used += cost
            self._spent.append((self.clock(), cost))
            return True

    def used(self) -> int:
        with self._lock:
            self._expire()
            return self._used

    def remaining(self) -> int:
        return max(0, self.budget - self.used())

    def remaining_header(self) -> str | None:
        """The value of X-API-CREDITS-REMAINING, sent only once at least half the budget is used."""
        used = self.used()
        return str(max(0, self.budget - used)) if used * 2 >= self.budget else None

    def reset(self) -> None:
        with self._lock:
            self._spent.clear()
            self._used = 0
