"""The text encoding of a file of records: an export (`adapters.exports.tabular`), a file of source
records for an inbound mapping (`connector.mapping.samples`) or a bank statement (`adapters.statements`:
MT940, OFX 1), chosen alike for all: the same bytes get the same verdict whichever reader sees them.

A BOM decides (UTF-8, UTF-16); otherwise the first 64 KB holding non-ASCII bytes must decode as UTF-8,
else as GB18030 (a superset of GBK: Kingdee and Yonyou exports are GBK without a BOM; unless the bytes
look like Latin text, which GB18030 also decodes), else as Windows-1252 when they look like Western
European text (accented letters among ASCII ones: Excel's CSV on a Western Windows) and charset-normalizer
finds no regional code page reading them better (Czech or Polish in cp1250: `_regional`), else
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
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import charset_normalizer

from connector.documents import Notice, Origin, Parsed
from connector.errors import FileFormatError

SAMPLE_BYTES = 64 * 1024
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_GB_PAIR = re.compile(rb"[\x81-\xfe][\x40-\x7e\x80-\xfe]")
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
# Windows-1252's non-letters that Western text holds: typographic quotes and dashes, currency, ordinals.
_WESTERN_SIGNS = frozenset("€‚„…‘’“”•–—°§«»\xa0¡¿ªº²³£¥©®™×·±½")
# A run of would-be Chinese characters (two non-ASCII bytes each) with the Latin letter before and after
# it, when there is one.
_GB_RUN = re.compile(rb"([A-Za-z]?)((?:[\x81-\xfe][\x80-\xfe])+)(?=([A-Za-z]?))")


def _mostly_decodes(sample: bytes, encoding: str) -> bool:
    """The sample is text in `encoding`, or that with a stray byte or two from another program or a
    character cut short (one bad byte in a file of names must not turn every name into mojibake, nor
    refuse the file): at most one bad byte per twenty good characters. Text in another encoding read
    as this one makes bad bytes nearly everywhere."""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    bad = text.count("\ufffd")
    good = sum(1 for char in text if char > "\x7f") - bad
    return bad == 0 or (good >= 2 and bad <= max(1, good // 20))


def _first_bad(sample: bytes, encoding: str) -> int | None:
    """The position of the first byte of `sample` that is not `encoding` text (None: every one is)."""
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def _plausibly_gbk(sample: bytes) -> bool:
    """GB18030 decodes most Western text too (`ü` + `l` is a valid pair). Chinese text is nearly all
    GB2312 characters, whose second byte is non-ASCII; in Latin text decoded as GBK the second byte
    is mostly an ASCII letter. So: GBK unless most two-byte pairs end in an ASCII byte, or most runs of
    would-be Chinese are two accented letters inside a Latin word (`_accented_pair`)."""
    pairs = _GB_PAIR.findall(sample)
    ascii_ends = sum(1 for pair in pairs if pair[1] < 0x80)
    if ascii_ends * 2 > len(pairs):
        return False
    runs = _GB_RUN.findall(sample)
    return sum(1 for run in runs if _accented_pair(*run)) * 2 < len(runs) or not runs


def _accented_pair(before: bytes, run: bytes, after: bytes) -> bool:
    """Whether a run of would-be Chinese reads better as two accented letters inside a Latin word
    ("Construção", "Größe", "CONSTRUÇÃO"): one character with a letter either side, and not a common
    Chinese character (GB2312's first level, which "PVC管DN50" or "USB线" use), unless both bytes are
    capitals of Windows-1252 between capitals (Ç and Ã in CONSTRUÇÃO read as the common 乔)."""
    if (
        len(run) != 2
        or not (before and after)
        or not all(byte >= 0xC0 and byte not in (0xD7, 0xF7) for byte in run)
    ):
        return False  # two letters of Windows-1252 (full-width punctuation is no accented letter)
    lead, trail = run
    common = 0xB0 <= lead <= 0xD7 and 0xA1 <= trail <= 0xFE
    capitals = all(0xC0 <= byte <= 0xDE and byte != 0xD7 for byte in run)
    return not common or (capitals and before.isupper() and after.isupper())


def _plausibly_western(sample: bytes) -> bool:
    """Whether the non-ASCII bytes read as Windows-1252 make Western European text: letters or signs,
    alone or two together among ASCII ones ("Müller", "Größe", "Construção"). Other scripts in a
    single-byte code page (Cyrillic, Greek) and multi-byte encodings (Big5, Shift-JIS) write words of
    non-ASCII bytes only; Windows-1252 decodes nearly any bytes, so this is what tells it."""
    runs = _HIGH_RUN.findall(sample)
    if _first_bad(sample, "cp1252") is not None or any(len(run) > 2 for run in runs):
        return False
    text = b"".join(runs).decode("cp1252", errors="replace")
    return all(char.isalpha() or char in _WESTERN_SIGNS for char in text)


# Single-byte code pages of other regions or scripts a file may really be in (Central European, Baltic,
# Turkish, Cyrillic, Greek): Windows-1252 reads Czech or Polish letters as its own (ř č ě ł as ø è ì ³).
_REGIONAL = frozenset(
    codecs.lookup(name).name
    for name in (
        "cp1250",
        "iso8859_2",
        "cp1251",
        "koi8_r",
        "iso8859_5",
        "cp1253",
        "iso8859_7",
        "cp1254",
        "iso8859_9",
        "cp1257",
        "iso8859_13",
    )
)


# What Windows-1252 reads the common letters of regional code pages as, and Western text seldom writes:
# Czech ř ě ů ň (ø ì ù ò), Polish ł ą ś ż ź (³ ¹ œ ¿ Ÿ), Turkish ğ ş (ð þ), their capitals. Not the
# ordinals (Nº, 1ª: Romanian ş in Windows-1250) nor currency (£ ¥: Polish Ł Ą, never without ł ą).
_SELDOM_WESTERN = frozenset("øìùòðþ³¹œ¿ŸŒØÌÙÒÐÞ¼¾¯")


def _regional(sample: bytes, matches: charset_normalizer.CharsetMatches | None = None) -> str | None:
    """The regional code page (`_REGIONAL`) a sample Windows-1252 reads is in after all: the sample holds
    a character Western text seldom writes (`_SELDOM_WESTERN`), and of charset-normalizer's `matches`,
    that page reads as letters signs Windows-1252 reads inside words ("Zakład", not "Zak³ad"), or, when
    there are none, charset-normalizer ranks its reading above Windows-1252's (as coherent, in a language
    it tells, and less chaotic, or more coherent: "Dvořák … Měsíc", not "Dvoøák … Mìsíc"). None
    otherwise: a few words leave every code page alike ("Kovář" and "Kováø" both), and German, Spanish
    or Portuguese text (Nº, 1ª) is Windows-1252's."""
    text = sample.decode("cp1252", errors="replace")
    if not _SELDOM_WESTERN.intersection(text):
        return None
    signs = _inner_signs(text)
    matches = charset_normalizer.from_bytes(sample) if matches is None else matches
    western = next((match for match in matches if "cp1252" in match.could_be_from_charset), None)
    for match in matches:
        if codecs.lookup(match.encoding).name not in _REGIONAL or match is western:
            continue
        if signs:  # the letters tell: the first page reading fewer signs inside words
            if _inner_signs(sample.decode(match.encoding, errors="replace")) < signs:
                return match.encoding
        elif match.coherence > 0 and (western is None or _ranked_above(match, western)):
            return match.encoding
    return None


def _ranked_above(match: charset_normalizer.CharsetMatch, western: charset_normalizer.CharsetMatch) -> bool:
    less_chaos = match.chaos < western.chaos and match.coherence >= western.coherence
    return less_chaos or (match.coherence > western.coherence and match.chaos <= western.chaos)


def _inner_signs(text: str) -> int:
    """How many non-ASCII characters of `text` are no letters inside a word ("Zak³ad", "Op³ata")."""
    trios = zip(text, text[1:], text[2:], strict=False)
    return sum(
        1 for a, char, b in trios if a.isalpha() and b.isalpha() and not (char.isascii() or char.isalpha())
    )


# After UTF-8: the encodings a file is tried in, in turn (GB18030 and Windows-1252 only when plausible).
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
    if _mostly_decodes(sample, "utf-8"):
        return "utf-8"
    for encoding in fallbacks:
        if encoding == "gb18030":
            # Tolerant like UTF-8 above, before any single-byte code page (which decodes any bytes):
            # a GBK export with one character cut short is GBK still.
            if _mostly_decodes(sample, encoding) and _plausibly_gbk(sample):
                return encoding
        elif encoding == "cp1252":
            if _plausibly_western(sample):
                return _regional(sample) or encoding
        elif _first_bad(sample, encoding) is None:
            return encoding
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        raise FileFormatError(f"{name}: {_fits_none(sample, pieces, ('utf-8', *fallbacks))}; {remedy}")
    # Single-byte code pages that decode the sample alike are told apart by guesswork; of equals, take
    # the one Western accounting software writes, unless a regional one reads it better (Polish ł, Ż
    # read as ³, ¯ by Windows-1252, which are no Western text).
    if "cp1252" in best.could_be_from_charset:
        return _regional(sample, matches) or "cp1252"
    return best.encoding


def _fits_none(sample: bytes, pieces: Pieces, tried: Sequence[str]) -> str:
    """Why no encoding fits: the first byte (of the file) each one tried cannot decode."""
    bad = []
    for encoding in tried:
        at = _first_bad(sample, encoding)
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
            found = _NON_ASCII.search(chunk)
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
    if _single_byte(declared) and _first_bad(sample, "utf-8") is None:
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
