"""The rows of an export file, CSV or XLSX, told by its bytes: the header row first, then each non-blank
data row (`tabular` reads CSV, `workbooks` XLSX)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from adapters.exports.tabular import Row, StrayBytes, csv_rows
from adapters.exports.workbooks import xlsx_rows
from connector.errors import FileFormatError
from connector.text_encoding import choose_encoding

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # the old binary .xls


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
