"""Slash dates (03/05/2026) read in one declared order, and a file that shows the other one.

Exports write a date in the order of the user's region: a UK QuickBooks Online writes 03/05/2026 for
3 May, a US one for 5 March, and nothing in the file says which. A mapping (or `imports.iif_date_order`)
declares the order; a file whose date reads only the other way round (13/03/2026 under month first)
shows that the declaration is wrong for it, and then each of its dates that reads either way (both
parts 12 or less, and unequal) would be posted months off without a word.

The rule, per date column of one file, streaming (no second pass over a million rows):

- A date that reads only the other way is refused with its row (the converter's or parser's reason
  names the edit; the first such row's names the mapping file or setting).
- A document whose date reads either way is held back, with the documents after it (their order kept),
  until the column shows its order: a date that reads only the declared way releases them as read; one
  that reads only the other way turns each into a `Problem` (kept in quarantine, never posted), as is
  every such document after it. At the file's end, or past `HOLD` documents held, they are released as
  read: nothing in the file said otherwise, the declaration stands.
- A `Notice` for the file says how many documents were kept back and how many that read either way
  were posted before the file showed the other order (after a date read only the declared way, or past
  `HOLD`): those may be misdated by months and are for a person to check.

Per row this costs one regular-expression match per watched column; the hold is empty once a column has
shown its order, which in real files is within a few rows (a day past the 12th).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from connector.documents import Document, Notice, Origin, Parsed, Problem
from connector.mapping.slash_dates import (
    CONFIRMS,
    CONTRADICTS,
    WORDS,
    WRITTEN,
    Order,
    classify,
    either_way,
    other,
)

HOLD = 10_000  # documents held back at most while a column has not shown its order


@dataclass
class _Column:
    label: str  # as reasons name it: "date (Date)", "DATE"
    order: Order
    remedy: str  # the edit that reads the other order: "set imports.iif_date_order = …"
    slashed: bool = False  # the file writes this column's dates with numbers around a separator
    confirmed: bool = False
    contradicted_at: int | None = None
    kept: int = 0  # documents reading either way kept back (quarantined)
    posted: int = 0  # documents reading either way posted in the declared order
    posted_rows: list[int | None] = field(default_factory=list)  # the first few of them

    @property
    def pending(self) -> bool:
        return not self.confirmed and self.contradicted_at is None


class DateOrderWatch:
    """One file's date columns, by the `Document` attribute each gives (`date`, `due_date`,
    `value_date`): `columns` maps it to (label, declared order, remedy). The parser tells `see` each
    row's cell as it reads it, and passes its items through `items`."""

    def __init__(
        self, name: str, columns: Mapping[str, tuple[str, Order, str]], where: str | None = None
    ) -> None:
        self.name = name
        self.where = where  # the mapping file the columns' formats are in, when they are
        self.columns = {target: _Column(*spec) for target, spec in columns.items()}
        self.held: deque[Parsed] = deque()
        self.slashed = False  # any column written with numbers around a separator, so far

    def see(self, row: int | None, target: str, text: str) -> None:
        column = self.columns[target]
        kind = classify(text, column.order)
        if not kind:
            return
        column.slashed = self.slashed = True
        if kind == CONFIRMS:
            column.confirmed = True
        elif kind == CONTRADICTS and column.contradicted_at is None:
            column.contradicted_at = row

    def items(self, items: Iterator[Parsed]) -> Iterator[Parsed]:
        held = self.held
        for item in items:
            if not self.slashed and not held:  # ISO dates (2026-03-05), or none yet: nothing to hold
                yield item
                continue
            held.append(item)
            yield from self._release(final=False)
        yield from self._release(final=True)
        yield from self._notices()

    def _release(self, final: bool) -> Iterator[Parsed]:
        held = self.held
        while held:
            if not final and len(held) <= HOLD and self._waiting(held[0]):
                return
            yield self._settled(held.popleft())

    def _read_either_way(self, item: Parsed) -> list[_Column]:
        if not isinstance(item, Document):
            return []
        return [
            column
            for target, column in self.columns.items()
            if column.slashed and (day := getattr(item, target)) is not None and either_way(day)
        ]

    def _waiting(self, item: Parsed) -> bool:
        return any(column.pending for column in self._read_either_way(item))

    def _settled(self, item: Parsed) -> Parsed:
        if isinstance(item, Problem):
            return self._worded(item)
        columns = self._read_either_way(item)
        shown = [column for column in columns if column.contradicted_at is not None]
        if not shown:
            for column in columns:
                column.posted += 1
                if len(column.posted_rows) < 10:
                    column.posted_rows.append(item.origin.row if isinstance(item, Document) else None)
            return item
        assert isinstance(item, Document)
        for column in shown:
            column.kept += 1
        column = shown[0]
        return Problem(
            item.origin,
            f"{column.label}: a date that reads either way, in a file whose row {column.contradicted_at} "
            f"writes dates {WORDS[other(column.order)]} ({WRITTEN[other(column.order)]}): not posted "
            f"{WORDS[column.order]}, as it may be months off; if this export writes "
            f"{WRITTEN[other(column.order)]}, {column.remedy}, then retry this record "
            "(`connector quarantine retry`)",
        )

    def _worded(self, problem: Problem) -> Problem:
        """The first row showing the other order: its reason (the converter's, naming the edit) also
        names the mapping file where the edit is made."""
        if self.where is None or self.where in problem.reason:
            return problem
        for column in self.columns.values():
            if column.contradicted_at is not None and problem.origin.row == column.contradicted_at:
                return Problem(problem.origin, f"{problem.reason} (the mapping file: {self.where})")
        return problem

    def _notices(self) -> Iterator[Notice]:
        for column in self.columns.values():
            if column.contradicted_at is None:
                continue
            theirs, declared = other(column.order), column.order
            text = (
                f"{column.label}: row {column.contradicted_at} writes a date that reads only "
                f"{WORDS[theirs]} ({WRITTEN[theirs]}), though it is read {WORDS[declared]}; "
                f"{column.kept} document(s) whose date reads either way kept in quarantine, not posted"
            )
            if column.posted:
                rows = ", ".join(str(row) for row in column.posted_rows)
                more = " …" if column.posted > len(column.posted_rows) else ""
                text += (
                    f"; {column.posted} posted {WORDS[declared]} before the file showed it (rows "
                    f"{rows}{more}) may be misdated by months: check them and reverse those that are "
                    "(`connector ledger reverse ENTRY`)"
                )
            text += f"; if this export writes {WRITTEN[theirs]}, {column.remedy}"
            yield Notice(Origin(self.name), text)
