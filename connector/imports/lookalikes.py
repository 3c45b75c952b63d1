"""A document whose id is a digest of its content, edited at its source, comes back under another id.

Sources without ids of their own (a QuickBooks Online report, a Xero statement CSV, an MT940 line without
a bank reference, a CAMT entry without AcctSvcrRef) get composite ids (`Document.content_id`): a payment
exported again after its customer was renamed, a statement line whose text the bank changed, is a new id
for the same money. Posted as new, it would count twice. So a new document of such a source is held for a
person when one of the same source, kind, date, currency, amount, number (and statement account, when both
name one) was imported from an earlier file, standing or reversed since, and has not come again, as it
was, in this one (an export holding both is two documents; the import decides once the whole file is
read). So is one of an invoice's or credit note's number, and one of a payment's number (a cheque's)
on its date, whatever its amount: the same document, edited at its source (reverse the one it was, and
post it; another customer's cheque of that number that day is held too: a person tells). The person
resolves it (the same document, exported again) or retries it accepting it (`--accept-changes`:
another document after all). Resolved, it is remembered: the same document in a later
export is that one again, and the statement report matches it to that one's entry.

A bank's statements of one account in two formats (MT940 and CAMT.053 while a bank moves to ISO 20022,
an OFX download beside them) hold the same lines under ids that never agree. So a new receipt line (or a
bank's return) is held too when a line of another format, of the same account, date, currency and amount,
was imported from an earlier file: the person closes it (the same line, in another format) or posts it
as another payment.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bulk import row_date, rows_in
from connector.documents import Document, compact_account
from connector.imports.models import ImportedDocument, ImportedFile
from connector.imports.rules import Accounts
from connector.sync.models import QuarantinedRecord
from connector.sync.quarantine import RETRY_ACTOR

# What the ledger holds as that document: standing, or reversed since (a returned payment exported
# again is the same returned payment, never new money).
_HOLDING = ("posted", "unapplied", "linked", "changed", "reversed")
_Key = tuple[str, str, date, str, int, str]
_LineKey = tuple[date, str, int, str]  # a bank line's date, currency, amount and bank account (`bank_key`)
# A line of another format in one of these holds that money: a return's line ("reversal") too.
_LINE_HOLDING = (*_HOLDING, "reversal")
_NUMBERED = ("invoice", "credit_note")  # kinds whose number names one document
# A payment's number (a cheque's) names one payment on its day: two customers' cheques may share one.
_NUMBERED_ON_ITS_DAY = ("payment",)
_NumberKey = tuple[str, str, str, date | None]  # source, kind, number, and the date where it counts


@dataclass(frozen=True, slots=True)
class Lookalike:
    """A document imported from an earlier file that a new one may be, exported again."""

    external_id: str
    file: str | None
    row: int | None
    bank_account: str | None = None  # a bank line's statement account, compacted
    alike: str = "same date, amount and number"  # what the two have in common
    edited: bool = False  # the same number only: maybe that document with its amount or date edited
    source: str | None = None  # a bank line of another format's: its source (else the document's own)

    def where(self) -> str:
        """`(imported from FILE row N) ` when its file is known."""
        row = f" row {self.row}" if self.row is not None else ""
        return f"(imported from {self.file}{row}) " if self.file else ""


class Lookalikes:
    """The earlier documents a batch's new content-id documents may be, fetched once per batch."""

    def __init__(self, session: Session, file_id: int | None, accounts: Accounts) -> None:
        self.session = session
        self.file_id = file_id
        self.accounts = accounts  # one bank account written two ways (an IBAN, BLZ/Konto) is one
        self._found: dict[_Key, list[tuple[Lookalike, int]]] = {}
        self._numbered: dict[_NumberKey, list[tuple[Lookalike, int]]] = {}  # invoices, cheques by number
        self._lines: dict[_LineKey, list[tuple[Lookalike, int]]] = {}  # bank lines of every format

    def prefetch(self, documents: Sequence[Document], known: Collection[tuple[str, str]]) -> None:
        """Load the earlier documents that the batch's new content-id `documents` could be."""
        self._found, self._numbered, self._lines = {}, {}, {}
        amounts: dict[str, set[int]] = {}
        numbers: dict[str, set[str]] = {}
        line_amounts: set[int] = set()
        for document in documents:
            if (document.source, document.external_id) in known:
                continue
            if _may_be_in_another_format(document):
                line_amounts.add(document.amount.minor)
            if document.content_id:
                amounts.setdefault(document.source, set()).add(document.amount.minor)
                if document.kind in (*_NUMBERED, *_NUMBERED_ON_ITS_DAY) and document.number:
                    numbers.setdefault(document.source, set()).add(document.number)
        files: set[int] = set()
        for source, wanted in numbers.items():
            where = "source = {p} AND kind IN ({p}, {p}, {p}) AND status IN ({p}, {p}, {p}, {p}, {p})"
            for external_id, kind, number, on, file_id, row in rows_in(
                self.session,
                "external_id, kind, number, document_date, file_id, row",
                ImportedDocument.__tablename__,
                "number",
                wanted,
                where,
                source,
                *_NUMBERED,
                *_NUMBERED_ON_ITS_DAY,
                *_HOLDING,
            ):
                if file_id is not None and file_id != self.file_id:
                    day = row_date(on) if kind in _NUMBERED_ON_ITS_DAY else None
                    alike = f"the same {kind.replace('_', ' ')} number" + (" and date" if day else "")
                    found = Lookalike(external_id, None, row, alike=alike, edited=True)
                    self._numbered.setdefault((source, kind, number, day), []).append((found, file_id))
                    files.add(file_id)
        for source, minors in amounts.items():
            where = "source = {p} AND status IN ({p}, {p}, {p}, {p}, {p})"
            for external_id, kind, on, currency, minor, number, file_id, row, bank_account in rows_in(
                self.session,
                "external_id, kind, document_date, currency, amount_minor, number, file_id, row, "
                "bank_account",
                ImportedDocument.__tablename__,
                "amount_minor",
                minors,
                where,
                source,
                *_HOLDING,
                array_type="bigint",
            ):
                if file_id is None or file_id == self.file_id:
                    continue  # not from an earlier file: this file's own, or no file's
                key = (source, kind, row_date(on), currency, minor, number or "")
                found = Lookalike(external_id, None, row, bank_account)
                self._found.setdefault(key, []).append((found, file_id))
                files.add(file_id)
        for money, line, file_id in self._lines_of_earlier_files(line_amounts):
            self._lines.setdefault(money, []).append((line, file_id))
            files.add(file_id)
        if files:
            names = dict(
                self.session.execute(
                    select(ImportedFile.id, ImportedFile.name).where(ImportedFile.id.in_(files))
                ).all()
            )
            for group in (*self._found.values(), *self._numbered.values(), *self._lines.values()):
                group[:] = [(replace(f, file=names.get(i)), i) for f, i in group]

    def _lines_of_earlier_files(self, amounts: set[int]) -> list[tuple[_LineKey, Lookalike, int]]:
        """The bank lines of `amounts` naming their account that earlier files brought, with their file."""
        found = []
        where = "kind = {p} AND bank_account IS NOT NULL AND status IN ({p}, {p}, {p}, {p}, {p}, {p})"
        for source, external_id, on, currency, minor, file_id, row, bank_account in rows_in(
            self.session,
            "source, external_id, document_date, currency, amount_minor, file_id, row, bank_account",
            ImportedDocument.__tablename__,
            "amount_minor",
            amounts,
            where,
            "bank_line",
            *_LINE_HOLDING,
            array_type="bigint",
        ):
            if file_id is None or file_id == self.file_id:
                continue
            alike = "the same account, date and amount, in a statement of another format"
            line = Lookalike(external_id, None, row, bank_account, alike=alike, source=source)
            bank = self.accounts.bank_key(bank_account, by_statement=True) or bank_account
            found.append(((row_date(on), currency, minor, bank), line, file_id))
        return found

    def of(self, document: Document, came_again: Callable[[str], bool]) -> Lookalike | None:
        """The earlier document that new `document` may be: of a content id, one exported again, of the
        same statement account (when both name one) not `came_again` in this file as it was; of a bank
        line, one of another format. Several new documents like one earlier are each held: which of them
        it is, a person tells."""
        amount = document.amount
        key = (
            document.source,
            document.kind,
            document.date,
            amount.currency,
            amount.minor,
            document.number or "",
        )
        account = compact_account(document.account)
        for lookalike, _ in self._found.get(key, ()) if document.content_id else ():
            if account is not None and lookalike.bank_account not in (None, account):
                continue  # another account's line is another line
            if not came_again(lookalike.external_id):
                return lookalike
        # An invoice's number is its own: one of that number is the same invoice, edited (its amount, its
        # date) and exported again, whatever else changed; a cheque's number on its day, the same payment.
        day = document.date if document.kind in _NUMBERED_ON_ITS_DAY else None
        numbered = (document.source, document.kind, document.number or "", day)
        for lookalike, _ in self._numbered.get(numbered, ()) if document.content_id else ():
            if not came_again(lookalike.external_id):
                return lookalike
        if account is not None and _may_be_in_another_format(document):
            bank = self.accounts.bank_key(account, by_statement=True) or account
            for lookalike, _ in self._lines.get((document.date, amount.currency, amount.minor, bank), ()):
                if lookalike.source != document.source:
                    return lookalike
        return None

    def told_exported_again(self, document: Document, lookalike: Lookalike) -> bool:
        """Whether a person closed this document's hold as `lookalike` exported again (resolved by hand,
        not posted by a retry)."""
        told = select(QuarantinedRecord.id).where(
            QuarantinedRecord.source == document.source,
            QuarantinedRecord.status == "resolved",
            QuarantinedRecord.resolved_by != RETRY_ACTOR,
            QuarantinedRecord.reason.startswith(_held_prefix(document, lookalike), autoescape=True),
        )
        return self.session.scalar(told.limit(1)) is not None


def exported_again(document: Document, lookalike: Lookalike) -> str:
    """Why `document` is held: maybe `lookalike`, exported again (or, a bank line, in another format)."""
    if lookalike.source is not None:
        return (
            f"{_held_prefix(document, lookalike)}{lookalike.where()}: {lookalike.alike}. If it is that line "
            "(one account's statements imported in two formats), close this record (`connector quarantine "
            'resolve ID --note "another format"`); if it is another payment, post it with `connector '
            "quarantine retry ID --accept-changes`"
        )
    return (
        f"{_held_prefix(document, lookalike)}{lookalike.where()}with other text (a customer renamed, a "
        f"payee's text changed): {lookalike.alike}. If it is, close this record (`connector quarantine "
        'resolve ID --note "exported again"`); if it is another, post it with `connector quarantine retry ID '
        "--accept-changes`"
        + (
            "; if it is that one edited (another amount or date), reverse what that one posted "
            "(`connector ledger reverse`) and post this one with --accept-changes"
            if lookalike.edited
            else ""
        )
    )


def _held_prefix(document: Document, lookalike: Lookalike) -> str:
    if lookalike.source is not None:
        earlier = f"{lookalike.source} {lookalike.external_id}"
        return f"maybe {earlier} in another format as {document.external_id} "
    return f"maybe {document.source} {lookalike.external_id} exported again as {document.external_id} "


def _may_be_in_another_format(document: Document) -> bool:
    """Whether `document` is a bank line that posts (a receipt, a bank's return) naming its account: one
    that a statement of another format may hold too."""
    return (
        document.kind == "bank_line"
        and document.account is not None
        and (document.amount.minor > 0 or document.bank_reversal)
    )


def exported_again_as(session: Session, source: str, external_ids: Sequence[str]) -> dict[str, str]:
    """New id → the earlier document's id, for each of `external_ids` a person said is an earlier
    document exported again (its hold closed by hand)."""
    wanted = set(external_ids)
    if not wanted:
        return {}
    prefix = f"maybe {source} "
    found: dict[str, str] = {}
    for reason in session.scalars(
        select(QuarantinedRecord.reason).where(
            QuarantinedRecord.source == source,
            QuarantinedRecord.status == "resolved",
            QuarantinedRecord.resolved_by != RETRY_ACTOR,
            QuarantinedRecord.reason.startswith(prefix, autoescape=True),
        )
    ):
        original, separator, rest = reason.removeprefix(prefix).partition(" exported again as ")
        new_id = rest.split(" ", 1)[0]
        if separator and new_id in wanted:
            found[new_id] = original
    return found
