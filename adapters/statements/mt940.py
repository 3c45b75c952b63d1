"""SWIFT MT940 bank statements → bank lines, with the `mt-940` library reading each field.

The file is decoded in the encoding `connector.text_encoding` detects, as for an export (UTF-8, GB18030
for Chinese, Windows-1252 for Western text …; `Mt940Parser(encoding=…)` overrides it), then read line by
line: `mt940_fields` cuts it into fields (`:61:` with its continuation lines …), this module groups
them into statements (each `:20:`, or each SWIFT message `{1:…}{4:` … `-}`, starts one) and hands one
field at a time to the library's own tag parser. That keeps one statement's header in memory, never
the file, and lets a malformed `:61:` become a `Problem` while the lines around it are read (the
library, given the whole file, stops at the first field it cannot read).

What becomes what:

- `:25:` account, `:28C:` statement number, `:60F:`/`:60M:` opening and `:62F:`/`:62M:` closing balance
  → a `Statement` after its lines (period: the balances' dates).
- each `:61:` → a bank line: `date` is the entry date when given (the booking date), else the value
  date; `value_date` is the value date. The amount is signed by the mark: C +, D −, RC (reversal of a
  credit: money goes out) −, RD (reversal of a debit: money comes back) +. RC/RD lines, and
  returns (type NRTI, GVC 108/109/159), are `bank_reversal` with the marker reference "RVSL": MT940
  never names the original line. Their `return_reason`: the ISO 20022 return reason code the `:86:`
  gives (`/RTRN/AM04/` or `RTRN+AM04`, else a code `common.RETURN_REASONS` knows standing as a word in
  its text, `SVWZ+INV-55 AM04`) with its meaning, then the German return key of `?34` (`912`, shown as
  the bank gave it). The bank's words, `return_words`, never stored: a `?34` that is no number, and an
  `/RTRN/` that is no code (`common.is_return_code`: `/RTRN/ERBE verstorben/`).
- `:86:` in the German structured form (`GVC?00…?20…`): `?20`–`?29` remittance with the SEPA keywords
  `SVWZ+` (remittance), `EREF+` (end-to-end id), `KREF+` (customer reference), `MREF+` (mandate),
  `?32`/`?33` the counterparty's name, `?31` its IBAN or account number (`?30` its BIC, which `Party`
  has no place for), `?60`–`?63` the remittance's continuation (appended to it). Unstructured `:86:`
  text is kept whole as a reference.
- references, most specific first: SVWZ (or the whole remittance), EREF, KREF, the `:61:` customer
  reference (not "NONREF"), MREF, the `:61:` supplementary details.

MT940 has no transaction id, so `external_id` is `common.composite_id("mt940", account (`:25:`
without spaces, as on the line), entry date, value date, |amount| minor units, currency, mark
(C/D/RC/RD), :61: customer reference, :61: bank reference, the references below (whitespace
collapsed, one per line; left out when the line has a bank reference: it names the line, and the
bank's text may change between exports), occurrence)` where occurrence is `1` for the first line of
its file alike in all of those, `2` for a second …: two identical payments on one day stay apart, and
overlapping exports (a week's, then the month's, often all numbered `:28C:0`) give a line the same id
wherever it stands among the others. The statement number is left out for that reason. Within one
file, a statement opening as an earlier one did (the same account, :60F: date and balance: an intraday
statement, then the day's) counts its lines again from there (`common.AlikeLines`). A line
without a bank reference is `content_id`: its text changed, it comes back under another id, and the
import holds it for a person when it looks like a line of an earlier file. Placeholders ("NONREF",
"NOTPROVIDED") are no reference.

Recipe history: the recipe above (since 91d1bce) is the third hashed under the tag `mt940/v1`; the two
before it (by position, up to 81af49b; by text, f1fb9eb to 1bdd1c4) were edited in place. A line
carries the ids they gave it as `known_as`, and the references their versions read where those
differ (`references_before`: its print there), so a line they imported is unchanged when downloaded
again (`mt940_former` documents them and what they do not cover). The next change takes `mt940/v2`.

`Origin.row` is the 1-based line number of the `:61:` (of `:20:` for a `Statement`), `Origin.raw` the
field(s) as written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import mt940

from adapters.statements.common import (
    RETURN_REASONS,
    SNIFF_BYTES,
    AlikeLines,
    clean,
    composite_id,
    given,
    is_return_code,
    return_reason,
    statement_encoding,
    unique_texts,
)
from adapters.statements.mt940_fields import Boundary, Field, Stray, fields
from adapters.statements.mt940_former import FormerIds
from connector.documents import (
    REVERSAL_MARKER,
    Document,
    Origin,
    Parsed,
    Party,
    Problem,
    Statement,
    compact_account,
)
from connector.errors import FileFormatError, MoneyError
from connector.money import Money
from connector.text_encoding import Chosen, noting

SOURCE = "mt940"
_OPTIONS = mt940.Options.all()  # RC signed as a debit, ?31 as the IBAN, :86: never truncated …
_SNIFF = re.compile(rb"(?m)^:(20|25|28C?|60[FM]|61|62[FM]):")
_SIGNS = {"C": 1, "D": -1, "RC": -1, "RD": 1}
# A line the bank marks as a return without RC/RD: the transaction type RTI (returned item: N for a
# non-SWIFT transfer, F for a first advice), or the German business transaction codes (GVC) of a returned
# direct debit or transfer (Rücklastschrift 108, 109; Retoure 159). Like a reversal, it undoes a line.
_RETURN_TYPES, _RETURN_CODES = frozenset({"NRTI", "FRTI"}), frozenset({"108", "109", "159"})
# A structured :86:'s return reason, up to the next field (/RTRN/MS03/, ?20RTRN+MD06?21): free text
_RTRN = re.compile(r"RTRN[/+]([^/?]*)")
_REASON_WORD = re.compile(r"\b([A-Z]{2}\d{2})\b")  # AM04 in a return's text, when the table knows it
_STRAY_KEPT = 20  # lines of stray text kept for the Problem (a wrong file must not fill memory)
_HARD_WRAP = 65  # SWIFT lines are at most 65 characters: a full line was wrapped mid-word
# The library reads the longest amount-looking prefix ("1.500,00" as 1, "1200.50" as 1200): a field's
# amount is checked against SWIFT's own layout first (digits, one mandatory decimal comma).
_AMOUNT = r"(?=[\d,]{1,15}(?![\d,]))\d+,\d*"  # SWIFT's 15d: at most 15 characters, the comma counted
_STRICT = {
    "61": re.compile(rf"\d{{6}}(?:\d{{4}})?R?[CD][A-Z]?{_AMOUNT}[NSF][A-Z0-9]{{3}}"),
    **{
        tag: re.compile(rf"[CD]\d{{6}}[A-Z]{{3}}{_AMOUNT}\s*$")
        for tag in ("60F", "60M", "62F", "62M", "64", "65")
    },
}
_OPENING = ("final_opening_balance", "intermediate_opening_balance", "opening_balance")
_CLOSING = ("final_closing_balance", "intermediate_closing_balance", "closing_balance")


class _Unreadable(Exception):
    """A field or line that cannot be read; the message is the `Problem`'s reason."""


class Mt940Parser:
    """The `DocumentParser` for MT940 files (see the module docstring for the rules)."""

    format = SOURCE
    lines_name_no_account = True  # one line's text may stand on two accounts: two lines (quarantine)

    def __init__(self, encoding: str | None = None) -> None:
        self.encoding = encoding  # None: detect (see common.statement_encoding)

    def sniff(self, head: bytes, name: str) -> bool:
        """Two distinct MT940 field tags at line starts in the first bytes (`:20:` and `:25:` …)."""
        return len(set(_SNIFF.findall(head[:SNIFF_BYTES]))) >= 2

    def parse(self, path: str, name: str) -> Iterator[Parsed]:
        chosen = Chosen(self.encoding, strict=False) if self.encoding else statement_encoding(path, name)
        with open(path, encoding=chosen.encoding, errors="replace") as handle:
            yield from noting(name, chosen, _File(name).read(fields(handle)))


class _File:
    """One file's read: the statement being read and the `:61:` waiting for its `:86:`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.statement: _Statement | None = None
        self.pending: Field | None = None
        self.stray: list[Stray] = []  # the first _STRAY_KEPT lines of the current run
        self.stray_count = 0
        self.seen_field = False
        self.alike = AlikeLines()  # occurrence numbers of lines alike, statement by statement
        self.former = FormerIds()  # the ids earlier versions gave its lines

    def read(self, items: Iterator[Field | Boundary | Stray]) -> Iterator[Parsed]:
        for item in items:
            if isinstance(item, Stray):
                self.stray_count += 1
                if len(self.stray) < _STRAY_KEPT:
                    self.stray.append(item)
            elif isinstance(item, Boundary):
                yield from self._close()
            else:
                yield from self._strays()
                yield from self._field(item)
        yield from self._close()
        if not self.seen_field:
            raise FileFormatError(f"{self.name}: no MT940 fields (:20:, :25:, :61: …) found")
        yield from self._strays()

    def _field(self, field: Field) -> Iterator[Parsed]:
        self.seen_field = True
        if field.tag == "20" or self.statement is None:
            yield from self._close()
            self.statement = _Statement(self.name, field.line, self.alike, self.former)
        statement = self.statement
        if field.tag == "61":
            yield from self._flush()
            self.pending = field
        elif field.tag == "86" and self.pending is not None:
            yield statement.line(self.pending, field)
            self.pending = None
        elif field.tag != "NS":  # :NS: is bank-specific, often between :61: and :86:
            yield from self._flush()
            yield from statement.header(field)

    def _flush(self) -> Iterator[Parsed]:
        if self.pending is not None and self.statement is not None:
            yield self.statement.line(self.pending, None)
        self.pending = None

    def _close(self) -> Iterator[Parsed]:
        yield from self._flush()
        if self.statement is not None:
            yield self.statement.finish()
        self.statement = None

    def _strays(self) -> Iterator[Parsed]:
        """Text outside the fields, reported once per run of lines (a bank's header line, say)."""
        if self.stray:
            raw = "\n".join(stray.text for stray in self.stray)
            more = self.stray_count - len(self.stray)
            reason = "text outside any MT940 field, ignored"
            yield Problem(
                Origin(self.name, self.stray[0].line, raw),
                f"{reason} ({more} more lines)" if more else reason,
            )
        self.stray, self.stray_count = [], 0


class _Statement:
    """One statement: the library's `Transactions` holding the header, and the line count."""

    def __init__(self, file: str, line: int, alike: AlikeLines, former: FormerIds) -> None:
        self.file = file
        self.line_no = line
        self.library = mt940.models.Transactions(options=_OPTIONS)
        self.alike = alike
        self.former = former
        self.position = 0  # its :61: fields so far, malformed ones too (for the ids by position)
        self.statement_no: str | None = None
        self.raw: list[str] = []

    def header(self, field: Field) -> Iterator[Parsed]:
        """A statement-level field (`:25:`, `:28C:`, `:60F:`, `:62F:` …) into the library's data."""
        self.raw.append(field.raw)
        if field.tag.startswith("28"):
            self.statement_no = field.value
        if field.tag == "86":  # statement-level information after the lines: nothing to book
            return
        try:
            _run(self.library, field)
        except _Unreadable as exc:
            yield Problem(
                Origin(self.file, field.line, field.raw), f"field :{field.tag}: not readable: {exc}"
            )
            return
        # A statement's first page (:60F:); a later page (:60M:) counts on, whatever balance it opens with.
        if field.tag == "60F" and (opening := _balance(self.library.data, _OPENING)) is not None:
            self.alike.statement_opens(self.account, opening, self.statement_no)
        if field.tag in ("62F", "62M") and (closing := _balance(self.library.data, _CLOSING)) is not None:
            self.alike.statement_closes(self.account, closing)

    def line(self, statement_line: Field, details: Field | None) -> Document | Problem:
        """One `:61:` (with its `:86:`) as a bank line, or the `Problem` that says why not."""
        self.position += 1
        raw = statement_line.raw + (f"\n{details.raw}" if details is not None else "")
        origin = Origin(self.file, statement_line.line, raw)
        try:
            fields = _run(self.library, statement_line)
            extra = _run(self.library, details) if details is not None else {}
            return self._document(fields, extra, details, origin)
        except (_Unreadable, MoneyError) as exc:
            return Problem(origin, f"statement line :61: not readable: {exc}")

    def _document(
        self, fields: dict[str, Any], extra: dict[str, Any], details: Field | None, origin: Origin
    ) -> Document:
        mark = _text(fields, "status").upper()
        currency = fields.get("currency")
        if mark not in _SIGNS:
            raise _Unreadable(f"debit/credit mark {mark!r} is not C, D, RC or RD")
        if not isinstance(currency, str):
            raise _Unreadable("no currency (the statement's :60F: is missing or unreadable)")
        magnitude = fields["amount"].amount.copy_abs()  # exactly: abs() and * round to 28 digits
        amount = Money.written(magnitude if _SIGNS[mark] > 0 else magnitude.copy_negate(), currency)
        value_date = _date(fields.get("date"))
        if value_date is None:
            raise _Unreadable("no value date")
        account = self.account
        entry_date = _date(fields.get("entry_date"))
        returned = mark.startswith("R") or _is_return(fields, extra)
        references = _references(fields, extra, details, reversal=returned)
        bank_ref = given(_text(fields, "bank_reference") or None)
        identity = (
            account,
            entry_date.isoformat() if entry_date else "",
            value_date.isoformat(),
            abs(amount.minor),
            amount.currency,
            mark,
            _text(fields, "customer_reference"),
            bank_ref or "",
            # the bank's own reference names the line; without one, its text tells alike lines apart
            "" if bank_ref else "\n".join(" ".join(reference.split()) for reference in references),
        )
        occurrence = self.alike.next(account, "\x1e".join(map(str, identity)))
        # The references the recipe by text read, then those the recipe by position's version read.
        read_before = [_references(fields, extra, details, reversal=mark.startswith("R"), before=1)]
        if _text(extra, "additional_purpose"):
            read_before.append(_references(fields, extra, details, reversal=mark.startswith("R"), before=2))
        known_as = self.former.of(
            account=account,
            statement_no=self.statement_no,
            position=self.position,
            dates=(entry_date, value_date),
            minor=abs(amount.minor),
            currency=amount.currency,
            mark=mark,
            customer_ref=_text(fields, "customer_reference"),
            bank_ref=_text(fields, "bank_reference"),
            references=read_before[0],
        )
        reason, words = _return_reason(extra, details) if returned else (None, None)
        return Document(
            kind="bank_line",
            source=SOURCE,
            external_id=composite_id(SOURCE, *identity, occurrence),
            date=entry_date or value_date,
            amount=amount,
            origin=origin,
            party=Party(name=clean(_text(extra, "applicant_name")), bank_account=_account(extra)),
            value_date=value_date,
            references=references,
            bank_reversal=returned,
            account=account,
            known_as=known_as,
            references_before=tuple(dict.fromkeys(read for read in read_before if read != references)),
            content_id=bank_ref is None,
            return_reason=reason,
            return_words=words,
        )

    @property
    def account(self) -> str | None:
        return compact_account(_text(self.library.data, "account_identification") or None)

    def finish(self) -> Statement | Problem:
        """The statement's header, once its closing balance has been read."""
        origin = Origin(self.file, self.line_no, "\n".join(self.raw))
        opening = _balance(self.library.data, _OPENING)
        closing = _balance(self.library.data, _CLOSING)
        currency = self.library.currency
        account = self.account
        if account is None or currency is None:
            return Problem(
                origin,
                "statement without an account (:25:) or a balance with a currency (:60F:)",
                header=True,
            )
        if closing is None:  # :62F:/:62M: is mandatory: without it the file was cut short
            return Problem(
                origin,
                f"the statement from line {self.line_no} has no closing balance (:62F: or :62M:): was "
                "the file cut short? Its lines before the cut were read, the last of them maybe without "
                "all its details: check them against the bank's statement",
                header=True,
            )
        try:
            return Statement(
                source=SOURCE,
                account=account,
                currency=currency,
                origin=origin,
                statement_id=self.statement_no,
                period_start=opening[1] if opening else None,
                period_end=closing[1] if closing else None,
                opening=Money.written(opening[0], currency) if opening else None,
                closing=Money.written(closing[0], currency) if closing else None,
                period_from_balances=True,
            )
        except MoneyError as exc:
            return Problem(origin, f"statement balances not readable: {exc}", header=True)


def _run(library: mt940.models.Transactions, field: Field) -> dict[str, Any]:
    """The library's reading of one field (its tag pattern, models and processors).

    A transaction field lands in a fresh placeholder transaction, so a `:61:` without a type code never
    merges into the line before it and a `:86:` `KREF` never glues onto the `:61:` reference. The tag
    pattern is tried first so that a line the library cannot read does not reach its error log (which
    would print the bank data); the library's own exceptions become `_Unreadable`.
    """
    tag = mt940.tags.TAG_BY_ID.get(field.tag) or mt940.tags.TAG_BY_ID.get(int(field.tag[:2]))
    if tag is None:  # pragma: no cover - FIELD admits only tags the library knows
        raise _Unreadable(f"unknown field :{field.tag}:")
    if not tag.re.match(field.value):
        raise _Unreadable(f"does not match the MT940 layout of :{field.tag}:")
    strict = _STRICT.get(field.tag)
    if strict is not None and not strict.match(field.value):
        raise _Unreadable(
            f"the amount of :{field.tag}: is not digits with one decimal comma, at most 15 characters "
            "(as 1500,00)"
        )
    library.transactions = [mt940.models.Transaction(library)]
    try:
        library.parse(f":{field.tag}:{field.value}")
    except (RuntimeError, ValueError, ArithmeticError) as exc:
        raise _Unreadable(str(exc.args[0]) if exc.args else type(exc).__name__) from exc
    return library.transactions[-1].data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _date(value: object) -> dt.date | None:
    """A plain `date` (the library's `Date` subclass stays inside the adapter)."""
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    return None


def _balance(data: dict[str, Any], keys: tuple[str, ...]) -> tuple[Decimal, dt.date | None] | None:
    """The first of `keys` that holds a balance: its signed amount and its date."""
    for key in keys:
        balance = data.get(key)
        amount = getattr(getattr(balance, "amount", None), "amount", None)
        if isinstance(amount, Decimal):
            return amount, _date(getattr(balance, "date", None))
    return None


def _account(extra: dict[str, Any]) -> str | None:
    return compact_account(_text(extra, "applicant_iban") or None)


def _references(
    fields: dict[str, Any], extra: dict[str, Any], details: Field | None, *, reversal: bool, before: int = 0
) -> tuple[str, ...]:
    """The line's references; `before`: as the versions of the recipe by text (1) or by position (2) read
    them (`mt940_former`): a placeholder was text, and by position `?60`-`?63` continued nothing."""
    continued = _text(extra, "additional_purpose") if before < 2 else ""
    texts = [
        " ".join(part for part in (_text(extra, "purpose"), continued) if part),
        _text(extra, "end_to_end_reference"),
        _text(extra, "customer_reference"),
        _text(fields, "customer_reference"),
        _text(extra, "additional_position_reference"),
        _text(fields, "extra_details"),
    ]
    if before:
        texts[3] = "" if texts[3].upper() == "NONREF" else texts[3]
    else:
        texts = [text if given(text) else "" for text in texts]  # EREF+NOTPROVIDED names nothing
    if "transaction_details" in extra and details is not None:  # unstructured :86:
        texts.insert(0, _unwrap(details))
    if reversal:
        texts.append(REVERSAL_MARKER)
    return unique_texts(texts)


def _unwrap(field: Field) -> str:
    """Free text as one line. A line that fills the 65-character limit (the first one counting its
    tag) was cut by the bank mid-word, so the next continues it without a space."""
    pieces: list[str] = []
    glue = ""
    for index, line in enumerate(field.lines):
        pieces.append(glue + line.strip())
        width = len(line) + (len(field.tag) + 2 if index == 0 else 0)
        glue = "" if width >= _HARD_WRAP else " "
    return "".join(pieces)


def _return_reason(extra: dict[str, Any], details: Field | None) -> tuple[str | None, str | None]:
    """What a return's `:86:` says of its reason (see the module docstring), as (the reason, the bank's
    words: an `/RTRN/` that is no code, a `?34` key that is no number); None for a side it says nothing of."""
    text = _unwrap(details) if details is not None else ""
    named = _RTRN.search(text)
    stated = clean(named.group(1)) if named else None
    coded = stated if stated and is_return_code(stated) else None
    told = None if coded else stated  # /RTRN/ERBE verstorben/: the bank's words
    words = (word for word in _REASON_WORD.findall(text) if word in RETURN_REASONS)
    code = coded or next(words, None)
    key = _text(extra, "return_debit_notes")  # ?34
    reason, said = return_reason(code, told, None if key.isdigit() else key)
    keyed = f"return key {key} (?34)" if key.isdigit() else None
    return "; ".join(unique_texts([reason, keyed])) or None, said


def _is_return(fields: dict[str, Any], extra: dict[str, Any]) -> bool:
    return _text(fields, "id").upper() in _RETURN_TYPES or _text(extra, "transaction_code") in _RETURN_CODES
