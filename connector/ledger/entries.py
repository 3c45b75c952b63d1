"""Journal-entry drafts: the pure part of posting (lines, balance check, content hash)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from hashlib import sha256

from connector.errors import InvalidEntryError, UnbalancedEntryError
from connector.money import MAX_MINOR, Money


@dataclass(frozen=True, slots=True)
class Line:
    """A signed posting line: positive amounts are debits, negative amounts credits."""

    account: str
    amount: Money
    customer: str | None = None

    @classmethod
    def debit(cls, account: str, amount: Money, customer: str | None = None) -> Line:
        return cls(account, amount, customer)

    @classmethod
    def credit(cls, account: str, amount: Money, customer: str | None = None) -> Line:
        return cls(account, -amount, customer)


@dataclass(frozen=True, slots=True)
class Voucher:
    """Where an entry comes from: the document type and its file + row or API record; `file_id` the
    imported file (`imported_files.id`) by which the name is told from another file's of that name."""

    document_type: str
    file: str | None = None
    row: int | None = None
    record: str | None = None
    file_id: int | None = None


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """A document ready to post. (source, external_id, revision) is its idempotency key."""

    source: str
    external_id: str
    posting_date: date
    voucher: Voucher
    lines: tuple[Line, ...]
    value_date: date | None = None
    document_date: date | None = None
    memo: str = ""
    revision: int = 1
    due_date: date | None = None  # an invoice's, as its document states it

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.source, self.external_id, self.revision)

    def describe(self) -> str:
        return f"{self.source} document {self.external_id!r}" + (
            f" revision {self.revision}" if self.revision != 1 else ""
        )


RECORD, UNIT = "\x1e", "\x1f"  # ASCII record and unit separators: delimit the content-hash input


def check_draft(draft: EntryDraft) -> None:
    """Raise unless the draft has a key and ≥ 2 non-zero lines balancing per currency."""
    if not draft.source or not draft.external_id:
        raise InvalidEntryError(f"{draft.describe()}: source and external id are required")
    if len(draft.lines) < 2:
        raise UnbalancedEntryError(f"{draft.describe()}: an entry needs at least two lines")
    if len(draft.lines) == 2:  # the common case, checked without building totals
        first, second = draft.lines[0].amount, draft.lines[1].amount
        balanced = first.currency == second.currency and first.minor + second.minor == 0
        if balanced and 0 < abs(first.minor) <= MAX_MINOR:
            return
    totals: dict[str, int] = defaultdict(int)
    for line in draft.lines:
        if line.amount.minor == 0:
            raise UnbalancedEntryError(f"{draft.describe()}: line on {line.account} has a zero amount")
        if abs(line.amount.minor) > MAX_MINOR:
            raise InvalidEntryError(
                f"{draft.describe()}: line on {line.account} of {line.amount} is beyond what the ledger keeps"
            )
        totals[line.amount.currency] += line.amount.minor
    off = {currency: total for currency, total in totals.items() if total}
    if off:
        detail = ", ".join(f"{Money(total, currency)} off in {currency}" for currency, total in off.items())
        raise UnbalancedEntryError(f"{draft.describe()}: debits and credits differ ({detail})")


def content_hash(
    *,
    source: str,
    external_id: str,
    revision: int,
    reverses_id: int | None,
    posting_date: date,
    value_date: date | None,
    document_date: date | None,
    memo: str,
    document_type: str,
    lines: Sequence[tuple[str, int | None, str, int]],
    due_date: date | None = None,
) -> str:
    """SHA-256 of an entry's content: what makes two postings of one document "the same".

    Lines are (account, customer id, currency, signed minor units), order-free; an account either
    always or never carries a customer, so the tuples sort without comparing None to a number.
    Where the voucher was found (file, row) is left out: the same document in another file is a replay.
    A due date is appended only when there is one, so entries posted before due dates were kept keep
    their hashes.
    """
    # Fields joined by the ASCII record/unit separators in one f-string: about twice as fast as repr() or
    # JSON, which matters at a million entries. Unambiguous because a text field holding a separator is
    # refused (counted below, cheaper than searching each field).
    canonical = (
        f"{source}\x1f{external_id}\x1f{revision}\x1f{'' if reverses_id is None else reverses_id}\x1f"
        f"{_iso(posting_date)}\x1f{_iso(value_date) if value_date else ''}\x1f"
        f"{_iso(document_date) if document_date else ''}\x1f{memo}\x1f{document_type}\x1f"
        f"{_lines_text(lines)}"
    )
    units = 9 + 3 * len(lines)
    if due_date is not None:
        canonical += f"\x1fdue {_iso(due_date)}"
        units += 1
    if canonical.count(UNIT) != units or canonical.count(RECORD) != len(lines) - 1:
        raise InvalidEntryError(
            f"{source} document {external_id!r}: its text contains an ASCII separator control character"
        )
    return sha256(canonical.encode()).hexdigest()


@lru_cache(maxsize=4096)  # an import's entries share a few dates
def _iso(day: date) -> str:
    return day.isoformat()


def _lines_text(lines: Sequence[tuple[str, int | None, str, int]]) -> str:
    if len(lines) == 2:  # most entries: ordered and written out without sorting and joining a list
        first, second = lines if lines[0] <= lines[1] else (lines[1], lines[0])
        return (
            f"{first[0]}\x1f{first[1] or ''}\x1f{first[2]}\x1f{first[3]}\x1e"
            f"{second[0]}\x1f{second[1] or ''}\x1f{second[2]}\x1f{second[3]}"
        )
    return "\x1e".join(
        [
            f"{account}\x1f{customer or ''}\x1f{currency}\x1f{minor}"
            for account, customer, currency, minor in sorted(lines)
        ]
    )
