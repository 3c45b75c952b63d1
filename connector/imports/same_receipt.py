"""One receipt, two records: the bank statement's line and the accounting system's payment.

Finance imports both: the payments export says who paid for what, the statement proves the money
arrived. Posted twice, the customer would have paid twice. So a receipt whose other record was imported
before (same currency and amount, dates at most `same_receipt_days` apart, a payment for a bank line
and a bank line for a payment) is linked to it and posts nothing itself. A payment whose bank line the
bank returned since (a reversed line) posts nothing either: it goes to a person (the accounting system
still counts it as paid).

A candidate must not be linked already, must not belong to another customer (one whose receipt is
waiting in unapplied receipts, or a receipt whose own customer is not sure, may pair with any), and
must not name another bank account than the receipt does (`Accounts.bank_key`: an account kept apart,
or a statement's account number; a record naming none, or imported before accounts were recorded, may
pair with any).
Among several, the same customer comes first, then the same bank account named, then the nearest
date, then the first imported: two equal payments on one day pair one to one with the statement's two
lines, whichever way round.

A link holds while the receipt it points to posts the same money. When that receipt changes to another
amount or currency (or no longer posts it: linked elsewhere, quarantined), the records linked to it are
no longer its other record: each is unlinked and posts its own money into unapplied receipts, waiting for
a person (`post_on_its_own`), so that what the bank received is in the ledger and nobody's twice. It
waits with the candidates and named invoices the matcher finds for it now, as a receipt its import leaves
in unapplied receipts does, and never goes to one by itself: once its payment went, what the money was
is a person's call. So
is each bank line linked to a payment the books withdraw (void, deleted) or a person reverses, unless
the bank returned that line's money (`connector ledger reverse --returned`, as its return's quarantine
tells): a reversed bank line stays the other record of its payment (`_STATUSES`), the money gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bulk import row_date, rows_in
from connector.documents import Document, DocumentKind, Origin, Party
from connector.imports.matching import Match
from connector.imports.models import ImportedDocument, ImportedFile, ReconciliationItem
from connector.imports.outcomes import Work, waits_with
from connector.imports.payer import LINE_PAYER_FIELD, Payer
from connector.imports.rules import Accounts
from connector.ledger.entries import EntryDraft, Line, Voucher
from connector.ledger.models import utcnow
from connector.ledger.posting import Ledger
from connector.money import Money
from connector.security.cipher import FieldCipher

OTHER_RECORD = {"payment": "bank_line", "bank_line": "payment"}
# The matcher as the import runs it (`matching.matched`), over the customers known now: who a receipt set
# free may be of, for whoever decides it.
Rematch = Callable[[Document], Match]
# A bank line the bank itself cancelled since (a returned receipt) is still the payment's other record:
# the money came and went back, and the payment must not post it again.
_STATUSES = {"bank_line": ("posted", "unapplied", "reversed"), "payment": ("posted", "unapplied", "")}


@dataclass(frozen=True, slots=True)
class Earlier:
    """An imported receipt that another record of the same money may be linked to."""

    id: int
    source: str
    external_id: str
    kind: str
    entry_id: int
    customer_id: int | None
    status: str  # posted, unapplied (its customer not known yet), or reversed (a bank line returned)
    on: date
    bank_account: str | None  # as the record names it

    def describe(self) -> str:
        return f"{self.source} {self.kind.replace('_', ' ')} {self.external_id} of {self.on}"


class SameReceipts:
    """The earlier records of a batch's receipts, fetched once per batch by amount."""

    def __init__(self, session: Session, window_days: int, accounts: Accounts) -> None:
        self.session = session
        self.window = window_days
        self.accounts = accounts
        self._by_amount: dict[tuple[str, str, int], list[Earlier]] = {}
        self._taken: set[int] = set()  # linked to during this import, not yet written

    def prefetch(self, receipts: Iterable[Document]) -> None:
        """Load the unlinked earlier records that the batch's `receipts` could pair with."""
        self._by_amount = {}
        for earlier, currency, minor in self._earlier(receipts):
            self._by_amount.setdefault((earlier.kind, currency, minor), []).append(earlier)
        self._drop_linked()

    def candidates(self, receipts: Sequence[Document]) -> list[int]:
        """The ids, in order, of the earlier records the batch's `receipts` may pair with (some may be
        linked already): an import locks them before it posts anything (`DocumentPoster._lock`)."""
        days: dict[tuple[str, str, int], tuple[date, date]] = {}  # the receipts' first and last date
        for document in receipts:
            key = (OTHER_RECORD[document.kind], document.amount.currency, document.amount.minor)
            first, last = days.get(key, (document.date, document.date))
            days[key] = (min(first, document.date), max(last, document.date))
        return sorted(
            earlier.id
            for earlier, currency, minor in self._earlier(receipts)
            if (span := days.get((earlier.kind, currency, minor))) is not None
            and (span[0] - earlier.on).days <= self.window
            and (earlier.on - span[1]).days <= self.window
        )

    def _earlier(self, receipts: Iterable[Document]) -> Iterator[tuple[Earlier, str, int]]:
        """The earlier records of the other kind and the amount of one of `receipts`, each with its
        currency and amount (minor units), linked ones too."""
        if self.window <= 0:
            return
        wanted: dict[str, set[int]] = {}
        for document in receipts:
            wanted.setdefault(OTHER_RECORD[document.kind], set()).add(document.amount.minor)
        for kind, amounts in wanted.items():
            if not self._any(kind):
                continue
            where = "kind = {p} AND status IN ({p}, {p}, {p}) AND entry_id IS NOT NULL"
            found = rows_in(
                self.session,
                "id, source, external_id, kind, entry_id, customer_id, status, document_date, currency, "
                "amount_minor, bank_account",
                ImportedDocument.__tablename__,
                "amount_minor",
                amounts,
                where,
                kind,
                *_STATUSES[kind],
                array_type="bigint",
            )
            for (
                row_id,
                source,
                external_id,
                found_kind,
                entry_id,
                customer,
                status,
                on,
                currency,
                minor,
                bank_account,
            ) in found:
                earlier = Earlier(
                    row_id,
                    source,
                    external_id,
                    found_kind,
                    entry_id,
                    customer,
                    status,
                    row_date(on),
                    bank_account,
                )
                yield earlier, currency, minor

    def pairs(self, document: Document, customer_id: int | None) -> bool:
        """Whether `document` has an earlier record to pair with (asking takes none of them)."""
        return bool(self._candidates(document, customer_id))

    def pair(self, document: Document, customer_id: int | None) -> Earlier | None:
        """The earlier record `document` (a receipt whose customer is `customer_id`, if sure) pairs with."""
        bank = self.accounts.bank_key(document.account, by_statement=document.kind == "bank_line")
        candidates = self._candidates(document, customer_id)
        if not candidates:
            return None
        best = min(
            candidates,
            key=lambda earlier: (
                earlier.status == "reversed",  # one that still stands first
                earlier.customer_id != customer_id,
                bank is not None and self._bank_key(earlier) != bank,  # then one naming the same account
                abs((earlier.on - document.date).days),
                earlier.id,
            ),
        )
        self._taken.add(best.id)
        return best

    def _candidates(self, document: Document, customer_id: int | None) -> list[Earlier]:
        found = self._by_amount.get(
            (OTHER_RECORD[document.kind], document.amount.currency, document.amount.minor)
        )
        if not found:
            return []
        bank = self.accounts.bank_key(document.account, by_statement=document.kind == "bank_line")
        return [
            earlier
            for earlier in found
            if earlier.id not in self._taken
            and abs((earlier.on - document.date).days) <= self.window
            and (customer_id is None or earlier.customer_id in (None, customer_id))
            and (bank is None or self._bank_key(earlier) in (None, bank))
        ]

    def _bank_key(self, earlier: Earlier) -> str | None:
        return self.accounts.bank_key(earlier.bank_account, by_statement=earlier.kind == "bank_line")

    def _any(self, kind: str) -> bool:
        """Whether any document of `kind` was imported: most ledgers only ever see one of the two."""
        query = select(ImportedDocument.id).where(ImportedDocument.kind == kind).limit(1)
        return self.session.scalar(query) is not None

    def _drop_linked(self) -> None:
        """Forget the candidates that another record was linked to in an earlier import, and those a
        person rejected as no customer's receipt (an internal transfer …): nothing pairs with them."""
        ids = {earlier.id for group in self._by_amount.values() for earlier in group}
        if not ids:
            return
        table = ImportedDocument.__tablename__
        taken = {
            row[0] for row in rows_in(self.session, "linked_id", table, "linked_id", ids, array_type="bigint")
        }
        waiting = {e.id for group in self._by_amount.values() for e in group if e.status == "unapplied"}
        rejected = rows_in(
            self.session,
            "document_id",
            ReconciliationItem.__tablename__,
            "document_id",
            waiting,
            "status = {p}",
            "rejected",
            array_type="bigint",
        )
        taken.update(row[0] for row in rejected)
        for key, group in self._by_amount.items():
            self._by_amount[key] = [earlier for earlier in group if earlier.id not in taken]


def linked_records(session: Session, receipt: ImportedDocument) -> list[ImportedDocument]:
    """The records linked to `receipt` (its other record: a bank line for a payment …), locked."""
    if receipt.status not in ("posted", "unapplied"):
        return []  # a record is only ever linked to a receipt that posts its money
    return list(
        session.scalars(
            select(ImportedDocument)
            .where(ImportedDocument.linked_id == receipt.id, ImportedDocument.status == "linked")
            .order_by(ImportedDocument.id)
            .with_for_update()
        )
    )


def on_their_own(
    session: Session,
    ledger: Ledger,
    cipher: FieldCipher,
    accounts: Accounts,
    receipt: ImportedDocument,
    records: Iterable[ImportedDocument],
    what: str,
    rematch: Rematch,
) -> int:
    """Each of `records`, linked to `receipt` until `what` happened to it (it no longer posts their
    money), posts its own money for a person, with the customers `rematch` finds (`post_on_its_own`).
    How many did."""
    described = f"{receipt.source} {receipt.kind.replace('_', ' ')} {receipt.external_id}"
    count = 0
    for record in records:
        if record.status != "linked" or record.linked_id != receipt.id:
            continue  # itself changed in this import: it went its own way
        money = Money(record.amount_minor, record.currency)
        why = (
            f"the same receipt as {described} until that {what}: this {record.kind.replace('_', ' ')}'s "
            f"{money} waits for a person"
        )
        post_on_its_own(session, ledger, cipher, accounts, record, why, rematch)
        count += 1
    return count


def post_on_its_own(
    session: Session,
    ledger: Ledger,
    cipher: FieldCipher,
    accounts: Accounts,
    record: ImportedDocument,
    why: str,
    rematch: Rematch,
) -> int:
    """Unlink `record` from the receipt it was linked to and post its own money (Dr its bank account, Cr
    unapplied receipts) as its current revision, which posted nothing while linked; it waits in the
    reconciliation queue with `why`, and with the candidates and named invoices `rematch` finds of what
    its file said (as its import leaves a receipt it posts into unapplied receipts). The entry's id."""
    money = Money(record.amount_minor, record.currency)
    file = session.get(ImportedFile, record.file_id) if record.file_id is not None else None
    draft = EntryDraft(
        source=record.source,
        external_id=record.external_id,
        revision=record.revision,
        posting_date=record.document_date,
        document_date=record.document_date,
        voucher=Voucher(
            record.kind, file.name if file is not None else None, record.row, file_id=record.file_id
        ),
        memo=f"receipt {record.number or record.external_id}, payer not identified",
        lines=(
            Line.debit(accounts.bank_for(record.bank_account), money),
            Line.credit(accounts.unapplied, money),
        ),
    )
    entry_id = ledger.post(draft).entry_id
    record.status, record.entry_id, record.customer_id, record.linked_id = "unapplied", entry_id, None, None
    record.match_tier, record.match_score, record.match_rule = None, None, why
    # Who paid, as a line said (a payment kept none: it named its customer), for whoever decides.
    said = Payer.unseal(cipher, record.payer_enc, LINE_PAYER_FIELD)
    freed = Work(_as_document(record, said, file.name if file is not None else ""), record.fingerprint)
    freed.match = rematch(freed.document)
    candidates, named = waits_with(freed)
    payer = said.seal(cipher)
    item = session.scalars(
        select(ReconciliationItem).where(ReconciliationItem.document_id == record.id).with_for_update()
    ).first()
    if item is None:
        session.add(
            ReconciliationItem(
                document_id=record.id,
                candidates_json=candidates,
                named_json=named,
                payer_enc=payer,
                created_at=utcnow(),
            )
        )
        return entry_id
    # An earlier revision's item (one item per document): open again, as the import reopens one.
    item.status, item.payer_enc, item.note = "open", payer, ""
    item.candidates_json, item.named_json = candidates, named
    item.customer_id, item.entry_id, item.resolved_at, item.resolved_by = None, None, None, None
    item.created_at = utcnow()
    return entry_id


def _as_document(record: ImportedDocument, payer: Payer, file: str) -> Document:
    """A receipt's record as its file said it, for the matcher: its amount, date and number, and who paid
    it (name, bank account, references; a payment kept none)."""
    kind: DocumentKind = "bank_line" if record.kind == "bank_line" else "payment"
    return Document(
        kind=kind,
        source=record.source,
        external_id=record.external_id,
        date=record.document_date,
        amount=Money(record.amount_minor, record.currency),
        origin=Origin(file, record.row),
        party=Party(name=payer.name, bank_account=payer.bank_account),
        number=record.number,
        references=payer.references,
        account=record.bank_account,
    )
