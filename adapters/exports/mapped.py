"""A `DocumentParser` for any tabular export described by a mapping file (kind = "document").

Why mapping files and not one parser per product: the exports of Zoho Books, QuickBooks Online, Xero,
Kingdee and Yonyou are columns whose names change with the product's language, version and the user's
column choice; an admin can follow such a change by editing TOML, without a release.

Each row is mapped with the mapping's compiled converters (`connector.mapping.apply`), columns found
by name once per file; the mapped values become a `Document`. A row that cannot become one is a
`Problem` with the mapping's reason, and the rows after it go on. With `group_by`, consecutive rows
sharing one value are one document (a Zoho Books payment applied to three invoices is three rows):
its header values come from the rows, which must agree, and each row adds its `Allocation`; a group
with a bad row or rows that disagree is one `Problem` covering all of its rows, and a row that cannot
even be split into cells is one with the documents beside it (it may be either's). A payment the bank
kept charges of (`bank_charges`) is the receipt of what the bank received and a `.kept` credit note of
the charges (`banked_and_kept`), as an IIF or voucher payment that kept some back. A page's header row
printed again is passed over. Rows of one document
are adjacent, as exports write them. Those of a document with allocations (a receipt) found apart in the
file, in parts (an export sorted otherwise), are one `Problem` per part naming all of them: posted part by
part, a part would lack the others' allocations. Elsewhere (an invoice's detail rows, each repeating the
whole), the same value again further down starts another document with that id, which the import's
idempotency check then reports.

Memory: one group's rows at a time, plus, with `number_duplicates`, every composite id of the file
(meant for bank statements and reports of a few thousand lines); a mapping with allocations reads the
file's group values ahead, keeping eight bytes (a hash) of each document while it does.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Mapping
from itertools import pairwise
from pathlib import Path

from adapters.exports.date_order import DateOrderWatch
from adapters.exports.document_rows import (
    Draft,
    RowReader,
    SkippedRows,
    absent_columns_notice,
    draft_label,
    head_differences,
)
from adapters.exports.heads import head_has_columns, unread_head
from adapters.exports.reading import rows
from adapters.exports.tabular import Header, Row, StrayBytes
from connector.documents import (
    Allocation,
    Document,
    Origin,
    Parsed,
    Problem,
    Statement,
    banked_and_kept,
    kept_withdrawn,
    withdrawal_id,
)
from connector.errors import FileFormatError
from connector.mapping.model import DocumentMapping, TabularExport, Withdraws
from connector.mapping.slash_dates import Order, format_order, swapped
from connector.money import Money


class ExportFile:
    """An export file a mapping describes: recognised by its `[detect] headers`, read as rows."""

    def __init__(self, mapping: TabularExport) -> None:
        self.format = mapping.source
        self._tabular = mapping

    def sniff(self, head: bytes, name: str) -> bool:
        """Whether the first rows in `head` carry every `[detect] headers` name."""
        mapping = self._tabular
        return head_has_columns(
            head, mapping.detect.headers, encoding=mapping.encoding, delimiter=mapping.delimiter
        )

    def unread_head(self, head: bytes, name: str) -> str | None:
        """Why `sniff` could not read the head at all: no encoding fits its bytes."""
        return unread_head(head, name, self._tabular.encoding)

    def sniff_path(self, path: str | Path, name: str) -> bool:
        """Like `sniff`, from the file itself: for workbooks whose header text lies past any head."""
        try:
            return next(self._rows(path, name), None) is not None
        except FileFormatError:
            return False

    def _rows(self, path: str | Path, name: str, strays: StrayBytes | None = None) -> Iterator[Row]:
        mapping = self._tabular
        return rows(
            path,
            name,
            encoding=mapping.encoding,
            sheet=mapping.sheet,
            delimiter=mapping.delimiter,
            header_row=mapping.header_row,
            headers=mapping.detect.headers,
            strays=strays,
        )


class MappedExport(ExportFile):
    """Reads the export a `DocumentMapping` describes; `format` is the mapping's `source`."""

    def __init__(self, mapping: DocumentMapping, mapping_file: str | None = None) -> None:
        super().__init__(mapping)
        self.mapping = mapping
        self.mapping_file = mapping_file  # as the file's edits are named: export_zoho_books_payments.toml

    def parse(self, path: str | Path, name: str) -> Iterator[Parsed]:
        strays = StrayBytes()
        table = self._rows(path, name, strays)
        first = next(table, None)
        if first is None:
            raise FileFormatError(f"{name}: no header row")
        header = Header.of(first)
        if (notice := strays.encoding_notice(name)) is not None:
            yield notice
        reader = RowReader.build(self.mapping, header, name)
        if (notice := absent_columns_notice(name, self.format, reader.absent)) is not None:
            yield notice
        table = _without_repeated_header(table, first)
        watched = self._date_order(header, name)
        if watched is not None:
            table = _seen_by(*watched, table)
        skipped_rows = SkippedRows(reader.skips, header)
        if self.mapping.group_by is None:
            items = self._single_rows(reader, table, name, skipped_rows)
        else:
            apart = self._apart(path, name, reader, first) if self._parts_lose_allocations(reader) else {}
            items = self._grouped_rows(reader, table, name, skipped_rows, apart)
        if watched is not None:
            items = watched[0].items(items)
        if self.mapping.document not in (None, "bank_line"):
            yield from items
        else:
            yield from _with_statement(items, self.format, name)
        if (notice := skipped_rows.notice(name)) is not None:
            yield notice
        if (notice := strays.notice(name)) is not None:
            yield notice

    def _date_order(self, header: Header, name: str) -> tuple[DateOrderWatch, _Cells] | None:
        """A watch over the file's date columns read with day and month as numbers (`%m/%d/%Y`), and
        where each is: a file showing the other order keeps its dates that read either way out of the
        ledger (`date_order`)."""
        columns: dict[str, tuple[str, Order, str]] = {}
        cells: list[tuple[str, int]] = []
        where = self.mapping_file or "the mapping file"
        for field in self.mapping.fields:
            if field.target not in ("date", "due_date", "value_date") or field.source is None:
                continue
            index = header.index(field.source)
            step = next((s for s in field.convert if s.name in ("date", "datetime")), None)
            found = format_order(step.options.get("format", ())) if step is not None else None
            if index is None or found is None:
                continue
            order, format = found
            fix = f"set the date format of {field.source} in {where} to {swapped(format)!r}"
            columns[field.target] = (f"{field.target} ({field.source})", order, fix)
            cells.append((field.target, index))
        return (DateOrderWatch(name, columns, self.mapping_file), tuple(cells)) if columns else None

    # --- one row, one document ---------------------------------------------------------------------

    def _single_rows(
        self, reader: RowReader, table: Iterator[Row], name: str, skipped_rows: SkippedRows
    ) -> Iterator[Parsed]:
        numbered = _Numbering() if self.mapping.number_duplicates else None
        read, skipped = reader.read, reader.skipped if reader.skips else None
        withdrawn: set[str] = set()
        for row in table:
            if row.error is not None and not _passed_over(reader, row):
                yield Problem(Origin(name, row.number, row.raw), row.error)
            elif skipped is None or not skipped(row):
                yield from self._one(name, row, read(row)[1], numbered)
            else:
                skipped_rows.count(row)
                how = reader.withdraws(row)
                if how:
                    yield from self._withdrawal(name, row, read(row)[1], withdrawn, how)

    def _withdrawal(
        self, name: str, row: Row, draft: Draft | str, withdrawn: set[str], how: Withdraws
    ) -> list[Parsed]:
        """A row its source withdrew (void, deleted, un-audited: `how`, its rule's `withdraws`), once per
        id: it reverses the document imported under that id (and a payment with bank charges the credit
        note of them). One that cannot be read names nothing to reverse: a person is told."""
        if isinstance(draft, str):
            return [
                Problem(
                    Origin(name, row.number, row.raw),
                    f"a row its source withdrew (void, deleted) cannot be read ({draft}): the document it "
                    "withdraws is not reversed; reverse it by hand (`connector ledger reverse ENTRY`) if it "
                    "was imported, then resolve this record",
                )
            ]
        if draft.external_id in withdrawn:
            return []
        withdrawn.add(draft.external_id)
        gone = Document(
            kind=draft.kind,
            source=self.format,
            external_id=withdrawal_id(draft.external_id),
            date=draft.date,
            amount=draft.amount,
            origin=Origin(name, row.number, row.raw),
            party=draft.party,
            number=draft.number,
            reverses=draft.external_id,
            withdrawn=True,
            withdrawn_if_imported=how == "if_imported",
            account=draft.account,
        )
        return [gone, kept_withdrawn(gone)] if draft.bank_charges else [gone]

    def _one(self, name: str, row: Row, draft: Draft | str, numbered: _Numbering | None) -> list[Parsed]:
        """The document of one row, with the allocation the row names (all of it, without an amount)."""
        origin = Origin(name, row.number, row.raw)
        if isinstance(draft, str):
            return [Problem(origin, draft)]
        allocations = _allocations([draft]) if draft.allocation_invoice is not None else ()
        if isinstance(allocations, str):
            return [Problem(origin, f"{draft_label(draft)}: {allocations}")]
        return self._document(draft, origin, allocations, numbered)

    # --- consecutive rows with one group value, one document ---------------------------------------

    def _grouped_rows(
        self,
        reader: RowReader,
        table: Iterator[Row],
        name: str,
        skipped_rows: SkippedRows,
        apart: Mapping[str, list[tuple[int, int]]],
    ) -> Iterator[Parsed]:
        numbered = _Numbering() if self.mapping.number_duplicates else None
        read, skipped = reader.read, reader.skipped if reader.skips else None
        withdrawn: set[str] = set()
        members: list[tuple[Row, Draft | str]] = []
        current: str | None = None
        follows = False  # the row before was the group's: a row under merged cells may continue it
        passed: list[tuple[Row, Draft | str]] = []  # a skipped document's rows: its further ones are its
        passed_key: str | None = None
        held = _Held()  # an unreadable row, with the documents beside it that may have a row in it
        for row in table:
            if row.error is not None and not _passed_over(reader, row):
                held.add_unreadable(row, members, current)
                members, current, follows, passed = [], None, False, []
                continue
            if held.rows and not (skipped is not None and skipped(row)) and held.takes(row, read(row)[0]):
                continue
            if held.rows:
                yield held.problem(name)
            if skipped is not None and skipped(row):
                skipped_rows.count(row)
                follows = False  # its further rows are not the one before's
                passed_key, passed_draft = read(row)
                passed = [(row, passed_draft)]
                how = reader.withdraws(row)
                if how:
                    yield from self._withdrawal(name, row, passed_draft, withdrawn, how)
                continue
            key, draft = read(row)
            if key is None and passed and (continued := _continuing(read, row, passed, passed_key)):
                passed.append(continued)  # under merged cells, the skipped document's further entry
                skipped_rows.count(passed[0][0])  # skipped with it, by its rule
                continue
            passed = []
            if key is None and follows:  # a merged cell's blank, filled down, may continue the document
                continued = _continuing(read, row, members, current)
                if continued is not None:
                    members.append(continued)
                    continue
            if key is None:  # no group value: on its own, whatever it is
                yield from self._one(name, row, draft, numbered)
                follows = False
                continue
            if key != current and members:
                yield from self._group_or_part(name, members, current, numbered, apart)
                members = []
            current = key
            members.append((row, draft))
            follows = True
        if held.rows:
            yield held.problem(name)
        if members:
            yield from self._group_or_part(name, members, current, numbered, apart)

    def _parts_lose_allocations(self, reader: RowReader) -> bool:
        """Whether a document whose rows stand apart in the file (an export sorted otherwise) would lose
        allocations if its parts were read as documents: a receipt's first part posted, or taken as a
        change of the whole imported before, without the invoices the other parts pay. An invoice's
        detail rows repeat the whole invoice (each part is all of it), and composite ids
        (`number_duplicates`) repeat for documents alike."""
        allocating = any(target in reader.labels for target in ("allocation_invoice", "allocation_amount"))
        return allocating and not self.mapping.number_duplicates

    def _apart(
        self, path: str | Path, name: str, reader: RowReader, header: Row
    ) -> dict[str, list[tuple[int, int]]]:
        """The group values whose rows stand apart in the file, with the first and last row of each part.
        The file is read ahead for them, each row's group value alone: the hash of each part's value is
        kept, eight bytes a part (in 256 arrays, each sorted in turn to find the hashes met twice), and
        the values found again are read once more for their parts; never the file's rows themselves."""
        starts = [array("q") for _ in range(256)]  # the hashes of the parts' values, by their last byte
        current: str | None = None
        for _, key in self._keys(path, name, reader, header):
            if key != current:  # a part starts
                hashed = hash(key)
                starts[hashed & 0xFF].append(hashed)
                current = key
        again: set[int] = set()
        for hashes in starts:
            ordered = sorted(hashes)
            again.update(one for one, following in pairwise(ordered) if one == following)
            del hashes[:]
        if not again:
            return {}
        parts: dict[str, list[tuple[int, int]]] = {}
        current = None
        for number, key in self._keys(path, name, reader, header):
            if hash(key) in again:
                spans = parts.setdefault(key, [])
                if key != current:
                    spans.append((number, number))
                else:
                    spans[-1] = (spans[-1][0], number)
            current = key
        return {key: spans for key, spans in parts.items() if len(spans) > 1}  # a hash shared, not a key

    def _keys(self, path: str | Path, name: str, reader: RowReader, header: Row) -> Iterator[tuple[int, str]]:
        """(row number, group value) of the rows `_grouped_rows` groups by their value; a row without one
        (under merged cells), skipped or unreadable ends no group there either."""
        table = self._rows(path, name)
        next(table, None)
        for row in _without_repeated_header(table, header):
            if row.error is None and not (reader.skips and reader.skipped(row)):
                key = reader.key(row)
                if key is not None:
                    yield row.number, key

    def _group_or_part(
        self,
        name: str,
        members: list[tuple[Row, Draft | str]],
        key: str | None,
        numbered: _Numbering | None,
        apart: Mapping[str, list[tuple[int, int]]],
    ) -> list[Parsed]:
        """The group's document, or when its rows stand apart in the file (`apart`), a problem naming
        them all: every part waits, none posted without the others' allocations."""
        parts = apart.get(key) if key is not None else None
        if parts is None:
            return self._group(name, members, numbered)
        rows = [row for row, _ in members]
        spans = ", ".join(
            f"row {first}" if first == last else f"rows {first}–{last}" for first, last in parts
        )
        kind = (self.mapping.document or "document").replace("_", " ")
        return [
            Problem(
                Origin(name, rows[0].number, "\n".join(row.raw for row in rows)),
                f"the rows of {kind} {key} stand apart in the file ({spans}; here {_span(rows)}): posted "
                "part by part, a part would lack the others' allocations, so every part waits here; import "
                f"an export listing each {kind}'s rows together (sorted by its number), or resolve these "
                "records",
            )
        ]

    def _group(
        self, name: str, members: list[tuple[Row, Draft | str]], numbered: _Numbering | None
    ) -> list[Parsed]:
        if len(members) == 1:
            return self._one(name, members[0][0], members[0][1], numbered)
        first_row = members[0][0]
        origin = Origin(name, first_row.number, "\n".join(row.raw for row, _ in members))
        span = _span([row for row, _ in members])
        failures = [(row, draft) for row, draft in members if isinstance(draft, str)]
        if failures:
            details = "; ".join(f"row {row.number}: {reason}" for row, reason in failures)
            return [Problem(origin, f"{span} are one document and cannot be read: {details}")]
        drafts = [draft for _, draft in members if isinstance(draft, Draft)]
        first = drafts[0]
        differing = head_differences(drafts)
        if differing:
            return [
                Problem(origin, f"{span} are one {draft_label(first)} but differ in {', '.join(differing)}")
            ]
        allocations = _allocations(drafts)
        if isinstance(allocations, str):
            return [Problem(origin, f"{span} ({draft_label(first)}): {allocations}")]
        return self._document(first, origin, allocations, numbered)

    def _document(
        self, draft: Draft, origin: Origin, allocations: tuple[Allocation, ...], numbered: _Numbering | None
    ) -> list[Parsed]:
        """The row's or group's document; a payment the bank kept charges of, the receipt of what it
        received and the credit note of the charges (`banked_and_kept`)."""
        external_id = draft.external_id if numbered is None else numbered(draft.external_id)
        document = Document(
            kind=draft.kind,
            source=self.format,
            external_id=external_id,
            date=draft.date,
            amount=draft.amount,
            origin=origin,
            party=draft.party,
            number=draft.number,
            due_date=draft.due_date,
            value_date=draft.value_date,
            references=draft.references,
            allocations=allocations,
            account=draft.account,
            content_id=self.mapping.number_duplicates,
        )
        if not draft.bank_charges:
            return [document]
        return [*banked_and_kept(document, Money(draft.bank_charges, draft.amount.currency))]


_Cells = tuple[tuple[str, int], ...]  # (the document attribute a date column gives, its position)


def _seen_by(watch: DateOrderWatch, cells: _Cells, table: Iterator[Row]) -> Iterator[Row]:
    """The rows, each one's date cells told to `watch` as they pass."""
    see = watch.see
    for row in table:
        values = row.cells
        for target, index in cells:
            if index < len(values):
                see(row.number, target, values[index])
        yield row


def _passed_over(reader: RowReader, row: Row) -> bool:
    """Whether a skip rule passes the row over, withdrawing nothing: a totals row (合计) whose formula no
    spreadsheet calculated is skipped as any totals row, not held as unreadable."""
    return bool(reader.skips) and reader.skipped(row) and not reader.withdraws(row)


def _continuing(
    read: Callable[[Row], tuple[str | None, Draft | str]],
    row: Row,
    members: list[tuple[Row, Draft | str]],
    current: str | None,
) -> tuple[Row, Draft] | None:
    """A row without a group value that continues the group above it: a document's further allocation
    under merged cells (Excel leaves them blank below their first row, and so does its CSV). Its blank
    cells are filled down from the row above; it continues the group when it then has the group's value
    and the document's own values, so that it differs only in its allocation (or, a document of no
    allocations, an invoice's further item, in nothing it reads), and the allocations still fit in the
    amount. (The row, filled, and its draft; its raw text stays as the file has it.)"""
    above = members[-1][0].cells
    cells = [
        cell if cell.strip() else above[i] if i < len(above) else cell for i, cell in enumerate(row.cells)
    ]
    filled = Row(row.number, cells + above[len(cells) :], row.raw)
    key, draft = read(filled)
    drafts = [d for _, d in members if isinstance(d, Draft)]
    if (
        key != current
        or isinstance(draft, str)
        or len(drafts) < len(members)
        or head_differences([*drafts, draft])
    ):
        return None
    rows = (*drafts, draft)
    if all(d.allocation_invoice is None and d.allocation_amount is None for d in rows):
        return filled, draft  # an invoice's further item: nothing but the document's own values to read
    if (
        draft.allocation_invoice is not None
        and draft.allocation_invoice == drafts[-1].allocation_invoice
        and draft.allocation_invoice not in {cell.strip() for cell in row.cells}
    ):
        return None  # the invoice above, filled down: a totals row (合计) under the document, not an entry
    applied = [d.allocation_amount for d in rows]
    if None in applied or sum(a for a in applied if a is not None) > draft.amount.minor:
        return None  # not a further part of the amount: a row of its own
    return filled, draft


def _with_statement(items: Iterator[Parsed], source: str, name: str) -> Iterator[Parsed]:
    """`items`, then, when they held bank lines, the header of the statement they are: a bank's export
    of lines states no balances, and its period is its lines' dates (`Statement` after its lines, as
    the statement formats give it)."""
    first: Document | None = None
    for item in items:
        if first is None and isinstance(item, Document) and item.kind == "bank_line":
            first = item
        yield item
    if first is not None:
        yield Statement(source, first.account or "", first.amount.currency, Origin(name))


class _Held:
    """Rows that cannot be read, and the documents beside them. An unreadable row (a cell with an
    unquoted comma splits it) may be a row of the document above it or of the one below it: posted
    without it, that document would lose an allocation (an invoice it paid left open). So the document
    above, the row, and the document below it wait together, as one record naming the row."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.unreadable: list[tuple[Row, str]] = []
        self.key: str | None = None  # the group whose further rows are held too
        self.bridging = False  # the next document, whatever its value, is held too

    def add_unreadable(self, row: Row, members: list[tuple[Row, Draft | str]], current: str | None) -> None:
        assert row.error is not None  # an unreadable row
        self.rows += [*(member for member, _ in members), row]
        self.unreadable.append((row, row.error))
        self.key = current if members else self.key
        self.bridging = True

    def takes(self, row: Row, key: str | None) -> bool:
        """Whether `row` is held too: a further row of a held document (or one under merged cells)."""
        if key is None or key == self.key:
            self.rows.append(row)
            if key is not None:  # the document above goes on past the unreadable row: the row is its own
                self.bridging = False
            return True
        if self.bridging:
            self.rows.append(row)
            self.key, self.bridging = key, False
            return True
        return False

    def problem(self, name: str) -> Problem:
        rows, unreadable = self.rows, self.unreadable
        origin = Origin(name, rows[0].number, "\n".join(row.raw for row in rows))
        what = "; ".join(f"row {row.number} cannot be read: {reason}" for row, reason in unreadable)
        self.rows, self.unreadable, self.key, self.bridging = [], [], None, False
        if len(rows) == len(unreadable):
            return Problem(origin, what)
        return Problem(
            origin,
            f"{what}; the documents beside it ({_span(rows)}) may have a row in "
            "it, so they wait with it "
            "(posted without it, one would lose an allocation)",
        )


def _without_repeated_header(table: Iterator[Row], header: Row) -> Iterator[Row]:
    """The rows without the header repeated at each page of a printed report."""
    heading = [cell.strip() for cell in header.cells]
    for row in table:
        if row.error is None and [cell.strip() for cell in row.cells] == heading:
            continue
        yield row


def _span(rows: list[Row]) -> str:
    first, last = rows[0].number, rows[-1].number
    return f"row {first}" if first == last else f"rows {first}–{last}"


def _allocations(drafts: list[Draft]) -> tuple[Allocation, ...] | str:
    """Each row's allocation; a reason when they exceed the document or one lacks its amount."""
    currency = drafts[0].amount.currency
    found: list[Allocation] = []
    for draft in drafts:
        if draft.allocation_invoice is None:
            continue
        applied = draft.allocation_amount
        if applied is None:
            if len(drafts) > 1:
                return f"invoice {draft.allocation_invoice} has no amount applied"
            applied = draft.amount.minor
        if applied:
            found.append(Allocation(draft.allocation_invoice, Money(applied, currency)))
    total = sum(allocation.amount.minor for allocation in found)
    if drafts[0].kind != "bank_line" and total > drafts[0].amount.minor:
        applied_text = Money(total, currency)
        return f"the amounts applied ({applied_text}) exceed the document's amount ({drafts[0].amount})"
    return tuple(found)


class _Numbering:
    """`#2`, `#3` … on composite ids repeated within one file (two identical bank lines on one day)."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, external_id: str) -> str:
        count = self.seen.get(external_id, 0) + 1
        self.seen[external_id] = count
        return external_id if count == 1 else f"{external_id}#{count}"
