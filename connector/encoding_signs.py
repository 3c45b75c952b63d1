"""What a sample of a file's non-ASCII bytes says of its script, for `connector.text_encoding`: does it
decode (`mostly_decodes`, `first_bad`), is it plausibly Chinese in GBK (`plausibly_gbk`) or Western
European in Windows-1252 (`plausibly_western`), or does a regional code page read it better
(`regional`: Czech and Polish in cp1250).
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

NON_ASCII = re.compile(rb"[\x80-\xff]")
_GB_PAIR = re.compile(rb"[\x81-\xfe][\x40-\x7e\x80-\xfe]")
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
# Windows-1252's non-letters that Western text holds: typographic quotes and dashes, currency, ordinals.
_WESTERN_SIGNS = frozenset("€‚„…‘’“”•–—°§«»\xa0¡¿ªº²³£¥©®™×·±½")
# A run of would-be Chinese characters (two non-ASCII bytes each) with the Latin letter before and after
# it, when there is one.
_GB_RUN = re.compile(rb"([A-Za-z]?)((?:[\x81-\xfe][\x80-\xfe])+)(?=([A-Za-z]?))")


def mostly_decodes(sample: bytes, encoding: str) -> bool:
    """The sample is text in `encoding`, or that with a stray byte or two from another program or a
    character cut short (one bad byte in a file of names must not turn every name into mojibake, nor
    refuse the file): at most one bad byte per twenty good characters. Text in another encoding read
    as this one makes bad bytes nearly everywhere."""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    bad = text.count("\ufffd")
    good = sum(1 for char in text if char > "\x7f") - bad
    return bad == 0 or (good >= 2 and bad <= max(1, good // 20))


def first_bad(sample: bytes, encoding: str) -> int | None:
    """The position of the first byte of `sample` that is not `encoding` text (None: every one is)."""
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def plausibly_gbk(sample: bytes) -> bool:
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


def plausibly_western(sample: bytes) -> bool:
    """Whether the non-ASCII bytes read as Windows-1252 make Western European text: letters or signs,
    alone or two together among ASCII ones ("Müller", "Größe", "Construção"). Other scripts in a
    single-byte code page (Cyrillic, Greek) and multi-byte encodings (Big5, Shift-JIS) write words of
    non-ASCII bytes only; Windows-1252 decodes nearly any bytes, so this is what tells it."""
    runs = _HIGH_RUN.findall(sample)
    if first_bad(sample, "cp1252") is not None or any(len(run) > 2 for run in runs):
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


def regional(sample: bytes, matches: charset_normalizer.CharsetMatches | None = None) -> str | None:
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
