"""Time as the sandbox sees it: whole epoch seconds inside, ISO-8601 with the user's offset outside."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime


class ManualClock:
    """A clock tests move by hand, so token expiry or a 24-hour window needs no sleeping."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, value: float) -> None:
        with self._lock:
            self._now = value


def zone(offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=offset_minutes))


def format_time(seconds: int, tz: timezone) -> str:
    """Zoho's datetime text: `2024-05-31T18:04:05+05:30` (no fraction, numeric offset)."""
    return datetime.fromtimestamp(seconds, tz).isoformat()


def parse_time(text: str) -> int | None:
    """Epoch seconds of an ISO-8601 datetime with offset (or `Z`), or of an HTTP date; None if neither.

    Zoho documents ISO-8601 for If-Modified-Since; some clients send an HTTP date, which is accepted too.
    """
    value = text.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp())


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None
