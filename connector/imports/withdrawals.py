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
reversed. One withdrawn before it was ever imported (`post.DocumentPoster._reversal`) and live in a
later file is held for a person (`void_first`): an older export imported late cannot be told from its
return, and either way it must not go missing unsaid. Posted as a person accepted it (a retry with
`--accept-changes`), it is withdrawn again by a later withdrawal; kept out (its hold resolved by hand),
later files listing it live leave it out unasked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bulk import rows_in
from connector.documents import Document, withdrawal_id
from connector.imports.models import ImportedDocument, ImportedFile
from connector.imports.recorded import Stored
from connector.ledger.models import JournalEntry
from connector.sync.models import QuarantinedRecord
from connector.sync.quarantine import RETRY_ACTOR

Key = tuple[str, str]  # source, external id
# A withdrawal's record: the document it withdrew was reversed (`reversal`), or never imported (`ignored`).
_REVERSED_IT, _BEFORE_IMPORT = "reversal", "ignored"


@dataclass(frozen=True, slots=True)
class LiveAgain:
    """Of a batch: the live documents to post again (key → what their entry's memo adds, naming the
    withdrawal's file), the withdrawals to apply again, and the live documents withdrawn before they
    were ever imported, by an earlier file, that wait for a person (key → that file's name)."""

    restored: Mapping[Key, str]
    withdrawn_again: frozenset[Key]
    void_first: Mapping[Key, str] = field(default_factory=dict)

    def __contains__(self, key: object) -> bool:
        return key in self.restored or key in self.withdrawn_again or key in self.void_first


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
        # (or withdrawn before it was imported, and posted since as a person accepted it)
        and withdrawal.status in (_REVERSED_IT, _BEFORE_IMPORT)
        and (original := stored.get((document.source, document.reverses))) is not None
        and original.status != "reversed"  # posted again since it was withdrawn
        # after the file that posted it, or by it (its live row in an earlier batch: the withdrawal stands)
        and _after(file_id, original.file_id, or_same=True)
    )
    keys = {(document.source, document.external_id) for document in documents}
    withdrawn: dict[Key, Key] = {}  # a withdrawal's key → the key of the document it reversed
    unposted: dict[Key, Key] = {}  # … of the document recorded reversed that never posted
    for document in documents:
        key = (document.source, document.external_id)
        held = stored.get(key)
        live = not (document.withdrawn or document.reverses or document.replaces or document.bank_reversal)
        its_withdrawal = (document.source, withdrawal_id(document.external_id))
        # (a file listing it withdrawn too leaves it withdrawn: the withdrawal stands)
        if held is None or held.status != "reversed" or not live or its_withdrawal in keys:
            continue
        if not listed_before(its_withdrawal):
            (withdrawn if held.entry_id is not None else unposted)[its_withdrawal] = key
    if not withdrawn and not unposted:
        return LiveAgain({}, again)
    by_source: dict[str, list[str]] = {}
    for source, external_id in (*withdrawn, *unposted):
        by_source.setdefault(source, []).append(external_id)
    reversals: dict[Key, tuple[int, int | None]] = {}  # a withdrawal's key → its reversal and file
    before_import: dict[Key, int] = {}  # a withdrawal's key → the file that withdrew a document first
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
            at = (source, external_id)
            if status == _REVERSED_IT and at in withdrawn and _after(file_id, its_file):
                reversals[at] = (entry_id, its_file)
            # (a record of no file is this dry run's own, of this very file: its withdrawal stands)
            elif (
                status == _BEFORE_IMPORT
                and at in unposted
                and its_file is not None
                and _after(file_id, its_file)
            ):
                before_import[at] = its_file
    void_first = _void_first(
        session, documents, {unposted[at]: its_file for at, its_file in before_import.items()}
    )
    if not reversals:
        return LiveAgain({}, again, void_first)
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
    names = _names(session, {its_file for _, its_file in reversals.values() if its_file is not None})
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
    return LiveAgain(restored, again, void_first)


def _void_first(
    session: Session, documents: Sequence[Document], withdrawn_in: Mapping[Key, int]
) -> dict[Key, str]:
    """Of the live `documents` withdrawn before they were ever imported (key → the file that withdrew
    them), those a person has not kept out yet (`kept_out`): key → that file's name."""
    if not withdrawn_in:
        return {}
    names = _names(session, set(withdrawn_in.values()))
    found = {}
    for document in documents:
        key = (document.source, document.external_id)
        if key in withdrawn_in and key not in found:
            name = names.get(withdrawn_in[key], "an earlier file")
            if not kept_out(session, document, name):
                found[key] = name
    return found


def held_void_first(document: Document, withdrawn_in: str) -> str:
    """Why a live `document`, withdrawn in the file `withdrawn_in` before it was ever imported, waits for
    a person, and what each decision does. It begins the same for each file that lists it live
    (`kept_out` finds a person's decision by it)."""
    what = document.kind.replace("_", " ") + (f" {document.number}" if document.number else "")
    return (
        f"{_void_first_prefix(document, withdrawn_in)}{document.origin.file} ({what}): an older export "
        "imported late, or re-opened since? To post it: `connector quarantine retry ID --accept-changes`; "
        'to keep it out: `connector quarantine resolve ID --note "kept out"`'
    )


def accepted_void_first(withdrawn_in: str) -> str:
    """What the entry of a document withdrawn before its import, posted as a person accepted, adds to
    its memo."""
    return f"live again after its withdrawal in {withdrawn_in}, before its import: posted as accepted"


def kept_out(session: Session, document: Document, withdrawn_in: str) -> bool:
    """Whether a person resolved (by hand, not by a retry that posted it) a hold of `document` as
    withdrawn in `withdrawn_in` before its import: they keep it out, whichever later file lists it live."""
    told = select(QuarantinedRecord.id).where(
        QuarantinedRecord.source == document.source,
        QuarantinedRecord.status == "resolved",
        QuarantinedRecord.resolved_by != RETRY_ACTOR,
        QuarantinedRecord.reason.startswith(_void_first_prefix(document, withdrawn_in), autoescape=True),
    )
    return session.scalar(told.limit(1)) is not None


def _void_first_prefix(document: Document, withdrawn_in: str) -> str:
    return (
        f"{document.source} {document.external_id} was withdrawn (void, deleted) in {withdrawn_in} when "
        "first seen and is live in "
    )


def _names(session: Session, file_ids: set[int]) -> dict[int, str]:
    """The names of the imported files `file_ids`, by id."""
    if not file_ids:
        return {}
    return dict(
        session.execute(select(ImportedFile.id, ImportedFile.name).where(ImportedFile.id.in_(file_ids))).all()
    )


def _after(this: int | None, other: int | None, *, or_same: bool = False) -> bool:
    """Whether the file numbered `this` came after the one numbered `other` (or is it, `or_same`): a dry
    run's (None) after every file; a record of none (written earlier in a dry run) before every one."""
    return this is None or other is None or this > other or (or_same and this == other)
