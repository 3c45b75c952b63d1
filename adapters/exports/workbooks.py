"""Rows of an XLSX export as text (`xlsx_rows`), streamed by openpyxl's read-only mode: dates as ISO
text and numbers as exact decimals without float artefacts (`cell_text`), a cell whose formula no
spreadsheet ever calculated told apart from an empty one, a damaged workbook refused naming the last row
read.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

from adapters.exports.tabular import Row, is_header
from connector.errors import FileFormatError
from connector.mapping.converters import DateText
from connector.mapping.decimals import NumberText

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
                found = is_header(number, cells, name, header_row, headers)
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
