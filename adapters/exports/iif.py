"""QuickBooks Desktop IIF files (Intuit Interchange Format) → invoices, credit notes and payments.

IIF is tab-separated text, one record a line (a quoted cell never spans lines; a quote that does not
enclose a whole cell is text, like the inch mark of `6" pipe`). Lines starting with `!` name the
columns of a record type (`!TRNS`, `!SPL`, `!ENDTRNS`, and list types such as `!CUST` or `!ACCNT`). A
transaction is a `TRNS` line, its `SPL` (split) lines and an `ENDTRNS` line; its AMOUNTs (debit
positive, credit negative) sum to zero.

- `PAYMENT` → payment: the TRNS line is the deposit side (Undeposited Funds or the bank), a positive
  amount; `NAME` is the customer, `DOCNUM` the cheque or reference number. The account its SPL lines
  credit is the customer's receivable. When that credit is more than the money deposited (a discount
  given, a fee borne: SPL lines debiting other accounts), the payment is a receipt of the money deposited
  and a credit note of the rest (its id the payment's with `.kept`, its references the payment's): the
  invoice is settled whole. A PAYMENT crediting more than one account (the receivable and, say, an
  income account) is a `Problem`: which credit is the receivable, and so what the customer paid, cannot
  be told.
- `INVOICE` → invoice: the TRNS line is the accounts-receivable side, positive; `DUEDATE` when present.
- `CREDIT MEMO` → credit note: the TRNS line is the receivable side, negative; its absolute value.

`NAME` is `Customer` or `Customer:Job` (QuickBooks' job path, colon-separated; a name never holds a
colon): the party is the customer, the job stays in the raw line. `DATE` is MM/DD/YY or MM/DD/YYYY, or day
first where the parser's `date_order` is "dmy" (QuickBooks writes the Windows regional order: a UK or
Australian one's DD/MM/YYYY); a file whose date reads only the other way keeps its dates that read either
way out of the ledger (`date_order`).
`MEMO` of the TRNS line, then each distinct SPL memo, are the document's references. A `CURRENCY`
column, when the file has one, names the currency; else the parser's `currency`, the company's
(QuickBooks Desktop files of a single-currency company carry none).

External id: `TRNSID` when present. Without it, `iif-` and the first 24 hex digits of the HMAC-SHA-256,
keyed with the key ring's index key (the blind indexes' key), of `qb_iif`, U+0000, then the transaction
type, ISO date, name, DOCNUM and each line's account and amount (in file order, joined with U+001F); a
transaction identical in all of those repeated within one file gets `#2`, `#3` …. Keyed, so that the id
stored in clear tells nothing of who paid to one without the key (a plain hash of the name could be
confirmed from a list of candidate names). Up to this version the id was `iif-` and the first 20 hex
digits of the plain SHA-256 of that text (without the prefix): a document carries that id as one it is
`known_as`, so that a file imported then is unchanged when imported again, under the id it has.

A transaction QuickBooks voided is exported again with every amount 0 (its memo "VOID: …"): it withdraws
the document of its TRNSID (`withdrawn`, `reverses` = that id, its own id `TRNSID:withdrawn`); without
a TRNSID it is a `Problem`, as what it voids cannot be named. A voided PAYMENT whose SPL lines are on
more than one account (one that may have had a discount) withdraws its `.kept` credit note too.

An unbalanced block, an unreadable amount or date, a type other than the three above, or lines out of
place (SPL outside a transaction, a missing ENDTRNS) become a `Problem` naming the lines; the rest of
the file goes on. List records (customers, accounts …) are not documents and are passed over.
Encoding: UTF-8 (with or without BOM), else GB18030 when the text reads as Chinese (QuickBooks on a
Chinese Windows writes GBK), else Windows-1252, which QuickBooks writes on a Western one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from adapters.exports.date_order import DateOrderWatch
from connector.documents import (
    Document,
    DocumentKind,
    Origin,
    Parsed,
    Party,
    Problem,
    kept_back,
    kept_id,
    kept_withdrawn,
    withdrawal_id,
)
from connector.errors import FileFormatError, MoneyError
from connector.mapping.decimals import DecimalFormatError, parse_decimal
from connector.mapping.slash_dates import WORDS, WRITTEN, Order, order_hint, other
from connector.money import Money, currency_code
from connector.text_encoding import Chosen, detect_encoding, noting

FORMAT = "qb_iif"
KINDS: dict[str, DocumentKind] = {"PAYMENT": "payment", "INVOICE": "invoice", "CREDIT MEMO": "credit_note"}
_SIGN = {"payment": 1, "invoice": 1, "credit_note": -1}  # the TRNS line's expected sign
_DATE_FORMATS: dict[Order, tuple[str, ...]] = {
    "mdy": ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d"),
    "dmy": ("%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d"),
}
_SETTING = 'set imports.iif_date_order = "{order}"'
_DATE_COLUMNS = {"DATE": "date", "DUEDATE": "due_date"}
_PLAIN_AMOUNT = re.compile(r"[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)")


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    values: dict[str, str]
    raw: str


@dataclass
class _Block:
    lines: list[_Line] = field(default_factory=list)

    def origin(self, name: str) -> Origin:
        return Origin(name, self.lines[0].number, "\n".join(line.raw for line in self.lines))

    def span(self) -> str:
        first, last = self.lines[0].number, self.lines[-1].number
        return f"line {first}" if first == last else f"lines {first}–{last}"


class IifParser:
    """A `DocumentParser` for QuickBooks Desktop IIF transaction files; `currency` is the company's, the
    currency of files without a CURRENCY column; `index_key` gives the key ring's (`KeyRing.index_key`),
    which keys the ids of transactions without a TRNSID: asked for only when an IIF file is read (a
    command reading no IIF file makes no key file)."""

    format = FORMAT

    def __init__(
        self,
        currency: str,
        encoding: str | None = None,
        date_order: Order = "mdy",
        *,
        index_key: Callable[[], bytes],
    ) -> None:
        self.currency = currency_code(currency)
        self.encoding = encoding
        self.date_order = date_order
        self._index_key = index_key

    def sniff(self, head: bytes, name: str) -> bool:
        """An IIF file opens with a `!` column line, tab-separated (`!TRNS`, `!HDR`, `!ACCNT` …)."""
        first = head.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n").split(b"\n", 1)[0]
        return first.startswith(b"!") and b"\t" in first

    def parse(self, path: str | Path, name: str) -> Iterator[Parsed]:
        try:
            binary = open(path, "rb")  # noqa: SIM115 - closed in the finally below, after the last line
        except OSError as exc:
            raise FileFormatError(f"{name}: cannot open it ({exc.strerror})") from exc
        try:
            chosen = Chosen(self.encoding, strict=False) if self.encoding else detect_encoding(binary, name)
            text = io.TextIOWrapper(binary, encoding=chosen.encoding, errors="replace", newline="")
            reader = _Reader(name, self.currency, self._index_key(), self.date_order)
            yield from noting(name, chosen, reader.watch.items(reader.read(text)))
        finally:
            binary.close()


def _unquoted(cell: str) -> str:
    """A cell as QuickBooks quotes it (`"Acme, Inc."`, `""` for a quote inside); any other quote, such
    as the inch mark of `6" pipe` or one never closed, is text: an IIF record never spans lines."""
    if len(cell) >= 2 and cell.startswith('"') and cell.endswith('"'):
        return cell[1:-1].replace('""', '"')
    return cell


class _Reader:
    """One pass over one file: column lines, transaction blocks, and what becomes of each."""

    def __init__(self, name: str, currency: str, index_key: bytes, order: Order = "mdy") -> None:
        self.name = name
        self.currency = currency
        self.index_key = index_key
        self.order = order
        fix = _SETTING.format(order=other(order))
        self.watch = DateOrderWatch(
            name, {target: (column, order, fix) for column, target in _DATE_COLUMNS.items()}
        )
        self.columns: dict[str, list[str]] = {}
        self.seen: dict[str, int] = {}

    def read(self, text: io.TextIOWrapper) -> Iterator[Parsed]:
        block: _Block | None = None
        for number, physical in enumerate(text, start=1):
            raw = physical.rstrip("\r\n")
            cells = [_unquoted(cell) for cell in raw.split("\t")]
            record = cells[0].strip().upper()
            if not record:
                continue
            if record.startswith("!"):
                self.columns[record[1:]] = [cell.strip().upper() for cell in cells[1:]]
                continue
            if not self.columns:
                raise FileFormatError(
                    f"{self.name}: not an IIF file (line {number} comes before any `!` line)"
                )
            line = _Line(number, dict(zip(self.columns.get(record, []), cells[1:], strict=False)), raw)
            if record == "TRNS":
                if block is not None:
                    yield Problem(block.origin(self.name), f"{block.span()}: no ENDTRNS before line {number}")
                block = _Block([line])
            elif record in ("SPL", "ENDTRNS") and block is None:
                yield Problem(
                    Origin(self.name, number, raw), f"line {number}: {record} outside a transaction"
                )
            elif record == "SPL" and block is not None:
                block.lines.append(line)
            elif record == "ENDTRNS" and block is not None:
                block.lines.append(line)
                yield from self._finish(block)
                block = None
            elif record not in self.columns:
                yield Problem(
                    Origin(self.name, number, raw), f"line {number}: unknown record type {record!r}"
                )
        if block is not None:
            yield Problem(block.origin(self.name), f"{block.span()}: the file ends before ENDTRNS")
        if not self.columns:
            raise FileFormatError(f"{self.name}: not an IIF file (no `!` column line)")

    def _finish(self, block: _Block) -> Iterator[Parsed]:
        origin = block.origin(self.name)
        try:
            documents = self._documents(block, origin)
        except _BlockError as exc:
            yield Problem(origin, f"{block.span()}: {exc}")
            return
        yield from documents

    def _documents(self, block: _Block, origin: Origin) -> list[Document]:
        if "TRNS" not in self.columns:
            raise _BlockError("a TRNS line before any !TRNS column line")
        lines = block.lines[:-1]  # without ENDTRNS
        trns = lines[0].values
        kind_name = trns.get("TRNSTYPE", "").strip().upper()
        kind = KINDS.get(kind_name)
        if kind is None:
            raise _BlockError(f"transaction type {kind_name!r} is not read (only {', '.join(KINDS)})")
        amounts = [_amount(line) for line in lines]
        if not any(amounts):
            return self._void(kind, kind_name, lines, origin)
        if sum(amounts) != 0:
            raise _BlockError(f"unbalanced: the amounts sum to {sum(amounts)}, not 0")
        if amounts[0] * _SIGN[kind] <= 0:
            raise _BlockError(f"a {kind_name} whose TRNS amount is {amounts[0]} (expected the other sign)")
        currency = self._currency(trns.get("CURRENCY"))
        for line, amount in zip(lines, amounts, strict=True):
            try:
                Money.written(amount, currency)
            except MoneyError as exc:
                raise _BlockError(f"line {line.number}: AMOUNT {exc}") from None
        money = Money.of(amounts[0].copy_abs(), currency)
        date = self._date(lines[0], "DATE")
        due = trns.get("DUEDATE", "").strip()
        memos = (line.values.get("MEMO", "").strip() for line in lines)
        own = trns.get("TRNSID", "").strip()
        taken_off = _kept_back(lines, amounts) if kind == "payment" else Decimal(0)
        keyed, former = ("", "") if own else self._ids(kind_name, date, lines, amounts)
        document = Document(
            kind=kind,
            source=FORMAT,
            external_id=own or keyed,
            known_as=(former,) if former else (),
            content_id=not own,  # edited and exported again, it comes back under another digest
            date=date,
            amount=money,
            origin=origin,
            party=_party(trns),
            number=trns.get("DOCNUM", "").strip() or None,
            due_date=self._date(lines[0], "DUEDATE") if due else None,
            references=tuple(dict.fromkeys(memo for memo in memos if memo)),
        )
        if not taken_off:
            return [document]
        try:
            kept = Money.of(taken_off, currency)
        except MoneyError as exc:
            raise _BlockError(str(exc)) from None
        note = kept_back(document, kept)
        return [document, replace(note, known_as=tuple(map(kept_id, document.known_as)))]

    def _void(self, kind: DocumentKind, kind_name: str, lines: list[_Line], origin: Origin) -> list[Document]:
        """A transaction voided in QuickBooks (exported again with every amount 0): it withdraws the one
        of its TRNSID, and a PAYMENT that may have kept some back its `.kept` credit note too. Without a
        TRNSID, what it voids cannot be named."""
        trns = lines[0].values
        own = trns.get("TRNSID", "").strip()
        if not own:
            raise _BlockError(
                f"a voided {kind_name} (every amount 0) without a TRNSID: the transaction it voids cannot "
                "be told; reverse that one by hand (`connector ledger reverse ENTRY --reason void`)"
            )
        void = Document(
            kind=kind,
            source=FORMAT,
            external_id=withdrawal_id(own),
            date=self._date(lines[0], "DATE"),
            amount=Money(0, self._currency(trns.get("CURRENCY"))),
            origin=origin,
            party=_party(trns),
            number=trns.get("DOCNUM", "").strip() or None,
            reverses=own,
            withdrawn=True,
        )
        splits = {line.values.get("ACCNT", "").strip() for line in lines[1:]}
        if kind != "payment" or len(splits) < 2:  # a discount takes an account besides the receivable
            return [void]
        return [void, kept_withdrawn(void)]

    def _date(self, line: _Line, column: str) -> dt.date:
        """The date in `column` of the TRNS line, in the file's order (told to the watch first)."""
        text = line.values.get(column, "").strip()
        self.watch.see(line.number, _DATE_COLUMNS[column], text)
        for format in _DATE_FORMATS[self.order]:
            try:
                return dt.datetime.strptime(text, format).date()  # noqa: DTZ007 - a calendar date
            except ValueError:
                continue
        if order_hint(text, _DATE_FORMATS[self.order]) is not None:
            theirs = other(self.order)
            raise _BlockError(
                f"{column}: {WORDS[theirs]} date under the {WORDS[self.order]} setting: if QuickBooks "
                f"writes {WRITTEN[theirs]} here (its Windows regional order), "
                f"{_SETTING.format(order=theirs)}"
            )
        written = WRITTEN[self.order].replace("YYYY", "YY or ") + WRITTEN[self.order]
        raise _BlockError(f"{column} {text!r} is not a date ({written})")

    def _currency(self, value: str | None) -> str:
        if not value or not value.strip():
            return self.currency
        try:
            return currency_code(value)
        except MoneyError as exc:
            raise _BlockError(str(exc)) from None

    def _ids(
        self, kind_name: str, date: dt.date, lines: list[_Line], amounts: list[Decimal]
    ) -> tuple[str, str]:
        """The id of a transaction without a TRNSID (an export from a file QuickBooks never synced), keyed,
        and the one the former, unkeyed recipe gave it (`Document.known_as`)."""
        trns = lines[0].values
        parts = [kind_name, date.isoformat(), trns.get("NAME", "").strip(), trns.get("DOCNUM", "").strip()]
        accounts = (line.values.get("ACCNT", "").strip() for line in lines)
        parts += [f"{account}={amount}" for account, amount in zip(accounts, amounts, strict=True)]
        text = "\x1f".join(parts).encode("utf-8")
        keyed = (
            "iif-"
            + hmac.new(self.index_key, FORMAT.encode() + b"\x00" + text, hashlib.sha256).hexdigest()[:24]
        )
        former = "iif-" + hashlib.sha256(text).hexdigest()[:20]
        count = self.seen[keyed] = self.seen.get(keyed, 0) + 1
        suffix = "" if count == 1 else f"#{count}"
        return keyed + suffix, former + suffix


class _BlockError(ValueError):
    """A transaction block that is no document; the message says why."""


def _party(trns: dict[str, str]) -> Party:
    """The customer a transaction names: of `Customer:Job`, the customer (the job is QuickBooks' own
    record under it, never a customer of ours)."""
    customer = trns.get("NAME", "").split(":", 1)[0].strip()
    return Party(name=customer or None)


def _kept_back(lines: list[_Line], amounts: list[Decimal]) -> Decimal:
    """What a PAYMENT took off the customer's receivable beyond the money it deposited: the SPL lines
    debiting other accounts (a discount given, a fee borne). The receivable is the one account its SPL
    lines credit; with more than one, what the customer paid cannot be told."""
    splits = [
        (line.values.get("ACCNT", "").strip(), amount) for line, amount in zip(lines, amounts, strict=True)
    ]
    credited = list(dict.fromkeys(account for account, amount in splits[1:] if amount < 0))
    if len(credited) > 1:
        raise _BlockError(
            f"a PAYMENT crediting more than one account ({', '.join(credited)}): which one is the "
            "customer's receivable, and so what the customer paid, cannot be told; enter it by hand"
        )
    # The block balances: the receivable's credit is the deposit and the other debits together.
    taken_off = -sum((amount for account, amount in splits[1:] if account in credited), Decimal(0))
    return taken_off - amounts[0]


def _amount(line: _Line) -> Decimal:
    """IIF amounts are plain numbers (`-1500.00`, at most with thousands commas): nothing else is read,
    so that a typo (`8O.00`) is refused rather than read past."""
    text = line.values.get("AMOUNT", "").strip()
    if _PLAIN_AMOUNT.fullmatch(text):
        try:
            return parse_decimal(text)
        except DecimalFormatError:
            pass
    raise _BlockError(f"line {line.number}: AMOUNT {text!r} is not an amount")
