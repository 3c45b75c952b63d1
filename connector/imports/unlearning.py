"""A forgotten payer bank account takes back what it posted: its receipts wait for a person again.

A decision that taught an account (`learning`) may have been wrong: the payer's next receipts then went
to the wrong customer by themselves (matching tier 2, "pays from a known bank account"). When the
account is forgotten (the decision's receipt reversed by a person, or `customers forget-bank-account`),
each receipt posted since that found its customer by it (its match record says tier 2, its payer paid
from that account, its customer is the one the account was known for) is taken back as the import takes
back a changed receipt: its entry reversed on its own day, its money posted into unapplied receipts
as its next revision and waiting in the reconciliation queue with the candidates the matcher finds now
(`same_receipt.post_on_its_own`), for a person to apply to the right customer. Its record is unchanged:
imported again it is the same receipt, and stays waiting.

A receipt with another record linked to it (the accounting system's payment, naming its customer) is not
the account's alone to take back: it stands, and is listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.reads import counted_in
from connector.imports.known import KnownCustomers
from connector.imports.learning import Unlearned
from connector.imports.matching import matched
from connector.imports.models import ImportedDocument, ReconciliationItem
from connector.imports.payer import LINE_PAYER_FIELD, Payer
from connector.imports.rules import Accounts
from connector.imports.same_receipt import Rematch, linked_records, post_on_its_own
from connector.ledger.customers import merge_survivors
from connector.ledger.entries import Voucher
from connector.ledger.models import Customer
from connector.ledger.posting import Ledger
from connector.money import Money
from connector.security.cipher import FieldCipher
from connector.settings import MatchingSettings

BY_BANK_ACCOUNT = 2  # the matching tier of a known bank account


@dataclass(frozen=True, slots=True)
class TakenBack:
    """A receipt a forgotten account had posted to a customer: waiting again as queue item `item_id`,
    or standing (`item_id` None) because another record linked to it names its customer."""

    external_id: str
    amount: Money
    account_no: str
    item_id: int | None

    def describe(self) -> str:
        said = f"{self.external_id} {self.amount}, posted to {self.account_no} by the forgotten account"
        if self.item_id is None:
            return f"{said}, stands: a payment record linked to it names its customer"
        return f"{said}, waits again as item #{self.item_id}"


def rematch_now(
    session: Session, cipher: FieldCipher, accounts: Accounts, matching: MatchingSettings
) -> Rematch:
    """The import's matcher over the customers known now, read once a receipt set free asks it."""
    known = cache(lambda: KnownCustomers(session, cipher, accounts.receivable))
    return lambda document: matched(document, known(), matching)


def take_back(
    session: Session,
    ledger: Ledger,
    cipher: FieldCipher,
    accounts: Accounts,
    forgotten: Sequence[Unlearned],
    rematch: Rematch,
    memo: str,
    voucher: Voucher,
) -> list[TakenBack]:
    """Put the receipts each of the `forgotten` accounts posted by itself back in the queue, their
    entries reversed saying `memo`; what became of each."""
    taken: list[TakenBack] = []
    for account in forgotten:
        if account.since is None:
            continue  # no decision's date to count from: nothing is known to have posted by it
        for receipt in _posted_by(session, cipher, account):
            money = Money(receipt.amount_minor, receipt.currency)
            account_no = session.get_one(Customer, receipt.customer_id).account_no
            if linked_records(session, receipt):
                taken.append(TakenBack(receipt.external_id, money, account_no, None))
                continue
            assert receipt.entry_id is not None  # a posted receipt's own entry
            # Reversed on the receipt's own day, where its money is posted again into unapplied
            # receipts, as the import reposts a changed receipt: dated `on`, the money would be both
            # the customer's and unclaimed from the receipt's day to `on`, and the statement's line
            # would match neither its reversed entry nor its repost.
            day = receipt.document_date
            ledger.reverse(receipt.entry_id, posting_date=day, memo=memo, voucher=voucher)
            receipt.revision += 1  # its money posted again, into unapplied receipts, as a changed one is
            why = (
                f"posted to {account_no} by payer bank account known from a decision, {memo}: waits for a "
                "person"
            )
            post_on_its_own(session, ledger, cipher, accounts, receipt, why, rematch)
            session.flush()
            item_id = session.scalar(
                select(ReconciliationItem.id).where(ReconciliationItem.document_id == receipt.id)
            )
            taken.append(TakenBack(receipt.external_id, money, account_no, item_id))
    return taken


def _posted_by(session: Session, cipher: FieldCipher, account: Unlearned) -> list[ImportedDocument]:
    """The receipts posted since `account.since` that found their customer (the account's, or the one it
    went into by merges, or another merged into that) by the payer's bank account `account`, locked."""
    survivor = merge_survivors(session, [account.customer_id])[account.customer_id]
    family = sorted(counted_in(session, [survivor]))
    assert account.since is not None
    receipts = session.scalars(
        select(ImportedDocument)
        .where(
            ImportedDocument.status == "posted",
            ImportedDocument.match_tier == BY_BANK_ACCOUNT,
            ImportedDocument.payer_enc.is_not(None),
            ImportedDocument.customer_id.in_(family),
            ImportedDocument.entry_id > account.since,
        )
        .order_by(ImportedDocument.id)
        .with_for_update()
    ).all()
    return [receipt for receipt in receipts if _paid_from(cipher, receipt, account.index)]


def _paid_from(cipher: FieldCipher, receipt: ImportedDocument, index: str) -> bool:
    account = Payer.unseal(cipher, receipt.payer_enc, LINE_PAYER_FIELD).bank_account
    if account is None or not account.strip():
        return False
    return cipher.blind_index("bank_account", account) == index
