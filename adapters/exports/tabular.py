"""Rows of a tabular export as text, streamed, each with its row number and raw text: what both kinds
share (`Row`, `Header`, finding the header) and the CSV reading; `workbooks` reads XLSX, `reading.rows`
either, told by its bytes.

Why a layer of its own: every export mapping and every later parser needs the same dull, error-prone
work done once and done right — guessing the encoding of a file that came out of Excel on a Chinese
Windows machine, finding the header under a title line such as `收款单列表`, telling `,` from `;`,
turning XLSX dates and floats into text without float artefacts — and must never hold a million-row
file in memory.

Row numbers are what a person sees in a spreadsheet: the file's first row is 1, so with the header on
the first line the first data row is 2; title lines above the header count. A CSV record spanning
several lines (a quoted line break) is one row. Entirely blank rows are not yielded.

Encoding (CSV): `connector.text_encoding` chooses it, as for every file of records the connector reads.
The file is decoded as it streams; a stray undecodable byte becomes U+FFFD rather than stopping the
import half-way, and `StrayBytes` collects the rows holding one. An encoding the mapping declares is
strict: a byte it cannot decode refuses the file.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from connector.documents import Notice, Origin
from connector.errors import FileFormatError
from connector.mapping.detection import normalise
from connector.text_encoding import strays_note

DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_ROWS = 50  # how far below the top a header may sit under title lines


@dataclass(frozen=True, slots=True)
class Row:
    """One row: its spreadsheet row number, its cells as text and the input it came from.

    `error` is set for a row that cannot be read: a CSV record that cannot be split into the header's
    cells (`cells` empty), or a workbook row holding a formula never calculated (`cells` as read, the
    formula's empty: a mapping's skip rule may still tell a totals row, which is passed over)."""

    number: int
    cells: list[str]
    raw: str
    error: str | None = None


@dataclass(slots=True)
class StrayBytes:
    """The rows of a CSV whose encoding was detected that held bytes it cannot decode, each read as
    U+FFFD: the import says which, for a person to check their values (a stray byte in an amount or a
    date is refused by its conversion; in a name or a memo it is read, changed)."""

    encoding: str = ""
    rows: list[int] = field(default_factory=list)
    # How the encoding was chosen, when a person should check it (`Chosen.note`): the import says so first.
    encoding_note: str | None = None

    def encoding_notice(self, name: str) -> Notice | None:
        return None if self.encoding_note is None else Notice(Origin(name), self.encoding_note)

    def notice(self, name: str) -> Notice | None:
        return Notice(Origin(name), strays_note("row", self.rows, self.encoding)) if self.rows else None


@dataclass(frozen=True, slots=True)
class Header:
    """The header row: original names for messages, normalised keys for matching."""

    row: Row
    keys: tuple[str, ...]

    @classmethod
    def of(cls, row: Row) -> Header:
        return cls(row, tuple(normalise(cell) for cell in row.cells))

    @property
    def names(self) -> list[str]:
        return self.row.cells

    def index(self, column: str | int) -> int | None:
        """The 0-based position of a column named (any case, width or spacing) or numbered."""
        if isinstance(column, int):
            return column if 0 <= column < len(self.keys) else None
        key = normalise(column)
        return self.keys.index(key) if key in self.keys else None


def has_columns(cells: Iterable[str], wanted: Sequence[str]) -> bool:
    keys = {normalise(cell) for cell in cells}
    return all(normalise(name) in keys for name in wanted)


# --- CSV -----------------------------------------------------------------------------------------------


def sniff_delimiter(line: str) -> str:
    """The candidate delimiter the header line uses most (`,` when it has none: one column)."""
    counts = [(line.count(candidate), -order) for order, candidate in enumerate(DELIMITERS)]
    best = max(range(len(DELIMITERS)), key=lambda i: counts[i])
    return DELIMITERS[best] if counts[best][0] else ","


def split_line(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _find_header(
    lines: Sequence[str], name: str, delimiter: str | None, header_row: int | None, wanted: Sequence[str]
) -> tuple[int, str]:
    """(0-based line of the header, delimiter) among the first lines."""
    if header_row is not None:
        if header_row > len(lines):
            raise FileFormatError(f"{name}: has no row {header_row} for the header")
        line = lines[header_row - 1]
        chosen = delimiter or sniff_delimiter(line)
        if wanted and not has_columns(split_line(line, chosen), wanted):
            raise FileFormatError(f"{name}: row {header_row} lacks the columns {', '.join(wanted)}")
        return header_row - 1, chosen
    for index, line in enumerate(lines):
        if not line.strip(" \t\r\n,;|\ufeff"):
            continue
        if not wanted:
            return index, delimiter or sniff_delimiter(line)
        for candidate in (delimiter,) if delimiter else DELIMITERS:
            if has_columns(split_line(line, candidate), wanted):
                return index, candidate
    if wanted:
        raise FileFormatError(
            f"{name}: no header with the columns {', '.join(wanted)} in its first {len(lines)} rows"
        )
    raise FileFormatError(f"{name}: the file is empty")


def tapped(lines: Iterable[str], taken: list[str]) -> Iterator[str]:
    """The lines, each also put in `taken`: the raw text of the record the csv module is reading."""
    append = taken.append
    for line in lines:
        append(line)
        yield line


def csv_rows(
    text: IO[str],
    name: str,
    *,
    delimiter: str | None = None,
    header_row: int | None = None,
    headers: Sequence[str] = (),
) -> Iterator[Row]:
    """The header row, then each non-blank row, of CSV text opened with `newline=""`.

    A quoted cell may span lines; but a row spanning lines whose cells are not the header's, or whose
    quoted cell closes before text that is not a delimiter (`"加急,…` closed by the `"` of a later
    row's `6" pipe`), is a quote never closed: that line is a row of its own, unreadable, and the lines
    it swallowed are read again as rows.
    """
    head = list(itertools.islice(text, HEADER_SEARCH_ROWS))
    index, chosen = _find_header(head, name, delimiter, header_row, headers)
    taken: list[str] = []
    again: deque[str] = deque()  # lines handed back, read before the file's next ones
    rest = itertools.chain(head[index:], text)

    def lines() -> Iterator[str]:
        while True:
            if again:
                yield again.popleft()
            elif (line := next(rest, None)) is not None:
                yield line
            else:
                return

    def unclosed(number: int) -> Row:
        """The record's first line as an unreadable row; the lines the open quote swallowed go back."""
        first = taken[0]
        again.extendleft(reversed(taken[1:]))
        taken.clear()
        return Row(number, [], first.rstrip("\r\n"), UNCLOSED_QUOTE)

    number = index
    width: int | None = None
    while True:  # a new reader when lines were handed back after the file's end, or after an error
        reader = csv.reader(tapped(lines(), taken), delimiter=chosen)
        try:
            for cells in reader:
                number += 1
                if len(taken) > 1 and width is not None and not _closes_cleanly(taken, chosen, width, cells):
                    yield unclosed(number)
                    continue
                raw = taken[0] if len(taken) == 1 else "".join(taken)
                taken.clear()
                if any(cells):
                    width = len(cells) if width is None else width
                    overfull = _overfull(cells, width, chosen)
                    yield Row(number, [] if overfull else cells, raw.rstrip("\r\n"), overfull)
        except csv.Error as exc:  # e.g. a field over the csv size limit: this record only
            number += 1
            if len(taken) > 1 and _rows_swallowed(taken, chosen, width):  # an open quote ran on that far
                yield unclosed(number)
                continue
            raw = "".join(taken).rstrip("\r\n")
            taken.clear()
            yield Row(number, [], raw, f"unreadable CSV row: {exc}")
            continue
        if not again:
            return


UNCLOSED_QUOTE = "a quote opened in this row is never closed: its fields cannot be told apart"


# An amount cut in two at an unquoted thousands separator: "1" then "500.00" (or "(1" then "500.00)").
_GROUP_HEAD = re.compile(r"[-+(]?[^\d\s]{0,3}\d{1,3}")
_GROUP_TAIL = re.compile(r"\d{3}(?:\.\d+)?\)?-?")


def _overfull(cells: list[str], width: int, delimiter: str) -> str | None:
    """Why a row with values beyond the header's last column cannot be read: a delimiter inside an
    unquoted value moved every cell after it. Empty cells beyond it are only a spreadsheet's trailing
    delimiters, unless an amount in the row looks cut in two at a thousands separator (the last column
    was empty, and the cut filled it)."""
    if len(cells) <= width:
        return None
    if not any(cell.strip() for cell in cells[width:]) and not (delimiter == "," and _cut_amount(cells)):
        return None
    return (
        f"{len(cells)} cells where the header has {width}: a value holds an unquoted {delimiter!r} (a "
        f"thousands separator, as in 1{delimiter}150.00?), which moves every cell after it"
    )


def _cut_amount(cells: list[str]) -> bool:
    return any(
        _GROUP_HEAD.fullmatch(head.strip()) and _GROUP_TAIL.fullmatch(tail.strip())
        for head, tail in itertools.pairwise(cells)
    )


def _rows_swallowed(taken: list[str], delimiter: str, width: int | None, sample: int = 50) -> bool:
    """Whether the lines after a record's first look like rows of their own (as wide as the header):
    an open quote swallowed them. A long cell's own lines (a memo) mostly do not."""
    lines = taken[1 : 1 + sample]
    if width is None or not lines:
        return False
    whole = sum(1 for cells in csv.reader(lines, delimiter=delimiter) if len(cells) == width)
    return whole * 2 >= len(lines)


def _closes_cleanly(taken: list[str], delimiter: str, width: int, cells: list[str]) -> bool:
    """Whether a record read over several lines is one row: as wide as the header, and strictly CSV
    (every quoted cell closed right before a delimiter or the end of the row)."""
    if len(cells) != width:
        return False
    try:
        list(csv.reader(["".join(taken)], delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    return True


# --- XLSX ----------------------------------------------------------------------------------------------


# East Asian Excel saves its date formats (yyyy"年"m"月"d"日", 平成 …) as the built-in format ids 27–36
# and 50–58 without declaring them (ECMA-376 §18.8.30); openpyxl reads only the international ones.
def is_header(
    number: int, cells: list[str], name: str, header_row: int | None, wanted: Sequence[str]
) -> bool:
    if header_row is not None:
        if number < header_row:
            return False
        if wanted and not has_columns(cells, wanted):
            raise FileFormatError(f"{name}: row {header_row} lacks the columns {', '.join(wanted)}")
        return True
    if number > HEADER_SEARCH_ROWS:
        wanted_text = f" with the columns {', '.join(wanted)}" if wanted else ""
        raise FileFormatError(f"{name}: no header{wanted_text} in its first {HEADER_SEARCH_ROWS} rows")
    return bool(cells) and (not wanted or has_columns(cells, wanted))
