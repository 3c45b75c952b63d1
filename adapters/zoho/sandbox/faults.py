"""Injected trouble for the API: added latency, 429 bursts every Nth call, a seeded rate of 5xx answers."""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass

from adapters.zoho.sandbox.config import FaultConfig


@dataclass(frozen=True)
class Injected:
    """A fault to answer with instead of processing the call."""

    status: int  # 429 or a 5xx


class FaultInjector:
    """Decides per API call whether to delay it, throttle it or fail it (reads the live FaultConfig)."""

    def __init__(self, faults: FaultConfig, seed: int) -> None:
        self.faults = faults
        self.calls = 0
        self._rng = random.Random(seed ^ 0x5EED)
        self._lock = threading.Lock()

    async def delay(self) -> None:
        if self.faults.latency_s > 0:
            await asyncio.sleep(self.faults.latency_s)

    def decide(self) -> Injected | None:
        faults = self.faults
        with self._lock:
            self.calls += 1
            n = self.calls
            roll = self._rng.random()
        every, length = faults.burst_429_every, max(1, faults.burst_429_length)
        if every > 0 and (n - 1) % every >= every - min(length, every):
            return Injected(429)
        if faults.error_rate > 0 and roll < faults.error_rate:
            return Injected(faults.error_status)
        return None
