"""Reconcile a bank statement file: read its statements, read the ledger around each one, compare them
(`statement_check`). Reads only: nothing is imported or posted.

A line's quarantine reason (open, or resolved by a person since) is found by the reference the import
gave it (file name and row) and its id, so a statement renamed since its import shows its quarantined
lines as never imported, and another download of the same name does not lend its reasons.

An entry one statement of the file matched is that statement's: the file's other statements (another
bank account's, whose lines may have the same amounts) leave it out. So is an entry no statement
matched, of the first statement that misses it: the pages of a paged statement share a day (a
continuation page starts on its opening balance's date when it has a line that day), and the entry is
missing from the bank once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session, aliased

from connector.documents import (
    Document,
    DocumentParser,
    Notice,
    Parsed,
    Problem,
    Statement,
    compact_account,
    fingerprints,
    on_account,
)
from connector.errors import FileFormatError
from connector.imports.lookalikes import exported_again_as
from connector.imports.models import ImportedDocument, ReconciliationItem
from connector.imports.recorded import by_alias, in_other_form, stored_records
from connector.imports.rules import Accounts
from connector.imports.statement_check import (
    BankEntry,
    ImportRecord,
    LedgerSide,
    StatementLines,
    StatementReport,
    check_statement,
    header_of,
    statement_period,
)
from connector.ledger.models import JournalEntry, Posting
from connector.money import Money
from connector.security.cipher import FieldCipher
from connector.sync.models import QuarantinedRecord
from connector.sync.runs import raw_input

_CHUNK = 900  # ids per IN (…): below SQLite's default limit on bound parameters


@dataclass(frozen=True)
class FileReconciliation:
    name: str
    format: str
    window_days: int
    statements: tuple[StatementReport, ...]
    stray: tuple[Problem, ...]  # unreadable entries after the last statement: the file breaks off

    @property
    def reconciles(self) -> bool:
        return not self.stray and all(report.reconciles for report in self.statements)


def reconcile_file(
    session: Session,
    path: Path,
    parser: DocumentParser,
    accounts: Accounts,
    window_days: int,
    cipher: Callable[[], FieldCipher],
) -> FileReconciliation:
    """Each statement of the file at `path` against the ledger account of its bank account (`accounts`:
    the bank accounts kept apart, and the bank role's account for the rest). `cipher` is asked for once
    the file proved a statement: a file that is none makes no key file."""
    checked: list[tuple[StatementLines, LedgerSide, StatementReport]] = []
    stray: list[Problem] = []
    for group in group_statements(parser.parse(str(path), path.name)):
        if group.statement is None and not group.lines:
            stray.extend(group.unreadable)
            continue
        ledger = read_ledger_side(session, accounts, group, window_days, cipher())
        checked.append((group, ledger, check_statement(group, ledger, window_days)))
    if not checked and not stray:
        raise FileFormatError(f"{path.name}: no bank statement in it")
    reports = _each_entry_once(checked, window_days)
    return FileReconciliation(path.name, parser.format, window_days, tuple(reports), tuple(stray))


def _each_entry_once(
    checked: Sequence[tuple[StatementLines, LedgerSide, StatementReport]], window_days: int
) -> list[StatementReport]:
    """The reports again where an entry another statement of the file matched, or missed first, was
    among their ledger entries. The statement whose line posted an entry keeps it, else the first to
    match it by amount and date; with it goes its reversal when dated in its period, unless a line of
    its own matched that (a receipt in one statement, the bank's return of it in the next). An entry no
    line matched is missing from the first statement that lists it (the pages of a paged statement share
    a day), unless it goes with its matched original: a reversal dated after that original's statement
    (a replacement's of a line of the file's earlier statement) is missing from its own. The others leave
    it out of their movement and their missing entries alike: their balances still add up."""
    owner: dict[int, int] = {}
    for by_import in (True, False):
        for index, (_, _, report) in enumerate(checked):
            for matched in (*report.matched, *report.other_matched):
                if matched.by_import == by_import:
                    owner.setdefault(matched.entry.entry_id, index)
    matched_by = dict(owner)
    for index, (_, _, report) in enumerate(checked):
        for missing in (*report.missing_entries, *report.other_missing_entries):
            counterpart = missing.entry.counterpart_id
            original = matched_by.get(counterpart, index) if counterpart is not None else index
            period = checked[original][2].period
            if original == index or period is None or missing.entry.posting_date not in period:
                owner.setdefault(missing.entry.entry_id, index)
    reports = []
    for index, (group, ledger, report) in enumerate(checked):
        theirs = {entry_id for entry_id, first in owner.items() if first != index}
        kept = tuple(
            e
            for e in ledger.entries
            if owner.get(e.entry_id) == index or (e.entry_id not in theirs and e.counterpart_id not in theirs)
        )
        if len(kept) < len(ledger.entries):
            report = check_statement(group, replace(ledger, entries=kept), window_days)
        reports.append(report)
    return reports


def group_statements(items: Iterable[Parsed]) -> Iterator[StatementLines]:
    """The parse stream cut into statements: the parsers yield each `Statement` (or the problem of its
    unreadable header) after its lines and unreadable entries. What follows the last header comes last;
    a group without its header has `statement` None."""
    lines: list[Document] = []
    problems: list[Problem] = []
    for item in items:
        if isinstance(item, Statement):
            yield StatementLines(item, tuple(lines), tuple(problems))
            lines, problems = [], []
        elif isinstance(item, Problem) and item.header:
            yield StatementLines(None, tuple(lines), (*problems, item))
            lines, problems = [], []
        elif isinstance(item, Problem):
            problems.append(item)
        elif isinstance(item, Notice):
            continue  # of the file's columns, not its figures: the import says it
        elif item.kind != "bank_line":
            raise FileFormatError(f"{item.origin.file}: not a bank statement (it holds {item.kind}s)")
        else:
            lines.append(item)
    if lines or problems:
        yield StatementLines(None, tuple(lines), tuple(problems))


def read_ledger_side(
    session: Session, accounts: Accounts, group: StatementLines, window_days: int, cipher: FieldCipher
) -> LedgerSide:
    """What the comparison needs of the ledger for one statement: the entries on its bank account's
    ledger account dated within the period widened by the window, in its currencies (in every currency
    when the account is kept apart: a receipt in another currency deposited there is its money too), and
    the entries its lines posted, whatever their date and bank account; the import's record of each line,
    and the quarantine reason of lines never imported.

    For a bank account kept apart, the receipts on the bank role's account come too, marked unassigned:
    the statement may be where that money went. Another account's entries are left out
    (`_other_accounts_left_out`)."""
    statement = header_of(group)
    own = accounts.bank_for(statement.account)
    # The bank role's account holds every account's money not kept apart: only the statement's currencies.
    currencies: set[str] | None = {statement.currency, *(line.amount.currency for line in group.lines)}
    if own != accounts.bank:
        currencies = None
    imported = _import_records(session, group.lines)
    period = statement_period(statement, group.lines)
    entries: dict[tuple[int, str], BankEntry] = {}
    if period is not None:
        window = timedelta(days=window_days)
        dated = JournalEntry.posting_date.between(period.start - window, period.end + window)
        entries.update(_bank_entries(session, (own, accounts.bank), own, currencies, dated))
    its_own = {r.entry_id for r in imported.values() if r.entry_id is not None}
    entries = _other_accounts_left_out(session, accounts, statement, entries, its_own)
    posted = sorted(its_own - {entry_id for entry_id, _ in entries})
    every_bank = (accounts.bank, *accounts.banks.values())
    for start in range(0, len(posted), _CHUNK):
        chunk = JournalEntry.id.in_(posted[start : start + _CHUNK])
        entries.update(_bank_entries(session, every_bank, own, currencies, chunk))
    others = [line for line in group.lines if (line.source, line.external_id) not in imported]
    quarantined, resolved = _quarantine_reasons(session, cipher, others)
    elsewhere = _other_lines_entries(session, statement.source, {e for e, _ in entries} - its_own)
    # What the statement's own lines posted, or were linked to, is its own wherever it was posted.
    mend = (
        replace(e, unassigned=False)
        if e.entry_id in its_own
        else replace(e, elsewhere=e.entry_id in elsewhere)
        for e in entries.values()
    )
    ordered = sorted(mend, key=lambda e: (e.posting_date, e.entry_id))
    note = ""
    if accounts.banks and own == accounts.bank:
        note = f"account {statement.account or '(none)'} is not one of the bank accounts kept apart"
    return LedgerSide(
        tuple(ordered),
        imported,
        quarantined,
        own,
        note,
        _in_other_form(session, others),
        resolved,
    )


def _other_lines_entries(session: Session, source: str, entry_ids: set[int]) -> set[int]:
    """Those of `entry_ids` that another line of the statement's format posted or was linked to: another
    statement's (the lines of this one are not asked about: their entries are its own). A line of
    another format may be this statement's line written otherwise, and stays a candidate."""
    line = ImportedDocument
    wanted = sorted(entry_ids)
    found: set[int] = set()
    for start in range(0, len(wanted), _CHUNK):
        found.update(
            session.scalars(
                select(line.entry_id).where(
                    line.kind == "bank_line",
                    line.source == source,
                    line.status.in_(("posted", "unapplied", "linked", "reversal", "reversed")),
                    line.entry_id.in_(wanted[start : start + _CHUNK]),
                )
            )
        )
    return found


def _other_accounts_left_out(
    session: Session,
    accounts: Accounts,
    statement: Statement,
    entries: dict[tuple[int, str], BankEntry],
    its_own: set[int],
) -> dict[tuple[int, str], BankEntry]:
    """`entries` without those whose documents name another bank account than `statement`'s: a line of
    another statement, a payment into another account kept apart, or a receipt linked to either. An
    unassigned entry that names the statement's account is its own.

    Only entries that may not be the statement's are looked at: on an account kept apart, an entry is
    its own by construction (an earlier revision's document may since name another account), and so is
    what the statement's own lines posted (`its_own`). An account kept apart lists every way its
    statements write it, so a line of any format naming another account is another's; for an account
    not kept apart, only lines of the statement's own format can be compared (another format may write
    the same account another way)."""
    mine = accounts.bank_key(statement.account, by_statement=True)
    if mine is None:
        return entries
    kept_apart = accounts.bank_for(statement.account) != accounts.bank
    doubtful = {e.entry_id for e in entries.values() if not kept_apart or e.unassigned} - its_own
    named = _named_accounts(session, accounts, doubtful, None if kept_apart else statement.source)
    return {
        key: replace(entry, unassigned=False) if mine in named.get(key[0], ()) else entry
        for key, entry in entries.items()
        if mine in named.get(key[0], {mine})
    }


def _named_accounts(
    session: Session, accounts: Accounts, entry_ids: set[int], source: str | None
) -> dict[int, set[str]]:
    """Entry id → the bank accounts (`Accounts.bank_key`) its documents name: its own document's (every
    revision and reversal share its key) and those of the records linked to it. With `source`, a line's
    account not kept apart counts only from statements of that format."""
    document, linked = aliased(ImportedDocument), aliased(ImportedDocument)
    wanted = sorted(entry_ids)
    named: dict[int, set[str]] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = session.execute(
            select(
                JournalEntry.id,
                document.source,
                document.kind,
                document.bank_account,
                linked.source,
                linked.kind,
                linked.bank_account,
            )
            .join(  # through the document key (unique), then the linked records (indexed)
                document,
                (document.source == JournalEntry.source) & (document.external_id == JournalEntry.external_id),
            )
            .outerjoin(linked, linked.linked_id == document.id)
            .where(JournalEntry.id.in_(wanted[start : start + _CHUNK]))
        )
        for entry_id, *documents in rows:
            for their_source, kind, account in zip(
                documents[::3], documents[1::3], documents[2::3], strict=True
            ):
                by_statement = kind == "bank_line" and source in (None, their_source)
                name = accounts.bank_key(account, by_statement=by_statement)
                if name is not None:
                    named.setdefault(entry_id, set()).add(name)
    return named


def _bank_entries(
    session: Session,
    codes: Sequence[str],
    own: str,
    currencies: set[str] | None,
    which: ColumnElement[bool],
) -> dict[tuple[int, str], BankEntry]:
    """Postings on the bank accounts `codes` of the entries `which` selects (in `currencies`, or in any),
    one `BankEntry` per entry and currency (unassigned unless it is on `own`), with the other entry of
    its entry + reversal pair."""
    in_currencies = Posting.currency.in_(sorted(currencies)) if currencies is not None else true()
    reversal = aliased(JournalEntry)
    original = aliased(JournalEntry)
    rows = session.execute(
        select(
            JournalEntry,
            Posting.account_code,
            Posting.currency,
            Posting.amount_minor,
            reversal.id,
            reversal.posting_date,
            original.posting_date,
        )
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .outerjoin(
            reversal,  # through the document key, as the unique index finds an entry's reversal
            (reversal.source == JournalEntry.source)
            & (reversal.external_id == JournalEntry.external_id)
            & (reversal.revision == JournalEntry.revision)
            & reversal.is_reversal
            & ~JournalEntry.is_reversal,
        )
        .outerjoin(original, original.id == JournalEntry.reverses_id)
        .where(Posting.account_code.in_(sorted(set(codes))), in_currencies, which)
    )
    totals: dict[tuple[int, str], int] = {}
    on_own: set[tuple[int, str]] = set()
    found: dict[tuple[int, str], tuple[JournalEntry, int | None, date | None]] = {}
    for entry, code, currency, minor, reversal_id, reversal_date, original_date in rows:
        key = (entry.id, currency)
        totals[key] = totals.get(key, 0) + minor
        if code == own:
            on_own.add(key)
        counterpart = (
            (entry.reverses_id, original_date) if entry.is_reversal else (reversal_id, reversal_date)
        )
        found[key] = (entry, *counterpart)
    return {
        key: _bank_entry(
            entry, Money(totals[key], key[1]), counterpart_id, counterpart_date, key not in on_own
        )
        for key, (entry, counterpart_id, counterpart_date) in found.items()
        if totals[key]  # an entry that moves nothing on the bank in this currency is no movement
    }


def _bank_entry(
    entry: JournalEntry, amount: Money, counterpart_id: int | None, on: date | None, unassigned: bool
) -> BankEntry:
    return BankEntry(
        entry_id=entry.id,
        source=entry.source,
        external_id=entry.external_id,
        posting_date=entry.posting_date,
        amount=amount,
        memo=entry.memo,
        voucher=_voucher(entry),
        document_type=entry.document_type,
        is_reversal=entry.is_reversal,
        counterpart_id=counterpart_id,
        counterpart_date=on,
        unassigned=unassigned,
    )


def _voucher(entry: JournalEntry) -> str:
    if entry.voucher_file:
        return (
            entry.voucher_file if entry.voucher_row is None else f"{entry.voucher_file}:{entry.voucher_row}"
        )
    return entry.voucher_record or ""


def _import_records(session: Session, lines: Sequence[Document]) -> dict[tuple[str, str], ImportRecord]:
    """Each line's import record, by the line's (source, id): the one imported under its id scoped by
    its account when a line of another account held its own (`on_account`), never that other line's."""
    by_source: dict[str, set[str]] = {}
    scoped: dict[tuple[str, str], tuple[str, str | None]] = {}  # (source, id looked up) → (line id, account)
    recorded_as = _recorded_ids(session, lines)
    for line in lines:
        held = recorded_as.get((line.source, line.external_id), line.external_id)
        by_source.setdefault(line.source, set()).add(held)
        account = compact_account(line.account)
        scoped[(line.source, held)] = (line.external_id, account)
        if line.account is not None:
            own = on_account(held, line.account)
            by_source[line.source].add(own)
            scoped[(line.source, own)] = (line.external_id, account)
    found: dict[tuple[str, str], ImportRecord] = {}
    receipt = aliased(ImportedDocument)  # a linked line's: its current revision's entry
    for source, ids in by_source.items():
        wanted = sorted(ids)
        for start in range(0, len(wanted), _CHUNK):
            rows = session.execute(
                select(
                    ImportedDocument.external_id,
                    ImportedDocument.bank_account,
                    ImportedDocument.status,
                    ImportedDocument.entry_id,
                    ImportedDocument.match_rule,
                    receipt.entry_id,
                    ReconciliationItem.status,
                    ReconciliationItem.note,
                )
                .outerjoin(receipt, receipt.id == ImportedDocument.linked_id)
                .outerjoin(ReconciliationItem, ReconciliationItem.document_id == ImportedDocument.id)
                .where(
                    ImportedDocument.source == source,
                    ImportedDocument.external_id.in_(wanted[start : start + _CHUNK]),
                )
            )
            for external_id, account, status, entry, note, receipts, decided, why in rows:
                if status == "linked" and receipts is not None:
                    entry = receipts  # the receipt's current revision's
                if status == "unapplied" and decided == "rejected":  # a person: no customer's receipt
                    status, note = "rejected", why
                line_id, line_account = scoped[(source, external_id)]
                if line_id == external_id and None not in (account, line_account) and account != line_account:
                    continue  # another account's line
                if line_id != external_id or (source, line_id) not in found:
                    found[(source, line_id)] = ImportRecord(status, entry, note)
    return found


def _in_other_form(session: Session, lines: Sequence[Document]) -> frozenset[tuple[str, str]]:
    """The lines of batched entries imported (from another statement) in their other form: whole, where
    these are its transactions, or as its transactions, where this is the whole entry."""
    batched = [line for line in lines if line.batch is not None]
    if not batched:
        return frozenset()
    stored = stored_records(session, batched)
    return frozenset((line.source, line.external_id) for line in batched if in_other_form(line, stored))


def _recorded_ids(session: Session, lines: Sequence[Document]) -> dict[tuple[str, str], str]:
    """The id each line was imported under, where not its own: a line with an `alias` or ids it is
    `known_as` (an OFX line whose FITID the bank may re-issue), as the import tells it
    (`recorded.by_alias`); a line whose id is its content's digest that a person said is an earlier
    line exported again (`lookalikes`), that line's."""
    found: dict[tuple[str, str], str] = {}
    aliased_lines = [line for line in lines if line.alias is not None or line.known_as]
    if aliased_lines:
        stored = stored_records(session, aliased_lines)
        for line in aliased_lines:
            keyed, _ = by_alias(line, stored, fingerprints(line))
            found[(line.source, line.external_id)] = keyed.external_id
    by_content = [line for line in lines if line.content_id and line.alias is None]
    if by_content:
        stored = stored_records(session, by_content)
        unknown = [line for line in by_content if (line.source, line.external_id) not in stored]
        for source in sorted({line.source for line in unknown}):
            ids = [line.external_id for line in unknown if line.source == source]
            for new_id, original in exported_again_as(session, source, ids).items():
                found[(source, new_id)] = original
    return found


def _reference(line: Document) -> str:
    """The quarantine reference the import gives a document (`DocumentPoster._quarantine`)."""
    origin = line.origin
    return f"{origin.file}:{origin.row}" if origin.row is not None else origin.file


def _quarantine_reasons(
    session: Session, cipher: FieldCipher, lines: Iterable[Document]
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], tuple[str, str]]]:
    """The open quarantine reason of each line, and the reason and resolution of those a person resolved
    (the latest), found by its reference and then checked by its id or its text (a line that could not
    be read at all has no id): another file of the same name has other lines at the same rows."""
    by_reference: dict[tuple[str, str], Document] = {(line.source, _reference(line)): line for line in lines}
    references = sorted({reference for _, reference in by_reference})
    found: dict[tuple[str, str], str] = {}
    resolved: dict[tuple[str, str], tuple[str, str]] = {}
    for start in range(0, len(references), _CHUNK):
        records = session.scalars(
            select(QuarantinedRecord)
            .where(
                QuarantinedRecord.status.in_(("open", "resolved")),
                QuarantinedRecord.record_ref.in_(references[start : start + _CHUNK]),
            )
            .order_by(QuarantinedRecord.id)
        )
        for record in records:
            line = by_reference.get((record.source, record.record_ref))
            if line is None:
                continue
            raw = raw_input(cipher, record)
            if not isinstance(raw, dict):
                continue
            held = raw.get("external_id")
            if held != line.external_id and (held is not None or raw.get("raw") != line.origin.raw):
                continue
            key = (line.source, line.external_id)
            if record.status == "open":
                found[key] = record.reason
            else:
                resolved[key] = (record.reason, record.resolution or "")
    return found, resolved
