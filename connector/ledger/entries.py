"""Journal-entry drafts: the pure part of posting (lines, balance check, content hash)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from connector.errors import UnbalancedEntryError
from connector.money import Money


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
    """Where an entry comes from: the document type and its file + row or API record."""

    document_type: str
    file: str | None = None
    row: int | None = None
    record: str | None = None


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

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.source, self.external_id, self.revision)

    def describe(self) -> str:
        return f"{self.source} document {self.external_id!r}" + (
            f" revision {self.revision}" if self.revision != 1 else ""
        )


def check_balanced(draft: EntryDraft) -> None:
    """Raise unless the draft has ≥ 2 non-zero lines summing to zero in every currency."""
    if not draft.source or not draft.external_id:
        raise UnbalancedEntryError(f"{draft.describe()}: source and external id are required")
    if len(draft.lines) < 2:
        raise UnbalancedEntryError(f"{draft.describe()}: an entry needs at least two lines")
    totals: dict[str, int] = defaultdict(int)
    for line in draft.lines:
        if line.amount.minor == 0:
            raise UnbalancedEntryError(f"{draft.describe()}: line on {line.account} has a zero amount")
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
    lines: Iterable[tuple[str, str | None, str, int]],
) -> str:
    """SHA-256 of an entry's content: what makes two postings of one document "the same".

    Lines are (account, customer account number, currency, signed minor units), order-free.
    Where the voucher was found (file, row) is left out: the same document in another file is a replay.
    """
    canonical = json.dumps(
        [
            source,
            external_id,
            revision,
            reverses_id,
            posting_date.isoformat(),
            value_date.isoformat() if value_date else None,
            document_date.isoformat() if document_date else None,
            memo,
            document_type,
            sorted(lines, key=lambda line: (line[0], line[1] or "", line[2], line[3])),
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def draft_hash(draft: EntryDraft, reverses_id: int | None = None) -> str:
    return content_hash(
        source=draft.source,
        external_id=draft.external_id,
        revision=draft.revision,
        reverses_id=reverses_id,
        posting_date=draft.posting_date,
        value_date=draft.value_date,
        document_date=draft.document_date,
        memo=draft.memo,
        document_type=draft.voucher.document_type,
        lines=[
            (line.account, line.customer, line.amount.currency, line.amount.minor) for line in draft.lines
        ],
    )
