"""MT940 files cut into fields and messages, line by line (the library reads one field at a time).

A field starts with its tag at the start of a line (`:61:`, `:86:` …, only tags the `mt-940` library
knows, so a `:` at the start of a `:86:` continuation line stays text) and runs until the next one.
SWIFT message envelopes (`{1:F01…}{2:…}{4:`, `-}`, a lone `-`) end the open statement. Text that
belongs to no field is handed on as `Stray`, for the parser to report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

FIELD = re.compile(r":(?P<tag>(?:13|20|21|25|28|34|60|61|62|64|65|86|90)[A-Z]?|NS):")
_ENVELOPE = re.compile(r"\{[1-5]:")


@dataclass(frozen=True, slots=True)
class Field:
    """One MT940 field: its tag, the line it starts on and its value lines as written."""

    line: int
    tag: str
    lines: tuple[str, ...]

    @property
    def raw(self) -> str:
        return f":{self.tag}:" + "\n".join(self.lines)

    @property
    def value(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines).strip()


@dataclass(frozen=True, slots=True)
class Boundary:
    """The end of a SWIFT message (`-}`, `-` or a new `{1:` header): the open statement ends."""


@dataclass(frozen=True, slots=True)
class Stray:
    """Text outside any field (before the first one, or between messages)."""

    line: int
    text: str


def fields(lines: Iterable[str]) -> Iterator[Field | Boundary | Stray]:
    """Cut decoded lines into fields; a line that opens no field continues the one before it."""
    tag: str | None = None
    start = 0
    body: list[str] = []
    for number, raw_line in enumerate(lines, start=1):
        line = raw_line.rstrip("\r\n")
        if _ENVELOPE.match(line) or line.strip() in ("-", "-}") or line.startswith("-}"):
            if tag is not None:
                yield Field(start, tag, tuple(body))
            tag = None
            yield Boundary()
            opened = line.rfind("{4:")
            line = line[opened + 3 :] if opened >= 0 else ""
        match = FIELD.match(line)
        if match:
            if tag is not None:
                yield Field(start, tag, tuple(body))
            tag, start, body = match.group("tag"), number, [line[match.end() :]]
        elif not line.strip():
            continue
        elif tag is not None:
            body.append(line)
        else:
            yield Stray(number, line)
    if tag is not None:
        yield Field(start, tag, tuple(body))
