"""`connector ledger verify`: recompute the ledger from its postings and list every violation.

Checks: every posting's entry, chart account and customer exist; every entry balanced per currency
and with at least two postings; every entry's content hash matches its stored postings; customer
postings exactly on the per-customer accounts; stored
account and customer balances equal the recomputed ones; Σ customer subledger = control account;
reversal links consistent (a reversal mirrors its original, which is not itself a reversal); at most
one revision of a document standing unreversed; every entry something names exists (the entry a reversal
reverses, an imported document's entry, a reconciliation item's application, a receipt application's
receipt), so an entry deleted with its postings and its balances adjusted by hand is still found missing;
every entry the import's records say is reversed has its reversal (`verify_records`); every imported
file an entry's voucher names exists.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session, aliased

from connector.errors import InvalidEntryError
from connector.imports.models import ImportedFile
from connector.ledger.entries import content_hash
from connector.ledger.models import (
    AccountBalance,
    Customer,
    CustomerBalance,
    JournalEntry,
    LedgerAccount,
    Posting,
)
from connector.ledger.posting import has_reversal
from connector.ledger.verify_records import entry_references, reversed_records
from connector.ledger.violations import Violation, money_text


@dataclass
class VerifyReport:
    entries: int = 0
    postings: int = 0
    customers: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


POSTING_FIELDS = (Posting.id, Posting.entry_id, Posting.account_code, Posting.customer_id)


def _references(session: Session) -> Iterator[Violation]:
    # Postings carry no database foreign keys (see `Posting`): their references are checked here.
    query = (
        select(
            *POSTING_FIELDS,
            JournalEntry.id.is_(None).label("no_entry"),
            LedgerAccount.code.is_(None).label("no_account"),
            (Posting.customer_id.is_not(None) & Customer.id.is_(None)).label("no_customer"),
        )
        .outerjoin(JournalEntry, JournalEntry.id == Posting.entry_id)
        .outerjoin(LedgerAccount, LedgerAccount.code == Posting.account_code)
        .outerjoin(Customer, Customer.id == Posting.customer_id)
        .where(
            JournalEntry.id.is_(None)
            | LedgerAccount.code.is_(None)
            | (Posting.customer_id.is_not(None) & Customer.id.is_(None))
        )
        .order_by(Posting.id)
    )
    for row in session.execute(query):
        missing = (
            (f"its entry {row.entry_id} does not exist", row.no_entry),
            (f"its account {row.account_code} is not in the chart", row.no_account),
            (f"its customer {row.customer_id} does not exist", row.no_customer),
        )
        detail = "; ".join(what for what, gone in missing if gone)
        yield Violation("reference", f"posting {row.id} of entry {row.entry_id}", detail)
    # Neither does an entry's voucher file (see `JournalEntry.voucher_file_id`).
    files = (
        select(JournalEntry.id, JournalEntry.voucher_file, JournalEntry.voucher_file_id)
        .outerjoin(ImportedFile, ImportedFile.id == JournalEntry.voucher_file_id)
        .where(JournalEntry.voucher_file_id.is_not(None), ImportedFile.id.is_(None))
        .order_by(JournalEntry.id)
    )
    for entry_id, name, file_id in session.execute(files):
        yield Violation(
            "reference", f"entry {entry_id}", f"its voucher's imported file {file_id} ({name}) does not exist"
        )


def _entry_balance(session: Session) -> Iterator[Violation]:
    totals = (
        select(Posting.entry_id, Posting.currency, func.sum(Posting.amount_minor).label("total"))
        .group_by(Posting.entry_id, Posting.currency)
        .having(func.sum(Posting.amount_minor) != 0)
        .order_by(Posting.entry_id)
    )
    for row in session.execute(totals):
        yield Violation(
            "balanced",
            f"entry {row.entry_id}",
            f"postings sum to {money_text(row.total, row.currency)}, not zero",
        )
    counts = (
        select(JournalEntry.id, func.count(Posting.id).label("n"))
        .outerjoin(Posting, Posting.entry_id == JournalEntry.id)
        .group_by(JournalEntry.id)
        .having(func.count(Posting.id) < 2)
        .order_by(JournalEntry.id)
    )
    for entry_id, count in session.execute(counts):
        yield Violation(
            "postings", f"entry {entry_id}", f"has {count} posting(s); an entry needs at least two"
        )


# Dates as stored, not as the Date type reads them: a date edited into no day (2026-02-30) is a
# violation of its entry, not an error that stops the whole check.
ENTRY_FIELDS = (
    JournalEntry.id,
    JournalEntry.source,
    JournalEntry.external_id,
    JournalEntry.revision,
    JournalEntry.reverses_id,
    type_coerce(JournalEntry.posting_date, String),
    type_coerce(JournalEntry.value_date, String),
    type_coerce(JournalEntry.document_date, String),
    JournalEntry.memo,
    JournalEntry.document_type,
    JournalEntry.content_hash,
    type_coerce(JournalEntry.due_date, String),
)


def _content_hashes(session: Session) -> Iterator[Violation]:
    # Plain columns, streamed: an ORM object per entry would make verifying a million entries slow.
    query = (
        select(
            *ENTRY_FIELDS, Posting.account_code, Posting.customer_id, Posting.currency, Posting.amount_minor
        )
        .outerjoin(Posting, Posting.entry_id == JournalEntry.id)
        .order_by(JournalEntry.id)
        .execution_options(yield_per=10_000)
    )
    width = len(ENTRY_FIELDS)
    for entry, group in itertools.groupby(session.execute(query), key=lambda row: tuple(row[:width])):
        lines = [tuple(row[width:]) for row in group if row[width] is not None]
        try:
            posting_date = _day(entry[5])
            assert posting_date is not None  # NOT NULL
            recomputed = content_hash(
                source=entry[1],
                external_id=entry[2],
                revision=entry[3],
                reverses_id=entry[4],
                posting_date=posting_date,
                value_date=_day(entry[6]),
                document_date=_day(entry[7]),
                memo=entry[8],
                document_type=entry[9],
                lines=lines,  # type: ignore[arg-type]
                due_date=_day(entry[11]),
            )
        except (InvalidEntryError, ValueError):
            recomputed = ""  # text edited to hold a separator, a date edited into no day: it cannot match
        if recomputed != entry[10]:
            yield Violation(
                "content",
                f"entry {entry[0]} ({entry[1]} {entry[2]})",
                "stored postings or fields no longer match the content hash written when it was posted",
            )


def _day(stored: date | str | None) -> date | None:
    """A stored date (a `date` from PostgreSQL, ISO text from SQLite); ValueError when it is no day."""
    return date.fromisoformat(stored) if isinstance(stored, str) else stored


def _customer_placement(session: Session) -> Iterator[Violation]:
    query = (
        select(*POSTING_FIELDS, LedgerAccount.per_customer)
        .join(LedgerAccount, LedgerAccount.code == Posting.account_code)
        .where(
            (LedgerAccount.per_customer & Posting.customer_id.is_(None))
            | (~LedgerAccount.per_customer & Posting.customer_id.is_not(None))
        )
        .order_by(Posting.id)
    )
    for row in session.execute(query):
        detail = "has no customer" if row.per_customer else "carries a customer on a general account"
        yield Violation(
            "subledger", f"posting {row.id} of entry {row.entry_id}", f"account {row.account_code} {detail}"
        )


Figures = dict[tuple[Any, ...], tuple[int, int]]  # key → (balance in minor units, posting count)


def _compare(
    check: str, recomputed: Figures, stored: Figures, subject: Callable[[tuple[Any, ...]], str]
) -> Iterator[Violation]:
    for key in sorted(recomputed.keys() | stored.keys(), key=str):
        want, have = recomputed.get(key, (0, 0)), stored.get(key, (0, 0))
        if want != have:
            currency = key[-1]
            yield Violation(
                check,
                subject(key),
                f"stored {money_text(have[0], currency)} over {have[1]} postings, "
                f"postings give {money_text(want[0], currency)} over {want[1]}",
            )


def _stored_balances(session: Session) -> Iterator[Violation]:
    def sums(*columns: Any) -> Figures:
        query = select(*columns, func.sum(Posting.amount_minor), func.count()).group_by(*columns)
        if Posting.customer_id in columns:
            query = query.where(Posting.customer_id.is_not(None))
        return {tuple(row[:-2]): (int(row[-2]), int(row[-1])) for row in session.execute(query)}

    stored_accounts: Figures = {
        (b.account_code, b.currency): (b.balance_minor, b.posting_count)
        for b in session.scalars(select(AccountBalance))
    }
    stored_customers: Figures = {
        (b.customer_id, b.account_code, b.currency): (b.balance_minor, b.posting_count)
        for b in session.scalars(select(CustomerBalance))
    }
    numbers = dict(session.execute(select(Customer.id, Customer.account_no)).all())
    yield from _compare(
        "account balance",
        sums(Posting.account_code, Posting.currency),
        stored_accounts,
        lambda key: f"account {key[0]} {key[1]}",
    )
    yield from _compare(
        "customer balance",
        sums(Posting.customer_id, Posting.account_code, Posting.currency),
        stored_customers,
        lambda key: f"customer {numbers.get(key[0], key[0])} account {key[1]} {key[2]}",
    )
    # The subledger must add up to its control account, in the stored figures as well.
    subledger: dict[tuple[str, str], int] = defaultdict(int)
    for (_, account, currency), (amount, _) in stored_customers.items():
        subledger[(account, currency)] += amount
    per_customer = set(session.scalars(select(LedgerAccount.code).where(LedgerAccount.per_customer)))
    for account, currency in sorted({k for k in stored_accounts if k[0] in per_customer} | subledger.keys()):
        control = stored_accounts.get((account, currency), (0, 0))[0]
        if control != subledger[(account, currency)]:
            yield Violation(
                "control",
                f"account {account} {currency}",
                f"customer balances sum to {money_text(subledger[(account, currency)], currency)}, "
                f"the control account holds {money_text(control, currency)}",
            )


def _reversals(session: Session) -> Iterator[Violation]:
    original = aliased(JournalEntry)
    pairs = select(JournalEntry, original).join(original, original.id == JournalEntry.reverses_id)
    for reversal, entry in session.execute(pairs):
        subject = f"entry {reversal.id} (reversal of {entry.id})"
        if entry.reverses_id is not None:
            yield Violation("reversal", subject, f"entry {entry.id} is itself a reversal")
        if (reversal.source, reversal.external_id, reversal.revision) != (
            entry.source,
            entry.external_id,
            entry.revision,
        ):
            yield Violation("reversal", subject, "does not carry the document key of the entry it reverses")
    net = (  # a reversal of an entry that is gone is a dangling reference (`verify_records`)
        select(JournalEntry.id, Posting.account_code, Posting.customer_id, Posting.currency)
        .join(original, original.id == JournalEntry.reverses_id)
        .join(Posting, Posting.entry_id.in_([JournalEntry.id, JournalEntry.reverses_id]))
        .where(JournalEntry.reverses_id.is_not(None))
        .group_by(JournalEntry.id, Posting.account_code, Posting.customer_id, Posting.currency)
        .having(func.sum(Posting.amount_minor) != 0)
        .order_by(JournalEntry.id)
    )
    for row in session.execute(net):
        yield Violation(
            "reversal",
            f"entry {row.id}",
            f"does not exactly offset the entry it reverses on account {row.account_code} {row.currency}",
        )


def _live_revisions(session: Session) -> Iterator[Violation]:
    """A document counts once: at most one of its revisions stands unreversed."""
    live = (
        select(JournalEntry.source, JournalEntry.external_id, func.count(), func.min(JournalEntry.id))
        .where(JournalEntry.is_reversal.is_(False), ~has_reversal(JournalEntry))
        .group_by(JournalEntry.source, JournalEntry.external_id)
        .having(func.count() > 1)
        .order_by(func.min(JournalEntry.id))
    )
    for source, external_id, count, first in session.execute(live):
        yield Violation(
            "revisions",
            f"{source} document {external_id!r}",
            f"{count} revisions stand unreversed (from entry {first}): it counts {count} times",
        )


def verify_ledger(session: Session) -> VerifyReport:
    report = VerifyReport(
        entries=session.scalar(select(func.count()).select_from(JournalEntry)) or 0,
        postings=session.scalar(select(func.count()).select_from(Posting)) or 0,
        customers=session.scalar(select(func.count()).select_from(Customer)) or 0,
    )
    checks = (
        _references,
        _entry_balance,
        _content_hashes,
        _customer_placement,
        _stored_balances,
        _reversals,
        _live_revisions,
        entry_references,
        reversed_records,
    )
    for check in checks:
        report.violations.extend(check(session))
    return report
