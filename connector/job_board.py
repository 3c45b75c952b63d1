"""What the daemon's scheduled jobs did in this process: each job's runs by outcome, its last run and
its last success, and when it runs next. Kept in memory (each replica reports its own), shown on the
daemon's `/status` page and in `/metrics`."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

DONE, FAILED, HELD = "done", "failed", "held elsewhere"  # held: another process was running it
OUTCOMES = (DONE, FAILED, HELD)


@dataclass(frozen=True)
class JobRecord:
    name: str
    every: timedelta
    runs: Counter[str] = field(default_factory=Counter)  # by outcome
    last_outcome: str | None = None
    last_started_at: datetime | None = None
    last_seconds: float | None = None
    last_message: str = ""  # what it did, in words, or why it failed
    last_success_at: datetime | None = None
    next_run_at: datetime | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "every_seconds": self.every.total_seconds(),
            "runs": {outcome: self.runs[outcome] for outcome in OUTCOMES},
            "last_outcome": self.last_outcome,
            "last_started_at": _iso(self.last_started_at),
            "last_seconds": self.last_seconds,
            "last_message": self.last_message,
            "last_success_at": _iso(self.last_success_at),
            "next_run_at": _iso(self.next_run_at),
        }


class JobBoard:
    """Thread-safe: jobs record from the scheduler's threads while the web app reads."""

    def __init__(self, jobs: Sequence[tuple[str, timedelta]]) -> None:
        self._lock = threading.Lock()
        self._records = {name: JobRecord(name, every) for name, every in jobs}
        self.next_run: Callable[[str], datetime | None] = lambda _name: None

    def record(self, name: str, outcome: str, started: datetime, finished: datetime, message: str) -> None:
        with self._lock:
            held = self._records[name]
            self._records[name] = replace(
                held,
                runs=held.runs + Counter({outcome: 1}),
                last_outcome=outcome,
                last_started_at=started,
                last_seconds=(finished - started).total_seconds(),
                last_message=message,
                last_success_at=finished if outcome == DONE else held.last_success_at,
            )

    def jobs(self) -> list[JobRecord]:
        with self._lock:
            records = list(self._records.values())
        return [replace(record, next_run_at=self.next_run(record.name)) for record in records]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
