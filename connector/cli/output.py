"""Rendering helpers shared by commands: money for humans and for JSON, tables that never hide data."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table

from connector.db import aware
from connector.money import Money

# The width a free-text column keeps however narrow the terminal or pipe (its text folds onto more lines):
# a date (YYYY-MM-DD) stays on one line.
FREE_TEXT_MIN_WIDTH = 10


class DataTable(Table):
    """A table that never hides data, at any width (a pipe's 80 columns too): no cell is cut with "…".

    The columns named in `whole` (ids, codes, numbers, amounts, dates: what a person or a script copies)
    are never broken nor cut; the others (names, messages, reasons) fold onto more lines. When the whole
    columns and the free text's minimum do not fit, the table is printed wider than the terminal."""

    def __init__(
        self, *headers: str, whole: Collection[str] = (), right: Collection[str] = (), **options: Any
    ) -> None:
        self._whole = frozenset(whole)
        self._right = frozenset(right)
        super().__init__(*headers, **options)

    def add_column(self, header: Any = "", *args: Any, **options: Any) -> None:
        name = str(header)
        options.setdefault("no_wrap", name in self._whole)
        options.setdefault("justify", "right" if name in self._right else "left")
        options.setdefault("overflow", "fold")
        super().add_column(header, *args, **options)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update_width(10**6)  # a cell's own width, not capped at the terminal's

        def widest(column_cells: list[Any]) -> int:
            return max(Measurement.get(console, unbounded, cell).maximum for cell in column_cells)

        needed = self._extra_width  # the borders
        for index, column in enumerate(self.columns):
            cells = [column.header, *column.cells]
            width = widest(cells) if column.no_wrap else min(widest(cells), FREE_TEXT_MIN_WIDTH)
            column.min_width = max(width, column.min_width or 0, widest([column.header]))
            needed += column.min_width + self._get_padding_width(index)
        yield from super().__rich_console__(console, options.update_width(max(options.max_width, needed)))


# Counts of an import that are no outcome of their own: each such document is counted where it went too,
# and they are said of that count (the outcomes it may be among, and what is said of it).
_POSTED = (
    "credit_notes_posted",
    "invoices_posted",
    "payments_posted",
    "receipts_linked",
    "receipts_posted",
    "receipts_unapplied",
    "refunds_posted",
)
_OF_THEM = {
    "reposted": (_POSTED, "changed since imported: reversed and reposted"),
    "restored": (_POSTED, "void or deleted before and live again: posted again"),
    "reversed_now_zero": (("ignored_zero_amount",), "posted before and 0.00 now, voided: reversed"),
    # A payment that keeps nothing back now, or stays reversed: its `.kept` credit note goes (`kept_notes`).
    "kept_notes_reversed": (
        (*_POSTED, "kept_reversed", "ignored_zero_amount", "quarantined"),
        "whose credit note of what was kept back is reversed (none in this export, or the payment is)",
    ),
}


def counts_text(counts: Mapping[str, int]) -> str:
    """An import's counts for a person: `7 documents — 1 invoices posted (of them 1 changed since imported:
    reversed and reposted), 1 reversed, 5 unchanged`. What is said of documents counted where they went
    too (`_OF_THEM`) follows the count they are in; when they may be in several, it ends the line naming
    them (`; of the 1 invoices posted and 2 payments posted, 1 changed since imported: …`)."""

    def count(outcome: str) -> str:
        return f"{counts[outcome]:,} {outcome.replace('_', ' ')}"

    said: dict[str, list[str]] = {}  # the outcome (or outcomes, in words) → what is said of its documents
    for key, (among, what) in _OF_THEM.items():
        if many := counts.get(key, 0):
            where = [outcome for outcome in among if counts.get(outcome, 0)]
            place = where[0] if len(where) == 1 else " and ".join(map(count, where))
            said.setdefault(place, []).append(f"{many:,} {what}")
    outcomes = [
        count(outcome) + (f" (of them {'; '.join(said.pop(outcome))})" if outcome in said else "")
        for outcome in sorted(counts)
        if counts[outcome] and outcome != "documents" and outcome not in _OF_THEM
    ]
    detail = ", ".join(outcomes) + "".join(
        f"; of the {place}, {'; '.join(notes)}" if place else f"; {'; '.join(notes)}"
        for place, notes in said.items()
    )
    documents = f"{counts.get('documents', 0):,} documents"
    return f"{documents} — {detail.removeprefix('; ')}" if detail else documents


def money_text(money: Money) -> str:
    return f"{money.amount:,} {money.currency}"


def money_json(money: Money) -> dict[str, Any]:
    return {"amount": str(money.amount), "currency": money.currency, "minor": money.minor}


def iso_time(moment: datetime | None) -> str | None:
    """A stored instant in ISO 8601 with its offset (SQLite hands it back without one: it is UTC)."""
    return None if moment is None else aware(moment).isoformat()


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2, default=str)
