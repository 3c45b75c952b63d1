"""A payment's `.kept` credit note lives and dies with its payment.

A payment whose bank kept some of its money back (Zoho Books' Bank Charges), or that took a discount
(QuickBooks IIF) or a voucher that received less than it settled, is parsed as the receipt of the money
banked and a credit note `<id>.kept` of the rest (`documents.banked_and_kept`, `kept_back`). That credit
note is a document of its own, so its payment's fate is carried over to it here, else the customer
would stay credited with charges of a payment that no longer has them:

* a payment whose new revision is posted (changed, or live again) and whose file gives no `.kept` for
  it now (its charges gone): its live `.kept` is reversed and recorded `changed`, so that a later export
  giving it again posts it as its next revision;
* a payment recorded as reversed (by a person, or kept reversed as a correction stands): its live
  `.kept` is reversed too, and one an export gives later posts nothing (`reversed`);
* `ledger reverse` of the payment reverses its live `.kept` with it, as does that of the bank line it is
  linked to with `--returned` (`corrections.reverse_entry`).

Only payments that had one are looked up, in a few set-based queries a batch: a batch of payments
without charges costs a test of each document's kind.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bulk import in_chunks
from connector.documents import Document, kept_id, payment_kept_by
from connector.imports.models import ImportedDocument
from connector.imports.recorded import Stored

Key = tuple[str, str]  # (source, external id)
LIVE = ("posted", "unapplied")  # a record whose own entry stands


class KeptReversed(NamedTuple):
    """A `.kept` credit note reversed with its payment: its id, its entry and that entry's reversal."""

    external_id: str
    entry_id: int
    reversal: int


@dataclass(frozen=True)
class KeptNotes:
    """Of one batch: the live `.kept` credit notes of its changed payments that it does not give again
    (payment key → the note's record id), and the keys of the `.kept` notes it gives whose payment is
    recorded as reversed (`out`: they post nothing)."""

    live: Mapping[Key, int] = field(default_factory=dict)
    out: frozenset[Key] = frozenset()

    @property
    def ids(self) -> set[int]:
        """The records of `live`, to lock and read with the batch's changed records."""
        return set(self.live.values())

    @classmethod
    def of(
        cls,
        session: Session,
        documents: Sequence[Document],
        stored: Mapping[Key, Stored],
        changed: Collection[int],
        back: Container[Key],
        batch_ids: Container[Key],
    ) -> KeptNotes:
        """What `documents` (with their `stored` records, the ids of those that `changed`, those live
        again or withdrawn again, `back`, and every key of the batch, `batch_ids`) do to `.kept` notes."""
        return cls(
            _live_notes(session, documents, stored, changed, batch_ids),
            _kept_out(session, documents, stored, back, batch_ids),
        )


def _live_notes(
    session: Session,
    documents: Sequence[Document],
    stored: Mapping[Key, Stored],
    changed: Collection[int],
    batch_ids: Container[Key],
) -> dict[Key, int]:
    """Payment key → the record id of its live `.kept` note, for the batch's changed payments whose
    `.kept` the batch does not give (one it gives is a document of the batch like any other; a batch
    never ends between a payment and its `.kept`, `batches.Batches`)."""
    if not changed:
        return {}
    wanted: dict[Key, Key] = {}  # the note's key → its payment's
    for document in documents:
        if document.kind != "payment":
            continue
        key = (document.source, document.external_id)
        note = (document.source, kept_id(document.external_id))
        if (known := stored.get(key)) is not None and known.id in changed and note not in batch_ids:
            wanted[note] = key
    return {
        wanted[(source, external_id)]: record_id
        for record_id, source, external_id, _ in _read(session, wanted, live=True)
    }


def _kept_out(
    session: Session,
    documents: Sequence[Document],
    stored: Mapping[Key, Stored],
    back: Container[Key],
    batch_ids: Container[Key],
) -> frozenset[Key]:
    """The keys of the batch's `.kept` notes whose payment is recorded as reversed and not live again in
    the batch: a reversed payment credits its customer nothing, what it kept back included."""
    notes: dict[Key, Key] = {}  # the payment's key → its note's
    for document in documents:
        if document.kind == "credit_note" and (paid := payment_kept_by(document)) is not None:
            notes[(document.source, paid)] = (document.source, document.external_id)
    if not notes:
        return frozenset()
    status = {key: known.status for key in notes if (known := stored.get(key)) is not None}
    # A payment of the batch not recorded before is new; one an earlier batch holds is read as committed.
    earlier = [key for key in notes if key not in status and key not in batch_ids]
    status.update({(source, external_id): now for _, source, external_id, now in _read(session, earlier)})
    return frozenset(
        note for payment, note in notes.items() if status.get(payment) == "reversed" and payment not in back
    )


def _read(session: Session, keys: Collection[Key], *, live: bool = False) -> list[tuple[int, str, str, str]]:
    """(id, source, external id, status) of the records of `keys` (those whose entry stands, `live`)."""
    by_source: dict[str, set[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, set()).add(external_id)
    found: list[tuple[int, str, str, str]] = []
    for source, external_ids in by_source.items():
        for chunk in in_chunks(external_ids):
            query = select(
                ImportedDocument.id,
                ImportedDocument.source,
                ImportedDocument.external_id,
                ImportedDocument.status,
            ).where(ImportedDocument.source == source, ImportedDocument.external_id.in_(chunk))
            if live:
                query = query.where(ImportedDocument.status.in_(LIVE))
            found += [(row.id, row.source, row.external_id, row.status) for row in session.execute(query)]
    return found


def live_kept_note(session: Session, payment: ImportedDocument) -> ImportedDocument | None:
    """The `.kept` credit note of `payment` whose entry stands, locked and as committed; None when it has
    none (most payments: one look-up by its unique key)."""
    if payment.kind != "payment":
        return None
    return session.scalars(
        select(ImportedDocument)
        .where(
            ImportedDocument.source == payment.source,
            ImportedDocument.external_id == kept_id(payment.external_id),
            ImportedDocument.status.in_(LIVE),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def dropped(note: ImportedDocument, payment: Document, stays_reversed: bool) -> str:
    """Why the live `.kept` `note` of `payment` (changed in this import) is reversed."""
    what = f"{note.source} {note.external_id}: its payment {payment.external_id}"
    if stays_reversed:
        return f"{what} stays reversed: reversed with it"
    return f"{what} changed and keeps nothing back now: reversed"


def kept_out_why(payment: str) -> str:
    """Why a `.kept` note of a reversed `payment` posts nothing."""
    return f"its payment {payment} is reversed: what it kept back is not credited either"
