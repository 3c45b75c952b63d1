"""Key rotation: every encrypted column, re-encrypted under the active key. One list, kept here.

Each entry is (model, attribute, field name); the field name is the ciphertext's associated data, so
it must be the one the column was written with.
"""

from __future__ import annotations

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from connector.db import Base
from connector.imports.models import ReconciliationItem
from connector.imports.payer import PAYER_FIELD
from connector.ledger.models import Customer, CustomerBankAccount
from connector.master.models import CustomerBinding, IdentityReview
from connector.security.cipher import FieldCipher, key_id_of
from connector.security.models import RemoteCredential
from connector.sync.channels import TOKEN_FIELD
from connector.sync.models import QuarantinedRecord
from connector.sync.notification_models import NotificationChannel

ENCRYPTED_COLUMNS: tuple[tuple[type[Base], str, str], ...] = (
    (Customer, "name_enc", "customer.name"),
    (Customer, "email_enc", "customer.email"),
    (Customer, "phone_enc", "customer.phone"),
    (Customer, "address_enc", "customer.address"),
    (CustomerBankAccount, "account_enc", "customer_bank_account.number"),
    (CustomerBinding, "record_enc", "customer_binding.record"),
    (IdentityReview, "record_enc", "identity_review.record"),
    (QuarantinedRecord, "raw_enc", "quarantine.raw"),
    (ReconciliationItem, "payer_enc", PAYER_FIELD),
    (RemoteCredential, "refresh_token_enc", "remote_credential.refresh_token"),
    (RemoteCredential, "access_token_enc", "remote_credential.access_token"),
    (NotificationChannel, "token_enc", TOKEN_FIELD),
)


def keys_in_use(session: Session) -> dict[str, int]:
    """Key id → how many encrypted values (every encrypted column) are sealed with it."""
    tables = set(inspect(session.connection()).get_table_names())
    postgres = session.get_bind().dialect.name == "postgresql"
    counts: dict[str, int] = {}
    for model, attribute, _ in ENCRYPTED_COLUMNS:
        if model.__tablename__ not in tables:
            continue
        column = getattr(model, attribute)
        prefix = (
            func.split_part(column, ":", 1)
            if postgres
            else func.substr(column, 1, func.instr(column, ":") - 1)
        )
        for kid, count in session.execute(
            select(prefix, func.count()).where(column.is_not(None)).group_by(prefix)
        ):
            counts[kid] = counts.get(kid, 0) + count
    return counts


def reencrypt_all(session: Session, cipher: FieldCipher) -> int:
    """Re-encrypt every value not under the cipher's active key; returns how many were changed."""
    active = cipher.ring.active_id
    changed = 0
    for model, attribute, field in ENCRYPTED_COLUMNS:
        for row in session.scalars(select(model).execution_options(yield_per=500)):
            token = getattr(row, attribute)
            if token is not None and key_id_of(token) != active:
                setattr(row, attribute, cipher.encrypt(field, cipher.decrypt(field, token)))
                changed += 1
    session.flush()
    return changed


def holds_encrypted(session: Session) -> bool:
    """Whether any encrypted column holds a value (which only the key ring it was sealed with reads);
    a database whose tables are not made yet holds none."""
    tables = set(inspect(session.connection()).get_table_names())
    return any(
        session.scalar(select(column).where(column.is_not(None)).limit(1)) is not None
        for model, attribute, _ in ENCRYPTED_COLUMNS
        if model.__tablename__ in tables and (column := getattr(model, attribute)) is not None
    )
