"""Posting rules: which journal entry a document makes, as pure functions of the document and its match.

    invoice            Dr receivable (customer)      Cr revenue
    credit note        Dr revenue                    Cr receivable (customer)
    receipt, matched   Dr bank                       Cr receivable (customer) up to what it owes,
                                                     Cr advances (customer) for the rest (its credit)
    receipt, unknown   Dr bank                       Cr unapplied receipts
    application        Dr unapplied receipts         Cr receivable / advances (customer), as above
    refund             Dr advances (customer)        Cr bank
                       only out of the customer's credit in its currency (`refund_refused`): a refund
                       beyond it is quarantined, never a debit balance on advances nor a receivable

"bank" is the ledger account of the bank account the receipt names (a statement's account, an export's
deposit account) when that account is kept apart (`ledger.chart.bank_accounts`), else the bank role's.
A document keeps its currency. The entry's key is the document's (source, external id, revision); its
voucher is the file and row the document came from, and the imported file (`file_id`) that name was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from connector.db import fitted
from connector.documents import MAX_ID, Document, compact_account
from connector.ledger.entries import EntryDraft, Line, Voucher
from connector.money import Money
from connector.settings import ChartSettings

APPLICATION_SOURCE = "reconcile"


@dataclass(frozen=True, slots=True)
class Accounts:
    bank: str
    receivable: str
    advances: str
    unapplied: str
    revenue: str
    banks: Mapping[str, str] = field(default_factory=dict)  # compacted account number or name → code

    @classmethod
    def of(cls, chart: ChartSettings) -> Accounts:
        return cls(
            chart.bank.code,
            chart.receivable.code,
            chart.advances.code,
            chart.unapplied.code,
            chart.revenue.code,
            {
                compact_account(n) or "": account.code
                for account in chart.bank_accounts
                for n in account.numbers
            },
        )

    def bank_for(self, account: str | None) -> str:
        """The ledger account of the bank account a statement or an export names (`bank` for one not
        kept apart, or none named)."""
        return self.kept_apart(account) or self.bank

    def kept_apart(self, account: str | None) -> str | None:
        """The ledger account of the named bank account when it is kept apart, else None."""
        return self.banks.get(compact_account(account) or "")

    def bank_key(self, account: str | None, *, by_statement: bool) -> str | None:
        """Which bank account a document names, to tell two apart: one kept apart by its ledger account,
        another by the account number a statement gives (`by_statement`); None when it cannot tell (an
        export's name for a deposit account cannot be compared with a statement's number)."""
        code = self.kept_apart(account)
        if code is not None:
            return f"ledger account {code}"
        compacted = compact_account(account)
        return f"account {compacted}" if by_statement and compacted else None

    def numbers(self, account: str | None) -> tuple[str, ...]:
        """Every number of the bank account kept apart that `account` names; else `account` alone."""
        code, compacted = self.kept_apart(account), compact_account(account)
        if code is None:
            return (compacted,) if compacted else ()
        return tuple(number for number, owner in self.banks.items() if owner == code)


def unbankable(document: Document, accounts: Accounts) -> str | None:
    """Why a payment received on no bank (a customer's note, `Document.off_bank`) cannot post: its account
    is not one kept apart, and the bank role's would be misstated by it; None when it can."""
    if not document.off_bank or accounts.kept_apart(document.account) is not None:
        return None
    return (
        f"a receipt by a customer's note (account {document.account}), no bank money: list "
        f"{document.account} among the numbers of a [[ledger.chart.bank_accounts]] (its own ledger "
        "account, e.g. code 1121 应收票据) to post it there, then `connector quarantine retry ID`"
    )


def is_receipt(document: Document) -> bool:
    """Money a customer paid in: a payment, or a bank line crediting the account."""
    return document.kind == "payment" or (document.kind == "bank_line" and document.amount.minor > 0)


def voucher(document: Document, file_id: int | None) -> Voucher:
    """Where `document` came from: its file's name and row, and that file's id among the imported."""
    return Voucher(document.kind, document.origin.file, document.origin.row, file_id=file_id)


def _draft(
    document: Document,
    revision: int,
    memo: str,
    lines: tuple[Line, ...],
    file_id: int | None,
    due_date: date | None = None,
) -> EntryDraft:
    return EntryDraft(
        source=document.source,
        external_id=document.external_id,
        revision=revision,
        posting_date=document.date,
        document_date=document.date,
        value_date=document.value_date,
        voucher=voucher(document, file_id),
        memo=memo,
        lines=lines,
        due_date=due_date,
    )


def invoice_entry(
    document: Document, customer: str, accounts: Accounts, revision: int = 1, file_id: int | None = None
) -> EntryDraft:
    amount = document.amount
    memo = f"invoice {document.number or document.external_id}"
    lines = (Line.debit(accounts.receivable, amount, customer), Line.credit(accounts.revenue, amount))
    return _draft(document, revision, memo, lines, file_id, document.due_date)


def credit_note_entry(
    document: Document,
    customer: str,
    owed_minor: int,
    accounts: Accounts,
    revision: int = 1,
    file_id: int | None = None,
) -> EntryDraft:
    """A credit note for `customer` (who owed `owed_minor`): what it owes is settled, the rest is its
    credit, as a receipt's (a credit note beyond the receivable is no negative receivable)."""
    amount = document.amount
    memo = f"credit note {document.number or document.external_id}"
    lines = (Line.debit(accounts.revenue, amount), *settling(amount, owed_minor, customer, accounts))
    return _draft(document, revision, memo, lines, file_id)


def settling(amount: Money, owed_minor: int, customer: str, accounts: Accounts) -> tuple[Line, ...]:
    """Credit lines settling `amount` for `customer`: its open receivable first, the rest as its credit."""
    to_receivable = max(0, min(amount.minor, owed_minor))
    lines = []
    if to_receivable:
        lines.append(Line.credit(accounts.receivable, Money(to_receivable, amount.currency), customer))
    if amount.minor - to_receivable:
        lines.append(
            Line.credit(accounts.advances, Money(amount.minor - to_receivable, amount.currency), customer)
        )
    return tuple(lines)


def receipt_entry(
    document: Document,
    customer: str | None,
    owed_minor: int,
    accounts: Accounts,
    revision: int = 1,
    file_id: int | None = None,
) -> EntryDraft:
    """A receipt from `customer` (who owed `owed_minor` in its currency), or from nobody known yet."""
    amount = document.amount
    label = document.number or document.external_id
    bank = accounts.bank_for(document.account)
    if customer is None:
        unknown = (Line.debit(bank, amount), Line.credit(accounts.unapplied, amount))
        return _draft(document, revision, f"receipt {label}, payer not identified", unknown, file_id)
    lines = (Line.debit(bank, amount), *settling(amount, owed_minor, customer, accounts))
    return _draft(document, revision, f"receipt {label}", lines, file_id)


def refund_refused(document: Document, customer: str, credit_minor: int) -> str | None:
    """Why a refund to `customer` (whose credit, unapplied and advance money, is `credit_minor` in the
    refund's currency) does not post, or None when it does. Money paid back beyond what the customer
    has with us is no refund of its credit: posted, it would leave advances in debit (a receivable
    nobody invoiced). The safe default is to hold it for a person rather than guess (a receipt not yet
    imported, a refund entered twice, the wrong customer)."""
    amount = document.amount
    if amount.minor <= credit_minor:
        return None
    has = Money(max(0, credit_minor), amount.currency)
    return (
        f"a refund of {amount} to {customer}, whose credit (unapplied and advance money) is {has}: a "
        "refund pays back only what the customer has with us, so nothing is posted; import the receipt "
        "or credit note that gave it the credit (or apply its receipt waiting in `connector reconcile "
        "list`), then `connector quarantine retry ID`; a refund entered in error is corrected in the "
        "accounting system (never by reversing a receipt: that would make the customer owe it again)"
    )


def refund_entry(
    document: Document, customer: str, accounts: Accounts, revision: int = 1, file_id: int | None = None
) -> EntryDraft:
    """A refund to `customer` out of its credit: its advances are debited, the bank it was paid from (the
    account the document names, when kept apart) credited. Check `refund_refused` first."""
    amount = document.amount
    memo = f"refund {document.number or document.external_id}"
    lines = (
        Line.debit(accounts.advances, amount, customer),
        Line.credit(accounts.bank_for(document.account), amount),
    )
    return _draft(document, revision, memo, lines, file_id)


def application_id(source: str, external_id: str) -> str:
    """The id of a receipt's application entries: its own source and id, within the ledger's id column."""
    return fitted(f"{source}:{external_id}", MAX_ID)


def application_entry(
    source: str,
    external_id: str,
    amount: Money,
    customer: str,
    owed_minor: int,
    accounts: Accounts,
    on: date,
    voucher: Voucher,
    revision: int = 1,
    received_on: date | None = None,
) -> EntryDraft:
    """Revision `revision` of an unapplied receipt (`source`, `external_id`) attributed to `customer`
    on `on`: out of unapplied receipts, into the customer's account. (A changed receipt's application
    is reversed with it: its new revision is applied anew.)"""
    return EntryDraft(
        source=APPLICATION_SOURCE,
        external_id=application_id(source, external_id),
        revision=revision,
        document_date=received_on,  # when the money came: the day the customer paid
        posting_date=on,
        voucher=voucher,
        memo=f"receipt {external_id} applied to {customer}",
        lines=(Line.debit(accounts.unapplied, amount), *settling(amount, owed_minor, customer, accounts)),
    )
