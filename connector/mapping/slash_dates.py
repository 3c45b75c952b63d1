"""Dates written with day and month as numbers (03/05/2026), whose order the text does not say: which
listed format reads them in which order, and what a text shows of its order (`classify`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Literal

Order = Literal["mdy", "dmy"]
ORDERS: tuple[Order, ...] = ("mdy", "dmy")
WRITTEN = {"mdy": "MM/DD/YYYY", "dmy": "DD/MM/YYYY"}
WORDS = {"mdy": "month-first", "dmy": "day-first"}

_SLASH_DATE = re.compile(r"\s*(\d{1,2})([/.-])(\d{1,2})\2(?:\d{4}|\d{2})(?!\d)")
_SLASH_FORMAT = re.compile(r"%([md])([/.-])%([md])\2%[Yy]")

AMBIGUOUS, CONTRADICTS, CONFIRMS = 1, 2, 3


def other(order: Order) -> Order:
    return "dmy" if order == "mdy" else "mdy"


def format_order(formats: str | Sequence[str]) -> tuple[Order, str] | None:
    """The order of the first listed format writing day and month as numbers around a separator
    (`%m/%d/%Y` → mdy), with that format; None when no format does (ISO dates say their order)."""
    for format in [formats] if isinstance(formats, str) else formats:
        found = _SLASH_FORMAT.search(format)
        if found is not None and found.group(1) != found.group(3):
            return ("mdy" if found.group(1) == "m" else "dmy"), format
    return None


def swapped(format: str) -> str:
    """`format` with day and month changed places (`%m/%d/%Y` → `%d/%m/%Y`)."""
    return format.replace("%m", "\0").replace("%d", "%m").replace("\0", "%d")


def classify(text: str, order: Order) -> int:
    """AMBIGUOUS, CONTRADICTS (reads only the other way) or CONFIRMS (reads only in `order`) for a
    slash date; 0 for anything else (ISO, words, a day equal to its month, no date)."""
    found = _SLASH_DATE.match(text)
    if found is None:
        return 0
    first, second = int(found.group(1)), int(found.group(3))
    month, day = (first, second) if order == "mdy" else (second, first)
    if not (1 <= month <= 31 and 1 <= day <= 31):
        return 0
    if month > 12:
        return CONTRADICTS if day <= 12 else 0
    if day > 12:
        return CONFIRMS
    return AMBIGUOUS if month != day else 0


def either_way(day: dt.date) -> bool:
    """Whether a date written with day and month as numbers reads as another date the other way round."""
    return day.day <= 12 and day.day != day.month


def order_hint(text: str, formats: str | Sequence[str]) -> str | None:
    """Why a date no listed format reads is refused, when it reads only in the other order than the
    formats' (13/03/2026 under `%m/%d/%Y`): the mapping's order is wrong for this export."""
    found = format_order(formats)
    if found is None:
        return None
    order, format = found
    if classify(text, order) != CONTRADICTS:
        return None
    theirs = other(order)
    return (
        f"{WORDS[theirs]} date under a {WORDS[order]} mapping: if this export writes {WRITTEN[theirs]}, "
        f"set the date format to {swapped(format)!r} instead of {format!r}"
    )
