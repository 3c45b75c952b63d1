"""A `DocumentParser` for general-ledger voucher (凭证) exports described by a mapping file
(kind = "voucher"): 金蝶 Kingdee and 用友 Yonyou write one row per entry line (分录), the voucher's
lines consecutive.

The file is read whole and its lines gathered by voucher wherever they stand (a page's repeated header
row, an export sorted by account); rows without voucher, account or date (totals) are skipped. A line
with an account but no date, type word and number continues the voucher of the line above it (a voucher
list, 序时簿, names a voucher on its first line only; a workbook merges those cells), and so does one
lacking some of them whose others are the above line's (the date on the first line only). Each
voucher's debits and credits must agree in each currency, else the voucher is one `Problem` covering its
rows (none of its lines is posted). A line on a customers' receivable account
(the mapping's `receivable` pattern, 1122 by default) becomes a document of the line's customer:

* its debit: an invoice (the receivable grows);
* its credit: a receipt of the money the voucher moves into a `bank` account (1001/1002/1012 by default:
  the customer paid) or of a customer's note it takes on a `notes` one (1121 应收票据: a bank acceptance
  draft), else a credit note (a sales return, a discount, a write-off). A note is no bank money: its
  receipt is `off_bank` (it posts to a chart account kept for it only), and the part of a credit a note
  pays beside bank money is a receipt of its own, `#n.note` (bank money pays first). The money banked pays
  the credits of a bank line's exact amount first, then the others in turn (by rank, below): a credit it
  pays in full is a receipt, one it pays in part a receipt of the money banked and a credit note of the
  rest (`#n.kept`: a bank's charge, a cash discount on another line), one it leaves unpaid a credit note
  (a sales return booked in the same voucher, 合并制单). A receipt names its bank line's account code as
  its deposit account: the bank line of the statement then pairs with it.

Debits and credits are in the books' currency (the mapping's `default_currency`), as these exports
write them: a voucher balances in it. A line in another currency gives its own amount in
`amount_original` (原币金额 / 外币金额), and its document is in that currency; without it the voucher is
a `Problem` (never the books' amount under another currency). Without a `default_currency`, each line's
amounts are taken in its own currency, and a voucher balances in each.

Red-ink (红字) lines, negative amounts, count on the other side; a receivable raised while money leaves
the bank (a receipt returned or refunded) is a `Problem`: a person reverses the receipt it undoes when
it was returned whole, never one applied to invoices for a refund of the customer's credit. A
receivable line naming no customer takes the one its voucher's other lines name; a line off the
receivable whose customer fields cannot be read (核算项目 a department: 销售部) names nobody and is read
all the same. The document's id is
the voucher's key — its period (the mapping's `period`, else the date's year and month: voucher numbers
restart each period), type word and number (an all-digit one in the mapping's `voucher_number_digits`, as
the source writes it: 0012 that a spreadsheet saved as 12 is 0012 again) — and the line's rank among
the voucher's receivable lines by customer, account, side and amount, whatever order the export gives
them: `2026-03-记-12#2`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.exports.document_rows import (
    REQUIRED,
    RowError,
    SkippedRows,
    _currency,
    _date,
    _decimal,
    _party,
    _text,
    absent_columns_notice,
    bind_columns,
    checked_minor,
    guessed_points,
    is_skipped,
)
from adapters.exports.mapped import ExportFile
from adapters.exports.tabular import Header, Row, StrayBytes
from connector.documents import Document, DocumentKind, Origin, Parsed, Problem, kept_back, note_id
from connector.errors import FileFormatError
from connector.mapping.apply import CompiledField, map_fields
from connector.mapping.converters import in_digits
from connector.mapping.model import REQUIRED_VOUCHER_TARGETS, FieldMap, VoucherMapping
from connector.money import Money


@dataclass(frozen=True)
class _Line:
    row: Row
    values: dict[str, Any]
    errors: dict[str, str]  # by target


@dataclass(frozen=True)
class _Entry:
    """A line read: its account, its signed amount (debit positive) and what it says of the customer."""

    row: Row
    account: str
    currency: str
    net: int  # minor units of `currency`, debit − credit
    date: dt.date
    values: dict[str, Any]
    books: str  # the currency the voucher balances in: the books' own, or the line's
    books_net: int  # debit − credit in `books`


class VoucherExport(ExportFile):
    """Reads the voucher export a `VoucherMapping` describes; `format` is the mapping's `source`."""

    kinds_follow_sides = True  # a line's kind is its side, its id its rank: an edit may change its kind

    def __init__(self, mapping: VoucherMapping) -> None:
        super().__init__(mapping)
        self.mapping = mapping
        self._receivable = re.compile(mapping.receivable)
        self._bank = re.compile(mapping.bank)
        self._notes = re.compile(mapping.notes)
        self._guessed = guessed_points(mapping.fields, ("debit", "credit", "amount_original"))

    def parse(self, path: str | Path, name: str) -> Iterator[Parsed]:
        strays = StrayBytes()
        table = self._rows(path, name, strays)
        first = next(table, None)
        if first is None:
            raise FileFormatError(f"{name}: no header row")
        header = Header.of(first)
        if (notice := strays.encoding_notice(name)) is not None:
            yield notice
        columns = bind_columns(self.mapping.fields, header, self._needed, self.mapping.skip)
        columns.refuse_missing(name, header, self.format)
        if (notice := absent_columns_notice(name, self.format, columns.absent)) is not None:
            yield notice
        fields, references, skips = columns.fields, columns.references, columns.skips
        naming = self._naming_columns(header)
        skipped_rows = SkippedRows(skips, header)
        vouchers: dict[tuple[str, ...], list[_Line]] = {}  # the whole file: a voucher's lines may be apart
        above: Row | None = None  # the line before, as read: a line under it may continue its voucher
        for row in table:
            if row.cells == first.cells:  # a page's repeated header row: the voucher may go on below it
                continue
            if is_skipped(skips, row):  # a totals row too, its formula uncalculated or not
                skipped_rows.count(row)
                above = None
                continue
            if row.error is not None:
                yield Problem(Origin(name, row.number, row.raw), row.error)
                above = None
                continue
            line = _read(fields, row)
            if above is not None and line.values.get("ledger_account") and _continues(row, above, naming):
                line = _read(fields, _filled(row, above, naming))
            if not any(line.values.get(t) for t in ("voucher_number", "ledger_account", "date")):
                above = None
                continue  # a totals or caption row: no voucher, no account, no date
            vouchers.setdefault(self._key(line.values), []).append(line)
            above = line.row
        for lines in vouchers.values():
            yield from self._voucher(lines, references, name)
        if (notice := skipped_rows.notice(name)) is not None:
            yield notice
        if (notice := strays.notice(name)) is not None:
            yield notice

    def _naming_columns(self, header: Header) -> tuple[int, ...]:
        """The columns that name a line's voucher: its date, period, type word and number."""
        found = (
            header.index(field.source)
            for field in self.mapping.fields
            if field.target in _NAMING and field.source is not None
        )
        return tuple(dict.fromkeys(index for index in found if index is not None))

    def _needed(self, field: FieldMap) -> bool:
        return (
            field.target in REQUIRED_VOUCHER_TARGETS
            or (field.target == "currency" and self.mapping.default_currency is None)
            or any(step.name == "required" for step in field.convert)
        )

    def _key(self, values: dict[str, Any]) -> tuple[str, ...]:
        """What the lines of one voucher share: period (or date), type word and number."""
        period = _text(values.get("period")) or _text(values.get("date")) or ""
        return (
            period[:7],
            _text(values.get("voucher_word")) or "",
            self._number(values) or "",
        )

    def _number(self, values: dict[str, Any]) -> str | None:
        """The voucher number as the source writes it: an all-digit one in the mapping's digits (0012,
        saved by a spreadsheet as 12, is 0012 again)."""
        number = _text(values.get("voucher_number"))
        digits = self.mapping.voucher_number_digits
        return number if number is None or digits is None else in_digits(number, digits)

    def _voucher(self, lines: list[_Line], references: Sequence[str], name: str) -> Iterator[Parsed]:
        first = lines[0]
        span = (
            f"rows {first.row.number}–{lines[-1].row.number}" if len(lines) > 1 else f"row {first.row.number}"
        )
        whole = Origin(name, first.row.number, "\n".join(line.row.raw for line in lines))
        try:
            label = self._label(first)
            entries = [self._entry(line) for line in lines]
        except RowError as exc:
            yield Problem(whole, f"the voucher of {span} cannot be read: {exc}")
            return
        unbalanced = _unbalanced(entries)
        if unbalanced:
            yield Problem(whole, f"voucher {label} ({span}) does not balance: {unbalanced}")
            return
        money_in = sum(e.books_net for e in entries if self._receives(e.account))
        receivable = sorted(
            (e for e in entries if self._receivable.search(e.account) and e.net != 0),
            key=lambda e: (_party_key(e.values), e.account, e.net < 0, abs(e.net), e.row.number),
        )
        named = {_party_key(e.values) for e in entries if _party_key(e.values) != ("", "", "")}
        received = self._received(entries, receivable) if money_in > 0 else {}
        for rank, entry in enumerate(receivable, start=1):  # its place by content: rows may come reordered
            if entry.net > 0 and money_in < 0:
                yield Problem(
                    Origin(name, entry.row.number, entry.row.raw),
                    f"voucher {label}: a receivable raised as money leaves the bank (red ink): a receipt "
                    "returned whole (退票) is undone by reversing that receipt's entry (`connector ledger "
                    "reverse`); an overpayment paid back is a refund of the customer's credit, which a "
                    "voucher line does not post here: never reverse a receipt applied to invoices for it "
                    "(the customer would owe again what it paid)",
                )
                continue
            paid = received.get(rank, {})
            kind: DocumentKind = (
                "invoice" if entry.net > 0 else "payment" if sum(paid.values()) else "credit_note"
            )
            values = entry.values
            if _party_key(values) == ("", "", "") and len(named) == 1:  # the customer on another line
                values = {**values, **dict(zip(PARTY_TARGETS, next(iter(named)), strict=True))}
            said = tuple(dict.fromkeys(text for target in references if (text := _text(values.get(target)))))
            document = Document(
                kind=kind,
                source=self.format,
                external_id=f"{label}#{rank}",
                date=entry.date,
                amount=Money(abs(entry.net), entry.currency),
                origin=Origin(name, entry.row.number, entry.row.raw),
                party=_party(
                    _text(values.get("party_name")),
                    _text(values.get("party_account_no")),
                    _text(values.get("party_external_id")),
                    None,
                ),
                number=label,
                references=said,
            )
            if kind == "payment":
                yield from self._receipts(document, entries, entry, paid)
            else:
                yield document

    def _receipts(
        self, document: Document, entries: Sequence[_Entry], entry: _Entry, paid: dict[bool, int]
    ) -> Iterator[Parsed]:
        """The receipt of a receivable credit `paid` (in the books' currency) by the voucher's bank money
        (`paid[False]`) and its customer's notes (`paid[True]`): its bank part under the document's id, its
        note part under `#n.note` (or the id, paid by note alone), the rest a credit note `#n.kept`."""
        kept = -entry.books_net - sum(paid.values())
        if entry.net != entry.books_net:  # another currency: the line's own amount is what was paid
            if len(paid) > 1:
                yield Problem(
                    document.origin,
                    f"voucher {document.number}: a receipt in {entry.currency} paid partly by a customer's "
                    "note and partly into the bank cannot be told apart in its currency: post it by hand",
                )
                return
            kept, paid = 0, {note: -entry.net for note in paid}
        for note, amount in sorted(paid.items()):
            apart = note and False in paid  # the note's part beside the bank money's
            yield replace(
                document,
                external_id=note_id(document.external_id) if apart else document.external_id,
                amount=Money(amount, entry.currency),
                account=self._deposited(entries, entry, note),
                off_bank=note,
            )
        if kept > 0:  # numbered as its voucher, whose label no other voucher of the period has
            yield replace(kept_back(document, Money(kept, entry.currency)), number=document.number)

    def _receives(self, account: str) -> bool:
        """Whether a debit of `account` is a customer's payment received: bank money, or a note."""
        return bool(self._bank.search(account) or self._notes.search(account))

    def _is_note(self, account: str) -> bool:
        """A note (应收票据) the customer paid with, not money in a bank."""
        return not self._bank.search(account) and bool(self._notes.search(account))

    def _received(
        self, entries: Sequence[_Entry], receivable: Sequence[_Entry]
    ) -> dict[int, dict[bool, int]]:
        """How much of each receivable credit (by its rank) the money the voucher banks pays, in the books'
        currency, by whether it came as a note (True) or bank money (False): a credit of a bank or note
        line's exact amount is paid by that line, the others in turn by what is left (bank money first).
        The rest of a credit never reached the bank: a bank's charge or a cash discount (现金折扣) kept
        back, a sales return booked in the same voucher (合并制单). Only money in counts: a payment out of
        the bank in the same voucher (a supplier paid, a fee booked gross) keeps nothing back."""
        banked = [e for e in entries if self._receives(e.account) and e.books_net > 0]
        left: dict[tuple[str, bool], int] = {}
        for line in banked:
            pool = (line.books, self._is_note(line.account))
            left[pool] = left.get(pool, 0) + line.books_net
        credits = [(rank, e) for rank, e in enumerate(receivable, start=1) if e.net < 0]
        received: dict[int, dict[bool, int]] = {}
        unmatched = list(range(len(banked)))
        for rank, credit in credits:
            exact = (credit.books, -credit.books_net)
            paying = next((i for i in unmatched if (banked[i].books, banked[i].books_net) == exact), None)
            if paying is not None:
                unmatched.remove(paying)
                note = self._is_note(banked[paying].account)
                received[rank] = {note: -credit.books_net}
                left[(credit.books, note)] += credit.books_net
        for rank, credit in credits:
            if rank in received:
                continue
            parts: dict[bool, int] = {}
            wanted = -credit.books_net
            for note in (False, True):
                taken = min(left.get((credit.books, note), 0), wanted)
                if taken > 0:
                    parts[note], wanted = taken, wanted - taken
                    left[(credit.books, note)] -= taken
            received[rank] = parts
        return received

    def _deposited(self, entries: Sequence[_Entry], receipt: _Entry, note: bool) -> str | None:
        """The account a receipt went to, among the voucher's bank lines (or note lines, by `note`): the
        line of its amount, else the largest."""
        banked = [
            e
            for e in entries
            if self._receives(e.account) and e.books_net > 0 and self._is_note(e.account) == note
        ]
        if not banked:
            return None
        same = [e for e in banked if (e.currency, e.net) == (receipt.currency, -receipt.net)]
        return (same or sorted(banked, key=lambda e: -e.books_net))[0].account

    def _label(self, first: _Line) -> str:
        values = first.values
        number = self._number(values)
        if number is None:
            raise RowError(REQUIRED, "voucher_number")
        date = _date(values.get("date"), "date")
        period = _text(values.get("period")) or (f"{date:%Y-%m}" if date else None)
        if period is None and "date" in first.errors:  # a date the mapping could not read: say why
            raise RowError(f"row {first.row.number}: {first.errors['date']}")
        if period is None:
            raise RowError(REQUIRED, "date")
        word = _text(values.get("voucher_word"))
        return "-".join(part for part in (period, word, number) if part)

    def _entry(self, line: _Line) -> _Entry:
        values, errors = line.values, line.errors
        account = _text(values.get("ledger_account"))
        if account is not None and not self._receivable.search(account) and errors.keys() & PARTY_TARGETS:
            # Off the receivable, 核算项目 names a department or a project (销售部), no customer: the line
            # is the ledger's own, its customer nobody's.
            errors = {target: reason for target, reason in errors.items() if target not in PARTY_TARGETS}
            values = {target: value for target, value in values.items() if target not in PARTY_TARGETS}
        if errors:
            raise RowError(f"row {line.row.number}: {'; '.join(errors.values())}")
        if account is None:
            raise RowError(f"row {line.row.number}: ledger_account: a value is required here")
        date = _date(values.get("date"), "date")
        if date is None:
            raise RowError(f"row {line.row.number}: date: a value is required here")
        books = self.mapping.default_currency
        currency = _currency(_text(values.get("currency")) or books)
        books = books or currency
        guessed = self._guessed
        debit = _decimal(values.get("debit"), "debit", books, guessed) or Decimal(0)
        credit = _decimal(values.get("credit"), "credit", books, guessed) or Decimal(0)
        if debit and credit:
            raise RowError(f"row {line.row.number}: a line is a debit or a credit, not both")
        books_net = _minor(line, debit, books, "debit") - _minor(line, credit, books, "credit")
        if currency == books:
            return _Entry(line.row, account, currency, books_net, date, values, books, books_net)
        original = _decimal(values.get("amount_original"), "amount_original", currency, guessed)
        if original is None or not books_net:
            raise RowError(
                f"row {line.row.number}: a line in {currency} needs its amount in {currency} "
                f"(amount_original, e.g. 原币金额): its debit and credit are in the books' {books}"
            )
        # An original amount of nothing: an exchange revaluation (期末调汇), the books' value moves alone.
        magnitude = abs(_minor(line, original, currency, "amount_original"))
        net = magnitude if books_net > 0 else -magnitude
        return _Entry(line.row, account, currency, net, date, values, books, books_net)


def _minor(line: _Line, amount: Decimal, currency: str, target: str) -> int:
    """`checked_minor`, its refusal naming the line's row (`1,000` yen read as 1.000 is no amount)."""
    try:
        return checked_minor(amount, currency, target)
    except RowError as exc:
        raise RowError(f"row {line.row.number}: {exc}") from None


PARTY_TARGETS = ("party_name", "party_account_no", "party_external_id")
_NAMING = ("date", "period", "voucher_word", "voucher_number")


def _continues(row: Row, above: Row, naming: Sequence[int]) -> bool:
    """Whether the row continues the voucher of the row above: some of its date, type word and number
    blank (or merged above), those it gives the above row's (a list writing the date on a voucher's
    first line only, its word and number on each)."""
    blank = False
    for index in naming:
        own = row.cells[index].strip() if index < len(row.cells) else ""
        if not own:
            blank = True
        elif own != (above.cells[index].strip() if index < len(above.cells) else ""):
            return False
    return blank


def _filled(row: Row, above: Row, naming: Sequence[int]) -> Row:
    """The row with the voucher the row above names: a voucher list (序时簿) writes its date, type word
    and number on its first line only (or its date only), a workbook merges them. (Its raw text stays
    as the file has it.)"""
    cells = list(row.cells) + [""] * (len(above.cells) - len(row.cells))
    for index in naming:
        if index < len(above.cells):
            cells[index] = above.cells[index]
    return Row(row.number, cells, row.raw)


def _party_key(values: dict[str, Any]) -> tuple[str, str, str]:
    name, account_no, external_id = (_text(values.get(target)) or "" for target in PARTY_TARGETS)
    return name, account_no, external_id


def _read(fields: tuple[CompiledField, ...], row: Row) -> _Line:
    values, errors = map_fields(fields, row.cells)
    return _Line(row, values, errors)


def _unbalanced(entries: Sequence[_Entry]) -> str:
    """'' when debits equal credits in the currency the voucher balances in, else what they come to."""
    totals: dict[str, int] = {}
    for entry in entries:
        totals[entry.books] = totals.get(entry.books, 0) + entry.books_net
    return "; ".join(
        f"{Money(abs(total), currency)} more {'debit than credit' if total > 0 else 'credit than debit'}"
        for currency, total in totals.items()
        if total
    )
