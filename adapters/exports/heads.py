"""Recognising an export from its first bytes (`DocumentParser.sniff`): are its column headers there?

CSV: the head is decoded as the whole file would be and its first lines are split on each candidate
delimiter. XLSX is a zip archive, so its first bytes hold the header text only when the archive's
entries that carry it (the shared strings, a sheet's inline strings) start inside the head; they are
inflated as far as the head goes (small exports fit whole). A large workbook whose strings lie beyond
the head is not recognised from the head alone: `MappedExport.sniff_path` reads its first rows.

A file two mappings recognise is refused by `--format auto` (`choose_parser`):
`connector.mapping.detection.detection_overlaps` tells `mapping check` of mappings whose headers make
that certain.
"""

from __future__ import annotations

import codecs
import html
import re
import struct
import zlib
from collections.abc import Sequence

from adapters.exports.tabular import DELIMITERS, HEADER_SEARCH_ROWS, has_columns, split_line
from connector.errors import FileFormatError
from connector.mapping.detection import normalise
from connector.text_encoding import chosen, encoding_of

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # the old binary .xls (`reading.rows` refuses it with a hint)
_DESCRIPTOR = b"PK\x07\x08"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # a zip local file header, before its name and extra field
_TEXT = re.compile(r"<t(?:\s[^>]*)?>([^<]*)</t>")
_MAX_INFLATED = 8 * 1024 * 1024  # never inflate more than this from a head (zip bombs)


def head_text(head: bytes, encoding: str | None = None) -> str:
    """The head of a text file decoded as `reading.rows` would decode the whole file (a character cut
    at the end is dropped, an undecodable byte becomes U+FFFD)."""
    try:
        found = chosen(None if head.isascii() else head, "head", encoding).encoding
    except FileFormatError:
        return ""
    return codecs.getincrementaldecoder(found)(errors="replace").decode(head, final=False)


def unread_head(head: bytes, name: str, encoding: str | None = None) -> str | None:
    """Why a text head cannot be read (`encoding_of` finds no encoding that fits), else None: a workbook,
    an old .xls, or a head whose encoding is declared or found."""
    if encoding is not None or head.startswith((_ZIP, _OLE)) or head.isascii():
        return None
    try:
        encoding_of(head, name)
    except FileFormatError as exc:
        return str(exc)
    return None


def head_has_columns(
    head: bytes, headers: Sequence[str], *, encoding: str | None = None, delimiter: str | None = None
) -> bool:
    """Whether one of the first rows of a CSV head, or the strings of an XLSX head, hold every header."""
    if not headers:
        return False
    if head.startswith(_ZIP):
        strings = xlsx_head_strings(head)
        return all(normalise(name) in strings for name in headers)
    lines = head_text(head, encoding).splitlines()[:HEADER_SEARCH_ROWS]
    candidates = (delimiter,) if delimiter else DELIMITERS
    return any(has_columns(split_line(line, each), headers) for line in lines for each in candidates)


def xlsx_head_strings(head: bytes) -> set[str]:
    """Normalised text of the shared strings and sheets whose data starts inside the head."""
    strings: set[str] = set()
    offset = 0
    while head.startswith(_ZIP, offset) and offset + _LOCAL.size <= len(head):
        _, _, flags, method, _, _, _, size, _, name_length, extra_length = _LOCAL.unpack_from(head, offset)
        name = head[offset + _LOCAL.size : offset + _LOCAL.size + name_length].decode("utf-8", "replace")
        start = offset + _LOCAL.size + name_length + extra_length
        streamed = bool(flags & 0x08)  # sizes follow the data: find its end by inflating it
        wanted = name == "xl/sharedStrings.xml" or name.startswith("xl/worksheets/sheet")
        if not wanted and not streamed:
            offset = start + size
            continue
        data = head[start:] if streamed else head[start : start + size]
        text, used = _inflate(data, method, None if streamed or len(data) < size else size)
        if wanted:
            strings.update(normalise(html.unescape(found)) for found in _TEXT.findall(text))
        if used is None:
            break  # the entry runs past the head
        offset = start + used
        if streamed:
            offset += 16 if head.startswith(_DESCRIPTOR, offset) else 12
    return strings


def _inflate(data: bytes, method: int, size: int | None) -> tuple[str, int | None]:
    """The entry's text so far and the bytes it used (None: it goes on past the head). `size` is the
    stored size when the whole entry is inside `data`."""
    if method == 0:
        return data.decode("utf-8", "replace"), size
    if method != 8:
        return "", None
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, _MAX_INFLATED)
    except zlib.error:
        return "", None
    used = len(data) - len(inflater.unused_data) if inflater.eof else None
    return out.decode("utf-8", "ignore"), used
