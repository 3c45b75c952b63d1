"""One export row → the values of one document (a `Draft`), or the reason it cannot be one.

Why apart from `mapped.py`: this is the per-row hot path of a million-row import. Columns are found by
name once per file and read by position; converters run compiled (`connector.mapping.apply`); what they
leave as text (a date without a `date` converter, an amount without `decimal`) is still read in the
one obvious way (ISO date, `parse_decimal`), so a terse mapping works and a wrong one says why.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, cast

from adapters.exports.tabular import Header, Row
from connector.documents import MAX_ID, DocumentKind, Notice, Origin, Party, compact_account
from connector.errors import FileFormatError, MoneyError
from connector.mapping.apply import CompiledField, compile_field, map_fields
from connector.mapping.decimals import DecimalFormatError, Marked, guessed_group, parse_decimal
from connector.mapping.model import (
    DOCUMENT_KINDS,
    REQUIRED_TARGETS,
    DocumentMapping,
    FieldMap,
    SkipRule,
    Withdraws,
)
from connector.money import EXACT, PADDED_DECIMALS, Money, currency_code, exponent


class Draft(NamedTuple):
    """A row's document values; the first eleven are the document's own (`HEAD`), the rest its
    allocation."""

    kind: DocumentKind
    external_id: str
    number: str | None
    date: dt.date
    due_date: dt.date | None
    value_date: dt.date | None
    amount: Money
    party: Party
    references: tuple[str, ...]
    account: str | None
    bank_charges: int | None  # minor units of amount.currency the bank kept of a payment (its amount's)
    allocation_invoice: str | None
    allocation_amount: int | None  # minor units of amount.currency


HEAD = Draft._fields[:11]


def head_differences(drafts: Sequence[Draft]) -> list[str]:
    """The document values in which the rows of one group disagree."""
    first = drafts[0]
    return [name for index, name in enumerate(HEAD) if any(d[index] != first[index] for d in drafts[1:])]


def draft_label(draft: Draft) -> str:
    return f"{draft.kind.replace('_', ' ')} {draft.external_id}"


Skip = tuple[int, re.Pattern[str], Withdraws]  # column, pattern, what its rows do to their documents


AMOUNT_TARGETS = ("amount", "bank_charges", "allocation_amount")  # read as amounts, in the row's currency
REQUIRED = "a value is required here but the source has none"  # as the mapping's `required` says it
# An id as Excel writes a long number into a CSV (2954000000090101 → "2.954E+15"): one digit, its
# fraction, "E+" and two digits; its digits are gone.
_SCIENTIFIC = re.compile(r"\d(?:[.,]\d+)?E\+\d{2}", re.IGNORECASE)


class RowError(ValueError):
    """A mapped row that is not a document: why, and the target it concerns (a row reader names it with
    its column, as the mapping's own errors do)."""

    def __init__(self, reason: str, target: str | None = None, *, quoted: bool = False) -> None:
        super().__init__(reason if target is None else f"{target}: {reason}")
        self.reason = reason
        self.target = target
        self.quoted = quoted  # the reason speaks of the value read: a row reader quotes its cell first


@dataclass(frozen=True)
class RowReader:
    """A document mapping bound to one file's header."""

    fields: tuple[CompiledField, ...]  # compiled converters, reading cells by position
    kind: DocumentKind | None  # the file's kind, or None when a field gives it per row
    default_currency: str | None
    absolute: bool  # negative amounts of invoices, credit notes and payments: taken as positive
    red_invoices: bool  # a negative invoice: a credit note of its amount
    references: tuple[str, ...]  # targets holding references, in file order
    absent: tuple[str, ...]  # the columns of optional fields the file lacks: see `Columns`
    group_target: str | None
    group_column: int | None
    key_fields: tuple[CompiledField, ...]  # the fields the group value needs: its own, or those up to it
    skips: tuple[Skip, ...]
    labels: dict[str, str]  # each target as its errors name it: with the column it reads
    guessed_point: frozenset[str]  # amount targets whose decimal separator is guessed, not declared

    @classmethod
    def build(cls, mapping: DocumentMapping, header: Header, name: str) -> RowReader:
        """FileFormatError when a column the mapping cannot do without is not in the file."""
        columns = bind_columns(mapping.fields, header, lambda field: _needed(field, mapping), mapping.skip)
        targets = {field.target for field in mapping.fields}
        group = mapping.group_by
        group_column = None if group is None or group in targets else header.index(group)
        if group is not None and group not in targets and group_column is None:
            columns.missing.append(group)
        columns.refuse_missing(name, header, mapping.source)
        fields, skips = columns.fields, columns.skips
        place = next((i for i, field in enumerate(fields) if field.target == group), None)
        key_fields: tuple[CompiledField, ...] = ()
        if place is not None:  # a templated one reads the fields mapped before it
            key_fields = fields[: place + 1] if fields[place].fills else (fields[place],)
        return cls(
            fields=fields,
            kind=mapping.document,
            default_currency=mapping.default_currency,
            absolute=mapping.negative_amounts == "absolute",
            red_invoices=mapping.negative_amounts == "credit_note",
            references=columns.references,
            absent=columns.absent,
            group_target=group if group in targets else None,
            group_column=group_column,
            key_fields=key_fields,
            skips=skips,
            labels={field.target: field.reason_prefix.removesuffix(": ") for field in fields},
            guessed_point=guessed_points(mapping.fields, AMOUNT_TARGETS),
        )

    def skipped(self, row: Row) -> bool:
        return is_skipped(self.skips, row)

    def withdraws(self, row: Row) -> Withdraws:
        """How a skipped row withdraws its document (the `withdraws` of the first rule with one that skips
        it: void, deleted, un-audited), or False."""
        cells = row.cells
        for index, pattern, withdraws in self.skips:
            if withdraws and index < len(cells) and pattern.search(cells[index].strip()):
                return withdraws
        return False

    def key(self, row: Row) -> str | None:
        """The row's group value, as `read` gives it, without reading the rest of the row."""
        if self.group_column is not None:
            return self._column_key(row.cells)
        if not self.key_fields or self.group_target is None:
            return None
        values, _ = map_fields(self.key_fields, row.cells)
        return _text(values.get(self.group_target))

    def _column_key(self, cells: list[str]) -> str | None:
        assert self.group_column is not None
        return cells[self.group_column].strip() or None if self.group_column < len(cells) else None

    def read(self, row: Row) -> tuple[str | None, Draft | str]:
        """(the row's group value, its draft or the reason it has none)."""
        values, errors = map_fields(self.fields, row.cells)
        if self.group_column is not None:
            key = self._column_key(row.cells)
        else:
            key = _text(values.get(self.group_target)) if self.group_target is not None else None
        if errors:
            # A required value the row lacks comes first: a field built from it (an id templated from
            # the amount) fails only because of it.
            lacking = [
                f"{self.labels.get(target, target)}: {REQUIRED}"
                for target in REQUIRED_TARGETS
                if target in values and _text(values[target]) is None
            ]
            return key, "; ".join([*lacking, *errors.values()])
        try:
            return key, self._draft(values)
        except RowError as exc:
            if exc.target is None:
                return key, str(exc)
            reason = exc.reason
            if exc.quoted:
                reason = f"{self._cell(row, exc.target)!r} in the file: {reason}"
            return key, f"{self.labels.get(exc.target, exc.target)}: {reason}"

    def _cell(self, row: Row, target: str) -> Any:
        """What the file writes where `target` is read (`1,000` of an amount read as 1.000)."""
        return next(field.read(row.cells) for field in self.fields if field.target == target)

    def _draft(self, values: dict[str, Any]) -> Draft:
        get = values.get
        kind = self.kind or _kind(get("kind"))
        external_id = _text(get("external_id"))
        if external_id is None:
            raise RowError(REQUIRED, "external_id")
        if len(external_id) > MAX_ID:
            raise RowError(f"longer than {MAX_ID} characters; shorten it with `digest`", "external_id")
        if _SCIENTIFIC.fullmatch(external_id):
            raise RowError(
                f"{external_id!r} is a long number a spreadsheet rewrote in scientific notation: its digits "
                "are lost, and other documents' ids read the same; export the file again with the column "
                "formatted as text (or a CSV as XLSX)",
                "external_id",
            )
        currency = _currency(_text(get("currency")) or self.default_currency)
        amount = _decimal(get("amount"), "amount", currency, self.guessed_point)
        if amount is None:
            raise RowError(REQUIRED, "amount")
        if amount < 0 and kind == "invoice" and self.red_invoices:
            kind, amount = "credit_note", amount.copy_abs()
        elif amount < 0 and kind == "payment" and not self.absolute:
            # Money paid back: a refund of the customer's credit (the one rule for every export's
            # negative payment). Taken as positive it would post money paid back as money received.
            kind, amount = "refund", amount.copy_abs()
        elif amount < 0 and kind != "bank_line":
            amount = self._absolute(kind, amount, "amount")
        invoice = _text(get("allocation_invoice"))
        applied = _decimal(get("allocation_amount"), "allocation_amount", currency, self.guessed_point)
        if applied is not None:
            if kind == "refund" and applied:
                # Money paid back against an invoice undoes (part of) a receipt that paid it: no refund of
                # credit, and which receipt, wholly or in part, is for the books to say.
                raise RowError(
                    f"{applied} applied to {f'invoice {invoice}' if invoice else 'an invoice'}: a negative "
                    "payment is a refund, which pays back the customer's credit and settles no invoice; a "
                    "receipt entered in error is corrected in the accounting system (void or edit it, then "
                    "import its export again), never by a refund",
                    "allocation_amount",
                )
            if applied < 0 and kind != "bank_line":
                applied = self._absolute(kind, applied, "allocation_amount")
            if applied and invoice is None:
                raise RowError(
                    "an amount applied to no invoice (allocation_invoice is empty)", "allocation_amount"
                )
        charges = self._charges(
            kind, amount, _decimal(get("bank_charges"), "bank_charges", currency, self.guessed_point)
        )
        date = _date(get("date"), "date")
        if date is None:
            raise RowError(REQUIRED, "date")
        references: tuple[str, ...] = ()
        for target in self.references:
            reference = _text(get(target))
            if reference and reference not in references:
                references += (reference,)
        party = _party(
            _text(get("party_name")),
            _text(get("party_account_no")),
            _text(get("party_external_id")),
            _text(get("party_bank_account")),
        )
        return Draft(
            kind,
            external_id,
            _text(get("number")),
            date,
            _date(get("due_date"), "due_date"),
            _date(get("value_date"), "value_date"),
            Money(self._minor(amount, currency, "amount"), currency),
            party,
            references,
            _text(get("account")),
            None if charges is None else self._minor(charges, currency, "bank_charges"),
            invoice,
            None if applied is None else self._minor(applied, currency, "allocation_amount"),
        )

    def _charges(self, kind: DocumentKind, amount: Decimal, charges: Decimal | None) -> Decimal | None:
        """What the bank kept of a payment of `amount` (None when nothing): less than the amount, as the
        bank received the rest."""
        if not charges:
            return None
        if kind != "payment":
            raise RowError(
                f"a {kind.replace('_', ' ')} has no bank charges (only a payment's are read)", "bank_charges"
            )
        if charges < 0:
            if not self.absolute:
                raise RowError(
                    f"{charges} is negative: what the bank kept of a payment is written positive "
                    '(set negative_amounts = "absolute" if the export writes it negative)',
                    "bank_charges",
                )
            charges = charges.copy_abs()
        if charges >= amount:
            raise RowError(
                f"{charges} is not less than the payment's amount {amount}: the bank received nothing of it",
                "bank_charges",
            )
        return charges

    def _minor(self, amount: Decimal, currency: str, target: str) -> int:
        return checked_minor(amount, currency, target)

    def _absolute(self, kind: str, amount: Decimal, target: str) -> Decimal:
        """A negative amount of an invoice, credit note or refund (a payment's applied amount): taken as
        positive, or refused."""
        if self.absolute:
            return amount.copy_abs()
        raise RowError(
            f"{amount} is negative, but a {kind.replace('_', ' ')} carries a positive amount "
            '(set negative_amounts = "absolute" if the export writes them negative, or "credit_note" '
            "if a negative invoice is a red invoice)",
            target,
        )


# --- compiling the fields against the header --------------------------------------------------------------


def _nothing(record: Any) -> None:
    return None


def _cell(index: int) -> Callable[[Any], Any]:
    """The cell at `index`, None when empty or beyond a short row."""

    def read(cells: Any) -> Any:
        return (cells[index] or None) if index < len(cells) else None

    return read


def _compile_skips(
    rules: Sequence[SkipRule], header: Header, unread: list[SkipRule], absent: list[str]
) -> tuple[Skip, ...]:
    """The skip rules reading by position. A rule on a column the file lacks can match nothing: it is
    `unread` (the rows it skips, drafts or void documents, would post) unless the rule is `optional`,
    whose column is `absent` (the file is read, saying so)."""
    skips: list[Skip] = []
    for rule in rules:
        index = header.index(rule.column)
        if index is not None:
            skips.append((index, re.compile(rule.matches), rule.withdraws))
        elif not rule.optional:
            unread.append(rule)
        elif rule.withdraws:
            absent.append(f"{rule.column!r} (a [[skip]] rule's column: the rows it withdraws read as live)")
        else:
            absent.append(f"{rule.column!r} (a [[skip]] rule's column: the rows it skips are read)")
    return tuple(skips)


def is_skipped(skips: Sequence[Skip], row: Row, *, withdrawing: bool = False) -> bool:
    """Whether a rule skips the row (with `withdrawing`, a rule that withdraws its document)."""
    cells = row.cells
    return any(
        index < len(cells) and (withdraws or not withdrawing) and pattern.search(cells[index].strip())
        for index, pattern, withdraws in skips
    )


class SkippedRows:
    """How many rows each skip rule passed over in one file: the import says so (a totals line, drafts,
    void documents), so that no row goes unaccounted for."""

    def __init__(self, skips: Sequence[Skip], header: Header) -> None:
        self.skips = skips
        self.header = header
        self.counts: dict[int, int] = {}  # by the rule's place in `skips`

    def count(self, row: Row) -> None:
        """One row a rule skipped (the first that matches it counts it)."""
        cells = row.cells
        for number, (index, pattern, _) in enumerate(self.skips):
            if index < len(cells) and pattern.search(cells[index].strip()):
                self.counts[number] = self.counts.get(number, 0) + 1
                return

    def notice(self, name: str) -> Notice | None:
        if not self.counts:
            return None
        said = "; ".join(
            f"{count} whose {self.header.names[index]!r} matches {pattern.pattern}"
            + (" (withdrawing their documents)" if withdraws else "")
            for number, (index, pattern, withdraws) in enumerate(self.skips)
            if (count := self.counts.get(number))
        )
        return Notice(Origin(name), f"rows the mapping's [[skip]] rules passed over: {said}")


def _needed(field: FieldMap, mapping: DocumentMapping) -> bool:
    """Whether the file is useless without the field's column (else a missing column reads as empty)."""
    target = field.target
    return (
        target in REQUIRED_TARGETS
        or target == "kind"
        or target == mapping.group_by
        or (target == "currency" and mapping.default_currency is None)
        or any(step.name == "required" for step in field.convert)
    )


class Columns(NamedTuple):
    """A mapping's fields bound to one file's header."""

    fields: tuple[CompiledField, ...]  # reading cells by position
    references: tuple[str, ...]  # targets holding references, in file order
    missing: list[str]  # columns the file cannot be read without, not in it
    # Columns of optional fields not in it, with their targets (`'CustomerID' (party_external_id)`): read
    # as empty. A file is still read, but a person is told: a renamed column would otherwise lose its
    # values (and their matching) silently.
    absent: tuple[str, ...]
    skips: tuple[Skip, ...]  # the mapping's [[skip]] rules, reading by position
    # The [[skip]] rules, not `optional`, whose column the file lacks: read, it would post their rows.
    unread_skips: tuple[SkipRule, ...]

    def refuse_missing(self, name: str, header: Header, mapping: str) -> None:
        """FileFormatError naming the columns the file cannot be read without: those of needed fields,
        and those of the [[skip]] rules of the mapping (its source) `mapping` that are not optional."""
        said = []
        if self.missing:
            said.append(f"no column {', '.join(map(repr, dict.fromkeys(self.missing)))}")
        for rule in self.unread_skips:
            withdrawing = ", withdrawing their documents" if rule.withdraws else ""
            said.append(
                f"no column {rule.column!r}, which a [[skip]] rule of the mapping {mapping} reads (it skips "
                f"the rows matching {rule.matches}{withdrawing}): read without it, those rows would post"
            )
        if said:
            hint = (
                "; if the export names it otherwise, rename the rule's `column`; if its exports may lack "
                "it, set `optional = true` on the rule"
                if self.unread_skips
                else ""
            )
            raise FileFormatError(f"{name}: {'; '.join(said)}; its columns: {', '.join(header.names)}{hint}")


def absent_columns_notice(name: str, mapping: str, absent: Sequence[str]) -> Notice | None:
    """The notice of a file `name` lacking the `absent` columns of the mapping (its source) `mapping`."""
    if not absent:
        return None
    return Notice(
        Origin(name),
        f"columns the mapping {mapping} reads are not in the file, so read as empty: {', '.join(absent)}; "
        "if the export names them otherwise, rename their `source`",
    )


def bind_columns(
    mapped: Sequence[FieldMap],
    header: Header,
    needed: Callable[[FieldMap], bool],
    skip_rules: Sequence[SkipRule] = (),
) -> Columns:
    """The fields and skip rules reading by position; a field's column the file lacks is `missing` if
    `needed`, else `absent`; a skip rule's is `absent` if the rule is optional, else the rule is unread."""
    fields: list[CompiledField] = []
    references: list[str] = []
    missing: list[str] = []
    absent: list[str] = []
    for number, field in enumerate(mapped):
        target = field.target
        if target == "reference" and "reference" in references:
            target = f"reference~{number}"  # a repeated `reference`: each kept, in file order
        if target.startswith("reference"):
            references.append(target)
        compiled = compile_field(
            field if target == field.target else field.model_copy(update={"target": target})
        )
        read: Callable[[Any], Any] = _nothing
        if field.source is not None:
            index = header.index(field.source)
            if index is not None:
                read = _cell(index)
            elif needed(field):
                missing.append(str(field.source))
            else:
                absent.append(f"{field.source!r} ({field.target})")
        prefix = f"{field.target} ({field.source}): " if field.source is not None else f"{field.target}: "
        fields.append(compiled._replace(read=read, reason_prefix=prefix))
    unread: list[SkipRule] = []
    skips = _compile_skips(skip_rules, header, unread, absent)
    return Columns(
        tuple(fields), tuple(references), missing, tuple(dict.fromkeys(absent)), skips, tuple(unread)
    )


# --- values --------------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.strip() if type(value) is str else str(value).strip()
    return text or None


def _kind(value: Any) -> DocumentKind:
    text = _text(value)
    if text not in DOCUMENT_KINDS:
        raise RowError(f"{text!r} is not one of {', '.join(DOCUMENT_KINDS)} (map it with `map`)", "kind")
    return cast("DocumentKind", text)


def _date(value: Any, target: str) -> dt.date | None:
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()) if value.strip() else None
        except ValueError:
            pass
    raise RowError(f"{value!r} is not a date (give the field a `date` converter with its format)", target)


def _decimal(value: Any, target: str, currency: str, guessed: Collection[str] = ()) -> Decimal | None:
    """The amount of `target`, in `currency`: one written with another currency beside it (`USD 100.00`
    in a CNY row) is refused, never posted as 100 CNY; so is one of a `guessed` target (its decimal
    separator not declared) that may mean a thousand times more or less."""
    if value is None:
        return value
    if type(value) is int:
        return Decimal(value)
    if isinstance(value, str):
        try:
            value = parse_decimal(value) if value.strip() else None
        except DecimalFormatError as exc:
            raise RowError(str(exc), target) from None
    if isinstance(value, Marked) and currency not in value.currencies:
        raise RowError(
            f"{value.mark!r} beside the amount is not {currency}, the currency it is taken in: the amount "
            "or the currency is wrong",
            target,
        )
    if isinstance(value, Decimal) and target in guessed:
        _refuse_ambiguous(value, currency, target)
    if value is None or isinstance(value, Decimal):
        return value
    raise RowError(f"{value!r} is not an amount", target)


@functools.lru_cache(maxsize=256)
def _currency_code(code: str) -> str:
    return currency_code(code)


def _currency(code: str | None) -> str:
    if code is None:
        raise RowError(REQUIRED, "currency")
    try:
        return _currency_code(code)
    except MoneyError as exc:
        raise RowError(str(exc), "currency") from None


def guessed_points(fields: Sequence[FieldMap], targets: Collection[str]) -> frozenset[str]:
    """Those amount `targets` whose decimal separator the mapping leaves to be guessed."""
    return frozenset(
        field.target
        for field in fields
        if field.target in targets
        and not any(step.name == "decimal" and step.options.get("separator") for step in field.convert)
    )


def _refuse_ambiguous(amount: Decimal, currency: str, target: str) -> None:
    """Refuses an amount of a target whose decimal separator was guessed when the guess may be wrong: a
    point and three digits in a currency of fewer decimals (`1.500` yen: a German 1,500, or needless
    precision), or one separator and three digits in a currency of three (`2,500` or `2.500` dinars)."""
    digits = exponent(currency)
    written = amount.copy_abs()
    if guessed_group(amount) and digits == 3:
        if written.as_tuple().exponent == -3:  # read with its '.' as the point
            shown, meanings = f"{written}", f"{written.scaleb(3):,} (a '.' grouping thousands) or {written}"
        else:  # read with its ',' grouping thousands
            shown = f"{written:,}"
            meanings = f"{shown} (a ',' grouping thousands) or {written.scaleb(-3)} (a decimal comma)"
        raise RowError(
            f"{shown} may be {meanings}: {currency} has 3 decimals, and one separator before three digits "
            "may be either; say which with the decimal converter's separator "
            '(separator = "," for 1.500,000, "." for 1,500.000)',
            target,
        )
    if written.as_tuple().exponent == -3 and digits < 3 and 1 <= written < 1000:
        raise RowError(
            f"{written} may be {written.scaleb(3):,} (a '.' grouping thousands) or "
            f"{written.normalize()}: {currency} has {digits} decimals, the file writes "
            "three; say which with the decimal converter's separator "
            '(separator = "," for 1.500,00, "." for 1,500.00)',
            target,
        )


def checked_minor(amount: Decimal, currency: str, target: str) -> int:
    """`Money.written` in minor units for a finite Decimal in a known currency, without re-checking
    either: an amount written with more decimals than its currency has is refused, even zeros (`1,000`
    yen read with a declared decimal comma is 1.000, one yen), whatever separator the mapping declares."""
    digits = exponent(currency)
    try:
        scaled = amount.scaleb(digits, EXACT)
        written = -int(amount.as_tuple().exponent)
        if scaled == scaled.to_integral_value() and written <= max(digits, PADDED_DECIMALS):
            return int(scaled)
    except ArithmeticError:
        pass  # too long to shift exactly: Money.written words the refusal
    try:
        return Money.written(amount, currency).minor  # words the refusal
    except MoneyError as exc:
        raise RowError(str(exc), target, quoted=True) from None


@functools.lru_cache(maxsize=65_536)
def _party(name: str | None, account_no: str | None, external_id: str | None, bank: str | None) -> Party:
    """One Party per distinct payer (exports repeat them); bank accounts without spaces."""
    return Party(name, account_no, external_id, compact_account(bank))
