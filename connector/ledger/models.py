"""Ledger tables. Entries and postings are append-only; balances are maintained with the postings.

Amounts are signed integer minor units: debit positive, credit negative, so every entry sums to
zero per currency and an account's balance is the plain sum of its postings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from connector.db import Base, BigId


def utcnow() -> datetime:
    return datetime.now(UTC)


class LedgerAccount(Base):
    """An account of the chart. `per_customer` accounts (AR, advances) require a customer on each posting."""

    __tablename__ = "ledger_accounts"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    per_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)


class AccountNumberSequence(Base):
    """The last sequence number handed out per (customer type, region); numbers are never reused."""

    __tablename__ = "account_number_sequences"

    customer_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    region: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class Customer(Base):
    """A customer of the master. Personal fields hold ciphertexts; `*_index` hold blind indexes."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("customer_type", "region", "seq"),
        # The name rule looks for namesakes not yet bound to the record's backend: two range scans of
        # this index skip the ones bound to it alone, however many people share the name.
        Index("ix_customers_name_index_bound_backends", "name_index", "bound_backends"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_no: Mapped[str] = mapped_column(String(40), unique=True)
    customer_type: Mapped[str] = mapped_column(String(20))
    region: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int] = mapped_column(Integer)
    value_tier: Mapped[str | None] = mapped_column(String(20))
    name_enc: Mapped[str] = mapped_column(Text)
    email_enc: Mapped[str | None] = mapped_column(Text)
    email_index: Mapped[str | None] = mapped_column(String(32), index=True)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    phone_index: Mapped[str | None] = mapped_column(String(32), index=True)
    name_index: Mapped[str | None] = mapped_column(String(32))  # normalised name, for identity
    # The backends of its active bindings, sorted and comma-separated ("" for none): kept by the master.
    bound_backends: Mapped[str] = mapped_column(String(400), default="", server_default="")
    address_enc: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    credit_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active, inactive, merged
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class CustomerBankAccount(Base):
    """A payer bank account or IBAN known for a customer (encrypted, found through its blind index)."""

    __tablename__ = "customer_bank_accounts"
    __table_args__ = (UniqueConstraint("customer_id", "account_index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    account_enc: Mapped[str] = mapped_column(Text)
    account_index: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JournalEntry(Base):
    """A posted journal entry (分录 group of one 凭证), immutable once written.

    Idempotency key: (source, external_id, revision) among non-reversal entries. A reversal carries
    the key of the entry it reverses with `is_reversal` set, and points to it through `reverses_id`;
    the unique key therefore also means an entry is reversed at most once. Indexes are kept to what
    posting and look-ups need: each one costs every insert.
    """

    __tablename__ = "journal_entries"
    __table_args__ = (
        UniqueConstraint(
            "source", "external_id", "revision", "is_reversal", name="uq_journal_entries_document"
        ),
        CheckConstraint(
            "(reverses_id IS NULL AND NOT is_reversal) OR (reverses_id IS NOT NULL AND is_reversal)",
            name="reversal_link",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    is_reversal: Mapped[bool] = mapped_column(Boolean, default=False)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    posting_date: Mapped[date] = mapped_column(Date)
    value_date: Mapped[date | None] = mapped_column(Date)
    document_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)  # an invoice's own, when its document states one
    memo: Mapped[str] = mapped_column(Text, default="")
    document_type: Mapped[str] = mapped_column(String(40))
    voucher_file: Mapped[str | None] = mapped_column(Text)
    voucher_row: Mapped[int | None] = mapped_column(Integer)
    voucher_record: Mapped[str | None] = mapped_column(Text)
    # The imported file the voucher names (`imported_files.id`, its content hash there): monthly exports
    # share one name, so the name alone does not say which. No database foreign key, as for postings:
    # the import, its one writer, names the file it reads, and `ledger verify` reports a missing one.
    # None for entries posted otherwise (by hand, the demo) or imported before this was kept.
    voucher_file_id: Mapped[int | None] = mapped_column(BigId)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Posting(Base):
    """One line of an entry: a signed amount (debit > 0, credit < 0) on an account, maybe for a customer.

    Its references (entry, chart account, customer) carry no database foreign keys: the ledger, the one
    writer of postings, resolves each before writing, and the per-row look-ups the database would repeat
    cost a tenth of posting time. Nothing they point at can go away unnoticed: entries are append-only,
    a customer's or account's balance row (written with its postings) holds a foreign key to it, and
    `connector ledger verify` reports any posting whose entry, account or customer is missing.
    """

    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("amount_minor <> 0", name="nonzero"),
        # Only customer postings are looked up by customer: half the index, half its cost per insert.
        Index(
            "ix_postings_customer_id",
            "customer_id",
            sqlite_where=text("customer_id IS NOT NULL"),
            postgresql_where=text("customer_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigId, index=True)
    account_code: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(BigId)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class CustomerBalance(Base):
    """Running balance of one customer on one subledger account in one currency."""

    __tablename__ = "customer_balances"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    account_code: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.code"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    posting_count: Mapped[int] = mapped_column(BigInteger)


class AccountBalance(Base):
    """Running balance of one chart account in one currency (the general-ledger side)."""

    __tablename__ = "account_balances"

    account_code: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.code"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    posting_count: Mapped[int] = mapped_column(BigInteger)
