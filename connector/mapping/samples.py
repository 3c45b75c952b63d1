"""Source records from a file, for previews and file imports: JSON, JSON Lines or CSV.

JSON may be a list of records, an API response holding its records under `data` or `records` (Zoho's
shape), or one record. CSV rows become {column: text}. The encoding is the mapping's `encoding`, else
detected as an export's (`connector.text_encoding`: UTF-8 with or without BOM, GB18030, Windows-1252,
…), a guess noted. A detected encoding reads a stray byte as U+FFFD, the records holding one noted (as
an export's import notes its rows); a declared one is strict. Every record comes with its place in the file.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from connector.errors import ConnectorError, FileFormatError
from connector.exact_json import loads_text
from connector.mapping.model import FieldMap, MappingFile
from connector.text_encoding import choose_encoding, label, strays_note


class SampleFileError(ConnectorError):
    """A file that cannot be read as records; the message names the file and the place."""


@dataclass(frozen=True, slots=True)
class SampleFile:
    """A file of source records, its text decoded once in the encoding its mapping declares, else the
    one `connector.text_encoding` chooses (as for an export); `note` says when that was a guess."""

    path: Path
    text: str
    note: str | None = None
    strays: str | None = None  # the records holding bytes the detected encoding cannot decode, read as �

    @property
    def notes(self) -> list[str]:
        """What a person should check of the file as a whole: its encoding guessed, bytes read as �."""
        return [note for note in (self.note, self.strays) if note is not None]

    @classmethod
    def read(cls, path: Path, encoding: str | None = None) -> SampleFile:
        if not path.is_file():
            raise SampleFileError(f"{path}: no such file")
        with path.open("rb") as binary:
            try:
                chosen = choose_encoding(binary, str(path), encoding)
            except FileFormatError as exc:
                raise SampleFileError(str(exc)) from None
            raw = binary.read()
        try:
            return cls(path, raw.decode(chosen.encoding), chosen.note)
        except UnicodeDecodeError as exc:
            if chosen.strict:  # a declared encoding: text it cannot decode is the mapping's mistake
                bad = f"byte {exc.start} (0x{raw[exc.start]:02x}) is not {label(chosen.encoding)} text"
                raise SampleFileError(
                    f"{path}: {bad}, the encoding its mapping declares: fix `encoding` in the mapping, or "
                    "remove it to have the encoding detected"
                ) from None
        # A detected encoding, as an export's: a stray byte or a character cut short is read as U+FFFD,
        # the records holding one named, never the whole file refused.
        text = raw.decode(chosen.encoding, errors="replace")
        return cls(path, text, chosen.note, _strays(path, text, chosen.encoding))

    def records(self, limit: int | None = None) -> Iterator[tuple[str, Any]]:
        """(reference, record) pairs: `file.csv row 3` (header = row 1), `file.json [0]`, `file.jsonl
        line 2`."""
        records = _records(self.path, self.path.suffix.lower(), self.text)
        yield from records if limit is None else itertools.islice(records, limit)

    def columns(self) -> list[str] | None:
        """The header of a CSV file (its columns, in order); None for JSON, whose records name their own."""
        if self.path.suffix.lower() != ".csv":
            return None
        return unique_columns(next(csv.reader(io.StringIO(self.text, newline="")), []))


def read_records(
    path: Path, limit: int | None = None, encoding: str | None = None
) -> Iterator[tuple[str, Any]]:
    """`SampleFile.records` of the file at `path`."""
    yield from SampleFile.read(path, encoding).records(limit)


def unique_columns(header: Sequence[str]) -> list[str]:
    """The header with a repeated name numbered from its second time on (`Name`, `Name#2`): each column
    keeps its own value, where the first would be overwritten by the last."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def absent_columns(mapping: MappingFile, columns: Sequence[str]) -> list[FieldMap]:
    """The fields of `mapping` whose column (by name or position) is not among `columns`: each of them
    would read as empty in every record."""
    present = set(columns)
    return [
        field
        for field in mapping.fields
        if (isinstance(field.source, str) and not {field.source, field.source.split(".", 1)[0]} & present)
        or (isinstance(field.source, int) and not -len(columns) <= field.source < len(columns))
    ]


def _records(path: Path, suffix: str, text: str) -> Iterator[tuple[str, Any]]:
    if suffix == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        names = unique_columns(next(reader, []))
        for number, cells in enumerate(reader, start=2):
            # Every column, in file order (a column index reads its position), as csv.DictReader gives
            # them: the cells a short row lacks are None, those past the header are kept under None.
            row: dict[str | None, Any] = dict(
                zip(names, [*cells[: len(names)], *[None] * (len(names) - len(cells))], strict=True)
            )
            if len(cells) > len(names):
                row[None] = cells[len(names) :]
            yield f"{path.name} row {number}", row
    elif suffix in (".jsonl", ".ndjson"):
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield f"{path.name} line {number}", _json(path, line, f"line {number}")
    elif suffix == ".json":
        data = _json(path, text, "the document")
        if isinstance(data, dict):
            data = next((data[key] for key in ("data", "records") if isinstance(data.get(key), list)), [data])
        if not isinstance(data, list):
            raise SampleFileError(f"{path}: expected a list of records, found {type(data).__name__}")
        for index, record in enumerate(data):
            yield f"{path.name} [{index}]", record
    else:
        raise SampleFileError(
            f"{path}: unsupported file type {suffix or '(none)'}; use .json, .jsonl or .csv"
        )


def _strays(path: Path, text: str, encoding: str) -> str | None:
    """The note on the records of `text` holding U+FFFD (bytes `encoding` could not decode), by their
    place: CSV rows, JSON Lines lines, JSON records ([0])."""
    places = [
        reference.rpartition(" ")[2]
        for reference, record in _records(path, path.suffix.lower(), text)
        if "\ufffd" in str(record)
    ]
    kind = {".csv": "row", ".json": "record"}.get(path.suffix.lower(), "line")
    return strays_note(kind, places, encoding) if places else None


def _json(path: Path, text: str, where: str) -> Any:
    try:
        return loads_text(text, parse_float=Decimal)  # exact, as the live client reads the API
    except json.JSONDecodeError as exc:
        raise SampleFileError(f"{path}: {where} is not valid JSON ({exc})") from None
