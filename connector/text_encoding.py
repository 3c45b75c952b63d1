"""The text encoding of a file of records: an export (`adapters.exports.tabular`), a file of source
records for an inbound mapping (`connector.mapping.samples`) or a bank statement (`adapters.statements`:
MT940, OFX 1), chosen alike for all: the same bytes get the same verdict whichever reader sees them.

A BOM decides (UTF-8, UTF-16); otherwise the first 64 KB holding non-ASCII bytes must decode as UTF-8,
else as GB18030 (a superset of GBK: Kingdee and Yonyou exports are GBK without a BOM; unless the bytes
look like Latin text, which GB18030 also decodes), else as Windows-1252 when they look like Western
European text (accented letters among ASCII ones: Excel's CSV on a Western Windows) and charset-normalizer
finds no regional code page reading them better (Czech or Polish in cp1250: `regional`), else
charset-normalizer picks (of its equals, a regional code page reading them better, else Windows-1252).
An encoding other than UTF-8 and GB18030 is a guess, which the reader notes.
Either may hold a stray byte or two (a character cut to its first byte, as a field truncated by bytes
leaves it): at most one per twenty characters it decodes. A file no encoding fits is refused naming
the first byte each could not decode.

An encoding the mapping declares is read strictly, unless the file is plainly UTF: it starts with a
BOM, or its non-ASCII bytes are all valid UTF-8 under a declared single-byte code page (which would
read them without an error, as mojibake). It is then read as UTF, noted.

A statement differs only in what is sampled and what it may declare: its lines holding non-ASCII bytes,
as statement files are mostly ASCII tags and digits that would dilute the few words telling the
encoding, and the single-byte code page its own header names (OFX's `CHARSET:1252`, written by rote:
`_hinted`), which stands unless the bytes are plainly UTF or of a multi-byte encoding.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import charset_normalizer

from connector.documents import Notice, Origin, Parsed
from connector.encoding_signs import (
    NON_ASCII,
    first_bad,
    mostly_decodes,
    plausibly_gbk,
    plausibly_western,
    regional,
)
from connector.errors import FileFormatError

SAMPLE_BYTES = 64 * 1024
FALLBACKS = ("gb18030", "cp1252")
# Detected encodings a file is read in without a note: the documented defaults, not a guess.
_UNGUESSED = frozenset({"utf-8", "utf-8-sig", "utf-16", "gb18030"})


# Where each piece of a sample starts: (in the sample, in the file), for the message naming the bytes.
Pieces = Sequence[tuple[int, int]]
_DECLARE = "declare `encoding` in its mapping"


def encoding_of(
    sample: bytes | None,
    name: str,
    fallbacks: Sequence[str] = FALLBACKS,
    *,
    pieces: Pieces = ((0, 0),),
    remedy: str = _DECLARE,
) -> str:
    """The encoding of a sample taken from the non-ASCII bytes of a file (None: all ASCII), whose
    `pieces` start where it says in the file. When no encoding fits, the refusal names the bytes and
    ends with `remedy`."""
    if sample is None:
        return "utf-8"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if mostly_decodes(sample, "utf-8"):
        return "utf-8"
    for encoding in fallbacks:
        if encoding == "gb18030":
            # Tolerant like UTF-8 above, before any single-byte code page (which decodes any bytes):
            # a GBK export with one character cut short is GBK still.
            if mostly_decodes(sample, encoding) and plausibly_gbk(sample):
                return encoding
        elif encoding == "cp1252":
            if plausibly_western(sample):
                return regional(sample) or encoding
        elif first_bad(sample, encoding) is None:
            return encoding
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        raise FileFormatError(f"{name}: {_fits_none(sample, pieces, ('utf-8', *fallbacks))}; {remedy}")
    # Single-byte code pages that decode the sample alike are told apart by guesswork; of equals, take
    # the one Western accounting software writes, unless a regional one reads it better (Polish ł, Ż
    # read as ³, ¯ by Windows-1252, which are no Western text).
    if "cp1252" in best.could_be_from_charset:
        return regional(sample, matches) or "cp1252"
    return best.encoding


def _fits_none(sample: bytes, pieces: Pieces, tried: Sequence[str]) -> str:
    """Why no encoding fits: the first byte (of the file) each one tried cannot decode."""
    bad = []
    for encoding in tried:
        at = first_bad(sample, encoding)
        if at is not None:
            start, offset = max(piece for piece in pieces if piece[0] <= at)
            bad.append(f"not {label(encoding)}: byte {offset + at - start} is 0x{sample[at]:02x}")
    said = f" ({'; '.join(bad)}; and too many others like it)" if bad else ""
    return f"cannot tell the text encoding{said}"


STRAYS_SHOWN = 20  # places a note on stray bytes names; the rest counted


def strays_note(kind: str, places: Sequence[int | str], encoding: str) -> str:
    """The note on the places (`kind`: "row", "line") of a file whose detected encoding is read with
    errors="replace" that held bytes it cannot decode: each is read as U+FFFD, for a person to check."""
    shown = ", ".join(map(str, places[:STRAYS_SHOWN]))
    more = f" and {len(places) - STRAYS_SHOWN} more" if len(places) > STRAYS_SHOWN else ""
    said = f"{kind} {shown} holds" if len(places) == 1 else f"{kind}s {shown}{more} hold"
    return (
        f"{said} bytes that are not {label(encoding)} text (a stray byte, or a character cut short), "
        f"read as \ufffd: check those {kind}s' values against the source"
    )


def label(encoding: str) -> str:
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "gb18030": "GB18030"}.get(
        encoding, encoding
    )


def detect_encoding(
    binary: IO[bytes],
    name: str,
    fallbacks: Sequence[str] = FALLBACKS,
    *,
    lines: bool = False,
    hint: str | None = None,
    remedy: str = _DECLARE,
) -> Chosen:
    """See the module docstring. `lines`: sample the lines holding non-ASCII bytes (a statement's), not
    the file from its first non-ASCII byte; `hint`: the encoding the file's own header names, which is
    no guess. A file naming none, as a statement and an IIF file may not declare one, is noted when its
    encoding is guessed (`guessed`)."""
    sample, pieces = _sample_lines(binary) if lines else _sample(binary)
    if hint is None or not _single_byte(hint):  # a claim of UTF-8 is checked as any file is
        encoding = encoding_of(sample, name, fallbacks, pieces=pieces, remedy=remedy)
    else:
        encoding = _hinted(sample, name, hint, pieces)
    return Chosen(encoding, strict=False, note=None if encoding == hint else guessed(encoding))


def guessed(encoding: str, remedy: str = "") -> str | None:
    """The note for a detected encoding that is a guess (None for the documented defaults: UTF, GB18030),
    `remedy` (", and …") telling how to name the file's encoding where a person can."""
    if encoding in _UNGUESSED:
        return None
    return f"the text encoding was guessed as {encoding}: check that accented letters read right{remedy}"


def _hinted(sample: bytes | None, name: str, hint: str, pieces: Pieces) -> str:
    """The single-byte code page a file's header names, unless the bytes are plainly UTF or of a
    multi-byte encoding (GBK text under OFX's `CHARSET:1252`), which it would read as mojibake without
    an error. Of single-byte code pages, which decode alike, the header says which one."""
    try:
        found = encoding_of(sample, name, pieces=pieces)
    except FileFormatError:
        return hint  # no encoding fits the bytes better than the one named
    return hint if _single_byte(found) else found


def _sample_lines(binary: IO[bytes]) -> tuple[bytes | None, Pieces]:
    """(the file's lines holding non-ASCII bytes, up to 64 KB of them: None when there are none; where
    each starts in the sample and in the file). A line is read 64 KB at most at a time, as an OFX file
    on one line is. The file is left at its start."""
    sample, pieces, at = bytearray(), [], 0
    try:
        while len(sample) < SAMPLE_BYTES and (line := binary.readline(SAMPLE_BYTES)):
            if not line.isascii():
                pieces.append((len(sample), at))
                sample += line
            at += len(line)
    finally:
        binary.seek(0)
    return (bytes(sample) if sample else None), pieces


def _sample(binary: IO[bytes]) -> tuple[bytes | None, Pieces]:
    """(the first 64 KB of a file from its first non-ASCII byte, where that is): None when it is all
    ASCII. A file whose first 64 KB are ASCII is scanned on (bytes only, no decoding) to its first
    non-ASCII byte, so that a GBK name on row 5,000 is not taken for UTF-8. The file is left at its
    start."""
    head = binary.read(SAMPLE_BYTES)
    try:
        if not head.isascii():  # this includes every BOM
            return head, ((0, 0),)
        while len(head) == SAMPLE_BYTES and (chunk := binary.read(16 * SAMPLE_BYTES)):
            found = NON_ASCII.search(chunk)
            if found is not None:
                at = binary.tell() - len(chunk) + found.start()
                sample = chunk[found.start() : found.start() + SAMPLE_BYTES]
                return sample + binary.read(SAMPLE_BYTES - len(sample)), ((0, at),)
        return None, ()
    finally:
        binary.seek(0)


@dataclass(frozen=True, slots=True)
class Chosen:
    """The encoding a file is read in: declared (read strictly: a byte it cannot decode refuses the
    file) or detected, and a note when a person should check it (a guess, or a declared encoding the
    file's bytes plainly overrule)."""

    encoding: str
    strict: bool
    note: str | None = None


def choose_encoding(binary: IO[bytes], name: str, declared: str | None = None) -> Chosen:
    """`chosen` for the file `binary` (left at its start)."""
    sample, pieces = _sample(binary)
    return chosen(sample, name, declared, pieces=pieces)


def chosen(
    sample: bytes | None, name: str, declared: str | None = None, *, pieces: Pieces = ((0, 0),)
) -> Chosen:
    """The encoding a mapping declares (unless the bytes plainly overrule it: `_overruled`), else the
    one detected (`encoding_of`), noted when guessed."""
    if declared is not None:
        return _overruled(sample, declared) or Chosen(declared, strict=True)
    encoding = encoding_of(sample, name, pieces=pieces)
    remedy = f', and declare `encoding = "{encoding}"` in the mapping (or the file\'s own encoding)'
    return Chosen(encoding, strict=False, note=guessed(encoding, remedy))


def noting(name: str, chosen: Chosen, items: Iterator[Parsed]) -> Iterator[Parsed]:
    """The items read from the file `name`, the note on its encoding (`Chosen.note`) first, as a `Notice`
    the import shows: said once the first item is read, so a file refused outright says only why."""
    first = next(items, None)
    if chosen.note is not None:
        yield Notice(Origin(name), chosen.note)
    if first is not None:
        yield first
    yield from items


def _overruled(sample: bytes | None, declared: str) -> Chosen | None:
    """UTF text where the mapping declares another encoding: a byte order mark says so outright, and
    non-ASCII bytes that are all valid UTF-8 are (nearly) never a single-byte code page's text, which
    decodes any bytes (a UTF-8 Müller as cp1252 is MÃ¼ller, with no error to stop it). The file is read
    as UTF, noted: its text is right, and the mapping may be wrong for the next file."""
    if sample is None or codecs.lookup(declared).name.startswith("utf"):
        return None
    fix = (
        "remove `encoding` from the mapping to have each file's encoding detected, or save the file as "
        f"{declared}"
    )
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            said = f"the file starts with a {label(encoding)} byte order mark"
            return Chosen(
                encoding,
                strict=False,
                note=f"{said}, so it was read as {label(encoding)}, not as "
                f"{declared}, the encoding the mapping declares: {fix}",
            )
    if _single_byte(declared) and first_bad(sample, "utf-8") is None:
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        char = next(char for char in text if not char.isascii())
        misread = char.encode().decode(declared, errors="replace")
        said = f"the file is UTF-8 text ({declared} would read {char} as {misread})"
        return Chosen(
            "utf-8",
            strict=False,
            note=f"{said}, so it was read as UTF-8, not as {declared}, "
            f"the encoding the mapping declares: {fix}",
        )
    return None


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _single_byte(encoding: str) -> bool:
    """Whether `encoding` reads each byte as one character (cp1252, latin-1, cp1251), as multi-byte
    ones (GB18030, Big5, Shift-JIS) and UTF do not (UTF-8 replaces each of these bytes alone)."""
    if codecs.lookup(encoding).name.startswith("utf"):
        return False
    return len(bytes(range(0x80, 0x100)).decode(encoding, errors="replace")) == 0x80
