"""Documents into the ledger, a batch at a time, exactly once each.

For each document, in file order:
* seen before (same source and external id, or another id it is known by: `recorded`) with the same
  fingerprint: nothing to do;
* seen before with other content: by policy, its entry is reversed and the new content posted as the
  next revision (both traceable to their files), or the new one is quarantined; one a correction
  reversed (a bank's return, an OFX delete) stays reversed, its new revision recorded;
* withdrawn (void, deleted) and live again in a later file, or withdrawn again after that: posted, or
  reversed, again (`withdrawals`); withdrawn before it was ever imported and live in a later file:
  quarantined for a person, who posts it (`--accept-changes`) or keeps it out;
* a reversal (`reverses` set): the original's entry is reversed; a bank's reversal naming no line
  undoes the one `bank_returns` finds;
* an outgoing bank line: recorded as ignored (not a receivable), never silently dropped;
* otherwise matched (`matching`); a receipt already recorded by its other record (a bank line for a
  payment, a payment for a bank line: `same_receipt`) is linked to it; the rest are turned into entries
  (`rules`) and posted. A receipt whose customer is not sure, or that names an invoice in another
  currency (it cannot settle it), goes to unapplied receipts with a reconciliation item listing its
  candidates; a credit note naming one is quarantined. A refund (money paid back) posts only out of
  its customer's credit in its currency (`rules.refund_refused`), as the whole file leaves it: one
  beyond the credit so far is checked again at the file's end (`defer`), then quarantined.

Entries of a batch are posted with one `Ledger.post_many`; should that fail, the batch is posted one
document at a time so that only the documents at fault are quarantined.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bulk import in_chunks
from connector.credit import reads
from connector.documents import (
    Document,
    compact_account,
    fingerprint,
    fingerprints,
    on_account,
    payment_kept_by,
)
from connector.errors import ConnectorError
from connector.imports import reconcile, rules
from connector.imports.bank_returns import BankReturns, NotFound, ReturnedByHand
from connector.imports.changed import ChangedRecords, with_linked_records
from connector.imports.corrections import Reverse, reverse_recorded_many
from connector.imports.decisions import decision_on, restore
from connector.imports.kept_notes import LIVE, KeptNotes, dropped, kept_out_why
from connector.imports.known import KnownCustomers
from connector.imports.lookalikes import Lookalike, Lookalikes, exported_again
from connector.imports.matching import Match, matched
from connector.imports.models import ImportedDocument, ReconciliationItem
from connector.imports.outcomes import Outcomes, Work, named_invoices
from connector.imports.reconcile import import_actor
from connector.imports.recorded import (
    InBatch,
    SeenInFile,
    Stored,
    by_alias,
    in_other_form,
    money_of,
    of_its_account,
    reused_in_batch,
    stored_records,
)
from connector.imports.row_quarantine import quarantine_input
from connector.imports.same_receipt import OTHER_RECORD, Earlier, SameReceipts, linked_records, on_their_own
from connector.imports.withdrawals import LiveAgain, accepted_void_first, held_void_first, live_again
from connector.ledger.models import AccountBalance
from connector.ledger.posting import Ledger
from connector.money import Money
from connector.security.cipher import FieldCipher
from connector.settings import ImportSettings
from connector.sync.models import SyncRun

RETURN_CANCELLED = "return_cancelled"  # a bank's reversal that cancels its own return: a receipt again


class DocumentPoster:
    def __init__(
        self,
        session: Session,
        cipher: FieldCipher,
        accounts: rules.Accounts,
        settings: ImportSettings,
        known: KnownCustomers,
        file_id: int | None,
        run: SyncRun | None,
        accept_changes_at: frozenset[int | None] = frozenset(),
        seen: SeenInFile | None = None,
        kinds_follow_sides: bool = False,
        retrying: bool = False,
        defer: list[Document] | None = None,
    ) -> None:
        self.session = session
        # Documents held as maybe exported again go here while the file's end is not reached: the one
        # they look like may still come, unchanged, further down (then they are no lookalikes); so do
        # refunds beyond their customer's credit so far (the receipt giving it may come further down).
        self.defer = defer
        # A quarantine retry replays a file's failed rows: a document imported since from another file
        # (corrected there) stands, and the older row is not replayed over it.
        self.retrying = retrying
        # The source's documents are lines whose kind is their side and whose id is their rank (voucher
        # exports): an edit may turn a line of one kind into another's, a change like any other.
        self.kinds_follow_sides = kinds_follow_sides
        self.accept_changes_at = accept_changes_at  # rows whose changes a person accepted
        self.cipher = cipher
        self.accounts = accounts
        self.settings = settings
        self.known = known
        self.file_id = file_id
        self.run = run
        self.ledger = Ledger(session)
        self.same_receipts = SameReceipts(session, settings.matching.same_receipt_days, accounts)
        self.outcomes = Outcomes(session, cipher, file_id)
        self.lookalikes = Lookalikes(session, file_id, accounts)
        self.seen = SeenInFile() if seen is None else seen
        self.bank_returns = BankReturns(session, cipher, accounts, known, self.ledger)
        # Receipts reposted as changed, or withdrawn, with the records linked to them and what happened
        # to them when it is not a change (`_relink`).
        self.relinking: list[tuple[ImportedDocument, list[ImportedDocument], str | None]] = []
        # The batch's changed documents whose earlier revisions are to be reversed (`_reverse_replaced`).
        self._replacing: list[Reverse] = []
        # Of those, the `.kept` notes of its payments (`kept_notes`), with their status after and why.
        self._kept_dropped: list[tuple[ImportedDocument, str, str]] = []
        # The documents the batch's corrections withdraw, by record id, with the correction and why
        # (`_reverse_withdrawn`); and the records those corrections name, read at once (`_imported`).
        self._withdrawing: dict[int, tuple[Work, Reverse, str]] = {}
        self._originals: dict[tuple[str, str], ImportedDocument] = {}
        self._without_linked: set[int] = set()  # of those, the ones no record was linked to
        # The receipts this import posted on their own (source, id): a record set free may be theirs.
        self.posted_receipts: set[tuple[str, str]] = set()

    def post(self, documents: Sequence[Document]) -> Counter[str]:
        counts: Counter[str] = Counter()
        stored = stored_records(self.session, documents)
        unchanged = self.seen.unchanged
        back = live_again(
            self.session, documents, stored, self.file_id, lambda key: SeenInFile.key_of(*key) in unchanged
        )
        changed = self._changed(documents, stored, back)
        batch_ids = {(document.source, document.external_id) for document in documents}
        # The `.kept` notes of its changed payments, locked and read with their records.
        kept = KeptNotes.of(self.session, documents, stored, changed, back, batch_ids)
        self._lock(documents, changed | kept.ids)
        records = ChangedRecords(self.session, changed | kept.ids)
        self.lookalikes.prefetch(documents, stored)
        work: list[Work] = []
        corrections: list[Work] = []
        in_batch: dict[tuple[str, str], InBatch] = {}
        for document in documents:
            if (scoped := of_its_account(document, stored, in_batch)) is not None:
                document = scoped
            prints = fingerprints(document)
            if document.batch is not None and in_other_form(document, stored, in_batch):
                counts["unchanged"] += 1  # imported before as the whole batch, or as its transactions
                self.seen.unchanged.add(SeenInFile.key(document))
                continue
            if document.alias is not None or document.known_as:
                keyed, under_alias = by_alias(document, stored, prints)
                if under_alias:
                    counts["unchanged"] += 1  # imported before under its other id
                    # Under both: the line held under the other came again (`Lookalikes`).
                    self.seen.unchanged.update({SeenInFile.key(document), SeenInFile.key(keyed)})
                    continue
                if keyed is not document:  # under its alias: its print names that id
                    document, prints = keyed, fingerprints(keyed)
            if (reused := reused_in_batch(document, in_batch)) is not None:
                document, prints = reused, fingerprints(reused)  # as `keyed`
            key = (document.source, document.external_id)
            item = Work(document, prints[0])
            earlier = in_batch.get(key)
            known = stored.get(key)
            same = (
                known is not None
                and known.fingerprint in prints
                and known.status != "changed"
                and key not in back
            )
            if earlier is not None or same:
                if earlier is not None and earlier.fingerprint != item.fingerprint:
                    self._quarantine(
                        document, "the same document appears again in the batch with other content"
                    )
                    counts["quarantined"] += 1
                else:
                    counts["unchanged"] += 1
                    if earlier is None:
                        self.seen.unchanged.add(SeenInFile.key(document))
                continue
            repeated = self._repeated_in_file(known, document)
            lookalike = self._lookalike(document, batch_ids) if repeated is None and known is None else None
            if lookalike is not None and self.lookalikes.told_exported_again(document, lookalike):
                counts["unchanged"] += 1  # a person said so when it was held before
                self.seen.unchanged.add(SeenInFile.key(document))
                continue
            if lookalike is not None and self.defer is not None:
                self.defer.append(document)  # decided once the whole file is read
                continue
            if lookalike is not None:
                repeated = exported_again(document, lookalike)
            if repeated is not None:
                self._quarantine(document, repeated)
                counts["quarantined"] += 1
                continue
            in_batch[key] = InBatch(item.fingerprint, compact_account(document.account), money_of(document))
            # As committed now: a person may have reversed or applied it meanwhile.
            held = records.record(known.id) if known is not None else None
            if held is not None and self._imported_since(held, document):
                counts["superseded"] += 1
                continue
            if held is not None and held.kind != document.kind and not self.kinds_follow_sides:
                self._quarantine(document, _another_kind(held, document))
                counts["quarantined"] += 1
                continue
            if key in back.void_first and document.origin.row not in self.accept_changes_at:
                # Withdrawn before it was ever imported: an older export imported late, or re-opened?
                self._quarantine(document, held_void_first(document, back.void_first[key]))
                counts["quarantined"] += 1
                continue
            if key in kept.out and (held is None or held.status in (*LIVE, "changed")):
                self._keep_out(item, held)  # (one `reversed` already is kept reversed below)
                counts["kept_reversed"] += 1
                continue
            if held is not None and held.status in ("reversed", "reversal", "ignored") and key in back:
                # Withdrawn and live again (before its import too, as a person accepted), or the other way
                # round (a withdrawal before its import too, its document posted since): its next
                # revision, nothing to reverse
                item.held, item.revision = held, held.revision + 1
                item.restores = back.restored.get(key)
                if key in back.void_first:
                    item.restores = accepted_void_first(back.void_first[key])
                counts["kept_notes_reversed"] += self._drop_kept(kept, records, document, False)
            elif held is not None and held.status == "reversed":
                self._keep_reversed(item, held)
                counts["kept_reversed"] += 1
                counts["kept_notes_reversed"] += self._drop_kept(kept, records, document, True)
                continue
            elif held is not None and held.status == "reversal":
                self._keep_applied(item, held)
                counts["corrections_kept"] += 1
                continue
            elif held is not None:
                decided = (
                    decision_on(self.session, held)
                    if rules.is_receipt(document) and records.may_be_decided(held.id)
                    else None
                )
                stood = held.status in ("posted", "unapplied")  # its own entry stood until now
                if not self._replace(held, document, records.may_have_linked(held.id)):
                    counts["quarantined"] += 1
                    continue
                item.held, item.revision, item.decided = held, held.revision + 1, decided
                item.zeroed = stood and document.amount.minor == 0
                counts["kept_notes_reversed"] += self._drop_kept(kept, records, document, False)
            if document.reverses is not None or document.replaces is not None or document.bank_reversal:
                corrections.append(item)  # after the batch's postings: it may correct one of them
            else:
                work.append(item)
        # What the changed ones posted goes first (what becomes of them is recorded over their records).
        self._reverse_replaced(work)
        work = [item for item in work if self._receivable(item, counts)]
        # A receipt imported before and withdrawn now goes first: the bank line it set free is there for
        # the batch's receipts to pair with (a payment deleted and entered again), as in a later export.
        early = [
            item
            for item in corrections
            if item.document.withdrawn
            and rules.is_receipt(item.document)
            and (source_id := (item.document.source, item.document.reverses or "")) in stored
            and source_id not in batch_ids
        ]
        self._read_originals(early)
        for item in early:
            counts[self._reversal(item)] += 1
        self._reverse_withdrawn()
        if early:
            self.outcomes.write()
            counts += self._relink()
        if early:  # by identity: comparing the items field by field would cost a batch's square
            went_first = {id(item) for item in early}
            corrections = [item for item in corrections if id(item) not in went_first]
        counts += self._settle(work)
        again: list[Work] = []
        # Money back in after money out: a storno listed before the return it cancels still finds it.
        corrections.sort(key=lambda item: item.document.bank_reversal and item.document.amount.minor > 0)
        handled: set[str] = set()  # the ids of the batch's corrections handled so far
        self._read_originals(corrections)
        for item in corrections:
            document = item.document
            if document.reverses is None:  # what it does may depend on the withdrawals above being done
                self._reverse_withdrawn()
            if {document.reverses, document.replaces} & handled:
                self._reverse_withdrawn()
                # It corrects a correction above (a replacement replaced or deleted in turn): that one
                # is recorded first, so that this one finds it.
                counts += self._settle(again)
                again = []
            handled.add(document.external_id)
            if document.reverses is not None:
                counts[self._reversal(item)] += 1
            elif document.bank_reversal:
                outcome = self._bank_reversal(item)
                if outcome == RETURN_CANCELLED:  # the money is back: a receipt again
                    again.append(item)
                else:
                    counts[outcome] += 1
                    self.outcomes.write()  # a return is there for money back in later in the batch
            elif not self._superseded(item):
                counts["quarantined"] += 1
            elif self._receivable(item, counts):
                again.append(item)
        self._reverse_withdrawn()
        counts += self._settle(again)
        self.outcomes.write()
        return counts + self._relink()

    def _changed(
        self, documents: Sequence[Document], stored: Mapping[tuple[str, str], Stored], back: LiveAgain
    ) -> set[int]:
        """The records of the batch's documents that changed since their import, or come back after
        their withdrawal, or are withdrawn again (`back`)."""
        return {
            known.id
            for document in documents
            if (known := stored.get(key := (document.source, document.external_id))) is not None
            and (known.status == "changed" or known.fingerprint not in fingerprints(document) or key in back)
        }

    def _lock(self, documents: Sequence[Document], changed: set[int]) -> None:
        """Lock (PostgreSQL) the records of the batch's documents that `changed`, and the earlier records its
        receipts may pair with (`SameReceipts.candidates`: a waiting one is applied as it pairs), and
        their queue items, in id order, before the batch posts anything: a person's decision on one of
        them (`reconcile apply`, `ledger reverse`: its record, its item, then balances) then waits for
        the batch instead of deadlocking with it (the batch would hold balances and wait for the record).
        Then every account balance, as the batch posts to several in no one order."""
        if self.session.get_bind().dialect.name != "postgresql":
            return  # SQLite's write lock, taken at BEGIN, serializes writers already
        receipts = [document for document in documents if rules.is_receipt(document)]
        ids = changed.union(self.same_receipts.candidates(receipts) if receipts else ())
        for chunk in in_chunks(ids):
            self.session.execute(
                select(ImportedDocument.id)
                .where(ImportedDocument.id.in_(chunk))
                .order_by(ImportedDocument.id)
                .with_for_update()
            )
            self.session.execute(
                select(ReconciliationItem.id)
                .where(ReconciliationItem.document_id.in_(chunk))
                .order_by(ReconciliationItem.document_id)
                .with_for_update()
            )
        # Then the accounts' balances, in key order as a posting takes them: the batch's postings (a
        # receipt's, then an application's …) would take them in no one order, and a person's posting
        # holding the first of its own would wait for the batch while the batch waits for it.
        self.session.execute(
            select(AccountBalance.account_code)
            .order_by(AccountBalance.account_code, AccountBalance.currency)
            .with_for_update()
        )

    def _lookalike(self, document: Document, batch_ids: set[tuple[str, str]]) -> Lookalike | None:
        """The earlier document a new one whose id is its content's digest may be, exported again with
        other text, or a bank line of another format a new line may be (`lookalikes`); None when none (or
        a person accepted it as another)."""
        if document.origin.row in self.accept_changes_at:
            return None
        source = document.source

        def came_again(external_id: str) -> bool:
            key = SeenInFile.key_of(source, external_id)
            return (source, external_id) in batch_ids or key in self.seen.unchanged

        return self.lookalikes.of(document, came_again)

    def _imported_since(self, held: ImportedDocument, document: Document) -> bool:
        """Whether a retried row's document was imported from a file that came after this one (unless a
        person accepted the row's changes): the newer import stands. (Files are numbered as they come;
        a retry keeps its file's number.)"""
        return (
            self.retrying
            and held.file_id is not None
            and self.file_id is not None
            and held.file_id > self.file_id
            and document.origin.row not in self.accept_changes_at
        )

    def _receivable(self, item: Work, counts: Counter[str]) -> bool:
        """Whether the document posts to receivables; money out of the bank, and a document of no amount
        (a free trial's invoice), are recorded as ignored; a customer's note the chart keeps no account
        for is quarantined (before any pairing with a bank line: it is no bank money)."""
        if (why := rules.unbankable(item.document, self.accounts)) is not None:
            self._quarantine(item.document, why)
            self._awaiting_repost(item)
            counts["quarantined"] += 1
            return False
        if item.document.amount.minor == 0:
            why = "a zero amount: nothing to post"
            if item.zeroed:  # a QuickBooks Online export's void: its entry was reversed (`_replace`)
                why = "a zero amount now (voided): what it posted before is reversed, nothing to post"
                counts["reversed_now_zero"] += 1
            self.outcomes.record(item, "ignored", None, None, why)
            counts["ignored_zero_amount"] += 1
            return False
        if item.document.kind == "bank_line" and item.document.amount.minor < 0:
            self.outcomes.record(item, "ignored", None, None, "money out of the account: not a receipt")
            counts["ignored_outgoing"] += 1
            return False
        return True

    def _settle(self, work: list[Work]) -> Counter[str]:
        """Match, draft and post `work`, then write the records of everything the batch did so far."""
        self._match(work)
        work, counts = self._link_same_receipts(work)
        if refused := self._draft(work):
            work = self._put_off(work, refused)
        counts += self._post(work)
        self.outcomes.write()
        return counts + self._decide_as_before(work)

    def _decide_as_before(self, work: list[Work]) -> Counter[str]:
        """Changed receipts back in the queue that a person (or a payment record) decided before: decided
        so again when their money is the same (`decisions`)."""
        counts: Counter[str] = Counter()
        for item in work:
            if item.decided is None or item.held is None:
                continue
            if item.waits is not None and reconcile.by_import(item.decided.actor):
                continue  # an import applied it, which it would not now (`_link`): it waits for a person
            document = item.document
            done = restore(
                self.session, item.decided, item.held.id, document.amount, self.accounts, document.date
            )
            if done is not None:
                counts[done] += 1
                counts["receipts_unapplied"] -= 1  # decided again: not waiting
        return counts

    # --- look-ups ----------------------------------------------------------------------------------

    def _repeated_in_file(self, known: Stored | None, document: Document) -> str | None:
        """Why `document` is one an earlier batch of this file met already (a sorted export puts one
        document's rows far apart), with other content: never a later version of it; else None."""
        hashed = SeenInFile.key(document)
        if hashed in self.seen.quarantined:
            return "the same document appears again in the file; an earlier row of it is in quarantine"
        if hashed in self.seen.unchanged:
            return "the same document appears again in the file with other content"
        row = document.origin.row
        if (
            known is not None
            and known.file_id == self.file_id
            and row is not None
            and known.row not in (None, row)
        ):
            return f"the same document appears again in the file with other content (row {known.row})"
        return None

    # --- changed documents and reversals -----------------------------------------------------------

    def _replace(self, held: ImportedDocument, document: Document, may_have_linked: bool) -> bool:
        """A document changed since it was imported: what it posted is reversed (with the batch's others,
        `_reverse_replaced`), or it is quarantined. The records linked to its receipt are seen to once
        its new revision is posted (`_relink`)."""
        where = f"{held.source} {held.external_id}"
        accepted = document.origin.row in self.accept_changes_at
        if self.settings.changed_documents == "quarantine" and not accepted:
            self._quarantine(
                document,
                f"{where} changed since it was imported (policy: quarantine); to repost it as changed: "
                "connector quarantine retry ID --accept-changes",
            )
            return False
        linked = self._linked_to(held) if may_have_linked else []
        memo = f"{where} changed: reversed, reposted as revision {held.revision + 1}"
        if document.amount.minor == 0:
            memo = f"{where} reads {document.amount} now (voided): reversed"
        self._replacing.append(Reverse(held, document.date, memo, rules.voucher(document, self.file_id)))
        if linked:
            self.relinking.append((held, linked, None))
        return True

    def _linked_to(self, held: ImportedDocument) -> list[ImportedDocument]:
        """The records linked to `held`'s receipt (its other record: a bank line for a payment …), locked."""
        if held.id in self._without_linked:  # none when the batch's corrections were read (`_read_originals`)
            return []
        return linked_records(self.session, held)

    def _relink(self) -> Counter[str]:
        """The records linked to a receipt reposted as changed, or withdrawn, in this import: still linked,
        to its new entry, when that posts the same money (currency and amount); else unlinked, each posting
        its own money into unapplied receipts for a person (`same_receipt.on_their_own`): the bank's line
        of 2,500.00 is not the payment now of 2,400.00, nor of a payment that no longer posts."""
        counts: Counter[str] = Counter()
        for held, linked, what in self.relinking:
            now = Money(held.amount_minor, held.currency)
            posts = held.status in ("posted", "unapplied") and held.entry_id is not None
            apart = []
            for record in linked:
                still = record.status == "linked" and record.linked_id == held.id
                if still and posts and Money(record.amount_minor, record.currency) == now:
                    record.entry_id = held.entry_id  # the same money: still its other record
                else:
                    apart.append(record)
            what = what or (f"changed to {now}" if posts else "changed and no longer posts it")
            # One this import posted on its own may be of its money (a payment deleted and entered again,
            # both in one export): as when it comes in a later file, the record is its other record.
            counts["receipts_linked"] += sum(self._link_to_posted(record) for record in apart)
            counts["receipts_unlinked"] += on_their_own(
                self.session, self.ledger, self.cipher, self.accounts, held, apart, what, self._rematch
            )
        self.relinking = []
        return counts

    def _rematch(self, document: Document) -> Match:
        """Who a record set free may be of (`same_receipt.post_on_its_own`), as this import matches."""
        return matched(document, self.known, self.settings.matching)

    def _link_to_posted(self, record: ImportedDocument) -> bool:
        """Link `record`, set free by what happened to its receipt, to a receipt of its money this import
        posted on its own (`same_receipt`'s rules: its other kind, the same money, near dates, the same
        customer and bank account or none named, not linked to already). Whether it was."""
        if record.status != "linked" or self.same_receipts.window <= 0 or not self.posted_receipts:
            return False
        bank = self.accounts.bank_key(record.bank_account, by_statement=record.kind == "bank_line")
        found = self.session.scalars(
            select(ImportedDocument)
            .where(
                ImportedDocument.kind == OTHER_RECORD[record.kind],
                ImportedDocument.currency == record.currency,
                ImportedDocument.amount_minor == record.amount_minor,
                ImportedDocument.status.in_(("posted", "unapplied")),
                ImportedDocument.external_id.in_([external_id for _, external_id in self.posted_receipts]),
            )
            .order_by(ImportedDocument.id)
        )
        for receipt in found:
            taken = select(ImportedDocument.id).where(
                ImportedDocument.linked_id == receipt.id, ImportedDocument.status == "linked"
            )
            theirs = self.accounts.bank_key(receipt.bank_account, by_statement=receipt.kind == "bank_line")
            if (
                (receipt.source, receipt.external_id) in self.posted_receipts
                and receipt.entry_id is not None
                and abs((receipt.document_date - record.document_date).days) <= self.same_receipts.window
                and record.customer_id in (None, receipt.customer_id)
                and (bank is None or theirs in (None, bank))
                and self.session.scalar(taken.limit(1)) is None
            ):
                what = f"{receipt.source} {receipt.kind.replace('_', ' ')} {receipt.external_id}"
                record.linked_id, record.entry_id = receipt.id, receipt.entry_id
                record.customer_id = receipt.customer_id
                record.match_rule = f"the same receipt as {what} of {receipt.document_date}, which posted it"
                return True
        return False

    def _keep_reversed(self, item: Work, held: ImportedDocument) -> None:
        """A document a correction cancelled (a bank's return, an OFX delete or replace) sent again
        with other content: still cancelled. Its new revision is recorded, and posts nothing."""
        item.held, item.revision = held, held.revision + 1
        why = "changed after it was reversed: it stays reversed, as the correction that reversed it stands"
        self.outcomes.record(item, "reversed", held.entry_id, held.customer_id, why)

    def _drop_kept(
        self, kept: KeptNotes, records: ChangedRecords, payment: Document, stays_reversed: bool
    ) -> bool:
        """Reverse the live `.kept` note of `payment`, whose new revision this batch records without one
        (`kept_notes`), with the batch's changed documents: `changed` (a later export giving it posts it
        again), or `reversed` with its payment. Whether there was one."""
        record_id = kept.live.get((payment.source, payment.external_id))
        if record_id is None:
            return False
        note = records.record(record_id)
        if note.status not in LIVE:  # reversed meanwhile, as committed now
            return False
        memo = dropped(note, payment, stays_reversed)
        # The payment's row reversed it, and the entry it reverses is a credit note's.
        voucher = dataclasses.replace(rules.voucher(payment, self.file_id), document_type=note.kind)
        self._replacing.append(Reverse(note, payment.date, memo, voucher))
        self._kept_dropped.append((note, "reversed" if stays_reversed else "changed", memo))
        return True

    def _keep_out(self, item: Work, held: ImportedDocument | None) -> None:
        """A `.kept` credit note whose payment is recorded as reversed: it posts nothing either, and one
        that stood (reversed before its payment was) is reversed now."""
        document = item.document
        why = kept_out_why(payment_kept_by(document) or document.external_id)
        if held is not None:
            item.held, item.revision = held, held.revision + 1
            if held.status in LIVE:
                voucher = rules.voucher(document, self.file_id)
                self._replacing.append(
                    Reverse(held, document.date, f"{held.source} {held.external_id}: {why}", voucher)
                )
        entry_id, customer_id = (held.entry_id, held.customer_id) if held is not None else (None, None)
        self.outcomes.record(item, "reversed", entry_id, customer_id, why)

    def _keep_applied(self, item: Work, held: ImportedDocument) -> None:
        """A correction (a bank's return, an OFX delete) sent again with other content (a re-issued
        statement, its text wrapped anew): it was applied once, and is never applied again (that would
        reverse another line). Its new revision is recorded as the correction it is, and posts nothing."""
        item.held, item.revision = held, held.revision + 1
        kept = "; sent again changed: it stands as applied"
        why = held.match_rule.removesuffix(kept) + kept
        self.outcomes.record(item, "reversal", held.entry_id, held.customer_id, why)

    def _reverse_posted(self, held: ImportedDocument, document: Document, memo: str) -> int | None:
        """Reverse what `held` posted (`reverse_recorded`), as of `document`'s date."""
        voucher = rules.voucher(document, self.file_id)  # the file that changed or withdrew it
        return self._reverse_all([Reverse(held, document.date, memo, voucher)])[0]

    def _reverse_withdrawn(self) -> None:
        """Reverse what the documents withdrawn so far (`_reversal`) posted, all at once; each withdrawal
        is then recorded with the reversal it made."""
        withdrawing, self._withdrawing = self._withdrawing, {}
        if not withdrawing:
            return
        reversals = self._reverse_all([request for _, request, _ in withdrawing.values()])
        for (item, _, why), reversal in zip(withdrawing.values(), reversals, strict=True):
            self.outcomes.record(item, "reversal", reversal, None, why)

    def _read_originals(self, corrections: Sequence[Work]) -> None:
        """The records the batch's `corrections` name, read at once for `_imported`."""
        named: dict[str, set[str]] = {}
        for item in corrections:
            for external_id in (item.document.reverses, item.document.replaces):
                if external_id is not None:
                    named.setdefault(item.document.source, set()).add(external_id)
        for source, external_ids in named.items():
            for chunk in in_chunks(external_ids):
                found = self.session.scalars(
                    select(ImportedDocument).where(
                        ImportedDocument.source == source, ImportedDocument.external_id.in_(chunk)
                    )
                ).all()
                self._originals.update({(source, record.external_id): record for record in found})
                read = [record.id for record in found]
                self._without_linked.update(set(read) - with_linked_records(self.session, read))

    def _reverse_replaced(self, work: list[Work]) -> None:
        """Reverse what the batch's changed documents posted, all at once, before their new revisions.
        What the import of one of them applied of a waiting receipt is undone with it: a decision of
        that import read for a receipt of `work` (the receipt in the file too) holds no longer."""
        replacing, self._replacing = self._replacing, []
        self._reverse_all(replacing)
        for note, status, memo in self._kept_dropped:  # a later export giving it posts it again
            note.status, note.match_rule = status, f"{note.match_rule}; {memo}"
        self._kept_dropped = []
        undone = {import_actor(r.held.source, r.held.kind, r.held.external_id) for r in replacing}
        for item in work:
            if item.decided is not None and item.decided.actor in undone:
                item.decided = None

    def _reverse_all(self, wanted: list[Reverse]) -> list[int | None]:
        reversals = reverse_recorded_many(self.session, self.ledger, wanted)
        for request in wanted:
            if request.held.kind == "invoice" and request.held.number:
                self.known.invoice_withdrawn(request.held.number)
        return reversals

    def _reversal(self, item: Work) -> str:
        document = item.document
        assert document.reverses is not None  # a correction because it reverses one
        reverses = document.reverses
        original = self._imported(document.source, reverses)
        account = compact_account(document.account) if document.kind == "bank_line" else None
        if original is not None and account is not None and original.bank_account not in (None, account):
            reverses = on_account(reverses, account)  # another account's line holds its own id
            original = self._imported(document.source, reverses)
        if original is None and document.withdrawn_if_imported:
            # Withdrawn for now (a bill in audit, un-audited): nothing to undo, and nothing recorded, so
            # that the export listing it live posts it (and a withdrawal after that reverses it).
            return "withdrawn_before_import"
        if original is None and document.withdrawn:  # void before it was ever imported: nothing to undo
            why = f"{document.reverses} was withdrawn (void, deleted) before it was imported"
            self.outcomes.record(item, "ignored", None, None, why)
            # What it withdrew is recorded as reversed: a retry of this file posts nothing, and a later
            # file listing it live (an earlier export imported late, or re-opened) waits for a person
            # (`withdrawals.void_first`).
            gone = dataclasses.replace(document, external_id=reverses, reverses=None, withdrawn=False)
            why = f"withdrawn (void, deleted) in {document.source} before it was imported"
            self.outcomes.record(Work(gone, fingerprint(gone)), "reversed", None, None, why)
            return "withdrawn_before_import"
        if len(named := self._named_lines(document, reverses, original)) > 1:
            self._quarantine(document, _one_of_several(document, reverses, named))
            return "quarantined"
        original = next(iter(named), None)  # or the one line of its id's extensions: see `_named_lines`
        if original is None:
            self._quarantine(
                document, f"it reverses {document.source} {document.reverses}, which was never imported"
            )
            return "quarantined"
        if original.id in self._withdrawing:  # corrected twice in the batch: the first one's reversal first
            self._reverse_withdrawn()
        if original.status == "linked" and original.kind == "bank_line":
            self._hold_linked(document, original, f"the bank deleted line {original.external_id}")
            return "quarantined"
        memo = ""
        if original.status != "reversed":
            memo = f"reversed by {document.source} {document.external_id}"
            if document.return_reason:  # a bank's return naming its line, saying why
                memo = f"{_returned(document)}: {memo}"
            # The bank lines linked to a payment the books withdraw still hold the money the bank received:
            # each posts it (`_relink`). A line the bank deleted is money that never came: a payment
            # linked to it stays so, as one linked to a line the bank returned (`same_receipt._STATUSES`).
            if original.kind != "bank_line" and (linked := self._linked_to(original)):
                self.relinking.append(
                    (original, linked, f"was withdrawn (void, deleted) in {document.source}")
                )
            if document.withdrawn:
                memo = f"withdrawn in {document.source} (void, deleted)"
        # The line's entry is that reversal (when the line posted one): the statement report matches it.
        why = f"reverses {document.reverses}"
        if document.return_reason:
            why = f"{why} ({document.return_reason})"
        if original.status == "reversed":
            self.outcomes.record(item, "reversal", None, None, why)
            return "reversed"
        voucher = rules.voucher(document, self.file_id)  # the file that withdrew it
        self._withdrawing[original.id] = (item, Reverse(original, document.date, memo, voucher), why)
        return "reversed"

    def _superseded(self, item: Work) -> bool:
        """A replacement (OFX REPLACE): what the document it replaces posted is reversed first. One
        whose original was never imported is quarantined, as a deletion of it is: posted now, the
        original imported later would be posted beside it (retried once the original is in, it
        replaces it)."""
        document = item.document
        assert document.replaces is not None  # a correction because it replaces one
        original = self._imported(document.source, document.replaces)
        if len(named := self._named_lines(document, document.replaces, original)) > 1:
            self._quarantine(document, _one_of_several(document, document.replaces, named))
            return False
        original = next(iter(named), None)  # or the one line of its id's extensions: see `_named_lines`
        if original is None:
            self._quarantine(
                document,
                f"it replaces {document.source} {document.replaces}, which was never imported: retry it "
                "(`connector quarantine retry`) once the statement holding that line is imported",
            )
            return False
        if original.status == "linked" and original.kind == "bank_line":
            self._hold_linked(document, original, f"the bank replaced line {original.external_id}")
            return False
        if original.status != "reversed":
            self._reverse_posted(original, document, f"replaced by {document.source} {document.external_id}")
        return True

    def _bank_reversal(self, item: Work) -> str:
        """A bank's reversal of an earlier line it does not name (`bank_returns`): money back in that
        cancels the bank's own return of a receipt is a receipt again; else the line it undoes is
        reversed, or held for a person when a payment is linked to it or no line can be told."""
        document = item.document
        amount = document.amount
        if amount.minor >= 0 and (cancelled := self.bank_returns.cancelled_return(document)) is not None:
            item.cancels = cancelled.id
            return RETURN_CANCELLED
        found = self.bank_returns.original(document)
        if isinstance(found, NotFound):
            self._quarantine(document, found.why)
            return "quarantined"
        if isinstance(found, ReturnedByHand):
            # Held before (`_hold_linked`) and reversed as told, its statement downloaded again: the
            # return of that line, recorded as applied (reversing another line would undo its money).
            line = found.line
            why = (
                f"reverses {line.external_id} (returned receipt{_because(document)}), its receipt reversed "
                "by hand as told"
            )
            self.outcomes.record(item, "reversal", found.reversal, line.customer_id, why, linked_id=line.id)
            return "corrections_kept"
        original = found.line
        if original.status == "linked":
            self._hold_linked(
                document, original, f"the bank returned {-amount} of line {original.external_id}"
            )
            return "quarantined"
        reversal = self._reverse_posted(
            original, document, f"{_returned(document)}: reversed by {document.source} {document.external_id}"
        )
        # The line's entry is that reversal: the bank's statement matches it to this line.
        self.outcomes.record(
            item,
            "reversal",
            reversal,
            original.customer_id,
            f"reverses {original.external_id} ({found.what}{_because(document)})",
        )
        return "reversed"

    def _hold_linked(self, document: Document, original: ImportedDocument, what: str) -> None:
        """A bank's correction of a line whose receipt its other record posted (a Zoho Books payment): the
        money did not come, but which of the two records is wrong is a person's call. Quarantined, naming
        the entry to reverse, on the correction's date as the import reverses (dated today, the reversal
        would fall outside the statement that books the return, which would never reconcile), and
        `--returned`: the line stays linked to it, the money gone (else it would post it again)."""
        # The receipt's entry now: its other record's latest revision's (reposted since, maybe).
        other = self.session.get(ImportedDocument, original.linked_id) if original.linked_id else None
        entry_id = other.entry_id if other is not None and other.entry_id else original.entry_id
        self._quarantine(
            document,
            f"{what}, {original.match_rule}: reverse that receipt where it was recorded (`connector ledger "
            f"reverse {entry_id} --on {document.date} --returned --reason …`), then resolve this record",
        )

    def _named_lines(
        self, document: Document, named: str, original: ImportedDocument | None
    ) -> list[ImportedDocument]:
        """The lines a bank's correction naming id `named` may correct: `original` (the one under it) and
        those under ids it was extended into (`named#…`: the lines of a FITID the bank re-issued, told
        apart by their money or content), on its account, never the correction itself or another one.
        One line there and none under `named` is the one it corrects: a correction under the FITID it
        corrects (a bank re-using it) makes that FITID re-issued in its file, so neither has the plain id."""
        found = [original] if original is not None else []
        if document.kind != "bank_line":
            return found
        account = compact_account(document.account)
        extended = self.session.scalars(
            select(ImportedDocument)
            .where(
                ImportedDocument.source == document.source,
                ImportedDocument.external_id.startswith(f"{named}#", autoescape=True),
                ImportedDocument.status != "reversal",
            )
            .order_by(ImportedDocument.id)
        )
        return found + [
            line
            for line in extended
            if line.external_id.startswith(f"{named}#")  # SQLite's LIKE ignores case
            and line.external_id != document.external_id
            and line.bank_account in (None, account)
        ]

    def _imported(self, source: str, external_id: str | None) -> ImportedDocument | None:
        if (read := self._originals.get((source, external_id or ""))) is not None:
            return read  # read with the batch's others (`_read_originals`); one not found then may be now
        return self.session.scalars(
            select(ImportedDocument).where(
                ImportedDocument.source == source, ImportedDocument.external_id == external_id
            )
        ).first()

    # --- matching and entries ----------------------------------------------------------------------

    def _match(self, work: list[Work]) -> None:
        matching = self.settings.matching
        receipts = [item.document for item in work if rules.is_receipt(item.document)]
        self.known.prefetch_amounts((receipt.amount for receipt in receipts), new_batch=True)
        if receipts:
            self.session.flush()  # the links a changed document undid: the look-ups below read the database
            self.same_receipts.prefetch(receipts)
        for item in work:
            document = item.document
            receipt, currency = rules.is_receipt(document), document.amount.currency
            item.match = matched(document, self.known, matching)
            limit = matching.auto_post_tiers if receipt else 3
            item.customer = item.match.posts_by_itself(limit)
            if item.customer is None:
                continue
            account_no = item.customer.account_no
            settles = receipt or document.kind == "credit_note"
            if settles and (
                other := self.known.in_other_currencies(account_no, item.match.invoices, currency)
            ):
                # Posted, it would settle other invoices (or be the customer's credit): a person decides
                # (a receipt waits in unapplied receipts; a credit note, which has no such place, is
                # quarantined in `_post`)
                item.customer = None
                item.waits = _in_another_currency(account_no, other, currency, document.kind)
                continue
            if document.kind == "invoice" and document.number:
                self.known.invoice_posted(document.number, account_no, document.amount, document.date)
            elif receipt and (
                self._keeps_its_lines(item)
                or not self.same_receipts.pairs(document, self.known.ids[account_no])
            ):
                # What it pays is paid (a receipt its other record posted pays nothing again).
                named = [*item.match.invoices, *(a.invoice_number for a in document.allocations)]
                self.known.receipt_posted(account_no, document.amount, named)

    def _link_same_receipts(self, work: list[Work]) -> tuple[list[Work], Counter[str]]:
        """Link the receipts whose other record was imported before; the rest of `work` goes on."""
        counts: Counter[str] = Counter()
        if not any(rules.is_receipt(item.document) for item in work):
            return work, counts
        rest = []  # the earlier records were read as the batch was matched
        for item in work:
            customer_id = self.known.ids[item.customer.account_no] if item.customer is not None else None
            receipt = rules.is_receipt(item.document)
            pairs = receipt and not self._keeps_its_lines(item)
            earlier = self.same_receipts.pair(item.document, customer_id) if pairs else None
            if earlier is None:
                rest.append(item)
                continue
            if earlier.status == "reversed":
                self._quarantine(
                    item.document,
                    f"the same receipt as {earlier.describe()}, which the bank returned: nothing is posted; "
                    "void the payment in the accounting system, then resolve this record",
                )
                self._awaiting_repost(item)
                counts["quarantined"] += 1
                continue
            self._link(item, earlier, customer_id)
            counts["receipts_linked"] += 1
            counts[_revised(item)] += item.held is not None
        return rest, counts

    def _keeps_its_lines(self, item: Work) -> bool:
        """Whether a changed receipt stays with the records linked to it: they are of its money, and stay
        linked to it (`_relink`). It pairs with no other record (another line of that money would take it,
        leaving them to wait for a person as if it no longer posted)."""
        held, amount = item.held, item.document.amount
        return held is not None and any(
            record.status == "linked"
            and record.linked_id == held.id
            and Money(record.amount_minor, record.currency) == amount
            for receipt, linked, _ in self.relinking
            if receipt is held
            for record in linked
        )

    def _link(self, item: Work, earlier: Earlier, customer_id: int | None) -> None:
        """Record `item` as the other record of `earlier`'s receipt. A receipt waiting in unapplied
        receipts is applied to the customer this record names, unless either of them names an invoice
        of that customer in another currency (as `_match` holds a receipt): then it waits on."""
        why = f"the same receipt as {earlier.describe()}, which posted it"
        waiting = None
        if earlier.status == "unapplied" and item.customer is not None:
            waiting = self.session.execute(
                select(ReconciliationItem.id, ReconciliationItem.named_json).where(
                    ReconciliationItem.document_id == earlier.id, ReconciliationItem.status == "open"
                )
            ).first()
        if waiting is not None and item.customer is not None:
            document, account_no = item.document, item.customer.account_no
            named = [number for number, _ in json.loads(waiting.named_json)]
            named += [*item.match.invoices, *(number for number, _ in named_invoices(item))]
            currency = document.amount.currency
            if other := self.known.in_other_currencies(account_no, dict.fromkeys(named), currency):
                what, _ = _naming(account_no, other)
                why += (
                    f" and waits for a person: it names {what}, and a {currency} receipt does not settle an "
                    "invoice in another currency"
                )
            else:
                actor = reconcile.import_actor(document.source, document.kind, document.external_id)
                reconcile.apply(
                    self.session,
                    waiting.id,
                    account_no,
                    self.accounts,
                    actor,
                    document.date,
                    named_invoices(item) or None,  # else the invoices the waiting receipt names
                )
        owner = customer_id if customer_id is not None else earlier.customer_id
        self.outcomes.record(
            item, "linked", earlier.entry_id, owner, why, item.customer, linked_id=earlier.id
        )
        if earlier.status == "posted" and owner is not None and owner == earlier.customer_id:
            # the invoices this record names are paid by the entry that gave its other record's money to
            # the customer: that record's own, or the application of it a person made from the queue
            applied = self.session.scalar(
                select(ReconciliationItem.entry_id).where(
                    ReconciliationItem.document_id == earlier.id, ReconciliationItem.status == "applied"
                )
            )
            self.outcomes.pays_named_invoices(item, applied or earlier.entry_id, owner)

    def _put_off(self, work: list[Work], refused: list[Work]) -> list[Work]:
        """Put the `refused` refunds off to the file's end (`defer`), when it is not reached: a receipt
        further down may give the credit they pay back (an export listing the newest first puts a
        refund before the payment it refunds). Only those are kept there, never the file's others. The
        rest of `work` goes on."""
        assert self.defer is not None  # `_draft` refuses for good once the file's end is reached
        for item in refused:
            self.defer.append(item.document)
            self._awaiting_repost(item)  # a changed one's old revision is reversed: its new one posts then
        later = {id(item) for item in refused}  # by identity, as `post` tells its corrections apart
        return [item for item in work if id(item) not in later]

    def _draft(self, work: list[Work]) -> list[Work]:
        """Draft each document's entry; the refunds refused for now, to be checked again at the file's
        end (`_put_off`), are returned."""
        refused: list[Work] = []
        customer_ids = sorted({self.known.ids[c.account_no] for i in work if (c := i.customer) is not None})
        owed = reads.owed(self.session, customer_ids, self.accounts.receivable)
        refunding = any(item.document.kind == "refund" for item in work)
        credit = reads.credit(self.session, customer_ids, self.accounts.advances) if refunding else {}
        accounts, file_id = self.accounts, self.file_id
        for item in work:
            document, customer = item.document, item.customer
            account_no = customer.account_no if customer is not None else None
            key = (self.known.ids[account_no] if account_no else 0, document.amount.currency)
            minor = document.amount.minor
            if document.kind == "refund":
                if account_no is None:
                    continue  # as an invoice
                # Only out of the customer's credit, counting what the batch's receipts left it so far.
                item.waits = rules.refund_refused(document, account_no, credit.get(key, 0))
                if item.waits is None:
                    item.draft = rules.refund_entry(document, account_no, accounts, item.revision, file_id)
                    credit[key] = credit.get(key, 0) - minor
                elif self.defer is not None:
                    refused.append(item)
                continue
            if document.kind != "invoice" and account_no is not None:  # what it settles beyond the owed
                credit[key] = credit.get(key, 0) + minor - max(0, min(minor, owed.get(key, 0)))
            if document.kind == "invoice":
                if account_no is None:
                    continue  # quarantined in _post: an invoice needs its customer
                item.draft = rules.invoice_entry(document, account_no, accounts, item.revision, file_id)
                owed[key] = owed.get(key, 0) + document.amount.minor
            elif document.kind == "credit_note":
                if account_no is None:
                    continue  # as an invoice
                item.draft = rules.credit_note_entry(
                    document, account_no, owed.get(key, 0), accounts, item.revision, file_id
                )
                owed[key] = max(0, owed.get(key, 0) - document.amount.minor)  # the rest is its credit
            else:
                item.draft = rules.receipt_entry(
                    document, account_no, owed.get(key, 0), accounts, item.revision, file_id
                )
                if account_no is not None:
                    owed[key] = max(0, owed.get(key, 0) - document.amount.minor)  # the rest is its credit
            if item.restores is not None:  # its entry says why it is posted again
                item.draft = dataclasses.replace(item.draft, memo=f"{item.draft.memo}; {item.restores}")
        return refused

    def _post(self, work: list[Work]) -> Counter[str]:
        counts: Counter[str] = Counter()
        ready = [item for item in work if item.draft is not None]
        for item in work:
            if item.draft is None:
                # The reason is stored in clear: it names no person (the raw input, encrypted, does).
                named = item.document.party.account_no
                party = f" (account number {named})" if named else ""
                why = item.match.candidates[0].why if item.match.candidates else "no rule found a customer"
                why = item.waits or f"no customer for this {item.document.kind}{party}: {why}"
                self._quarantine(item.document, why)
                self._awaiting_repost(item)
                counts["quarantined"] += 1
        try:
            with self.session.begin_nested():
                posted = self.ledger.post_many([item.draft for item in ready if item.draft is not None])
        except ConnectorError:
            return counts + self._post_one_by_one(ready)
        for item, result in zip(ready, posted, strict=True):
            counts[self._posted(item, result.entry_id)] += 1
            counts[_revised(item)] += item.held is not None
        return counts

    def _post_one_by_one(self, ready: list[Work]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for item in ready:
            assert item.draft is not None
            try:
                with self.session.begin_nested():
                    entry_id = self.ledger.post(item.draft).entry_id
            except ConnectorError as exc:
                self._quarantine(item.document, str(exc))
                self._awaiting_repost(item)
                counts["quarantined"] += 1
                continue
            counts[self._posted(item, entry_id)] += 1
            counts[_revised(item)] += item.held is not None
        return counts

    @staticmethod
    def _awaiting_repost(item: Work) -> None:
        """A changed document whose new revision could not be posted: its earlier one is reversed, and
        the document is `changed`, not `reversed`, so that a retry or a later import posts the new one
        (a reversed document stays reversed: a correction stands)."""
        if item.held is not None:
            item.held.status = "changed"

    def _posted(self, item: Work, entry_id: int) -> str:
        document, customer = item.document, item.customer
        if rules.is_receipt(document):
            self.posted_receipts.add((document.source, document.external_id))
        if customer is not None:
            customer_id = self.known.ids[customer.account_no]
            self.outcomes.record(item, "posted", entry_id, customer_id, customer.why, customer)
            if document.kind not in ("invoice", "refund"):  # a refund pays no invoice a reference names
                self.outcomes.pays_named_invoices(item, entry_id, customer_id)
            return f"{document.kind}s_posted" if document.kind != "bank_line" else "receipts_posted"
        self.outcomes.record(item, "unapplied", entry_id, None, item.waits or _why_not(item.match))
        self.outcomes.unapplied(item)
        return "receipts_unapplied"

    def _quarantine(self, document: Document, reason: str) -> None:
        self.seen.quarantined.add(SeenInFile.key(document))
        if document.return_reason:  # a bank's return held for a person: why the bank returned it
            reason = f"{reason} (the bank's return reason: {document.return_reason})"
        quarantine_input(
            self.session,
            self.cipher,
            self.run,
            document.source,
            document.origin,
            reason,
            self.file_id,
            document.external_id,
            found_by_text=document.kind != "bank_line",  # its text names no account (`quarantine_input`)
            known_as=document.known_as,
        )


def _returned(document: Document) -> str:
    """A bank's return as its reversal's memo names it: with the reason the bank gives, when it gives
    one (`returned (AM04 insufficient funds)`)."""
    return f"returned ({document.return_reason})" if document.return_reason else "returned"


def _because(document: Document) -> str:
    """The reason a bank gives for its return, after what it returned (`: AM04 insufficient funds`)."""
    return f": {document.return_reason}" if document.return_reason else ""


def _one_of_several(document: Document, named: str, lines: Sequence[ImportedDocument]) -> str:
    """Why a correction naming an id that several lines hold is not applied, and what a person does."""
    listed = "; ".join(
        f"{line.external_id}, {Money(line.amount_minor, line.currency)} on {line.document_date}, "
        + (f"entry {line.entry_id}" if line.entry_id is not None else f"{line.status}, no entry")
        for line in lines[:5]
    )
    verb, does = ("reverses", "deletes") if document.reverses is not None else ("replaces", "replaces")
    unposted = f", and its {document.amount} is not posted" if document.replaces is not None else ""
    return (
        f"it {verb} {document.source} {named}, an id the bank gave {len(lines)} lines ({listed}"
        f"{'; …' if len(lines) > 5 else ''}): which one it {does} cannot be told, so none is reversed"
        f"{unposted}; reverse the right one's entry (`connector ledger reverse ENTRY --on {document.date} "
        "--reason …`), then resolve this record"
    )


def _revised(item: Work) -> str:
    """What the posting of a document imported before counts as besides its outcome: a withdrawn one
    live again, or a changed one reversed and reposted."""
    return "restored" if item.restores is not None else "reposted"


def _in_another_currency(
    account_no: str, invoices: Sequence[tuple[str, str]], currency: str, kind: str = "payment"
) -> str:
    """Why a receipt (or a credit note, of `kind`) of a sure customer waits all the same: it names
    invoices (number, currency) in another currency, which it cannot settle (the ledger converts no
    currency). A receipt waits in the queue; a credit note is quarantined."""
    what, left = _naming(account_no, invoices)
    noun, then = "receipt", "waiting for a person"
    if kind == "credit_note":
        noun = "credit note"
        then = (
            "nothing is posted; correct it in the accounting system (its currency, or the invoice it "
            "names), then import it again or resolve this record"
        )
    return (
        f"names {what}: a {currency} {noun} does not settle an invoice in another currency (applied to "
        f"{account_no}, it counts in its {currency} balance and {left} open): {then}"
    )


def _naming(account_no: str, invoices: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """The invoices (number, currency) of the customer `account_no` in words, and what stays open."""
    if len(invoices) == 1:
        [(number, billed)] = invoices
        return f"invoice {number} of {account_no}, in {billed}", f"{number} stays"
    listed = ", ".join(f"{number} ({billed})" for number, billed in invoices)
    return f"invoices {listed} of {account_no}", "they stay"


def _why_not(match: Match) -> str:
    if not match.candidates:
        return "no rule found the payer: waiting for a person"
    best, *others = match.candidates
    if not others:
        return f"tier {best.tier} is not sure enough to post by itself ({best.why}): waiting for a person"
    # Several customers (one candidate each): a person needs every one's reason, not the first's alone.
    said = "; ".join(f"{c.account_no}: {c.why}" for c in match.candidates)
    return f"the document points to {len(match.candidates)} customers ({said}): waiting for a person"


def _another_kind(held: ImportedDocument, document: Document) -> str:
    """Why a document is not a change of the one imported under its id: it is another kind (QuickBooks
    lets a credit memo take an invoice's number). Reposting it would reverse the first."""
    first, this = held.kind.replace("_", " "), document.kind.replace("_", " ")
    article = "an" if first[0] in "aeiou" else "a"
    return (
        f"{held.source} {held.external_id} was imported as {article} {first}; this {this} has its id, so it "
        f"is another document, not a change of it (the {first} stands): give the mapping an external_id "
        "that tells them apart, e.g. a `template` with the document type"
    )
