"""Posting: balanced, idempotent journal entries written with their balances in one transaction.

A batch is prepared in Python (balance check, content hash, customer ids), then written with the
driver's executemany per table and one upsert per balance key, in one savepoint. Documents are
assumed new; when the unique document key says otherwise, the batch is retried with a look-up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from connector.batching import cyclic_gc_paused
from connector.bulk import allocate_ids, driver_value, in_chunks, insert_rows, rows_in
from connector.errors import IdempotencyConflictError, LedgerError, ReversalError, UnknownAccountError
from connector.ledger.balances import BalanceDeltas
from connector.ledger.entries import EntryDraft, Line, Voucher, check_draft, content_hash
from connector.ledger.models import Customer, JournalEntry, LedgerAccount, Posting, utcnow
from connector.money import Money

ENTRIES: Table = JournalEntry.__table__  # type: ignore[assignment]
POSTINGS: Table = Posting.__table__  # type: ignore[assignment]
ENTRY_COLUMNS = (
    "id",
    "source",
    "external_id",
    "revision",
    "is_reversal",
    "reverses_id",
    "posting_date",
    "value_date",
    "document_date",
    "due_date",
    "memo",
    "document_type",
    "voucher_file",
    "voucher_row",
    "voucher_record",
    "voucher_file_id",
    "content_hash",
    "created_at",
)
POSTING_COLUMNS = ("entry_id", "account_code", "customer_id", "currency", "amount_minor")


# NamedTuples, not frozen dataclasses: one of each is built per entry, and they construct 4x faster.
class Posted(NamedTuple):
    entry_id: int
    created: bool


class Reversing(NamedTuple):
    """An entry to reverse, on `posting_date` (or its own date, if later), saying why (`memo`), and the
    voucher of what reverses it (by default the entry's own)."""

    entry_id: int
    posting_date: date
    memo: str = ""
    voucher: Voucher | None = None


_REVERSAL = aliased(JournalEntry)
_COPIED = (  # what a reversal takes over from the entry it reverses
    JournalEntry.id,
    JournalEntry.reverses_id,
    JournalEntry.source,
    JournalEntry.external_id,
    JournalEntry.revision,
    JournalEntry.posting_date,
    JournalEntry.document_date,
    JournalEntry.due_date,
    JournalEntry.voucher_file,
    JournalEntry.voucher_row,
    JournalEntry.voucher_record,
    JournalEntry.voucher_file_id,
)


def _by_id(posting: Sequence[Any]) -> Any:
    return posting[1]


class _Prepared(NamedTuple):
    draft: EntryDraft
    key: tuple[str, str, int]
    content_hash: str
    entry: tuple[Any, ...]  # its journal_entries row between the id and created_at, in driver values
    postings: tuple[tuple[str, int | None, str, int], ...]  # account, customer id, currency, minor


class Ledger:
    """Posts entries through one session; the caller owns the transaction (commit or roll back)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._per_customer: dict[str, bool] | None = None
        self._customer_ids: dict[str, int] = {}
        self._date_value = driver_value(session, JournalEntry.posting_date, memo=True)

    # -- posting -------------------------------------------------------------------------------

    def post(self, draft: EntryDraft) -> Posted:
        return self.post_many([draft])[0]

    def post_many(self, drafts: Sequence[EntryDraft]) -> list[Posted]:
        """Post every draft, or none: replays return the existing entry, changed content raises."""
        with cyclic_gc_paused():
            self._load_customer_ids(
                {line.customer for draft in drafts for line in draft.lines if line.customer}
            )
            prepared = [self._prepare(draft) for draft in drafts]
            self._earlier_revisions_reversed(drafts)
            try:
                # Optimistic: most documents are new; the unique document key catches those that are not.
                with self.session.begin_nested():
                    return self._post_prepared(prepared, {})
            except IntegrityError:
                # Some were posted before (a replay, or a concurrent writer): look them up and go again.
                with self.session.begin_nested():
                    return self._post_prepared(prepared, self._existing({item.key for item in prepared}))

    def _post_prepared(
        self, prepared: Sequence[_Prepared], existing: dict[tuple[str, str, int], tuple[int, str]]
    ) -> list[Posted]:
        if not existing and len({item.key for item in prepared}) == len(prepared):  # all new: the usual case
            return [Posted(entry_id, True) for entry_id in self._insert(prepared)]
        results: list[Posted | None] = [None] * len(prepared)
        fresh: list[int] = []
        first_in_batch: dict[tuple[str, str, int], int] = {}
        replays_in_batch: list[tuple[int, int]] = []
        for index, item in enumerate(prepared):
            key = item.key
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

    def _earlier_revisions_reversed(self, drafts: Sequence[EntryDraft]) -> None:
        """A document's new revision only once every earlier one is reversed: two live revisions would
        count it twice (a changed document is reversed, then posted as its next revision). So never two
        revisions of one document in one batch either: the earlier could not have been reversed."""
        revisions: dict[tuple[str, str], set[int]] = {}
        for draft in drafts:
            revisions.setdefault((draft.source, draft.external_id), set()).add(draft.revision)
        for (source, external_id), found in revisions.items():
            if len(found) > 1:
                raise IdempotencyConflictError(
                    f"{source} {external_id}: revisions {', '.join(map(str, sorted(found)))} of it in one "
                    "batch; each is posted once the one before it is reversed"
                )
        later = [draft for draft in drafts if draft.revision > 1]
        live = self._live_revisions({(draft.source, draft.external_id) for draft in later})
        for draft in later:
            standing = [
                revision
                for revision in live.get((draft.source, draft.external_id), ())
                if revision < draft.revision
            ]
            if standing:
                raise IdempotencyConflictError(
                    f"{draft.describe()}: revision {max(standing)} of it stands unreversed; reverse it first"
                )

    def _live_revisions(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], set[int]]:
        """The revisions of each document of `keys` posted and not reversed."""
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, external_id in keys:
            by_source[source].append(external_id)
        posted: dict[tuple[str, str], set[int]] = defaultdict(set)
        reversed_: set[tuple[str, str, int]] = set()
        for source, external_ids in by_source.items():
            columns = "external_id, revision, is_reversal"
            for external_id, revision, is_reversal in rows_in(
                self.session, columns, "journal_entries", "external_id", external_ids, "source = {p}", source
            ):
                if is_reversal:
                    reversed_.add((source, external_id, revision))
                else:
                    posted[(source, external_id)].add(revision)
        return {
            key: {revision for revision in revisions if (*key, revision) not in reversed_}
            for key, revisions in posted.items()
        }

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
        """Post the exact opposite of entry `entry_id`, on `posting_date` but never before the entry itself
        (any day between would count it twice); an entry is reversed at most once."""
        return self.reverse_many([Reversing(entry_id, posting_date, memo, voucher)])[0]

    def reverse_many(self, wanted: Sequence[Reversing]) -> list[Posted]:
        """`reverse` each of `wanted`, all or none, in a few statements whatever their number (a re-export
        changing a million documents reverses a million entries)."""
        if not wanted:
            return []
        ids = [item.entry_id for item in wanted]
        if len(set(ids)) < len(ids):
            twice = sorted({entry_id for entry_id in ids if ids.count(entry_id) > 1})
            raise ReversalError(f"journal entry {twice[0]} is to be reversed twice in one batch")
        originals = {row.id: row for row in self._entries(ids)}
        for entry_id in ids:
            original = originals.get(entry_id)
            if original is None:
                raise LedgerError(f"journal entry {entry_id} does not exist")
            if original.reverses_id is not None:
                raise ReversalError(
                    f"journal entry {entry_id} is itself a reversal (of {original.reverses_id})"
                )
        already = self.reversals_of(ids)
        if already:
            entry_id = min(already)
            raise ReversalError(f"journal entry {entry_id} is already reversed by entry {already[entry_id]}")
        lines: dict[int, list[Sequence[Any]]] = defaultdict(list)
        for row in rows_in(
            self.session,
            "entry_id, id, account_code, customer_id, currency, amount_minor",
            "postings",
            "entry_id",
            ids,
            array_type="bigint",
        ):
            lines[row[0]].append(row)
        numbers = self._account_numbers(
            {row[3] for rows in lines.values() for row in rows if row[3] is not None}
        )
        prepared = []
        for item in wanted:
            original = originals[item.entry_id]
            posting_date = max(item.posting_date, original.posting_date)
            draft = EntryDraft(
                source=original.source,
                external_id=original.external_id,
                revision=original.revision,
                posting_date=posting_date,
                value_date=posting_date,
                document_date=original.document_date,
                due_date=original.due_date,
                memo=item.memo or f"reversal of entry {item.entry_id}",
                voucher=item.voucher
                or Voucher(
                    "reversal",
                    original.voucher_file,
                    original.voucher_row,
                    original.voucher_record,
                    original.voucher_file_id,
                ),
                lines=tuple(
                    Line(account, Money(-minor, currency), None if customer is None else numbers[customer])
                    for _, _, account, customer, currency, minor in sorted(lines[item.entry_id], key=_by_id)
                ),
            )
            prepared.append(self._prepare(draft, reverses_id=item.entry_id))
        try:
            with self.session.begin_nested():
                return [Posted(entry_id, True) for entry_id in self._insert(prepared)]
        except IntegrityError:
            named = (
                f"journal entry {ids[0]} was" if len(ids) == 1 else f"one of journal entries {ids[0]}… was"
            )
            raise ReversalError(f"{named} reversed concurrently by another writer") from None

    def reversed_by(self, entry_id: int) -> int | None:
        """The id of the entry that reverses `entry_id`, if any (found through the document key index)."""
        return self.reversals_of([entry_id]).get(entry_id)

    def reversals_of(self, entry_ids: Iterable[int]) -> dict[int, int]:
        """The entries reversing those of `entry_ids` that are reversed: {entry id: its reversal's id}."""
        found: dict[int, int] = {}
        for chunk in in_chunks(entry_ids):
            rows = self.session.execute(
                select(JournalEntry.id, _REVERSAL.id)
                .join(
                    _REVERSAL,
                    (_REVERSAL.source == JournalEntry.source)
                    & (_REVERSAL.external_id == JournalEntry.external_id)
                    & (_REVERSAL.revision == JournalEntry.revision)
                    & _REVERSAL.is_reversal.is_(True),
                )
                .where(JournalEntry.id.in_(chunk))
            )
            found.update({entry_id: reversal_id for entry_id, reversal_id in rows})
        return found

    def _entries(self, entry_ids: Sequence[int]) -> Iterator[Any]:
        """The journal entries `entry_ids` (the columns a reversal copies), as rows."""
        for chunk in in_chunks(entry_ids):
            yield from self.session.execute(select(*_COPIED).where(JournalEntry.id.in_(chunk)))

    # -- internals -----------------------------------------------------------------------------

    def _prepare(self, draft: EntryDraft, reverses_id: int | None = None) -> _Prepared:
        check_draft(draft)
        per_customer = self._accounts()
        known = self._customer_ids
        postings = []
        for line in draft.lines:
            account, customer, amount = line.account, line.customer, line.amount
            if per_customer.get(account) != (customer is not None):  # also true for an unknown account
                self._refuse_placement(draft, account)
            customer_id = (known.get(customer) or self._customer_id(customer, draft)) if customer else None
            postings.append((account, customer_id, amount.currency, amount.minor))
        source, external_id, revision, voucher = (
            draft.source,
            draft.external_id,
            draft.revision,
            draft.voucher,
        )
        digest = content_hash(
            source=source,
            external_id=external_id,
            revision=revision,
            reverses_id=reverses_id,
            posting_date=draft.posting_date,
            value_date=draft.value_date,
            document_date=draft.document_date,
            memo=draft.memo,
            document_type=voucher.document_type,
            lines=postings,
            due_date=draft.due_date,
        )
        date_value = self._date_value
        entry = (
            source,
            external_id,
            revision,
            reverses_id is not None,
            reverses_id,
            date_value(draft.posting_date),
            None if draft.value_date is None else date_value(draft.value_date),
            None if draft.document_date is None else date_value(draft.document_date),
            None if draft.due_date is None else date_value(draft.due_date),
            draft.memo,
            voucher.document_type,
            voucher.file,
            voucher.row,
            voucher.record,
            voucher.file_id,
            digest,
        )
        return _Prepared(draft, (source, external_id, revision), digest, entry, tuple(postings))

    def _refuse_placement(self, draft: EntryDraft, account: str) -> None:
        per_customer = self._accounts().get(account)
        if per_customer is None:
            raise UnknownAccountError(f"{draft.describe()}: account {account} is not in the chart")
        need = "needs a customer" if per_customer else "takes no customer"
        raise LedgerError(f"{draft.describe()}: account {account} {need} on its postings")

    def _accounts(self) -> dict[str, bool]:
        if self._per_customer is None:
            rows = self.session.execute(select(LedgerAccount.code, LedgerAccount.per_customer)).all()
            self._per_customer = {code: per_customer for code, per_customer in rows}
        return self._per_customer

    def _load_customer_ids(self, account_nos: set[str]) -> None:
        """Resolve the account numbers a batch uses in as few queries as possible."""
        missing = account_nos - self._customer_ids.keys()
        if missing:
            found = rows_in(self.session, "account_no, id", "customers", "account_no", missing)
            self._customer_ids.update({account_no: customer_id for account_no, customer_id in found})

    def _customer_id(self, account_no: str, draft: EntryDraft) -> int:
        found = self._customer_ids.get(account_no)
        if found is None:
            self._load_customer_ids({account_no})
            found = self._customer_ids.get(account_no)
            if found is None:
                raise UnknownAccountError(f"{draft.describe()}: no customer with account number {account_no}")
        return found

    def _account_numbers(self, customer_ids: Iterable[int]) -> dict[int, str]:
        ids = list(customer_ids)
        if not ids:
            return {}
        rows = self.session.execute(select(Customer.id, Customer.account_no).where(Customer.id.in_(ids)))
        return {row.id: row.account_no for row in rows}

    def _existing(self, keys: set[tuple[str, str, int]]) -> dict[tuple[str, str, int], tuple[int, str]]:
        """(id, content hash) of the entries already posted under any of `keys`."""
        found: dict[tuple[str, str, int], tuple[int, str]] = {}
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, external_id, _ in keys:
            by_source[source].append(external_id)
        for source, external_ids in by_source.items():
            rows = rows_in(
                self.session,
                "external_id, revision, id, content_hash",
                "journal_entries",
                "external_id",
                external_ids,
                "source = {p} AND is_reversal = {p}",
                source,
                False,
            )
            for external_id, revision, entry_id, stored_hash in rows:
                if (source, external_id, revision) in keys:
                    found[(source, external_id, revision)] = (entry_id, stored_hash)
        return found

    def _insert(self, batch: Sequence[_Prepared]) -> list[int]:
        if not batch:
            return []
        # Ids drawn beforehand so postings can reference them without INSERT … RETURNING (sent one row
        # per statement on SQLite). On SQLite a concurrent writer that took the same ids makes this
        # insert fail, and `post_many` retries once.
        ids = allocate_ids(self.session, ENTRIES, len(batch))
        now = driver_value(self.session, JournalEntry.created_at)(utcnow())
        entry_rows = [(entry_id, *item.entry, now) for entry_id, item in zip(ids, batch, strict=True)]
        insert_rows(self.session, ENTRIES, ENTRY_COLUMNS, entry_rows)
        posting_rows = [
            (entry_id, *posting)
            for entry_id, item in zip(ids, batch, strict=True)
            for posting in item.postings
        ]
        insert_rows(self.session, POSTINGS, POSTING_COLUMNS, posting_rows)
        deltas = BalanceDeltas()
        deltas.add_postings(posting_rows)
        deltas.apply(self.session)
        return ids


def has_reversal(entry: Any) -> ColumnElement[bool]:
    """Whether `entry` (a JournalEntry or an alias of it) has a reversal in the ledger."""
    reversal = aliased(JournalEntry)
    return (
        select(reversal.id)
        .where(
            reversal.source == entry.source,
            reversal.external_id == entry.external_id,
            reversal.revision == entry.revision,
            reversal.is_reversal.is_(True),
        )
        .exists()
    )
