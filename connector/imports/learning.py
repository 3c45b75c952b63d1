"""A person's decision on a waiting receipt teaches the matcher its payer's bank account.

When a person applies a receipt from the reconciliation queue to a customer (`reconcile apply`, unless
`--once`), the bank account the payer paid from becomes one known for that customer (matching tier 2),
so the payer's next receipts find the customer by themselves. Each account so learned keeps the
decisions that taught it (`LearnedBankAccount`), which `customers show` lists.

The rules:
- an account known for another customer is never learned: one account paying for several customers (a
  parent company paying for its subsidiaries) is no sign of any one of them, and tier 2 finding two
  customers leaves the receipt to a person;
- a decision the import restores on a changed revision of its receipt (`decisions`) is the same item's:
  what it taught stands, nothing is learned twice, and an account forgotten since stays forgotten;
- what a decision alone taught goes when it is undone (a person's `ledger reverse` of its receipt, or an
  application undone, `reconcile.undo_application_by`): an account another standing decision taught too
  stays, with that one; an account the customer's record gave is never the queue's to forget. A bank's
  return of the money, or the receipt's record changing, undoes no decision: who paid is still who paid;
- `customers forget-bank-account` forgets one account, however it came to be known;
- the receipts a learned account posted by itself since it was learned (matching tier 2) go back to the
  queue when it is forgotten (`unlearning`): the decision that taught it was wrong, maybe, and they were
  only the customer's because of it;
- a customer's accounts are those of the customers merged into it too (their receipts find it by them,
  as `KnownCustomers` counts them): `customers show` lists them, naming whose they are, and
  `customers forget-bank-account` forgets them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from connector.credit.reads import counted_in
from connector.db import fitted
from connector.errors import CustomerError
from connector.imports.models import RESOLVER_LENGTH, LearnedBankAccount, ReconciliationItem
from connector.imports.payer import Payer
from connector.ledger.customers import BANK_ACCOUNT_FIELD, add_bank_account, merge_survivors
from connector.ledger.models import Customer, CustomerBankAccount
from connector.master.models import CustomerEvent
from connector.security.cipher import FieldCipher

LEARNED = "learned"  # the account is known for the customer now
KNOWN = "known"  # it was already (this decision is kept as one more that taught it, if it was learned)
SHARED = "shared"  # it is known for another customer: not learned
NO_ACCOUNT = "no account"  # the file named no bank account of the payer's
LEARNED_EVENT, FORGOTTEN_EVENT = "bank_account_learned", "bank_account_forgotten"  # the audit trail's


@dataclass(frozen=True, slots=True)
class Lesson:
    """What applying a waiting receipt taught: its payer's account, and whether it is known now."""

    outcome: str  # LEARNED, KNOWN, SHARED or NO_ACCOUNT
    account: str | None = None  # as the file wrote it
    others: tuple[str, ...] = ()  # SHARED: the account numbers of the customers it is known for


def learn_payer_account(session: Session, cipher: FieldCipher, item_id: int, actor: str) -> Lesson:
    """Remember the bank account of applied item `item_id`'s payer for the customer it was applied to."""
    item = session.get_one(ReconciliationItem, item_id)
    account = Payer.unseal(cipher, item.payer_enc).bank_account
    if not account or not account.strip() or item.customer_id is None:
        return Lesson(NO_ACCOUNT)
    index = cipher.blind_index("bank_account", account)
    holders = list(
        session.execute(
            select(CustomerBankAccount.id, CustomerBankAccount.customer_id).where(
                CustomerBankAccount.account_index == index
            )
        )
    )
    # A customer merged into this one pays through it: its accounts lead here already (`known`).
    survivors = merge_survivors(session, {customer_id for _, customer_id in holders})
    others = {survivors[customer_id] for _, customer_id in holders} - {item.customer_id}
    if others:
        numbers = session.scalars(select(Customer.account_no).where(Customer.id.in_(others)))
        return Lesson(SHARED, account, tuple(sorted(numbers)))
    own = next((row_id for row_id, customer_id in holders if customer_id == item.customer_id), None)
    if holders and (own is None or not _taught(session, own)):
        return Lesson(KNOWN, account)  # from the customer's record, or a customer merged into it
    learned_by = fitted(actor, RESOLVER_LENGTH)
    row_id = own if own is not None else add_bank_account(session, cipher, item.customer_id, account).id
    if own is None:  # the audit trail says where from, never the account (personal data)
        what = f"payer bank account learned from reconcile item #{item_id}"
        session.add(
            CustomerEvent(customer_id=item.customer_id, kind=LEARNED_EVENT, detail=what, actor=learned_by)
        )
    already = session.scalar(
        select(LearnedBankAccount.id).where(
            LearnedBankAccount.bank_account_id == row_id, LearnedBankAccount.item_id == item_id
        )
    )
    if already is None:
        session.add(LearnedBankAccount(bank_account_id=row_id, item_id=item_id, learned_by=learned_by))
        session.flush()
    return Lesson(KNOWN if own is not None else LEARNED, account)


@dataclass(frozen=True, slots=True)
class Unlearned:
    """A learned payer bank account forgotten: the customer it was known for, its blind index, and the
    application entry of the earliest decision that taught it (a receipt posted after it may have found
    the customer by it); none when that is not known."""

    customer_id: int
    account_no: str
    index: str
    since: int | None


def forget_taught_by(session: Session, item_id: int, actor: str) -> list[Unlearned]:
    """Undo what item `item_id`'s decision taught (`actor` undid it): the accounts it alone taught are
    forgotten, each as `Unlearned`."""
    taught = list(
        session.scalars(
            select(LearnedBankAccount.bank_account_id).where(LearnedBankAccount.item_id == item_id)
        )
    )
    if not taught:
        return []
    since = session.scalar(select(ReconciliationItem.entry_id).where(ReconciliationItem.id == item_id))
    session.execute(delete(LearnedBankAccount).where(LearnedBankAccount.item_id == item_id))
    alone = [row_id for row_id in taught if not _taught(session, row_id)]
    forgotten = session.execute(
        select(Customer.id, Customer.account_no, CustomerBankAccount.account_index)
        .join(CustomerBankAccount, CustomerBankAccount.customer_id == Customer.id)
        .where(CustomerBankAccount.id.in_(alone))
    ).all()
    session.execute(delete(CustomerBankAccount).where(CustomerBankAccount.id.in_(alone)))
    what = f"payer bank account forgotten: reconcile item #{item_id}, which taught it, is undone"
    session.add_all(
        CustomerEvent(
            customer_id=customer_id, kind=FORGOTTEN_EVENT, detail=what, actor=fitted(actor, RESOLVER_LENGTH)
        )
        for customer_id, _, _ in forgotten
    )
    return [Unlearned(customer_id, account_no, index, since) for customer_id, account_no, index in forgotten]


@dataclass(frozen=True, slots=True)
class Taught:
    """A decision that taught an account: its queue item, who decided and when."""

    item_id: int
    by: str
    at: datetime

    def describe(self) -> str:
        return f"reconcile item #{self.item_id} by {self.by} on {self.at:%Y-%m-%d}"


@dataclass(frozen=True, slots=True)
class KnownAccount:
    """A payer bank account known for a customer, and where from: the decisions that taught it, or
    none (the customer's record gave it)."""

    number: str
    taught: tuple[Taught, ...]
    of: str | None = None  # the account number of the customer merged into this one it is known for

    def origin(self) -> str:
        merged = f" (as {self.of}'s, merged into this customer)" if self.of is not None else ""
        if not self.taught:
            return "from the customer's record" + merged
        return "learned from " + "; ".join(t.describe() for t in self.taught) + merged


def known_accounts(session: Session, cipher: FieldCipher, customer_id: int) -> list[KnownAccount]:
    """The customer's payer bank accounts, those of the customers merged into it too (decrypted: personal
    data, never logged), oldest first."""
    rows = session.scalars(
        select(CustomerBankAccount)
        .where(CustomerBankAccount.customer_id.in_(_counted(session, customer_id)))
        .order_by(CustomerBankAccount.id)
    ).all()
    return _described(session, cipher, rows, customer_id)


def forget_account(
    session: Session, cipher: FieldCipher, customer_id: int, number: str, actor: str, reason: str = ""
) -> tuple[KnownAccount, Unlearned | None]:
    """Forget payer bank account `number` of the customer (or of a customer merged into it), however it
    came to be known (`actor` says so, for `reason`): what it was, and, when decisions taught it, the
    account as `Unlearned`."""
    index = cipher.blind_index("bank_account", number)
    row = session.scalars(
        select(CustomerBankAccount)
        .where(
            CustomerBankAccount.customer_id.in_(_counted(session, customer_id)),
            CustomerBankAccount.account_index == index,
        )
        .order_by(CustomerBankAccount.customer_id != customer_id, CustomerBankAccount.id)
    ).first()
    if row is None:
        raise CustomerError(f"bank account {number.strip()} is not known for this customer")
    (known,) = _described(session, cipher, [row], customer_id)
    since = session.scalar(
        select(func.min(ReconciliationItem.entry_id))
        .join(LearnedBankAccount, LearnedBankAccount.item_id == ReconciliationItem.id)
        .where(LearnedBankAccount.bank_account_id == row.id)
    )
    owner = session.get_one(Customer, row.customer_id).account_no
    unlearned = Unlearned(row.customer_id, owner, row.account_index, since) if known.taught else None
    session.execute(delete(LearnedBankAccount).where(LearnedBankAccount.bank_account_id == row.id))
    session.delete(row)
    what = f"payer bank account forgotten (it was {known.origin()})" + (f": {reason}" if reason else "")
    # In the merged customer's trail too: it is its own again once unmerged.
    session.add_all(
        CustomerEvent(
            customer_id=whose, kind=FORGOTTEN_EVENT, detail=what, actor=fitted(actor, RESOLVER_LENGTH)
        )
        for whose in dict.fromkeys((customer_id, row.customer_id))
    )
    session.flush()
    return known, unlearned


def _counted(session: Session, customer_id: int) -> list[int]:
    """The customer and those merged into it (and into those, in turn): their accounts lead to it."""
    return sorted(counted_in(session, [customer_id]))


def _described(
    session: Session, cipher: FieldCipher, rows: Sequence[CustomerBankAccount], customer_id: int
) -> list[KnownAccount]:
    lessons: dict[int, list[Taught]] = {}
    for lesson in session.scalars(
        select(LearnedBankAccount)
        .where(LearnedBankAccount.bank_account_id.in_([row.id for row in rows]))
        .order_by(LearnedBankAccount.id)
    ):
        taught = Taught(lesson.item_id, lesson.learned_by, lesson.created_at)
        lessons.setdefault(lesson.bank_account_id, []).append(taught)
    merged = {row.customer_id for row in rows} - {customer_id}
    rows_of = select(Customer.id, Customer.account_no).where(Customer.id.in_(merged))
    numbers = {customer: account_no for customer, account_no in session.execute(rows_of)}
    return [
        KnownAccount(
            cipher.decrypt(BANK_ACCOUNT_FIELD, row.account_enc),
            tuple(lessons.get(row.id, ())),
            numbers.get(row.customer_id),
        )
        for row in rows
    ]


def _taught(session: Session, bank_account_id: int) -> bool:
    """Whether a standing decision taught the account (else the customer's record gave it)."""
    lesson = select(LearnedBankAccount.id).where(LearnedBankAccount.bank_account_id == bank_account_id)
    return session.scalar(lesson.limit(1)) is not None
