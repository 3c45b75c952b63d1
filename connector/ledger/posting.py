"""Posting: balanced, idempotent journal entries written with their balances in one transaction.

Writes go through SQLAlchemy Core in batches (one multi-row INSERT per table, one upsert per
balance key) so that a million payment entries post in seconds, not minutes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Table, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.errors import IdempotencyConflictError, LedgerError, ReversalError, UnknownAccountError
from connector.ledger.balances import add_to_balances
from connector.ledger.entries import EntryDraft, Line, Voucher, check_balanced, draft_hash
from connector.ledger.models import Customer, JournalEntry, LedgerAccount, Posting, utcnow
from connector.money import Money

ENTRIES: Table = JournalEntry.__table__  # type: ignore[assignment]
POSTINGS: Table = Posting.__table__  # type: ignore[assignment]
LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Posted:
    entry_id: int
    created: bool


@dataclass(frozen=True, slots=True)
class _Prepared:
    draft: EntryDraft
    content_hash: str
    postings: tuple[tuple[str, int | None, str, int], ...]  # account, customer id, currency, minor
    reverses_id: int | None = None


class Ledger:
    """Posts entries through one session; the caller owns the transaction (commit or roll back)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._per_customer: dict[str, bool] | None = None
        self._customer_ids: dict[str, int] = {}

    # -- posting -------------------------------------------------------------------------------

    def post(self, draft: EntryDraft) -> Posted:
        return self.post_many([draft])[0]

    def post_many(self, drafts: Sequence[EntryDraft]) -> list[Posted]:
        """Post every draft, or none: replays return the existing entry, changed content raises."""
        prepared = [self._prepare(draft) for draft in drafts]
        try:
            with self.session.begin_nested():
                return self._post_prepared(prepared)
        except IntegrityError:
            # A concurrent writer posted one of these keys first; once more, it is seen as a replay.
            with self.session.begin_nested():
                return self._post_prepared(prepared)

    def _post_prepared(self, prepared: Sequence[_Prepared]) -> list[Posted]:
        existing = self._existing({p.draft.key for p in prepared})
        results: list[Posted | None] = [None] * len(prepared)
        fresh: list[int] = []
        first_in_batch: dict[tuple[str, str, int], int] = {}
        replays_in_batch: list[tuple[int, int]] = []
        for index, item in enumerate(prepared):
            key = item.draft.key
            if key in existing:
                entry_id, stored_hash = existing[key]
                self._same_content(item, stored_hash)
                results[index] = Posted(entry_id, False)
            elif key in first_in_batch:
                self._same_content(item, prepared[first_in_batch[key]].content_hash)
                replays_in_batch.append((index, first_in_batch[key]))
            else:
                first_in_batch[key] = index
                fresh.append(index)
        for index, entry_id in zip(fresh, self._insert([prepared[i] for i in fresh]), strict=True):
            results[index] = Posted(entry_id, True)
        for index, first in replays_in_batch:
            results[index] = Posted(results[first].entry_id, False)  # type: ignore[union-attr]
        return results  # type: ignore[return-value]

    @staticmethod
    def _same_content(item: _Prepared, stored_hash: str) -> None:
        if stored_hash != item.content_hash:
            raise IdempotencyConflictError(
                f"{item.draft.describe()} was posted before with different content; "
                "a changed document must be reversed and posted as a new revision"
            )

    def reverse(
        self, entry_id: int, *, posting_date: date, memo: str = "", voucher: Voucher | None = None
    ) -> Posted:
        """Post the exact opposite of entry `entry_id`; an entry is reversed at most once."""
        original = self.session.get(JournalEntry, entry_id)
        if original is None:
            raise LedgerError(f"journal entry {entry_id} does not exist")
        if original.reverses_id is not None:
            raise ReversalError(f"journal entry {entry_id} is itself a reversal (of {original.reverses_id})")
        already = self.reversed_by(entry_id)
        if already is not None:
            raise ReversalError(f"journal entry {entry_id} is already reversed by entry {already}")
        rows = self.session.execute(
            select(Posting.account_code, Posting.customer_id, Posting.currency, Posting.amount_minor)
            .where(Posting.entry_id == entry_id)
            .order_by(Posting.id)
        ).all()
        numbers = self._account_numbers({row.customer_id for row in rows if row.customer_id is not None})
        draft = EntryDraft(
            source=original.source,
            external_id=original.external_id,
            revision=original.revision,
            posting_date=posting_date,
            value_date=posting_date,
            document_date=original.document_date,
            memo=memo or f"reversal of entry {entry_id}",
            voucher=voucher
            or Voucher("reversal", original.voucher_file, original.voucher_row, original.voucher_record),
            lines=tuple(
                Line(
                    row.account_code,
                    Money(-row.amount_minor, row.currency),
                    None if row.customer_id is None else numbers[row.customer_id],
                )
                for row in rows
            ),
        )
        prepared = self._prepare(draft, reverses_id=entry_id)
        try:
            with self.session.begin_nested():
                return Posted(self._insert([prepared])[0], True)
        except IntegrityError:
            raise ReversalError(
                f"journal entry {entry_id} was reversed concurrently by another writer"
            ) from None

    def reversed_by(self, entry_id: int) -> int | None:
        """The id of the entry that reverses `entry_id`, if any."""
        return self.session.scalar(select(JournalEntry.id).where(JournalEntry.reverses_id == entry_id))

    # -- internals -----------------------------------------------------------------------------

    def _prepare(self, draft: EntryDraft, reverses_id: int | None = None) -> _Prepared:
        check_balanced(draft)
        accounts = self._accounts()
        postings = []
        for line in draft.lines:
            per_customer = accounts.get(line.account)
            if per_customer is None:
                raise UnknownAccountError(f"{draft.describe()}: account {line.account} is not in the chart")
            if per_customer != (line.customer is not None):
                need = "needs a customer" if per_customer else "takes no customer"
                raise LedgerError(f"{draft.describe()}: account {line.account} {need} on its postings")
            customer_id = self._customer_id(line.customer, draft) if line.customer else None
            postings.append((line.account, customer_id, line.amount.currency, line.amount.minor))
        return _Prepared(draft, draft_hash(draft, reverses_id), tuple(postings), reverses_id)

    def _accounts(self) -> dict[str, bool]:
        if self._per_customer is None:
            rows = self.session.execute(select(LedgerAccount.code, LedgerAccount.per_customer)).all()
            self._per_customer = {code: per_customer for code, per_customer in rows}
        return self._per_customer

    def _customer_id(self, account_no: str, draft: EntryDraft) -> int:
        found = self._customer_ids.get(account_no)
        if found is None:
            found = self.session.scalar(select(Customer.id).where(Customer.account_no == account_no))
            if found is None:
                raise UnknownAccountError(f"{draft.describe()}: no customer with account number {account_no}")
            self._customer_ids[account_no] = found
        return found

    def _account_numbers(self, customer_ids: Iterable[int]) -> dict[int, str]:
        ids = list(customer_ids)
        if not ids:
            return {}
        rows = self.session.execute(select(Customer.id, Customer.account_no).where(Customer.id.in_(ids)))
        return {row.id: row.account_no for row in rows}

    def _existing(self, keys: set[tuple[str, str, int]]) -> dict[tuple[str, str, int], tuple[int, str]]:
        found: dict[tuple[str, str, int], tuple[int, str]] = {}
        ordered = sorted(keys)
        columns = tuple_(JournalEntry.source, JournalEntry.external_id, JournalEntry.revision)
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            chunk = ordered[start : start + LOOKUP_CHUNK]
            rows = self.session.execute(
                select(
                    JournalEntry.source,
                    JournalEntry.external_id,
                    JournalEntry.revision,
                    JournalEntry.id,
                    JournalEntry.content_hash,
                ).where(columns.in_(chunk), JournalEntry.reverses_id.is_(None))
            )
            for row in rows:
                found[(row.source, row.external_id, row.revision)] = (row.id, row.content_hash)
        return found

    def _insert(self, batch: Sequence[_Prepared]) -> list[int]:
        if not batch:
            return []
        now = utcnow()
        entry_rows = [
            {
                "source": item.draft.source,
                "external_id": item.draft.external_id,
                "revision": item.draft.revision,
                "reverses_id": item.reverses_id,
                "posting_date": item.draft.posting_date,
                "value_date": item.draft.value_date,
                "document_date": item.draft.document_date,
                "memo": item.draft.memo,
                "document_type": item.draft.voucher.document_type,
                "voucher_file": item.draft.voucher.file,
                "voucher_row": item.draft.voucher.row,
                "voucher_record": item.draft.voucher.record,
                "content_hash": item.content_hash,
                "created_at": now,
            }
            for item in batch
        ]
        ids: list[int] = list(
            self.session.execute(
                insert(ENTRIES).returning(ENTRIES.c.id, sort_by_parameter_order=True), entry_rows
            ).scalars()
        )
        posting_rows = []
        customer_deltas: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])
        account_deltas: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for entry_id, item in zip(ids, batch, strict=True):
            for account, customer_id, currency, minor in item.postings:
                posting_rows.append(
                    {
                        "entry_id": entry_id,
                        "account_code": account,
                        "customer_id": customer_id,
                        "currency": currency,
                        "amount_minor": minor,
                    }
                )
                delta = account_deltas[(account, currency)]
                delta[0] += minor
                delta[1] += 1
                if customer_id is not None:
                    delta = customer_deltas[(customer_id, account, currency)]
                    delta[0] += minor
                    delta[1] += 1
        self.session.execute(insert(POSTINGS), posting_rows)
        add_to_balances(self.session, account_deltas, customer_deltas)
        return ids
