"""What the import keeps: each file by its content hash, each document by (source, external id) with
the fingerprint of its content, how its receipt was matched, and the receipts waiting for a person."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.db import Base, BigId
from connector.ledger.models import utcnow

RESOLVER_LENGTH = 100  # characters of who resolved a queue item: a person, or an import


class ImportedFile(Base):
    """A file seen by the import: the same bytes again are skipped, whatever the file is called."""

    __tablename__ = "imported_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="importing")  # importing, imported, failed
    counts_json: Mapped[str] = mapped_column(Text, default="{}")
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"))  # the latest run over it
    stored_path: Mapped[str | None] = mapped_column(Text)  # where its bytes are kept: archive, or as given
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportedDocument(Base):
    """A document posted from a file: its fingerprint (to tell a replay from a changed document), the
    entry it posted (the latest revision's), and how a receipt found its customer."""

    __tablename__ = "imported_documents"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_imported_documents_number", "kind", "number"),
        Index("ix_imported_documents_amount", "amount_minor", "kind", "currency"),  # matching tier 4
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str | None] = mapped_column(String(200))  # invoice numbers are looked up by the matcher
    fingerprint: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))  # none: not posted
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))  # unindexed: never looked up
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    document_date: Mapped[date] = mapped_column(Date)
    # posted, unapplied, linked, reversed, ignored; changed: its last revision reversed as changed, the new
    # one in quarantine (a retry or a later import posts it), or a payment's `.kept` credit note its
    # payment's later export no longer gave (`kept_notes`: a later one giving it posts it again)
    status: Mapped[str] = mapped_column(String(20))
    match_tier: Mapped[int | None] = mapped_column(Integer)
    match_score: Mapped[int | None] = mapped_column(Integer)
    match_rule: Mapped[str] = mapped_column(Text, default="")  # why, in words
    file_id: Mapped[int | None] = mapped_column(ForeignKey("imported_files.id"))
    row: Mapped[int | None] = mapped_column(Integer)
    # A receipt recorded twice (a bank line, and the accounting system's payment of the same money): the
    # second one is linked to the document whose entry posted it, and posts nothing itself.
    linked_id: Mapped[int | None] = mapped_column(ForeignKey("imported_documents.id"), index=True)
    # The bank account the document names (a line's statement account, a payment's deposit account),
    # compacted; none when it names none (or was imported before this was kept). Our own account: no
    # personal data.
    bank_account: Mapped[str | None] = mapped_column(Text)  # an export's account name has no length limit
    # What a bank line said of its payer (`payer.Payer`), encrypted: a return naming its payer is matched
    # to that payer's line. None for other documents, and lines imported before it was kept.
    payer_enc: Mapped[str | None] = mapped_column(Text)


# Waiting for a person; applied to a customer; rejected as no customer's receipt; superseded: a later
# revision of the receipt went its own way (posted by its own reference, linked), so the decision no
# longer stands and is never carried over again.
ITEM_STATUSES = ("open", "applied", "rejected", "superseded")


class ReconciliationItem(Base):
    """A receipt posted to unapplied receipts, waiting for a person: its ranked candidates (JSON list of
    {account_no, tier, score, why}), the invoices it names (JSON list of [number, at most how much]), who
    paid it (as the file said) and, once decided, the customer it went to or why it was rejected."""

    __tablename__ = "reconciliation_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("imported_documents.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # ITEM_STATUSES
    candidates_json: Mapped[str] = mapped_column(Text, default="[]")
    named_json: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    # Who paid, as the file said (`Payer`), encrypted: personal data. None for items of earlier imports.
    payer_enc: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))  # the application
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(RESOLVER_LENGTH))


class ReceiptApplication(Base):
    """A posted receipt's naming of an invoice it pays (an export's "amount applied to invoice", or an
    invoice number in its reference): aging settles that invoice with it before any other. The invoice
    is found by its number among the customer's, so a reposted invoice is its latest revision."""

    __tablename__ = "receipt_applications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))  # the receipt's entry
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_number: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # at most this much of the receipt goes to it


class LearnedBankAccount(Base):
    """Where a payer bank account known for a customer was learned: a person's application of a waiting
    receipt from it (`learning`). One row per decision that taught it; an account the customer's record
    gave has none. When the last decision that taught an account is undone, the account is forgotten."""

    __tablename__ = "learned_bank_accounts"
    __table_args__ = (UniqueConstraint("bank_account_id", "item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_account_id: Mapped[int] = mapped_column(ForeignKey("customer_bank_accounts.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_items.id"), index=True)
    learned_by: Mapped[str] = mapped_column(String(RESOLVER_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
