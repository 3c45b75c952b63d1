"""Domain documents read from accounting exports and bank statements: what the import posts and matches.

Parsers (`adapters/statements`, `adapters/exports`) turn a file into a stream of `Document`s, one
`Statement` per bank statement in it, and a `Problem` for each row they cannot read; the rows around a
problem go on. Nothing here knows the ledger: the import (`connector/imports`) matches documents to
customers and posts them.

Amounts are `Money` (integer minor units). Invoices, credit notes, payments and refunds carry positive
amounts (a refund is money paid back to a customer out of its credit: an export's negative payment); a
bank line is signed from the account holder's side: money in (a customer paying) is positive, money
out negative. Every document carries its `Origin` — file, row or line, and the raw text — so that every
ledger entry traces back to it and every problem can be shown with the input that caused it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

from connector.money import MAX_MINOR, Money

DocumentKind = Literal["invoice", "credit_note", "payment", "refund", "bank_line"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a document or a problem came from: the file's name, its 1-based row (CSV/XLSX data row
    counting the header as row 1), line (text formats) or record number, and the raw input as text."""

    file: str
    row: int | None = None
    raw: str = ""


def compact_account(text: str | None) -> str | None:
    """An IBAN or account number (or a bank account's name) as it is compared: no spaces, upper case."""
    if text is None:
        return None
    return "".join(text.split()).upper() or None


def on_account(external_id: str, account: str) -> str:
    """A bank line's id scoped by its account (`REF@ACCOUNT`): the id it is imported under when a line of
    another account holds its own (a bank's reference is unique at that bank only)."""
    return f"{external_id}@{compact_account(account)}"


@dataclass(frozen=True, slots=True)
class Party:
    """The other side of a document as the source names it; any of these may be missing."""

    name: str | None = None
    account_no: str | None = None  # our customer account number, when the source carries it
    external_id: str | None = None  # the customer's id in the source system (Zoho Books customer_id …)
    bank_account: str | None = None  # IBAN or account number the money came from (normalised: no spaces)


@dataclass(frozen=True, slots=True)
class Allocation:
    """Part of a payment (or credit note) applied to one invoice, as the source recorded it."""

    invoice_number: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Document:
    """An invoice, credit note, payment (receipt), refund (money paid back) or bank statement line.

    `external_id` is stable across re-exports: the source's own id (Zoho Books payment_id, QuickBooks
    TRNSID, Xero PaymentID, Kingdee FBILLNO, CAMT AcctSvcrRef, OFX account + FITID) or, where the
    source has none, a documented composite hash (see each parser). `source` names the format
    ("camt053", "mt940", "ofx", "qb_iif", "zoho_books" …) and with `external_id` is the document's
    idempotency key. `references` holds every free text the matcher may search for an invoice or
    account number (reference, memo, remittance lines, end-to-end id), most specific first.
    Corrections: `reverses` is the `external_id` of a document this one cancels (OFX
    `CORRECTACTION=DELETE`); `replaces` that of a document whose content this one supersedes (OFX
    `REPLACE`: the old is reversed, this one posted). `bank_reversal` marks a bank's reversal of an
    earlier line it does not name (CAMT `RvslInd`, MT940 `RC`/`RD`): the import finds the original.
    `withdrawn` marks a document its source withdrew (a void invoice): it `reverses` the one imported.
    """

    kind: DocumentKind
    source: str
    external_id: str
    date: dt.date
    amount: Money
    origin: Origin
    party: Party = field(default_factory=Party)
    number: str | None = None  # invoice / credit note / payment number as printed
    due_date: dt.date | None = None
    value_date: dt.date | None = None
    references: tuple[str, ...] = ()
    allocations: tuple[Allocation, ...] = ()
    reverses: str | None = None
    replaces: str | None = None
    bank_reversal: bool = False
    # A bank line: its statement's account (IBAN or number); a payment: the account it was deposited to.
    account: str | None = None
    # A payment received on no bank (a customer's note, 应收票据): it posts to `account` only when the
    # chart keeps that account apart (`ledger.chart.bank_accounts`); posted to the bank role's, it would
    # misstate the bank. It follows from `account`, so it is no part of the fingerprint.
    off_bank: bool = False
    # Withdrawn in its source (a void invoice, a deleted payment): `reverses` names the document it was
    # imported as, which is reversed; when none was imported, there is nothing to undo.
    withdrawn: bool = False
    # Withdrawn while its source says so (a bill un-audited): never imported, it leaves no trace, so that
    # the export listing it live posts it (a void's keeps an older export imported late from posting it).
    withdrawn_if_imported: bool = False
    # Another id the bank may have given the same line (OFX: a re-issued FITID gets its content digest
    # appended): the line imported under it is this one; and when this id is held by another line with
    # other content, the bank re-issued it, and this line is posted under `alias` instead.
    alias: str | None = None
    # Other ids the line may have been imported under, that are this line only when they hold it
    # unchanged (OFX: the ids its FITID's occurrences gave it in other files).
    known_as: tuple[str, ...] = ()
    # The references earlier versions read for the line where they differ from `references` (MT940: a
    # placeholder was text, `?60` did not continue the remittance): its print under an id it is known as.
    references_before: tuple[tuple[str, ...], ...] = ()
    # Its id is a digest of its content (the source gives none: a QuickBooks report, a Xero statement
    # CSV): edited at the source (a customer renamed, a payee's text), it comes back under another id.
    content_id: bool = False
    # A bank entry that books several transactions (a batch): its reference. Split into its transactions
    # (`REF#1`, `REF#2`) when the statement details them, whole (`REF`) when it does not: the other form,
    # imported before from another statement, is the same money.
    batch: str | None = None
    # A batched entry's booked amount (its transactions' total; the whole entry's own): its other form is
    # the same money only on the same date, in the same currency, of this total (a bank's reference
    # re-used on another day for another batch is no other form of it, `recorded.in_other_form`).
    batch_amount: Money | None = None
    # A bank's return (`bank_reversal`): the reason it gives, its code with the code's meaning where
    # known (`AM04 insufficient funds`; `common.return_reason`), and its own words (CAMT `AddtlInf`, a
    # proprietary reason in words: `RUECKLASTSCHRIFT`, or who died and who inherits). The code is kept
    # with the import; the words are free text that may name people, so they are never stored: they are
    # read from the statement file (`reconcile statement` shows them). Both out of the fingerprint: what
    # the bank says of a return is no part of the money (a statement that now gives it is the same line).
    return_reason: str | None = None
    return_words: str | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """A bank statement's header: the account, its period and its booked balances (signed, in the
    statement's currency), for reconciliation against the ledger's bank account."""

    source: str
    account: str
    currency: str
    origin: Origin
    statement_id: str | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    opening: Money | None = None
    closing: Money | None = None
    # The period is its balances' dates (the statement states none): the opening balance usually closed
    # the day before, so the period proper starts a day later (or on the first line's date).
    period_from_balances: bool = False


@dataclass(frozen=True, slots=True)
class Problem:
    """A row, line or record that could not be read: kept (quarantined) with its origin and the reason.

    `header`: a bank statement's header, in its place after its lines (which are its statement's, not
    the next one's). `unbooked`: an entry that moved no money (pending, information only, or one the
    file repeats), so that a statement without balances to check still adds up without it."""

    origin: Origin
    reason: str
    header: bool = False
    unbooked: bool = False


@dataclass(frozen=True, slots=True)
class Notice:
    """What a person should know of the file as a whole, though no record is at fault: columns the
    mapping reads that the file does not have (read as empty, so their matching is lost)."""

    origin: Origin
    text: str


Parsed = Document | Statement | Problem | Notice


class DocumentParser(Protocol):
    """One file format. `sniff` looks at the file's first bytes and name; `parse` streams the file
    (never reading it whole into memory when it can be avoided) and raises `FileFormatError` only when
    nothing in it can be read at all. A parser whose documents' kinds follow their sides and whose ids
    are ranks (voucher lines) says so with `kinds_follow_sides = True`: an edit may change a kind."""

    format: str

    def sniff(self, head: bytes, name: str) -> bool: ...

    def parse(self, path: str, name: str) -> Iterator[Parsed]: ...


@runtime_checkable
class SniffsWholeFile(Protocol):
    """A parser that can also recognise its file by reading it, for files whose head may not say
    (a large workbook's header text lies in a zip entry past the first bytes)."""

    def sniff_path(self, path: str, name: str) -> bool: ...


@runtime_checkable
class ExplainsUnreadHead(Protocol):
    """A parser that can say why it cannot read a head at all (no text encoding fits its bytes): when no
    parser recognises the file, that is the reason a person needs, not that its format is unknown."""

    def unread_head(self, head: bytes, name: str) -> str | None: ...


REVERSAL_MARKER = "RVSL"  # a reference on a reversal line whose original cannot be named from the file
MAX_ID = 200  # characters the ledger keeps of an external id, a document number or an invoice number


def unkeepable(document: Document) -> str | None:
    """Why the ledger cannot keep `document` as it is (an id or number longer than its columns, an
    amount no document has: a shifted column's account number, an amount applied in another currency),
    or None. Checked for every parser in one place: a database that enforces lengths (PostgreSQL) would
    refuse the whole batch, one that does not (SQLite) would keep what another cannot."""
    named = [
        ("external id", document.external_id),
        ("number", document.number or ""),
        ("reverses", document.reverses or ""),
        ("replaces", document.replaces or ""),
        *(("invoice number", allocation.invoice_number) for allocation in document.allocations),
    ]
    for what, value in named:
        if len(value) > MAX_ID:
            return f"{what} longer than the ledger keeps ({len(value)} characters, at most {MAX_ID})"
    amounts = [("amount", document.amount), *(("amount applied", a.amount) for a in document.allocations)]
    for what, money in amounts:
        if abs(money.minor) > MAX_MINOR:
            return f"{what} out of range: {money.amount:,} {money.currency} (a column shifted?)"
    for allocation in document.allocations:  # what it pays of an invoice is part of its own amount
        if allocation.amount.currency != document.amount.currency:
            return (
                f"amount applied to invoice {allocation.invoice_number} in {allocation.amount.currency}, "
                f"the document's in {document.amount.currency}: no currency is converted"
            )
    return None


def withdrawal_id(external_id: str) -> str:
    """The id of the document withdrawing the one of `external_id` (its void or deleted row), as every
    parser names it: a document live again after it is found to have been withdrawn."""
    return f"{external_id}:withdrawn"


KEPT_SUFFIX = ".kept"


def kept_id(external_id: str) -> str:
    """The id of the credit note of what the payment of `external_id` kept back (`kept_back`)."""
    return f"{external_id}{KEPT_SUFFIX}"


def payment_kept_by(document: Document) -> str | None:
    """The id of the payment whose `.kept` credit note `document` is (`kept_back`), else None."""
    if document.kind != "credit_note" or not document.external_id.endswith(KEPT_SUFFIX):
        return None
    return document.external_id.removesuffix(KEPT_SUFFIX)


NOTE_SUFFIX = ".note"


def note_id(external_id: str) -> str:
    """The id of the part of a voucher's receipt paid by its customer's note (应收票据), beside the bank
    money's part under `external_id`: two receipts of one payment."""
    return f"{external_id}{NOTE_SUFFIX}"


def paid_by(external_id: str) -> str:
    """The payment a receipt's or `.kept` credit note's document id is part of: the id without its
    `.note` (`note_id`) or `.kept` (`kept_id`) suffix."""
    return external_id.removesuffix(NOTE_SUFFIX).removesuffix(KEPT_SUFFIX)


def kept_back(payment: Document, kept: Money, allocations: tuple[Allocation, ...] = ()) -> Document:
    """The credit note of what `payment` (a receipt of the money banked) settled of its customer's
    receivable beyond that money: a discount given, a bank's charge borne. The invoices are settled
    whole while the bank holds what it received, as the books that wrote it (QuickBooks, Zoho Books, a
    voucher) have it. Its id is the payment's with `.kept` (`kept_id`), its party and references the
    payment's, `allocations` what it settles of the invoices the payment names. No number of its own: a
    payment's (a cheque's) may be another customer's too."""
    return replace(
        payment,
        kind="credit_note",
        external_id=kept_id(payment.external_id),
        amount=kept,
        number=None,
        allocations=allocations,
    )


def banked_and_kept(payment: Document, kept: Money) -> tuple[Document, Document]:
    """`payment`, of the whole amount its customer is credited, as the receipt of what the bank received
    (its amount less `kept`, the bank's charge: the bank line of that money pairs with it) and the credit
    note of `kept` (`kept_back`). The invoices it is applied to are paid by the money banked first, in
    their order, the rest of them by the credit note; the charge comes off an amount applied to no
    invoice (the customer's credit) first."""
    left, banked, rest = payment.amount.minor - kept.minor, [], []
    for allocation in payment.allocations:
        paid = min(left, allocation.amount.minor)
        left -= paid
        if paid:
            banked.append(replace(allocation, amount=Money(paid, kept.currency)))
        if paid < allocation.amount.minor:
            rest.append(replace(allocation, amount=Money(allocation.amount.minor - paid, kept.currency)))
    receipt = replace(payment, amount=payment.amount - kept, allocations=tuple(banked))
    return receipt, kept_back(receipt, kept, tuple(rest))


def kept_withdrawn(withdrawal: Document) -> Document:
    """The withdrawal of the `.kept` credit note of the payment `withdrawal` withdraws (void, deleted)."""
    assert withdrawal.reverses is not None
    kept = kept_id(withdrawal.reverses)
    return replace(withdrawal, kind="credit_note", external_id=withdrawal_id(kept), reverses=kept)


def other_form(document: Document) -> str:
    """The id a batched bank entry (`Document.batch`) has in its other form: a transaction's, the whole
    entry's; the whole entry's, its first transaction's."""
    batch = document.batch
    assert batch is not None
    return f"{batch}#1" if booked_whole(document) else batch


def booked_whole(document: Document) -> bool:
    """Whether a batched bank entry (`Document.batch`) is the whole entry (or it scoped, `on_account`),
    not one of its transactions."""
    batch, own = document.batch, document.external_id
    return batch is not None and (own == batch or own.startswith(f"{batch}@"))


def fingerprint(document: Document, *, allocations_as_read: bool = False) -> str:
    """SHA-256 of everything a document says, its origin aside: the same document exported again (in
    another file, at another row, its rows in another order) has the same fingerprint; a changed one has
    another. The invoices a payment is applied to count in invoice-number order; `allocations_as_read`
    takes them in file order, as the fingerprints stored before did: what a document kept from then is
    compared with (`fingerprints`)."""
    party = document.party
    allocations = document.allocations
    if not allocations_as_read:
        allocations = tuple(sorted(allocations, key=lambda a: (a.invoice_number, a.amount.minor)))
    parts = [
        document.kind,
        document.source,
        document.external_id,
        document.date.isoformat(),
        document.amount.currency,
        str(document.amount.minor),
        party.name or "",
        party.account_no or "",
        party.external_id or "",
        party.bank_account or "",
        document.number or "",
        document.due_date.isoformat() if document.due_date else "",
        document.value_date.isoformat() if document.value_date else "",
        "\x1f".join(document.references),
        "\x1f".join(f"{a.invoice_number}={a.amount.currency}{a.amount.minor}" for a in allocations),
        document.reverses or "",
        document.account or "",
    ]
    if document.replaces or document.bank_reversal:  # so that documents without them keep their prints
        parts += [document.replaces or "", "reversal" if document.bank_reversal else ""]
    if document.withdrawn:
        parts.append("withdrawn")
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()


def fingerprints(document: Document) -> tuple[str, ...]:
    """The document's fingerprint, then the one stored for it before allocations were put in order
    (when that differs): either means the same document."""
    canonical = fingerprint(document)
    if len(document.allocations) < 2:
        return (canonical,)
    as_read = fingerprint(document, allocations_as_read=True)
    return (canonical,) if as_read == canonical else (canonical, as_read)
