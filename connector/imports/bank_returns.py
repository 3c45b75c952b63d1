"""Which earlier bank line a bank's reversal undoes when it names none (a Rücklastschrift, a returned
transfer, a Storno): decided here, done by the import (`post.DocumentPoster._bank_reversal`).

Money out returns a receipt: the latest line of that amount on its account within `REVERSAL_DAYS`,
that of the customer or payer the return names when it names one (the bank repeats the payment's
reference, account or name), never one known to be another payer's; two candidates alike on that day
are left to a person. Money back in cancels the bank's own return of a receipt (then the line posts as
a receipt again), else undoes a line that was ignored (a returned payment), else waits for a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from connector.documents import Document
from connector.imports import rules
from connector.imports.known import KnownCustomers
from connector.imports.matching import match_document
from connector.imports.models import ImportedDocument, ReconciliationItem
from connector.imports.payer import LINE_PAYER_FIELD, Payer
from connector.ledger.customers import merge_survivors
from connector.ledger.posting import Ledger
from connector.security.cipher import FieldCipher

REVERSAL_DAYS = 120  # how far back a bank's reversal looks for the line it returns


@dataclass(frozen=True)
class Returned:
    """The line a bank's reversal undoes; `what` it was ("returned receipt", "returned payment")."""

    line: ImportedDocument
    what: str


@dataclass(frozen=True)
class ReturnedByHand:
    """A line a person reversed as told (`connector ledger reverse --returned`), by entry `reversal`."""

    line: ImportedDocument
    reversal: int


@dataclass(frozen=True)
class NotFound:
    """No line can be told to be the one undone: `why`, for a person."""

    why: str


@dataclass
class BankReturns:
    session: Session
    cipher: FieldCipher
    accounts: rules.Accounts
    known: KnownCustomers
    ledger: Ledger
    cancelled: set[int] = field(default_factory=set)  # returns the import's money back in cancelled

    def original(self, document: Document) -> Returned | ReturnedByHand | NotFound:
        """The line `document`, a bank's reversal cancelling no return (`cancelled_return`), undoes."""
        amount = document.amount
        returned_receipt = amount.minor < 0
        statuses = ("posted", "unapplied", "linked") if returned_receipt else ("ignored",)
        candidates = self._returned_lines(document, statuses)
        if returned_receipt and (handled := self._returned_by_hand(candidates)) is not None:
            return handled
        # A return that names its payer (the payment's reference, remittance or account repeated by the
        # bank) is the return of that payer's receipt: its lines come first. The payer is the customer
        # it names for sure (a merged one's receipts are its survivor's), or what the line said of its
        # payer (kept with it, or with its queue item).
        payer = self._sure_customer(document) if returned_receipt else None
        said, payers = Payer.of(document), self._payers(candidates)
        survivors = merge_survivors(
            self.session, {line.customer_id for line in candidates if line.customer_id is not None}
        )
        named = {
            line.id: (payer is not None and survivors.get(line.customer_id or 0) == payer)
            or (line.id in payers and said.same_as(payers[line.id]))
            for line in candidates
        }
        # A line known to be another payer's (another customer's receipt, or one whose payer the line
        # kept and the return does not name) is never the original: reversing it would undo somebody
        # else's payment (the returned one may have come in a collection booked as one batch entry).
        another_payers = [
            line
            for line in candidates
            if not named[line.id]
            and (
                (payer is not None and line.customer_id is not None and survivors[line.customer_id] != payer)
                or (line.id in payers and said.plainly_not(payers[line.id]))
            )
        ]
        what = "returned receipt" if returned_receipt else "returned payment"
        if another_payers and len(another_payers) == len(candidates):
            lines = ", ".join(line.external_id for line in another_payers[:5])
            returned = -amount if returned_receipt else amount
            return NotFound(
                f"a {what} of {returned} naming its payer: the lines of that amount ({lines}) are others'"
            )
        candidates = [line for line in candidates if line not in another_payers]
        candidates = sorted(candidates, key=lambda line: not named[line.id])  # stable: latest first still
        told_apart = len(candidates) >= 2 and named[candidates[0].id] and not named[candidates[1].id]
        if len(candidates) >= 2 and _alike(candidates[0], candidates[1]) and not told_apart:
            others = f"{candidates[0].external_id} and {candidates[1].external_id}"
            return NotFound(f"a {what} of {amount}: both {others} could be its original")
        if candidates:
            return Returned(candidates[0], what)
        if returned_receipt:
            return NotFound(f"a returned receipt of {-amount} whose receipt was never imported")
        # ignored, it would leave a return imported later to undo the receipt it cancels
        return NotFound(
            f"money back in (a bank's reversal) of {amount}, undoing no payment out and cancelling no return "
            "of a receipt imported before: if it cancels a return still to come (a statement imported out "
            "of order, a return held for a person), retry it (`connector quarantine retry`) once that "
            "return is in; if it undoes money paid out, resolve it"
        )

    def cancelled_return(self, document: Document) -> ImportedDocument | None:
        """The bank's return of a receipt that money back in (a Storno of a Rücklastschrift) cancels: one
        of that amount on the account within `REVERSAL_DAYS`, naming the payer this line names, and not
        cancelled already. The receipt it returned then stands again: the line posts as one."""
        returns = self._returned_lines(document, ("reversal",))
        if not returns:
            return None
        itself = and_(
            ImportedDocument.source == document.source, ImportedDocument.external_id == document.external_id
        )
        cancelled = set(
            self.session.scalars(
                select(ImportedDocument.linked_id).where(
                    ImportedDocument.linked_id.in_([line.id for line in returns]),
                    ~itself,  # a revision of it
                )
            )
        )
        standing = [line for line in returns if line.id not in cancelled | self.cancelled]
        said, payers = Payer.of(document), self._payers(standing)
        found = next((line for line in standing if line.id in payers and said.same_as(payers[line.id])), None)
        unnamed = [line for line in standing if payers.get(line.id, Payer()) == Payer()]
        if (
            found is None
            and said == Payer()  # neither says who: the one return standing, unless money out came back
            and len(unnamed) == 1
            and not self._returned_lines(document, ("ignored",))
        ):
            found = unnamed[0]
        if found is not None:
            self.cancelled.add(found.id)
        return found

    def _returned_by_hand(self, lines: Sequence[ImportedDocument]) -> ReturnedByHand | None:
        """Of `lines`, the latest linked to a payment a person reversed as the bank returned its money
        (`connector ledger reverse --returned`, as `post.DocumentPoster._hold_linked` tells), whose
        return is not recorded yet, with that reversal: the money out of a return already handled."""
        linked = {line.linked_id: line for line in lines if line.status == "linked" and line.linked_id}
        if not linked:
            return None
        recorded = set(
            self.session.scalars(
                select(ImportedDocument.linked_id).where(
                    ImportedDocument.linked_id.in_([line.id for line in linked.values()]),
                    ImportedDocument.status == "reversal",
                )
            )
        )
        payments = self.session.scalars(
            select(ImportedDocument).where(
                ImportedDocument.id.in_(list(linked)), ImportedDocument.status == "reversed"
            )
        )
        reversed_by = {
            payment.id: reversal
            for payment in payments
            if payment.entry_id is not None
            and (reversal := self.ledger.reversed_by(payment.entry_id)) is not None
        }
        return next(
            (
                ReturnedByHand(line, reversed_by[payment_id])
                for payment_id, line in linked.items()
                if payment_id in reversed_by and line.id not in recorded
            ),
            None,
        )

    def _returned_lines(self, document: Document, statuses: Sequence[str]) -> list[ImportedDocument]:
        """The bank lines a bank's reversal `document` may undo: of `statuses`, the opposite amount, within
        `REVERSAL_DAYS` before it, latest first; of its statement's format on its account (or on none
        known, imported before accounts were recorded), or of another format naming its account (one
        account's statements come in two formats while a bank moves to ISO 20022)."""
        amount = document.amount
        numbers = self.accounts.numbers(document.account)
        own_format = ImportedDocument.source == document.source
        where = (
            or_(
                and_(own_format, ImportedDocument.bank_account.is_(None)),
                ImportedDocument.bank_account.in_(numbers),
            )
            if numbers
            else own_format
        )
        return list(
            self.session.scalars(
                select(ImportedDocument)
                .where(
                    ImportedDocument.kind == "bank_line",
                    ImportedDocument.currency == amount.currency,
                    ImportedDocument.amount_minor == -amount.minor,
                    ImportedDocument.status.in_(statuses),
                    ImportedDocument.document_date.between(
                        document.date - timedelta(days=REVERSAL_DAYS), document.date
                    ),
                    where,
                )
                .order_by(  # on one day, a line known to be of this account before one that may be
                    ImportedDocument.document_date.desc(),
                    ImportedDocument.bank_account.is_(None),
                    ImportedDocument.id.desc(),
                )
                .limit(50)
            )
        )

    def _payers(self, lines: Sequence[ImportedDocument]) -> dict[int, Payer]:
        """Document id → what each of `lines` said of its payer: kept with the line, or (a line imported
        before lines kept it) with its queue item, waiting or decided by a person since."""
        found = {
            line.id: Payer.unseal(self.cipher, line.payer_enc, LINE_PAYER_FIELD)
            for line in lines
            if line.payer_enc is not None
        }
        rest = [line.id for line in lines if line.id not in found]
        if not rest:
            return found
        sealed = self.session.execute(
            select(ReconciliationItem.document_id, ReconciliationItem.payer_enc).where(
                ReconciliationItem.document_id.in_(rest), ReconciliationItem.payer_enc.is_not(None)
            )
        )
        return found | {document_id: Payer.unseal(self.cipher, token) for document_id, token in sealed}

    def _sure_customer(self, document: Document) -> int | None:
        """The customer a document names beyond doubt (its references or bank account: tiers 1–2)."""
        match = match_document(document, self.known, name_threshold=100, window_days=0, tiers=2)
        sure = match.posts_by_itself(2)
        return self.known.ids[sure.account_no] if sure is not None else None


def _alike(first: ImportedDocument, second: ImportedDocument) -> bool:
    """Two lines a bank's reversal cannot choose between: one day, and both or neither of them known to
    be of its account."""
    same_day = first.document_date == second.document_date
    return same_day and (first.bank_account is None) == (second.bank_account is None)
