"""What the ledger recorded of the documents imported before, and how a new document's id meets them:
its own id, its id scoped by its bank account, its alias or the ids it is known as, or its other form
(a bank's batched entry whole, or as its transactions)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from sqlalchemy.orm import Session

from connector.bulk import row_date, rows_in
from connector.documents import (
    Document,
    booked_whole,
    compact_account,
    fingerprint,
    fingerprints,
    on_account,
    other_form,
)
from connector.imports.outcomes import DOCUMENTS

Key = tuple[str, str]  # (source, external id)
Held = tuple[str, int, date]  # currency, amount in minor units, date: which transaction a line is


class Stored(NamedTuple):
    """What the ledger recorded of a document imported before."""

    id: int
    fingerprint: str
    file_id: int | None
    row: int | None
    status: str
    entry_id: int | None  # the entry its latest revision posted
    bank_account: str | None  # a bank line's statement account, compacted; None when not recorded
    money: Held


class InBatch(NamedTuple):
    """What the batch being posted took of a document earlier in it: its print (a later one of its id and
    print is that one again), its statement account and its money (the batch's other form is that
    money, `in_other_form`)."""

    fingerprint: str
    bank_account: str | None  # a bank line's statement account, compacted
    money: Held


def money_of(document: Document) -> Held:
    """A document's money as the ledger records it (`Stored.money`)."""
    return (document.amount.currency, document.amount.minor, document.date)


@dataclass
class SeenInFile:
    """What the import of one file met in its earlier batches without recording it from this file: ids
    found unchanged (recorded from another file before) and ids it quarantined. The same id again
    further down is one document told twice: with other content it goes to a person, never over the
    first (ids are kept as hashes: a million of them fit in a few tens of megabytes)."""

    unchanged: set[int] = field(default_factory=set)
    quarantined: set[int] = field(default_factory=set)

    @staticmethod
    def key(document: Document) -> int:
        return SeenInFile.key_of(document.source, document.external_id)

    @staticmethod
    def key_of(source: str, external_id: str) -> int:
        return hash((source, external_id))


def of_its_account(
    document: Document,
    stored: Mapping[Key, Stored],
    in_batch: Mapping[Key, InBatch],
) -> Document | None:
    """A bank line whose id a line of another account holds (a bank's reference is unique at that bank
    only: CAMT's AcctSvcrRef): the line under its id scoped by its account, `REF@ACCOUNT` (it is no
    change of the other). None when its id is its own."""
    if document.kind != "bank_line" or document.account is None:
        return None
    account = compact_account(document.account)
    key = (document.source, document.external_id)
    others = tuple(found.bank_account for found in (stored.get(key), in_batch.get(key)) if found is not None)
    if not any(other not in (None, account) for other in others):
        return None
    return dataclasses.replace(document, external_id=on_account(document.external_id, document.account))


def stored_records(session: Session, documents: Sequence[Document]) -> dict[tuple[str, str], Stored]:
    """What was recorded of the batch's documents imported before, and of what its withdrawals withdraw,
    by (source, external id)."""
    found: dict[tuple[str, str], Stored] = {}
    by_source: dict[str, set[str]] = {}
    for document in documents:
        ids = by_source.setdefault(document.source, set())
        ids.add(document.external_id)
        if document.alias is not None:
            ids.add(document.alias)
        ids.update(document.known_as)
        if document.batch is not None:  # its other form: the whole entry, or its first part
            ids.add(other_form(document))
            if document.account is not None:
                ids.add(on_account(other_form(document), document.account))
        if document.kind == "bank_line" and document.account is not None:
            ids.add(on_account(document.external_id, document.account))
        if document.withdrawn and document.reverses is not None:
            ids.add(document.reverses)
    found = _records(session, by_source)
    _further_parts(session, documents, found)
    return found


def _records(session: Session, by_source: Mapping[str, set[str]]) -> dict[Key, Stored]:
    found: dict[Key, Stored] = {}
    for source, external_ids in by_source.items():
        where = "source = {p}"
        for row_id, external_id, stored, file_id, row, status, entry_id, bank_account, *money in rows_in(
            session,
            "id, external_id, fingerprint, file_id, row, status, entry_id, bank_account, currency, "
            "amount_minor, document_date",
            DOCUMENTS.name,
            "external_id",
            external_ids,
            where,
            source,
        ):
            currency, minor, on = money
            found[(source, external_id)] = Stored(
                row_id, stored, file_id, row, status, entry_id, bank_account, (currency, minor, row_date(on))
            )
    return found


def _part_ids(document: Document, number: int) -> list[str]:
    """The ids the `number`-th transaction of a batch booked whole may have been imported under: its
    own, and it scoped by the line's account."""
    part = f"{document.batch}#{number}"
    return [part] if document.account is None else [part, on_account(part, document.account)]


def _further_parts(session: Session, documents: Sequence[Document], found: dict[Key, Stored]) -> None:
    """Adds to `found` the transactions after the first (`REF#2`, `REF#3` …) of the batches booked whole
    whose first transaction was imported: their total tells whether they are the whole's other form
    (`in_other_form`). A batch may hold hundreds: looked up in rounds of growing ranges, while a round
    finds any."""
    wholes = [document for document in documents if booked_whole(document)]
    start, end = 1, 2  # the first transaction: looked up with the batch's other ids
    while wholes:
        wholes = [
            document
            for document in wholes
            if any(
                (document.source, part) in found
                for number in range(start, end)
                for part in _part_ids(document, number)
            )
        ]
        start, end = end, end * 8
        by_source: dict[str, set[str]] = {}
        for document in wholes:
            parts = (part for number in range(start, end) for part in _part_ids(document, number))
            by_source.setdefault(document.source, set()).update(parts)
        found.update(_records(session, by_source))


def in_other_form(
    document: Document, stored: Mapping[Key, Stored], in_batch: Mapping[Key, InBatch] | None = None
) -> bool:
    """Whether a batched bank entry (`Document.batch`) was imported in its other form (whole, or as its
    transactions) on this line's account: stored, or earlier in this batch. A bank's reference is its own
    only: another account's line of that reference is another entry; and some banks re-use it on another
    day: the other form is the same entry only on its booking date, in its currency and of its total
    (`Document.batch_amount`), else it is another one, posted under its own id or alias (`by_alias`)."""
    account = compact_account(document.account)

    def recorded(external_id: str) -> Stored | InBatch | None:
        keys = (
            [external_id]
            if document.account is None
            else [external_id, on_account(external_id, document.account)]
        )
        for key in keys:
            for held_by in (in_batch or {}, stored):
                found = held_by.get((document.source, key))
                if found is not None and (account is None or found.bank_account in (None, account)):
                    return found
        return None

    total = document.batch_amount or document.amount
    entry = (total.currency, total.minor, document.date)
    if not booked_whole(document):  # a transaction: its whole entry's money is the batch's
        whole = recorded(other_form(document))
        return whole is not None and whole.money == entry
    # The whole entry: its transactions, each under its own id (a transaction under an alias is another
    # batch's); those of another date or currency are another batch's that took the numbers free then.
    parts: list[Held] = []
    while (part := recorded(f"{document.batch}#{len(parts) + 1}")) is not None:
        parts.append(part.money)
    ours = [minor for currency, minor, on in parts if (currency, on) == (total.currency, document.date)]
    return bool(ours) and sum(ours) == total.minor


def by_alias(
    document: Document, stored: Mapping[tuple[str, str], Stored], prints: Sequence[str]
) -> tuple[Document, bool]:
    """A document with an `alias` or ids it is `known_as` (a bank line whose id the bank may re-issue):
    whether it was imported under one of those already (then the document under that id); else the
    document under the id it is to have: the one whose line holds the same money (currency, amount,
    date: the same transaction, its text changed since), its own or its alias, else its alias when its
    own id is held by a line of other money (a re-issued id), else its own. An id it is known as holds
    it only unchanged: a line of other text there is another line of the same money."""
    own = stored.get((document.source, document.external_id))
    if own is not None and own.fingerprint in prints:
        return document, False
    others = [document.alias] if document.alias is not None else []
    for other_id in [*others, *document.known_as]:
        other = stored.get((document.source, other_id))
        if other is None:
            continue
        as_other = _under(document, other_id)
        if other.fingerprint in _prints_before(as_other):  # an id is part of the print
            return as_other, True
    money = money_of(document)
    if own is not None and own.money == money:
        return document, False
    if document.alias is None:
        return document, False
    other = stored.get((document.source, document.alias))
    as_alias = _under(document, document.alias)
    if other is not None and other.money == money:
        return as_alias, False
    if own is not None and other is None:
        return as_alias, False
    return document, False


def reused_in_batch(document: Document, in_batch: Mapping[Key, InBatch]) -> Document | None:
    """A document with an `alias` whose id a line of other money took earlier in this batch (a file of
    two days' statements, each numbering its references from 1): another transaction, under its alias,
    as `by_alias` posts it when an earlier file took the id (importing the file again, each line is
    found under its id unchanged). None when its id is free in the batch or held by its own money."""
    earlier = in_batch.get((document.source, document.external_id))
    if document.alias is None or earlier is None or earlier.money == money_of(document):
        return None
    return _under(document, document.alias)


def _under(document: Document, external_id: str) -> Document:
    """`document` under another of its ids: it has no other then."""
    return dataclasses.replace(document, external_id=external_id, alias=None, known_as=())


def _prints_before(document: Document) -> tuple[str, ...]:
    """The prints a document may have been stored with: its own, and those of the references earlier
    versions read for it (`Document.references_before`)."""
    before = (
        fingerprint(dataclasses.replace(document, references=read)) for read in document.references_before
    )
    return (*fingerprints(document), *before)
