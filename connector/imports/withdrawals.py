"""Documents their source withdrew (void, deleted) and brought back: Zoho Books turns a void invoice
into an open one again ("Convert to Open"), and its next export lists it live under the same id.

What the latest file says of such a document stands (files are numbered as they come; a retry keeps
its file's number, so an earlier file taken up again says nothing new):
* a live document whose entry its withdrawal reversed, in a file after the withdrawal's, is posted
  again as its next revision (the reversal stays: the ledger is append-only); a payment linked to its
  bank line (whose entry holds the money, and stands) is linked to it again, applying it again;
* a withdrawal whose document was posted again since, in a file after that, reverses it again.

A file listing a document both live and withdrawn (its rows disagreeing) leaves it withdrawn, in
whichever order, and batch, it lists them.

A document reversed otherwise (a bank's return, an OFX delete, a person's `ledger reverse`) stays
reversed, and so does one withdrawn before it was ever posted: an older export imported late cannot
be told from its return (`post.DocumentPoster._reversal`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bulk import rows_in
from connector.documents import Document, withdrawal_id
from connector.imports.models import ImportedDocument, ImportedFile
from connector.imports.recorded import Stored
from connector.ledger.models import JournalEntry

Key = tuple[str, str]  # source, external id


@dataclass(frozen=True, slots=True)
class LiveAgain:
    """Of a batch: the live documents to post again (key → what their entry's memo adds, naming the
    withdrawal's file) and the withdrawals to apply again."""

    restored: Mapping[Key, str]
    withdrawn_again: frozenset[Key]

    def __contains__(self, key: object) -> bool:
        return key in self.restored or key in self.withdrawn_again


def live_again(
    session: Session,
    documents: Sequence[Document],
    stored: Mapping[Key, Stored],
    file_id: int | None,
    listed_before: Callable[[Key], bool],
) -> LiveAgain:
    """What of `documents`, read from the file numbered `file_id` (None: a dry run's, not numbered yet),
    undoes a withdrawal or withdraws again a document that came back. `stored` holds the records of the
    documents and of what the batch's withdrawals withdraw (`recorded.stored_records`); `listed_before`
    says whether an earlier batch of the file listed a document, unchanged."""
    again = frozenset(
        (document.source, document.external_id)
        for document in documents
        if document.withdrawn
        and document.reverses is not None
        and (withdrawal := stored.get((document.source, document.external_id))) is not None
        and withdrawal.status == "reversal"
        and (original := stored.get((document.source, document.reverses))) is not None
        and original.status != "reversed"  # posted again since it was withdrawn
        # after the file that posted it, or by it (its live row in an earlier batch: the withdrawal stands)
        and _after(file_id, original.file_id, or_same=True)
    )
    keys = {(document.source, document.external_id) for document in documents}
    withdrawn: dict[Key, Key] = {}  # a withdrawal's key → the key of the document it reversed
    for document in documents:
        key = (document.source, document.external_id)
        held = stored.get(key)
        live = not (document.withdrawn or document.reverses or document.replaces or document.bank_reversal)
        its_withdrawal = (document.source, withdrawal_id(document.external_id))
        reversed_before = held is not None and held.status == "reversed" and held.entry_id is not None
        # (a file listing it withdrawn too leaves it withdrawn: the withdrawal stands)
        if live and reversed_before and its_withdrawal not in keys and not listed_before(its_withdrawal):
            withdrawn[its_withdrawal] = key
    if not withdrawn:
        return LiveAgain({}, again)
    by_source: dict[str, list[str]] = {}
    for source, external_id in withdrawn:
        by_source.setdefault(source, []).append(external_id)
    reversals: dict[Key, tuple[int, int | None]] = {}  # a withdrawal's key → its reversal and file
    for source, external_ids in by_source.items():
        for external_id, status, entry_id, its_file in rows_in(
            session,
            "external_id, status, entry_id, file_id",
            ImportedDocument.__tablename__,
            "external_id",
            external_ids,
            "source = {p}",
            source,
        ):
            if status == "reversal" and _after(file_id, its_file):
                reversals[(source, external_id)] = (entry_id, its_file)
    if not reversals:
        return LiveAgain({}, again)
    entry_ids = [entry_id for entry_id, _ in reversals.values() if entry_id is not None]
    reversed_entry = dict(
        session.execute(
            select(JournalEntry.id, JournalEntry.reverses_id).where(JournalEntry.id.in_(entry_ids))
        ).all()
    )
    # A withdrawal that reversed no entry of its own withdrew a receipt linked to its other record (a
    # payment whose bank line posted the money): that entry, its record's, stands still (no return since).
    linked = [stored[withdrawn[key]].entry_id for key, (entry_id, _) in reversals.items() if entry_id is None]
    returned = set(
        session.scalars(select(JournalEntry.reverses_id).where(JournalEntry.reverses_id.in_(linked)))
    )
    file_ids = {its_file for _, its_file in reversals.values() if its_file is not None}
    names = dict(
        session.execute(select(ImportedFile.id, ImportedFile.name).where(ImportedFile.id.in_(file_ids))).all()
    )
    restored = {
        withdrawn[key]: "live again after its withdrawal"
        + (f" in {names[its_file]}" if its_file in names else "")
        for key, (entry_id, its_file) in reversals.items()
        # its withdrawal reversed the entry it holds now: no other correction came since
        if (
            reversed_entry.get(entry_id) == stored[withdrawn[key]].entry_id
            if entry_id is not None
            else stored[withdrawn[key]].entry_id not in returned
        )
    }
    return LiveAgain(restored, again)


def _after(this: int | None, other: int | None, *, or_same: bool = False) -> bool:
    """Whether the file numbered `this` came after the one numbered `other` (or is it, `or_same`): a dry
    run's (None) after every file; a record of none (written earlier in a dry run) before every one."""
    return this is None or other is None or this > other or (or_same and this == other)
