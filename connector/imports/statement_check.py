"""Bank reconciliation (对账): one bank statement against the ledger's bank account over its period.

Pure: the statement's lines and header, the ledger's bank entries and what the import did with each
line come in as plain data (`statement_reconcile` reads them); a `StatementReport` comes out.

A line finds its ledger entry
1. through the import: the import recorded the line (source, external id) with the entry it posted;
2. else by amount and date: a bank entry of the same currency and signed amount (often posted from
   another source, a Zoho Books payment …) dated within `window_days` of the line's booking or value
   date. Each entry matches one line at most: the closest date wins, then a shared reference.

An entry and its reversal cancel when both fall on the same side of the period: neither is looked at.
When only one of them is in the period it stays, noted with the other's date.

Entries are placed in the period by posting date, not value date: a statement's period is one of
booking dates, and a statement line is posted on its booking date.

The statement's bank account is compared with its own ledger account when it is kept apart
(`ledger.chart.bank_accounts`), else with the bank role's; receipts on the bank role's account whose
bank account is not known may match the lines of any statement (and count where they match).
The ledger's bank accounts hold only what the connector posted (customer receipts), so movements over
the period are compared, not balances. The difference (statement movement − ledger movement) is
explained by Σ lines missing from the ledger − Σ entries missing from the bank + Σ lines matched to an
entry dated outside the period (timing); a statement reconciles when nothing is left unexplained. Lines
and entries in another currency than the statement's (a USD receipt on a EUR account) are matched alike
and listed, but kept out of the balances: the statement states none in that currency, so it reconciles
in its own currency only (`other_currencies`).

A line a later line of the statement replaces (OFX `CORRECTACTION=REPLACE`) is no longer the bank's: it
is listed as replaced, neither counted in the statement's movement nor matched (the import reverses its
entry and posts the replacement; a line linked to a receipt another record posted, it holds the
replacement for a person, who reverses that receipt). A replacement of a line of an earlier statement
counts in full, as that line counted in its own statement; once imported, the reversal of that line's
entry is an entry missing from the bank. A line corrected twice is the first correction's, as the
import has it: a second deletion is listed with the replaced lines, in no balance (the import posts
nothing for it), a second replacement counts in full (`statement_corrections`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from connector.documents import Document, Origin, Problem, Statement
from connector.imports.matching import tokens
from connector.imports.statement_corrections import Corrections
from connector.money import Money

# Import statuses whose entry is the line's: a line reversed later still matches its entry when the
# reversal falls outside the period (inside it, the two cancel and the line is missing).
# A linked line's entry is its receipt's, posted from the accounting system's payment; a bank's return
# (a reversal line) has the reversal of the receipt it returned.
_POSTED = ("posted", "unapplied", "rejected", "reversed", "linked", "reversal")


@dataclass(frozen=True, slots=True)
class BankEntry:
    """A journal entry's movement on the bank account in one currency (money in positive: a debit)."""

    entry_id: int
    source: str
    external_id: str
    posting_date: date
    amount: Money
    memo: str = ""
    voucher: str = ""
    document_type: str = ""
    is_reversal: bool = False
    counterpart_id: int | None = None  # the other entry of its entry + reversal pair
    counterpart_date: date | None = None
    # Posted to another bank account than the statement's (a receipt whose bank account was not known):
    # it counts for this statement once a line matches it, and is nobody's to miss otherwise.
    unassigned: bool = False
    # Posted by (or linked to) a line of another statement: that line's, never matched by amount here.
    elsewhere: bool = False


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """What the import did with a line: `status` (posted, unapplied, rejected — by a person, as no
    customer's receipt —, reversed, ignored, reversal, linked),
    the entry it posted (the latest revision's; a linked line's receipt's, a reversal line's reversal) and
    its reason in words."""

    status: str
    entry_id: int | None = None
    note: str = ""


@dataclass(frozen=True)
class LedgerSide:
    """The ledger as one statement is compared with it: bank entries around the period (and those its
    lines posted, whatever their date), import records and quarantine reasons by line key."""

    entries: Sequence[BankEntry] = ()
    imported: Mapping[tuple[str, str], ImportRecord] = field(default_factory=dict)
    quarantined: Mapping[tuple[str, str], str] = field(default_factory=dict)
    ledger_account: str = ""  # the ledger account of the statement's bank account
    ledger_note: str = ""  # why that account, when it may surprise
    # Lines of a batched entry imported from another statement in its other form (whole, or split).
    in_other_form: frozenset[tuple[str, str]] = frozenset()
    # Lines quarantined, then resolved by a person (a bank's return of a receipt reversed by hand): the
    # reason and the resolution. Not imported, and yet dealt with.
    resolved: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatementLines:
    """One statement of a file with its lines and unreadable entries; `statement` is None for lines at
    the end of a file that no statement header followed (a file cut short)."""

    statement: Statement | None
    lines: tuple[Document, ...] = ()
    unreadable: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class MatchedLine:
    line: Document
    entry: BankEntry
    by_import: bool
    days: int  # between the line's booking (or value) date and the entry's posting date
    in_period: bool  # the entry's posting date; outside, the pair is a timing difference
    import_status: str | None = None
    reference: str | None = None  # a reference the line and the entry share (amount-and-date matches)

    @property
    def how(self) -> str:
        if self.by_import and self.import_status == "linked":
            entry = self.entry
            return f"imported from this statement, the receipt {entry.source} {entry.external_id} posted"
        if self.by_import:
            return "imported from this statement"
        plural = "" if self.days == 1 else "s"
        found = f"amount and date (±{self.days} day{plural})"
        return f"{found}, reference {self.reference}" if self.reference else found


@dataclass(frozen=True, slots=True)
class MissingLine:
    line: Document
    reason: str
    # The ledger holds other money for the line: the bank sent it again otherwise, or (`receipt_changed`)
    # the receipt it is linked to (a payment) changed since.
    changed: bool = False
    receipt_changed: bool = False


@dataclass(frozen=True, slots=True)
class MissingEntry:
    entry: BankEntry
    note: str = ""


@dataclass(frozen=True, slots=True)
class Balances:
    """Movements over the period in the statement's currency, and the difference explained."""

    opening: Money | None
    closing: Money | None
    lines_total: Money
    ledger_movement: Money
    missing_lines: Money
    missing_entries: Money
    timing: Money

    @property
    def statement_movement(self) -> Money:
        """Closing − opening when the statement states both, else the sum of its lines."""
        if self.opening is not None and self.closing is not None:
            return self.closing - self.opening
        return self.lines_total

    @property
    def self_check(self) -> Money | None:
        """opening + Σ lines − closing (zero when the statement adds up); None when it states no two
        balances to check."""
        if self.opening is None or self.closing is None:
            return None
        return self.opening + self.lines_total - self.closing

    @property
    def difference(self) -> Money:
        return self.statement_movement - self.ledger_movement

    @property
    def explained(self) -> Money:
        return self.missing_lines - self.missing_entries + self.timing

    @property
    def unexplained(self) -> Money:
        return self.difference - self.explained


@dataclass(frozen=True, slots=True)
class StatementReport:
    statement: Statement
    header_read: bool  # False: lines no statement header followed, so no balances or period to trust
    period: Period | None
    matched: tuple[MatchedLine, ...]
    missing_lines: tuple[MissingLine, ...]
    missing_entries: tuple[MissingEntry, ...]
    other_matched: tuple[MatchedLine, ...]  # lines in another currency than the statement's
    other_missing: tuple[MissingLine, ...]
    unreadable: tuple[Problem, ...]
    balances: Balances
    ledger_account: str = ""
    ledger_note: str = ""
    other_missing_entries: tuple[MissingEntry, ...] = ()  # entries in another currency than the statement's
    # Lines an OFX correction takes out: replaced by a later line, or deleting a line already corrected.
    replaced: tuple[MissingLine, ...] = ()

    @property
    def other_currencies(self) -> tuple[str, ...]:
        """The currencies other than the statement's of its lines and of the entries missing from the bank:
        listed, but checked against no balance."""
        lines = [m.line for m in self.other_matched] + [m.line for m in self.other_missing]
        found = {line.amount.currency for line in lines}
        return tuple(sorted(found | {m.entry.amount.currency for m in self.other_missing_entries}))

    @property
    def reconciles(self) -> bool:
        """Nothing unexplained, nothing unread, and no line the ledger holds otherwise (a line and its
        later version's entry would explain each other away)."""
        changed = any(missing.changed for missing in self.missing_lines)
        return (
            self.header_read and self.balances.unexplained.minor == 0 and not self.unchecked and not changed
        )

    @property
    def unchecked(self) -> tuple[Problem, ...]:
        """Entries that could not be read, whose money no balance accounts for: the statement states no
        opening and closing balance to check its lines against."""
        if self.balances.self_check is not None:
            return ()
        return tuple(problem for problem in self.unreadable if not problem.unbooked)


def header_of(group: StatementLines) -> Statement:
    """The group's statement, or one made up from its first line when no header was read."""
    if group.statement is not None:
        return group.statement
    first = group.lines[0]
    return Statement(first.source, first.account or "", first.amount.currency, Origin(first.origin.file))


def statement_period(statement: Statement, lines: Sequence[Document]) -> Period | None:
    """The statement's period; what it does not state is taken from its lines' booking dates."""
    dates = [line.date for line in lines]
    start = statement.period_start or (min(dates) if dates else statement.period_end)
    end = statement.period_end or (max(dates) if dates else start)
    if start is None or end is None:
        return None
    if statement.period_from_balances and statement.period_start is not None and start < end:
        # The day after the opening balance's date, or the first line's date for banks that date the
        # opening balance on the statement's own first day.
        start = min([start + timedelta(days=1), *dates])
    return Period(start, end)


def check_statement(group: StatementLines, ledger: LedgerSide, window_days: int) -> StatementReport:
    statement = header_of(group)
    currency = statement.currency
    period = statement_period(statement, group.lines)
    cancelled = _cancelled(ledger.entries, period)
    corrections = Corrections.of(group.lines)
    left_out = corrections.left_out
    matcher = _Matcher(ledger, period, window_days, cancelled, left_out, corrections.notes)
    matched, missing = matcher.match(group.lines)
    used = {m.entry.entry_id for m in matched}
    # An unassigned receipt a line claimed is this account's, and so is its reversal.
    claimed = used | {e.counterpart_id for e in ledger.entries if e.entry_id in used and e.counterpart_id}
    counted = [
        e for e in ledger.entries if _within(period, e) and (e.entry_id in claimed or not e.unassigned)
    ]
    in_period = [e for e in counted if e.amount.currency == currency]
    other_form = _other_form_notes(group.lines, ledger.in_other_form)
    replaced_notes = corrections.entry_notes(ledger.imported, ledger.quarantined)
    missed = [
        MissingEntry(e, _entry_note(e) or other_form(e) or replaced_notes.get(e.entry_id, ""))
        for e in counted
        if e.entry_id not in used and e.entry_id not in cancelled
    ]
    missing_entries = tuple(m for m in missed if m.entry.amount.currency == currency)
    own_matched = tuple(m for m in matched if m.line.amount.currency == currency)
    own_missing = tuple(m for m in missing if m.line.amount.currency == currency)
    balances = Balances(
        opening=_in_currency(statement.opening, currency),
        closing=_in_currency(statement.closing, currency),
        lines_total=_total(
            (
                line.amount
                for index, line in enumerate(group.lines)
                if line.amount.currency == currency and index not in left_out
            ),
            currency,
        ),
        ledger_movement=_total((e.amount for e in in_period), currency),
        missing_lines=_total((m.line.amount for m in own_missing), currency),
        missing_entries=_total((m.entry.amount for m in missing_entries), currency),
        timing=_total((m.entry.amount for m in own_matched if not m.in_period), currency),
    )
    return StatementReport(
        statement=statement,
        header_read=group.statement is not None,
        period=period,
        matched=own_matched,
        missing_lines=own_missing,
        missing_entries=missing_entries,
        other_matched=tuple(m for m in matched if m.line.amount.currency != currency),
        other_missing=tuple(m for m in missing if m.line.amount.currency != currency),
        unreadable=group.unreadable,
        balances=balances,
        ledger_account=ledger.ledger_account,
        ledger_note=ledger.ledger_note,
        other_missing_entries=tuple(m for m in missed if m.entry.amount.currency != currency),
        replaced=tuple(
            MissingLine(group.lines[index], corrections.left_out_reason(index)) for index in sorted(left_out)
        ),
    )


class _Matcher:
    """Lines to entries: through the import first, then by amount and date, each entry once; the lines
    `left_out` (by index: those a later line replaced, deletions of a line already corrected) are neither
    matched nor missing; `notes` says what each line of a deletion (OFX DELETE) pair, or correcting a
    line already corrected, is, by index, for lines never imported."""

    def __init__(
        self,
        ledger: LedgerSide,
        period: Period | None,
        window_days: int,
        cancelled: set[int],
        left_out: set[int],
        notes: Mapping[int, str],
    ) -> None:
        self.ledger = ledger
        self.left_out = left_out
        self.notes = notes
        self.period = period
        self.window = window_days
        self.cancelled = cancelled
        self.by_id = {e.entry_id: e for e in ledger.entries}
        self.used: dict[int, int] = {}  # entry id → index of the line it matched

    def match(self, lines: Sequence[Document]) -> tuple[list[MatchedLine], list[MissingLine]]:
        found: dict[int, MatchedLine] = {}
        for index, line in enumerate(lines):
            record = self.ledger.imported.get((line.source, line.external_id))
            entry = self.by_id.get(record.entry_id) if record and record.entry_id is not None else None
            if (
                index not in self.left_out
                and record is not None
                and record.status in _POSTED
                and entry is not None
                and entry.entry_id not in self.cancelled
                and entry.entry_id not in self.used
                and entry.amount == line.amount  # else the line changed since (its next revision posted)
            ):
                self.used[entry.entry_id] = index
                found[index] = self._matched(line, entry, by_import=True, status=record.status)
        found.update(self._by_amount_and_date(lines, found))
        matched = [found[index] for index in sorted(found)]
        missing = [
            self._missing(i, line)
            for i, line in enumerate(lines)
            if i not in found and i not in self.left_out
        ]
        return matched, missing

    def _missing(self, index: int, line: Document) -> MissingLine:
        posted = self._changed(line)
        linked = posted is not None and self._linked_receipt(line, posted)
        return MissingLine(line, self._why_missing(index, line), posted is not None, linked)

    def _by_amount_and_date(
        self, lines: Sequence[Document], found: Mapping[int, MatchedLine]
    ) -> dict[int, MatchedLine]:
        """The statement's own account's entries before unassigned receipts, then closest dates first over
        every (line, entry) pair, so a nearer line is never robbed of its entry by an earlier one; then a
        shared reference; then file order."""
        by_amount: dict[tuple[str, int], list[BankEntry]] = {}
        for entry in self.ledger.entries:
            if (
                entry.entry_id not in self.cancelled
                and entry.entry_id not in self.used
                and not entry.elsewhere
            ):
                by_amount.setdefault((entry.amount.currency, entry.amount.minor), []).append(entry)
        pairs: list[tuple[bool, int, bool, int, date, int, str | None]] = []
        for index, line in enumerate(lines):
            if index in found or index in self.left_out or not self._may_match_by_amount(line):
                continue
            for entry in by_amount.get((line.amount.currency, line.amount.minor), ()):
                days = _days_apart(line, entry.posting_date)
                if days <= self.window:
                    shared = _shared_reference(line, entry)
                    pairs.append(
                        (
                            entry.unassigned,
                            days,
                            shared is None,
                            index,
                            entry.posting_date,
                            entry.entry_id,
                            shared,
                        )
                    )
        matched: dict[int, MatchedLine] = {}
        for _, _days, _, index, _, entry_id, shared in sorted(pairs):
            if index in matched or entry_id in self.used:
                continue
            self.used[entry_id] = index
            matched[index] = self._matched(lines[index], self.by_id[entry_id], False, None, shared)
        return matched

    def _may_match_by_amount(self, line: Document) -> bool:
        """Not a line the import reversed or that reverses another (the pair nets out on the statement),
        nor one whose own entry was reversed, nor a batch imported in its other form (its money is
        those entries', never another receipt's of that amount)."""
        key = (line.source, line.external_id)
        record = self.ledger.imported.get(key)
        if record is None:
            return key not in self.ledger.in_other_form
        return record.status not in ("reversed", "reversal") and record.entry_id not in self.cancelled

    def _matched(
        self,
        line: Document,
        entry: BankEntry,
        by_import: bool,
        status: str | None = None,
        reference: str | None = None,
    ) -> MatchedLine:
        days = _days_apart(line, entry.posting_date)
        return MatchedLine(line, entry, by_import, days, _within(self.period, entry), status, reference)

    def _changed(self, line: Document) -> BankEntry | None:
        """The entry of the line's latest revision, when its amount is another than the line's."""
        record = self.ledger.imported.get((line.source, line.external_id))
        posted = self.by_id.get(record.entry_id) if record and record.entry_id is not None else None
        if posted is None or posted.amount.currency != line.amount.currency or posted.amount == line.amount:
            return None
        return posted

    def _linked_receipt(self, line: Document, posted: BankEntry) -> bool:
        """Whether `posted`, the entry of other money the ledger holds for `line`, is the receipt's the line
        is linked to (another source's: a payment changed since), not the line's own next revision."""
        record = self.ledger.imported.get((line.source, line.external_id))
        return posted.source != line.source or (record is not None and record.status == "linked")

    def _why_missing(self, index: int, line: Document) -> str:
        key = (line.source, line.external_id)
        record = self.ledger.imported.get(key)
        money_out = line.amount.minor < 0
        if record is None and key in self.ledger.in_other_form:
            form = "as its transactions" if line.external_id == line.batch else "as one batched entry"
            return f"imported from another statement {form}: the same money, matched there"
        if record is None:
            quarantined = self.ledger.quarantined.get(key)
            if quarantined is not None:
                return f"quarantined: {quarantined}"
            if (resolved := self.ledger.resolved.get(key)) is not None:
                reason, resolution = resolved
                return f"not posted: quarantined, then resolved ({resolution}): {reason}"
            if (note := self.notes.get(index)) is not None:
                return f"{note}, never imported"
            if money_out:
                return f"{_money_out(line)}, never imported"
            return "never imported" if line.amount.minor else "zero amount, never imported"
        if record.status == "ignored":
            if money_out:
                return f"{_money_out(line)}, not posted"
            return f"{record.note}, not posted" if record.note else "zero amount: nothing to post"
        if record.status == "reversal":
            what = record.note or "a reversal"
            return f"{what}: the import reversed the entry of the line it cancels, this one is not posted"
        if record.status == "reversed":
            return "reversed by a later line: its entry and the reversal cancel"
        if record.entry_id in self.cancelled:
            return f"its entry {record.entry_id} was reversed"
        if (posted := self._changed(line)) is not None and self._linked_receipt(line, posted):
            return (
                f"linked to the receipt {posted.source} {posted.external_id}, which changed since to "
                f"{posted.amount} (entry {posted.entry_id}): the ledger holds none of this line's "
                f"{line.amount}"
            )
        if posted is not None:
            return (
                f"changed since this statement: the bank sent it again as {posted.amount}, posted as entry "
                f"{posted.entry_id} (this line's {line.amount} was reversed)"
            )
        other = self.used.get(record.entry_id) if record.entry_id is not None else None
        if other is not None and other != index:
            return f"imported once as entry {record.entry_id}, which an earlier line with the same id matched"
        if record.entry_id is not None:
            return f"imported as entry {record.entry_id}, which has no {line.amount.currency} bank posting"
        return f"imported ({record.status}), not posted"


def _money_out(line: Document) -> str:
    if line.bank_reversal:
        return "money out (a reversal booked by the bank): not a receivable"
    return "money out: not a receivable"


def _entry_note(entry: BankEntry) -> str:
    """Why an entry of the period still counts although it was reversed or reverses another."""
    if entry.counterpart_id is None or entry.counterpart_date is None:
        return ""
    if entry.is_reversal:
        return f"reverses entry {entry.counterpart_id} of {entry.counterpart_date}, outside the period"
    return f"reversed by entry {entry.counterpart_id} on {entry.counterpart_date}, outside the period"


def _other_form_notes(
    lines: Sequence[Document], in_other_form: frozenset[tuple[str, str]]
) -> Callable[[BankEntry], str]:
    """What an entry is when it is a batch's other form, the same money as a line of this statement
    (`Document.batch`): its transactions where the statement books it whole, the whole where the
    statement details it."""
    whole_of: dict[tuple[str, str], str] = {}  # (source, batch) → the statement's whole line
    parts_of: dict[tuple[str, str], str] = {}  # (source, batch) → the statement's first transaction
    for line in lines:
        if line.batch is None or (line.source, line.external_id) not in in_other_form:
            continue
        own = line.external_id.split("@", 1)[0]
        (whole_of if own == line.batch else parts_of).setdefault((line.source, line.batch), line.external_id)

    def note(entry: BankEntry) -> str:
        own = entry.external_id.split("@", 1)[0]
        batch, part, _ = own.partition("#")
        if part and (whole := whole_of.get((entry.source, batch))) is not None:
            return f"a transaction of {whole}, which this statement books whole: the same money"
        if not part and (first := parts_of.get((entry.source, batch))) is not None:
            return f"the whole of the batch this statement details ({first} …): the same money"
        return ""

    return note


def _cancelled(entries: Iterable[BankEntry], period: Period | None) -> set[int]:
    """Entries whose reversal pair nets to zero on the period's side: both in it or both outside."""
    return {
        e.entry_id
        for e in entries
        if e.counterpart_id is not None
        and e.counterpart_date is not None
        and _within(period, e) == (period is not None and e.counterpart_date in period)
    }


def _within(period: Period | None, entry: BankEntry) -> bool:
    return period is not None and entry.posting_date in period


def _days_apart(line: Document, day: date) -> int:
    """Days between `day` and the line's booking date or, when nearer, its value date."""
    dates = [line.date] if line.value_date is None else [line.date, line.value_date]
    return min(abs((day - d).days) for d in dates)


def _shared_reference(line: Document, entry: BankEntry) -> str | None:
    """An identifier (one with a digit: an invoice, payment or bank reference) found on both sides. A
    composite id (`sha256:…`, a line without a reference of its own) names nothing."""
    ours = tokens((_named_id(line.external_id), line.number, *line.references))
    theirs = set(tokens((_named_id(entry.external_id), entry.memo)))
    return next((t for t in ours if t in theirs and any(c.isdigit() for c in t)), None)


def _named_id(external_id: str) -> str:
    return "" if external_id.startswith("sha256:") else external_id


def _in_currency(money: Money | None, currency: str) -> Money | None:
    return money if money is not None and money.currency == currency else None


def _total(amounts: Iterable[Money], currency: str) -> Money:
    return Money(sum(amount.minor for amount in amounts), currency)
