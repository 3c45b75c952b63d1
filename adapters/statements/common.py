"""What the statement parsers share: composite ids, text clean-up, amounts, encodings, the give-up rule.

Composite ids exist because MT940 lines (always) and CAMT entries without `AcctSvcrRef` (sometimes)
carry no id of their own, yet the import needs a key that is the same every time the same file, or a
re-issue of it, is read. The id is `sha256:` + the hex SHA-256 of the UTF-8 text
`"<format>/v1" + "\\x1f" + "\\x1f".join(fields)` where an absent field is the empty string. The fields
and their order are listed in each parser's docstring; changing them (or this recipe) changes every
id, so a change needs a new version tag, never an edit in place, and the parser keeps giving each line
the ids of the recipe it replaces (`Document.known_as`). MT940's and CAMT.053's `v1` were each edited in
place twice before this was kept to: `mt940_former` and `camt053_former` name their three recipes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import IO

import defusedxml.ElementTree as _safe_et  # type: ignore[import-untyped]  # no stubs; wrapped in xml_events

from connector.documents import Origin, Problem
from connector.errors import FileFormatError, MoneyError
from connector.money import Money
from connector.text_encoding import Chosen, detect_encoding

# What banks write where a reference is mandatory but they have none (ISO 20022's "NOTPROVIDED",
# SWIFT's "NONREF"): no reference at all, never an id two entries share nor a payer's mark.
PLACEHOLDERS = frozenset({"NOTPROVIDED", "NONREF", "NONE", "N/A"})
HASH_VERSION = "v1"
MAX_EXTERNAL_ID = 200  # journal_entries.external_id is String(200)
SNIFF_BYTES = 8192

_SPACES = re.compile(r"\s+")
_AMOUNT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class AlikeLines:
    """Occurrence numbers of a file's lines that look alike (one account, one identity: two identical
    payments on one day), for the ids of lines without a bank reference. A statement that opens as an
    earlier one of the file opened (the same account, opening date and balance: an intraday statement,
    then the day's) covers those lines again: its count starts where that one's started, so a line in
    both gets one id. Any other statement counts on (a later page, day or period).

    When the statement before closed where it opened (it netted to nothing), a statement opening there
    may cover it or continue it: under the same number (:28C:, ElctrncSeqNb) it covers it; else its first
    line tells, the day's statement beginning as the intraday one did (a continuation beginning with the
    very line that one began with, an identical payment, is taken for a cover)."""

    def __init__(self) -> None:
        self._counts: dict[str | None, Counter[str]] = {}
        self._starts: dict[tuple[str | None, Hashable], Counter[str]] = {}
        self._first_lines: dict[tuple[str | None, Hashable], str] = {}  # of the statement that started
        self._closed: dict[str | None, tuple[Hashable, str | None]] = {}  # the last closing, its number
        self._numbers: dict[str | None, str | None] = {}
        self._opened: dict[str | None, Hashable] = {}  # the opening of the account's statement now
        self._undecided: dict[str | None, tuple[Counter[str], str | None]] = {}  # cover, if it begins so

    def statement_opens(self, account: str | None, opening: Hashable, number: str | None = None) -> None:
        """A statement of `account` (numbered `number`, when it says) opens with the balance `opening`."""
        counts = self._counts.setdefault(account, Counter())
        started = self._starts.get((account, opening))
        before = self._closed.get(account)
        self._numbers[account], self._opened[account] = number, opening
        self._undecided.pop(account, None)
        if started is None:
            self._starts[(account, opening)] = Counter(counts)
        elif before is not None and before[0] == opening and (number is None or number != before[1]):
            self._undecided[account] = (started, self._first_lines.get((account, opening)))
        else:
            self._counts[account] = Counter(started)

    def statement_closes(self, account: str | None, closing: Hashable) -> None:
        """The statement of `account` opened last closes with the balance `closing` (written as its
        opening balances are)."""
        self._closed[account] = (closing, self._numbers.get(account))

    def next(self, account: str | None, key: str) -> int:
        """The occurrence number of one more line of `account` alike in `key`."""
        self._first_lines.setdefault((account, self._opened.get(account)), key)
        undecided = self._undecided.pop(account, None)
        if undecided is not None and undecided[1] == key:  # it begins as that one did: it covers it
            self._counts[account] = Counter(undecided[0])
        counts = self._counts.setdefault(account, Counter())
        counts[key] += 1
        return counts[key]


def composite_id(fmt: str, *fields: str | int | None) -> str:
    """The documented composite id (see the module docstring) of one line's identifying fields."""
    text = "\x1f".join(["" if field is None else str(field) for field in (f"{fmt}/{HASH_VERSION}", *fields)])
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_digest(*fields: str | int | None) -> str:
    """A short, stable digest of a record's content: tells re-issued ids with different content apart."""
    text = "\x1f".join("" if field is None else str(field) for field in fields)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def money_suffix(date: dt.date, amount: Money, *more: str | None) -> str:
    """`#` + the digest of a bank line's money: its booking date, signed amount (its direction too) and
    currency, and `more` (OFX: the correction action). Banks re-use their ids (OFX FITIDs re-issued,
    CAMT AcctSvcrRefs numbered per day or per statement) but never edit a booked line's money: a line
    whose id a line of other money holds is another transaction, posted under its id + this suffix
    (`Document.alias`, `connector.imports.recorded.by_alias`), never taken for a change of that line."""
    return "#" + content_digest(date.isoformat(), amount.minor, amount.currency, *more)


def clean(text: str | None) -> str | None:
    """Whitespace collapsed to single spaces and trimmed; None for nothing, so absent and blank agree."""
    if text is None:
        return None
    collapsed = _SPACES.sub(" ", text).strip()
    return collapsed or None


def unique_texts(texts: Iterable[str | None]) -> tuple[str, ...]:
    """Cleaned, non-empty texts in their first-seen order, each once (the matcher searches them all)."""
    seen: dict[str, None] = {}
    for text in texts:
        cleaned = clean(text)
        if cleaned is not None:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def decimal_amount(text: str | None) -> Decimal:
    """A decimal amount written with `.` or `,` as separator (`-1234.56`, `1234,56`, `1.234,56`).

    When both separators occur the last one is the decimal point and the other groups thousands.
    Raises `MoneyError` (a `ValueError`) for anything else, so the caller can report the entry.
    """
    raw = (text or "").strip().replace(" ", "")
    if "," in raw and "." in raw:
        decimal_sep = "," if raw.rfind(",") > raw.rfind(".") else "."
        group_sep = "." if decimal_sep == "," else ","
        raw = raw.replace(group_sep, "").replace(decimal_sep, ".")
    else:
        raw = raw.replace(",", ".")
    if not _AMOUNT.fullmatch(raw):
        raise MoneyError(f"not an amount: {text!r}")
    try:
        return Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
        raise MoneyError(f"not an amount: {text!r}") from exc


def xs_decimal(text: str | None) -> Decimal:
    """An XML schema decimal, as ISO 20022 writes amounts (`1500.00`, `.5`): digits with an optional `.`
    fraction, nothing else; a comma (`1,500`) is no amount there, neither a point nor a group of thousands.
    Raises `MoneyError` so that the caller reports the entry."""
    raw = (text or "").strip()
    if not _AMOUNT.fullmatch(raw):
        raise MoneyError(f"{text!r} is not an amount: ISO 20022 writes digits with an optional '.' fraction")
    return Decimal(raw)


def statement_encoding(path: str, name: str, hint: str | None = None) -> Chosen:
    """The statement file's encoding, chosen as an export's is (`connector.text_encoding`) from its
    lines holding non-ASCII bytes, `hint` being the code page its own header names (OFX's `CHARSET`);
    noted when guessed (`text_encoding.noting`)."""
    with open(path, "rb") as binary:
        return detect_encoding(binary, name, lines=True, hint=hint, remedy="is it a text file?")


def give_up(name: str, anything_read: bool, reason: str, row: int | None = None, raw: str = "") -> Problem:
    """The one rule for a file that breaks part-way: if nothing was read yet the whole file is unreadable
    (`FileFormatError`); otherwise what was read stands and the rest becomes one `Problem`."""
    if not anything_read:
        raise FileFormatError(f"{name}: {reason}")
    return Problem(Origin(name, row, raw), reason)


class BrokenXml(Exception):
    """The XML stops being well-formed (or tries a DTD/entity trick) part-way; `str()` says where."""


def xml_events(path: str | IO[bytes]) -> Iterator[tuple[str, ET.Element]]:
    """`start`/`end` events of an XML file, parsed by defusedxml (no DTDs, entities or external
    references) and streamed, so a large statement never sits in memory whole."""
    try:
        events: Iterator[tuple[str, ET.Element]] = _safe_et.iterparse(
            path, events=("start", "end"), forbid_dtd=True
        )
        yield from events
    except (ET.ParseError, ValueError) as exc:  # defusedxml's refusals are ValueErrors
        raise BrokenXml(f"the XML is broken: {exc}") from exc


def local_name(tag: str) -> str:
    """An element's name without its `{namespace}`."""
    return tag.rpartition("}")[2]


def raw_xml(element: ET.Element, namespace: str | None = None) -> str:
    """An element as XML text for an `Origin`, with `namespace` dropped from the tags so that a person
    reading a problem sees `<Ntry>`, not `<ns0:Ntry xmlns:ns0=…>` (tags cannot occur in escaped text)."""
    text = ET.tostring(element, encoding="unicode").strip()
    if namespace:
        declaration = re.search(rf' xmlns:(\w+)="{re.escape(namespace)}"', text)
        if declaration:
            prefix = declaration.group(1)
            text = text.replace(declaration.group(0), "", 1)
            text = re.sub(rf"(</?){prefix}:", r"\1", text)
    return text


# ISO 20022 external return reason codes (ExternalReturnReason1Code) a bank gives most on a returned
# transfer or direct debit (the SEPA rulebooks' set), with their meaning as the code list states it,
# shortened. Another code is shown as the bank gave it, without a meaning.
RETURN_REASONS: dict[str, str] = {
    "AC01": "incorrect account number",
    "AC04": "account closed",
    "AC06": "account blocked",
    "AC13": "invalid debtor account type",
    "AG01": "transaction forbidden on this type of account",
    "AG02": "invalid bank operation code",
    "AM04": "insufficient funds",
    "AM05": "duplication",
    "BE04": "missing creditor address",
    "BE05": "unrecognised initiating party",
    "CNOR": "creditor bank not registered under this BIC",
    "DNOR": "debtor bank not registered under this BIC",
    "DUPL": "duplicate payment",
    "FOCR": "return following a cancellation request",
    "FR01": "fraud",
    "MD01": "no mandate",
    "MD02": "missing mandate information",
    "MD06": "refund requested by the end customer",
    "MD07": "end customer deceased",
    "MS02": "reason not specified by the end customer",
    "MS03": "reason not specified by the agent",
    "NARR": "reason given as narrative",
    "RC01": "incorrect bank identifier",
    "RR01": "regulatory reason: debtor account or identification missing",
    "RR02": "regulatory reason: debtor name or address missing",
    "RR03": "regulatory reason: creditor name or address missing",
    "RR04": "regulatory reason",
    "SL01": "specific service offered by the debtor bank",
    "TM01": "received after the cut-off time",
}


_CODE = re.compile(r"[A-Za-z0-9]{1,4}")  # ISO 20022 ExternalReturnReason1Code: Max4Text
# A code's shape in a field of free text (CAMT `Rsn/Prtry`, MT940 `/RTRN/`): up to four upper-case
# letters or digits, a digit among them (`AM04`, `R17`); a bank's word (`Died`, `ERBE`) is none.
_CODE_SHAPE = re.compile(r"(?=[A-Z]*\d)[A-Z\d]{1,4}")


def is_return_code(text: str) -> bool:
    """Whether a bank's proprietary return reason, free text, is a code: one `RETURN_REASONS` knows, or of
    a code's shape (`_CODE_SHAPE`). Else it is the bank's words."""
    return text.upper() in RETURN_REASONS or bool(_CODE_SHAPE.fullmatch(text))


def return_reason(
    code: str | None, *texts: str | None, proprietary: bool = False
) -> tuple[str | None, str | None]:
    """A return's reason as (its code, the bank's words). The code with its meaning when `RETURN_REASONS`
    knows it (`AM04 insufficient funds`); what is no code (an ISO code is at most four letters or digits;
    a `proprietary` reason, free text, is one only as `is_return_code` says: else the bank's reason in
    words) is words. The words: `texts`, each once, `; ` between. A bank's words are free text that may
    name people (a deceased account holder, an heir): `Document.return_words`, read from the file, never
    stored. None for none."""
    code = clean(code)
    if code and not (is_return_code(code) if proprietary else _CODE.fullmatch(code)):
        code, texts = None, (code, *texts)
    named = f"{code} {RETURN_REASONS[code.upper()]}" if code and code.upper() in RETURN_REASONS else code
    words = unique_texts(text for text in texts if clean(text) != code)
    return named, "; ".join(words) or None


def given(reference: str | None) -> str | None:
    """A reference, or None for a placeholder that stands for none."""
    return None if reference is None or reference.strip().upper() in PLACEHOLDERS else reference
