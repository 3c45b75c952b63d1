"""Rows of a tabular export (CSV or XLSX) as text, streamed, each with its row number and raw text.

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
import datetime as dt
import io
import itertools
import re
import warnings
import zipfile
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import openpyxl  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

from connector.documents import Notice, Origin
from connector.errors import FileFormatError
from connector.mapping.converters import DateText
from connector.mapping.decimals import NumberText
from connector.mapping.detection import normalise
from connector.text_encoding import choose_encoding, label

DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_ROWS = 50  # how far below the top a header may sit under title lines
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # the old binary .xls


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

    SHOWN = 20  # rows named; the rest counted

    def encoding_notice(self, name: str) -> Notice | None:
        return None if self.encoding_note is None else Notice(Origin(name), self.encoding_note)

    def notice(self, name: str) -> Notice | None:
        if not self.rows:
            return None
        shown = ", ".join(map(str, self.rows[: self.SHOWN]))
        more = f" and {len(self.rows) - self.SHOWN} more" if len(self.rows) > self.SHOWN else ""
        said = "row {} holds" if len(self.rows) == 1 else "rows {} hold"
        return Notice(
            Origin(name),
            f"{said.format(shown + more)} bytes that are not {label(self.encoding)} text (a stray byte, "
            "or a character cut short), read as \ufffd: check those rows' values against the source",
        )


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
_EAST_ASIAN_DATE_FORMATS = frozenset({*range(27, 37), *range(50, 59)})
_EXACT_FLOAT_INTEGERS = 2**53  # integers a float holds exactly: an id cell stored as a number


def cell_text(value: object) -> str:
    """An XLSX value as canonical text: ISO dates, numbers as exact decimals without float artefacts
    (Excel keeps 15 significant digits, so a stored 0.30000000000000004 is the 0.3 the user typed),
    marked as numbers (`NumberText`: read as written whatever decimal separator a mapping declares)."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return NumberText(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value.is_integer() and abs(value) < _EXACT_FLOAT_INTEGERS:
            return NumberText(int(value))  # a long id written as a float (2954000000090101.0), every digit
        if value.is_integer():  # digits beyond a float's lost (a 20-digit invoice number): shown as lost
            return format(value, ".15g").upper()  # as Excel shows it: 2.44420000000123E+19
        return NumberText(format(Decimal(format(value, ".15g")), "f"))
    if isinstance(value, dt.datetime):  # `DateText`: read as a date whatever text format a mapping declares
        return DateText(
            value.date().isoformat()
            if value.time() == dt.time() and value.tzinfo is None
            else value.isoformat()
        )
    if isinstance(value, dt.date):
        return DateText(value.isoformat())
    if isinstance(value, dt.time):
        return value.isoformat()
    return str(value)


def xlsx_rows(
    path: str | Path,
    name: str,
    *,
    sheet: str | int | None = None,
    header_row: int | None = None,
    headers: Sequence[str] = (),
) -> Iterator[Row]:
    """The header row, then each non-blank row, of one sheet (streamed by openpyxl's read-only mode)."""
    with warnings.catch_warnings():  # openpyxl warns about styles and extensions it does not read
        warnings.simplefilter("ignore")
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (*_DAMAGED, InvalidFileException) as exc:
            raise FileFormatError(f"{name}: not a readable XLSX workbook ({exc})") from exc
    _read_east_asian_dates(book)
    uncalculated: _Uncalculated | None = None
    try:
        worksheet = _sheet(book, sheet, name)
        worksheet.reset_dimensions()  # some writers record a wrong sheet size; read what is there
        uncalculated = _Uncalculated(path, worksheet, name)
        found = False
        for number, values in _sheet_rows(worksheet, name):
            cells = [cell_text(value) for value in values]
            while cells and not cells[-1]:
                cells.pop()
            if not found:
                found = _is_header(number, cells, name, header_row, headers)
                if not found:
                    continue
            elif (formula := uncalculated(number, values)) is not None:  # would read as empty
                yield Row(number, cells, "\t".join(cells), formula)
                continue
            elif not cells:
                continue
            yield Row(number, cells, "\t".join(cells))
        if not found:
            wanted = f" with the columns {', '.join(headers)}" if headers else ""
            raise FileFormatError(f"{name}: no header row{wanted} in sheet {worksheet.title!r}")
    finally:
        book.close()
        if uncalculated is not None:
            uncalculated.close()


_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")  # a cell's <f> element (a formula), in any namespace prefix


class _Uncalculated:
    """Why a row cannot be read: a cell holding a formula no spreadsheet ever calculated (a file written by a
    program saves the formula, not its value), which would read as empty; None for a row without one. A
    sheet without formulas, as most exports are, is read once; one with formulas is read twice, side by side
    (openpyxl gives a cell's saved value or its formula, never both)."""

    def __init__(self, path: str | Path, worksheet: Any, name: str) -> None:
        self.book: Any = None
        self.rows: Iterator[tuple[int, tuple[Any, ...]]] = iter(())
        if _has_formulas(path, getattr(worksheet, "_worksheet_path", "")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.book = openpyxl.load_workbook(path, read_only=True, data_only=False)
            formulas = self.book[worksheet.title]
            formulas.reset_dimensions()
            self.rows = _sheet_rows(formulas, name)

    def __call__(self, number: int, values: tuple[Any, ...]) -> str | None:
        if self.book is None or None not in values:
            return None
        written = next((formulas for at, formulas in self.rows if at == number), ())
        for column, (value, formula) in enumerate(zip(values, written, strict=False), start=1):
            if value is None and isinstance(formula, str) and formula.startswith("="):
                return (
                    f"cell {get_column_letter(column)}{number} holds a formula never calculated"
                    f"{_function_of(formula)}: open the file in a spreadsheet and save it (or export its "
                    "values), then import it again"
                )
        return None

    def close(self) -> None:
        if self.book is not None:
            self.book.close()


_FUNCTION = re.compile(r"=\s*([A-Za-z_][\w.]*)\(")  # the function a formula calls first: =HYPERLINK(…)


def _function_of(formula: str) -> str:
    """The function a formula calls, its arguments left out (" (=HYPERLINK(…))"): they may hold a person's
    name or e-mail, and a reason is kept in clear; "" for a formula calling none (=100*2, =A3)."""
    called = _FUNCTION.match(formula)
    return f" (={called.group(1)}(…))" if called else ""


def _has_formulas(path: str | Path, member: str) -> bool:
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as sheet:
            tail = b""
            while chunk := sheet.read(1 << 20):
                if _FORMULA.search(tail + chunk):
                    return True
                tail = chunk[-16:]
    except (KeyError, *_DAMAGED):
        return False  # the reading itself says what is wrong with the file
    return False


# What openpyxl raises on a damaged workbook: a corrupt zip entry, cut or broken XML inside.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError, OSError, SyntaxError)


def _sheet_rows(worksheet: Any, name: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(row number, values) of the sheet; a workbook damaged part-way (a corrupt zip entry, cut XML) is
    a FileFormatError naming the last row read."""
    rows = worksheet.iter_rows(values_only=True)
    number = 0
    while True:
        try:
            values = next(rows, None)
        except _DAMAGED as exc:
            raise FileFormatError(f"{name}: the workbook is damaged after row {number} ({exc})") from exc
        if values is None:
            return
        number += 1
        yield number, values


def _read_east_asian_dates(book: Any) -> None:
    """Cells in the East Asian built-in date formats read as dates, as Excel shows them. (openpyxl keeps
    the styles it converts to dates in `_date_formats`, by style index, read before any sheet.)"""
    styles, dates = getattr(book, "_cell_styles", None), getattr(book, "_date_formats", None)
    if styles is not None and isinstance(dates, set):
        dates.update(i for i, style in enumerate(styles) if style.numFmtId in _EAST_ASIAN_DATE_FORMATS)


def _sheet(book: Any, sheet: str | int | None, name: str) -> Any:
    sheets = book.worksheets
    if isinstance(sheet, int) and 1 <= sheet <= len(sheets):
        return sheets[sheet - 1]
    if isinstance(sheet, str) and sheet in book.sheetnames:
        return book[sheet]
    if sheet is None and sheets:
        return sheets[0]
    raise FileFormatError(f"{name}: no sheet {sheet!r}; it has {', '.join(map(repr, book.sheetnames))}")


def _is_header(
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


# --- both ----------------------------------------------------------------------------------------------


def rows(
    path: str | Path,
    name: str,
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    header_row: int | None = None,
    headers: Sequence[str] = (),
    strays: StrayBytes | None = None,
) -> Iterator[Row]:
    """The header row first, then each non-blank data row of a CSV or XLSX file (told by its bytes).

    The header is row `header_row` when given; else the first row holding every name in `headers`
    (title lines above it are skipped); else the first non-blank row. `FileFormatError` when the file
    cannot be opened, is an old binary .xls, or has no such header. `strays` collects the rows of a CSV
    whose encoding was detected that held bytes it could not decode.
    """
    try:
        binary = open(path, "rb")  # noqa: SIM115 - closed in the finally below, after the last row
    except OSError as exc:
        raise FileFormatError(f"{name}: cannot open it ({exc.strerror})") from exc
    try:
        magic = binary.read(len(_ZIP))
        binary.seek(0)
        if magic == _ZIP:
            binary.close()
            yield from xlsx_rows(path, name, sheet=sheet, header_row=header_row, headers=headers)
            return
        if magic == _OLE:
            raise FileFormatError(f"{name}: an old binary Excel (.xls) file; save it as .xlsx or .csv")
        chosen = choose_encoding(binary, name, encoding)
        if strays is not None:
            strays.encoding_note = chosen.note
        # A declared encoding is read strictly: text it cannot decode is the mapping's mistake, never
        # mangled (a cp1252 Müller read as UTF-8 is M�ller).
        errors = "strict" if chosen.strict else "replace"
        text = io.TextIOWrapper(binary, encoding=chosen.encoding, errors=errors, newline="")
        try:
            found = csv_rows(text, name, delimiter=delimiter, header_row=header_row, headers=headers)
            if chosen.strict or strays is None:
                yield from found
            else:
                yield from _noting_strays(found, chosen.encoding, strays)
        except UnicodeDecodeError as exc:
            at = binary.tell() - len(exc.object) + exc.start  # the error's bytes end where reading stopped
            raise FileFormatError(
                f"{name}: byte {at} (0x{exc.object[exc.start]:02x}) is not {encoding} text, the encoding its "
                "mapping declares: fix `encoding` in the mapping, or remove it to have the encoding detected"
            ) from None
    finally:
        binary.close()


def _noting_strays(found: Iterator[Row], encoding: str, strays: StrayBytes) -> Iterator[Row]:
    """The rows, those holding U+FFFD (an undecodable byte, read with errors="replace") noted."""
    strays.encoding = encoding
    for row in found:
        if "\ufffd" in row.raw:
            strays.rows.append(row.number)
        yield row
