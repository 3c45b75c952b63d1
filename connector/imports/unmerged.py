"""An unmerged customer takes back the receipts posted to its survivor while merged that named it.

While merged, what led to the absorbed customer (its account number, its records' ids, its invoices)
led to the survivor: such a receipt's match record says which (`matching`: "account number KACN00001 in
the document"). Once unmerged, each receipt posted that way is the absorbed customer's: its entry is
reversed on its own day and posted again, as its next revision, to the absorbed customer (what it owes
settled first, the rest its credit), as the import reposts a changed receipt. Its record then names the
absorbed customer: an unmerge moves each once, and imported again the receipt is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit import reads
from connector.imports.matching import named_in
from connector.imports.models import ImportedDocument, ImportedFile, ReceiptApplication
from connector.imports.rules import Accounts, settling
from connector.ledger.customers import CustomerView, survivor_of
from connector.ledger.entries import EntryDraft, Line, Voucher
from connector.ledger.models import Customer, JournalEntry, Posting
from connector.ledger.posting import Ledger
from connector.master.models import CustomerBinding
from connector.money import Money

if TYPE_CHECKING:
    from connector.master.service import CustomerMaster

BY_TOKEN = 1  # the matching tier of an identifier the document names


@dataclass(frozen=True, slots=True)
class Unmerged:
    customer: CustomerView
    moved: list[MovedBack]


@dataclass(frozen=True, slots=True)
class MovedBack:
    """A receipt reposted from `survivor` to `absorbed`: its entry `reversed` by `reversal`, posted again as
    `entry_id`; `named` what of the absorbed customer's its document named."""

    external_id: str
    amount: Money
    survivor: str
    absorbed: str
    reversed: int
    reversal: int
    entry_id: int
    named: str

    def describe(self) -> str:
        return (
            f"receipt {self.external_id} {self.amount} named {self.named}: entry {self.reversed} on "
            f"{self.survivor} reversed by entry {self.reversal}, posted again to {self.absorbed} as entry "
            f"{self.entry_id}"
        )


def unmerge(master: CustomerMaster, accounts: Accounts, absorbed_no: str, why: str = "") -> Unmerged:
    """`master.unmerge` of `absorbed_no`, and the receipts posted to its survivor while merged that named
    it moved back to it."""
    absorbed = master.directory.get(absorbed_no)
    survivor = survivor_of(master.session, absorbed.id)
    view = master.unmerge(absorbed_no, why)
    if survivor is None or survivor.id == absorbed.id:
        return Unmerged(view, [])
    memo = f"named {absorbed_no}, unmerged from {survivor.account_no} by {master.actor}"
    return Unmerged(
        view, move_back_receipts(master.session, accounts, absorbed_no, survivor.account_no, memo)
    )


def move_back_receipts(
    session: Session, accounts: Accounts, absorbed_no: str, survivor_no: str, memo: str
) -> list[MovedBack]:
    """Repost to `absorbed_no` (just unmerged from `survivor_no`) each receipt posted to the survivor
    that found it by naming the absorbed customer; what was moved, in posting order."""
    absorbed = session.scalars(select(Customer).where(Customer.account_no == absorbed_no)).one()
    survivor = session.scalars(select(Customer).where(Customer.account_no == survivor_no)).one()
    ledger = Ledger(session)
    moved: list[MovedBack] = []
    for receipt, named in _naming(session, absorbed, survivor.id):
        assert receipt.entry_id is not None  # a posted receipt's own entry
        original = receipt.entry_id
        file = session.get(ImportedFile, receipt.file_id) if receipt.file_id is not None else None
        voucher = Voucher(receipt.kind, file.name if file else None, receipt.row, file_id=receipt.file_id)
        day = receipt.document_date  # as a changed receipt is reposted: on its own day
        reversal = ledger.reverse(original, posting_date=day, memo=memo, voucher=voucher).entry_id
        receipt.revision += 1
        entry_id = ledger.post(_reposted(session, receipt, original, absorbed, accounts, voucher)).entry_id
        session.add_all(  # the invoices it named, its new entry's to pay now
            ReceiptApplication(
                entry_id=entry_id,
                customer_id=absorbed.id,
                invoice_number=application.invoice_number,
                amount_minor=application.amount_minor,
            )
            for application in session.scalars(
                select(ReceiptApplication).where(ReceiptApplication.entry_id == original)
            ).all()
        )
        receipt.entry_id, receipt.customer_id = entry_id, absorbed.id
        receipt.match_rule = f"{receipt.match_rule}; {memo}"
        session.flush()
        money = Money(receipt.amount_minor, receipt.currency)
        moved.append(
            MovedBack(
                receipt.external_id, money, survivor_no, absorbed_no, original, reversal, entry_id, named
            )
        )
    return moved


def _naming(session: Session, absorbed: Customer, survivor_id: int) -> list[tuple[ImportedDocument, str]]:
    """The survivor's posted receipts whose match record names the absorbed customer's account number,
    one of its records' ids or one of its invoices, with what it named; locked, in id order."""
    record_ids = session.scalars(
        select(CustomerBinding.external_id).where(CustomerBinding.customer_id == absorbed.id)
    ).all()
    invoices = session.scalars(
        select(ImportedDocument.number).where(
            ImportedDocument.kind == "invoice",
            ImportedDocument.status == "posted",
            ImportedDocument.customer_id == absorbed.id,
        )
    ).all()
    own = {  # as the matcher writes each in its match record
        "account number": {absorbed.account_no.strip()},
        "record id": {external_id.strip() for external_id in record_ids},
        "invoice": {number.strip() for number in invoices if number is not None},
    }
    receipts = session.scalars(
        select(ImportedDocument)
        .where(
            ImportedDocument.customer_id == survivor_id,
            ImportedDocument.status == "posted",
            ImportedDocument.kind.in_(("payment", "bank_line")),
            ImportedDocument.match_tier == BY_TOKEN,
            ImportedDocument.amount_minor > 0,
            ImportedDocument.entry_id.is_not(None),
        )
        .order_by(ImportedDocument.id)
        .with_for_update()
    ).all()
    found = []
    for receipt in receipts:
        said = named_in(receipt.match_rule)
        if said is not None and said[1] in own[said[0]]:
            found.append((receipt, " ".join(said)))
    return found


def _reposted(
    session: Session,
    receipt: ImportedDocument,
    original: int,
    absorbed: Customer,
    accounts: Accounts,
    voucher: Voucher,
) -> EntryDraft:
    """The receipt's next revision: the original entry's lines that are no customer's (its bank), and
    its money settling what `absorbed` owes, the rest its credit."""
    entry = session.get_one(JournalEntry, original)
    postings = session.scalars(select(Posting).where(Posting.entry_id == original).order_by(Posting.id)).all()
    kept = [
        Line(p.account_code, Money(p.amount_minor, p.currency)) for p in postings if p.customer_id is None
    ]
    paid = -sum(p.amount_minor for p in postings if p.customer_id is not None)
    owed = reads.owed(session, [absorbed.id], accounts.receivable).get((absorbed.id, receipt.currency), 0)
    return EntryDraft(
        source=receipt.source,
        external_id=receipt.external_id,
        revision=receipt.revision,
        posting_date=entry.posting_date,
        value_date=entry.value_date,
        document_date=entry.document_date,
        voucher=voucher,
        memo=entry.memo,
        lines=(*kept, *settling(Money(paid, receipt.currency), owed, absorbed.account_no, accounts)),
    )
