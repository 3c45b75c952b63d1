"""A person's correction: reversing an entry the books no longer hold (an invoice voided after it was
exported, a payment that bounced) so that its customer owes what it really owes.

An entry an imported document posted is reversed as the import reverses a document (its application
to a customer too, its waiting queue item closed), and the document is recorded as reversed: imported
again unchanged it stays reversed. Any other entry is reversed on its own. An application made in the
reconciliation queue is not reversed here: its receipt is (the application goes with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bulk import in_chunks
from connector.errors import LedgerError
from connector.imports.kept_notes import KeptReversed, live_kept_note
from connector.imports.learning import forget_taught_by
from connector.imports.models import ImportedDocument, ReconciliationItem
from connector.imports.reconcile import import_actor, undo_application_by
from connector.imports.rules import APPLICATION_SOURCE, Accounts
from connector.imports.same_receipt import linked_records, on_their_own
from connector.imports.unlearning import TakenBack, rematch_now, take_back
from connector.ledger.entries import Voucher
from connector.ledger.models import JournalEntry
from connector.ledger.posting import Ledger, Reversing
from connector.security.cipher import FieldCipher
from connector.settings import MatchingSettings


class Reversal(NamedTuple):
    entry_id: int
    lines_waiting: int  # bank lines linked to the reversed payment, each now posting its own money
    reversed_entry: int  # the entry asked for, or the application a payment linked to its line made
    # the customers (account numbers) a payer bank account is no longer known for: a person's application
    # of the reversed receipt alone had taught it (`learning`)
    forgotten: tuple[str, ...] = ()
    # the receipts such an account posted by itself since, waiting for a person again (`unlearning`)
    taken_back: tuple[TakenBack, ...] = ()
    # the `.kept` credit notes of what the reversed payments kept back (bank charges, a discount), reversed
    # with them: a reversed payment credits its customer nothing (`kept_notes`)
    kept: tuple[KeptReversed, ...] = ()


def reverse_entry(
    session: Session,
    entry_id: int,
    on: date,
    reason: str,
    actor: str,
    cipher: FieldCipher,
    accounts: Accounts,
    *,
    matching: MatchingSettings,
    returned: bool = False,
) -> Reversal:
    """Reverse entry `entry_id` as of `on` (never before the entry itself): the reversal's id, and how
    many bank lines now wait for a person. The bank
    lines linked to a payment reversed so each post their own money for a person (with the customers
    the import's `matching` finds for it), as when the books
    withdraw it (the bank received it all the same), unless the bank `returned` it (or deleted the line,
    as `post.DocumentPoster._hold_linked` tells): then they stay linked to the reversed payment."""
    entry = session.get(JournalEntry, entry_id)
    if entry is None:
        raise LedgerError(f"journal entry {entry_id} does not exist")
    if entry.source == APPLICATION_SOURCE:
        raise LedgerError(
            f"journal entry {entry_id} applies a receipt from the reconciliation queue: reverse the "
            "receipt's own entry, and its application goes with it"
        )
    memo = f"reversed by {actor}: {reason}"
    voucher = Voucher("correction", record=f"{actor}: {reason}")
    ledger = Ledger(session)
    held = session.scalars(  # locked, and as committed once the lock is ours: an import may repost it
        select(ImportedDocument)
        .where(ImportedDocument.entry_id == entry_id, ImportedDocument.status.in_(("posted", "unapplied")))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    # The entry of a bank line a payment is linked to is that payment's too: unless the bank returned
    # the money, it is the payment that is reversed (the bank received the money all the same).
    payments = linked_records(session, held) if held is not None and held.kind == "bank_line" else []
    if held is not None and payments and not returned:
        return _stop_paying(session, ledger, held, payments, on, memo, voucher)
    if held is not None:
        linked = linked_records(session, held) if held.kind != "bank_line" and not returned else []
        decided = session.scalar(
            select(ReconciliationItem.id).where(
                ReconciliationItem.document_id == held.id, ReconciliationItem.status == "applied"
            )
        )
        # A bank line the bank returned takes back the money of the payments linked to it (`payments`,
        # staying linked): what they kept back is credited no more, as when the payment is reversed.
        notes = [(record, live_kept_note(session, record)) for record in (held, *payments)]
        reversal = reverse_recorded(session, ledger, held, on, memo, voucher)
        kept = _reverse_kept(session, ledger, notes, on, memo, voucher)
        # A person reversing the receipt undoes the decision that applied it: what it alone taught goes
        # (a bank's return of the money does not: the payer's account is still the customer's).
        undone = decided if not returned else None
        forgotten = forget_taught_by(session, undone, actor) if undone is not None else []
        rematch = rematch_now(session, cipher, accounts, matching)
        # What the account posted by itself goes back to the queue: it was only the customer's by it.
        taken = take_back(session, ledger, cipher, accounts, forgotten, rematch, memo, voucher)
        waiting = on_their_own(session, ledger, cipher, accounts, held, linked, f"was {memo}", rematch)
        held.match_rule = f"{held.match_rule}; {memo}"
        assert reversal is not None  # a posted or unapplied document's own entry
        named = tuple(account.account_no for account in forgotten)
        return Reversal(reversal, waiting, entry_id, named, tuple(taken), kept)
    return Reversal(
        ledger.reverse(entry_id, posting_date=on, memo=memo, voucher=voucher).entry_id, 0, entry_id
    )


def _stop_paying(
    session: Session,
    ledger: Ledger,
    line: ImportedDocument,
    payments: list[ImportedDocument],
    on: date,
    memo: str,
    voucher: Voucher,
) -> Reversal:
    """The `payments` linked to bank `line` no longer pay, as when the payment came first: what each
    applied of the line's waiting receipt is reversed, and the line's own entry stands, its money waiting
    in unapplied receipts for a person. Of a line that named its customer itself (or a person applied)
    they applied nothing: which record is wrong is a person's call, refused here."""
    applied = session.execute(
        select(ReconciliationItem.entry_id, ReconciliationItem.resolved_by).where(
            ReconciliationItem.document_id == line.id, ReconciliationItem.status == "applied"
        )
    ).first()
    actors = {import_actor(p.source, p.kind, p.external_id) for p in payments}
    if applied is None or applied.entry_id is None or applied.resolved_by not in actors:
        named = ", ".join(f"{p.source} payment {p.external_id}" for p in payments)
        raise LedgerError(
            f"journal entry {line.entry_id} is {line.source} bank line {line.external_id}'s own, which gave "
            f"its money to its customer itself; {named} is linked to it and applied nothing: if the bank "
            "returned the money, reverse it with --returned; if the payment is wrong, void it in the "
            "accounting system"
        )
    notes = [(payment, live_kept_note(session, payment)) for payment in payments]
    for payment in payments:
        reverse_recorded(session, ledger, payment, on, memo, voucher)
        payment.match_rule = f"{payment.match_rule}; {memo}"
    kept = _reverse_kept(session, ledger, notes, on, memo, voucher)
    reversal = ledger.reversed_by(applied.entry_id)
    assert reversal is not None  # the application undone (`reconcile.undo_application_by`)
    return Reversal(reversal, 1, applied.entry_id, kept=kept)  # the line's money waits for a person


def _reverse_kept(
    session: Session,
    ledger: Ledger,
    notes: Sequence[tuple[ImportedDocument, ImportedDocument | None]],
    on: date,
    memo: str,
    voucher: Voucher,
) -> tuple[KeptReversed, ...]:
    """Reverse each payment's live `.kept` credit note (`live_kept_note`, read before the payment was
    reversed) with it: recorded as reversed, a later export giving it posts nothing (`kept_notes`)."""
    reversed_now = []
    for payment, note in notes:
        if note is None or note.entry_id is None:
            continue
        entry_id, why = note.entry_id, f"{memo} (with its payment {payment.external_id})"
        reversal = reverse_recorded(session, ledger, note, on, why, voucher)
        assert reversal is not None  # a posted document's own entry
        note.match_rule = f"{note.match_rule}; {why}"
        reversed_now.append(KeptReversed(note.external_id, entry_id, reversal))
    return tuple(reversed_now)


class Reverse(NamedTuple):
    """What an imported document posted, to reverse as of `on`, saying why, with its voucher."""

    held: ImportedDocument
    on: date
    memo: str
    voucher: Voucher


def reverse_recorded(
    session: Session, ledger: Ledger, held: ImportedDocument, on: date, memo: str, voucher: Voucher
) -> int | None:
    """Reverse what an imported document posted (`reverse_recorded_many`): the reversal of its own
    entry, when it had one."""
    return reverse_recorded_many(session, ledger, [Reverse(held, on, memo, voucher)])[0]


def reverse_recorded_many(session: Session, ledger: Ledger, wanted: Sequence[Reverse]) -> list[int | None]:
    """Reverse what each imported document posted: its entry and its application to a customer (a
    waiting item is closed); the document is then `reversed`. Each reversal is dated `on` (the ledger
    keeps it from coming before what it reverses). For each, the reversal of its own entry, when it had
    one. In a few statements however many there are (a re-export changing every document)."""
    ids = [request.held.id for request in wanted]
    # Locked (PostgreSQL) as `reconcile.apply` locks them: a person's application of one of these
    # receipts that committed meanwhile is read here, and reversed with it; one coming later finds the
    # item closed.
    items: dict[int, ReconciliationItem] = {}
    for chunk in in_chunks(ids):
        session.execute(
            select(ImportedDocument.id)
            .where(ImportedDocument.id.in_(chunk))
            .order_by(ImportedDocument.id)
            .with_for_update()
        )
        found = session.scalars(
            select(ReconciliationItem)
            .where(ReconciliationItem.document_id.in_(chunk))
            .order_by(ReconciliationItem.document_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        items.update({item.document_id: item for item in found})
    # A linked record's entry is its receipt's other record's, a reversal line's the reversal of the
    # line it returned: those stand on their own. Its application to a customer goes too.
    own = {r.held.id: r.held.entry_id for r in wanted if r.held.status not in ("linked", "reversal")}
    targets = [
        (request, entry_id)
        for request in wanted
        for entry_id in (own.get(request.held.id), _applied(items.get(request.held.id)))
        if entry_id is not None
    ]
    reversals = ledger.reversals_of(entry_id for _, entry_id in targets)
    to_reverse: dict[int, Reverse] = {}
    for request, entry_id in targets:
        if entry_id not in reversals:
            to_reverse.setdefault(entry_id, request)
    posted = ledger.reverse_many(
        [Reversing(entry_id, r.on, r.memo, r.voucher) for entry_id, r in to_reverse.items()]
    )
    reversals.update({entry_id: p.entry_id for entry_id, p in zip(to_reverse, posted, strict=True)})
    for request in wanted:
        held, memo = request.held, request.memo
        item = items.get(held.id)
        if item is not None and item.status == "open":
            item.status, item.note = "rejected", memo
        elif item is not None and item.status in ("applied", "rejected"):  # decided of what is reversed now
            item.status, item.note = "superseded", f"{memo} (was: {item.note})" if item.note else memo
        if held.status == "linked" and held.linked_id is not None:
            # What its import applied of its other record's waiting receipt is undone: it waits again.
            actor = import_actor(held.source, held.kind, held.external_id)
            undo_application_by(session, ledger, actor, held.linked_id, request.on, memo, request.voucher)
            held.linked_id = None  # the receipt its other record posted is free to be paired again
        held.status = "reversed"
    return [reversals[entry] if (entry := own.get(r.held.id)) is not None else None for r in wanted]


def _applied(item: ReconciliationItem | None) -> int | None:
    return item.entry_id if item is not None else None
