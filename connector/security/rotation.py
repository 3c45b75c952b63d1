"""Key rotation: every encrypted column, re-encrypted under the active key. One list, kept here.

Each entry is (model, attribute, field name); the field name is the ciphertext's associated data, so
it must be the one the column was written with.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.db import Base, unit_of_work
from connector.errors import DecryptionError
from connector.imports.models import ImportedDocument, ReconciliationItem
from connector.imports.payer import LINE_PAYER_FIELD, PAYER_FIELD
from connector.ledger.customers import BANK_ACCOUNT_FIELD
from connector.ledger.models import Customer, CustomerBankAccount
from connector.master.models import CustomerBinding, IdentityReview
from connector.security.cipher import FieldCipher, key_id_of
from connector.security.models import IndexState, RemoteCredential
from connector.sync.channels import TOKEN_FIELD
from connector.sync.models import QuarantinedRecord
from connector.sync.notification_models import NotificationChannel

ENCRYPTED_COLUMNS: tuple[tuple[type[Base], str, str], ...] = (
    (Customer, "name_enc", "customer.name"),
    (Customer, "email_enc", "customer.email"),
    (Customer, "phone_enc", "customer.phone"),
    (Customer, "address_enc", "customer.address"),
    (CustomerBankAccount, "account_enc", BANK_ACCOUNT_FIELD),
    (CustomerBinding, "record_enc", "customer_binding.record"),
    (IdentityReview, "record_enc", "identity_review.record"),
    (QuarantinedRecord, "raw_enc", "quarantine.raw"),
    (ReconciliationItem, "payer_enc", PAYER_FIELD),
    (ImportedDocument, "payer_enc", LINE_PAYER_FIELD),
    (RemoteCredential, "refresh_token_enc", "remote_credential.refresh_token"),
    (RemoteCredential, "access_token_enc", "remote_credential.access_token"),
    (NotificationChannel, "token_enc", TOKEN_FIELD),
)


def keys_in_use(session: Session) -> dict[str, int]:
    """Key id → how many encrypted values (every encrypted column) are sealed with it."""
    counts: dict[str, int] = {}
    for _, kid, count in _keys_by_column(session):
        counts[kid] = counts.get(kid, 0) + count
    return counts


def older_keys_left(session: Session, active_id: str, unreadable: Mapping[str, int]) -> dict[str, int]:
    """Column ("table column") → how many of its values are sealed with a key other than `active_id`,
    besides its `unreadable` ones (per column, those a rotation could not open): values a writer still
    sealing with an older key wrote after the rotation passed them."""
    left: Counter[str] = Counter()
    for where, kid, count in _keys_by_column(session):
        if kid != active_id:
            left[where] += count
    left.subtract(unreadable)
    return {where: count for where, count in sorted(left.items()) if count > 0}


def _keys_by_column(session: Session) -> Iterator[tuple[str, str, int]]:
    """("table column", key id, how many of its values are sealed with it), every encrypted column."""
    tables = set(inspect(session.connection()).get_table_names())
    postgres = session.get_bind().dialect.name == "postgresql"
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
            yield _column_name(model, attribute), kid, count


def _column_name(model: type[Base], attribute: str) -> str:
    return f"{model.__tablename__} {attribute}"


@dataclass(frozen=True, slots=True)
class Reencrypted:
    changed: int  # values sealed again under the active key
    moved_on: int  # values another writer changed meanwhile (sealed by it): `keys rotate` again re-seals
    unreadable: tuple[str, ...] = ()  # "table column #id: why" of values no key of the ring opens

    def unreadable_by_column(self) -> Counter[str]:
        """ "table column" → how many of `unreadable` are its."""
        return Counter(where.partition(" #")[0] for where in self.unreadable)


def reencrypt_all(sessions: sessionmaker[Session], cipher: FieldCipher, batch: int = 500) -> Reencrypted:
    """Re-encrypt every value not under the cipher's active key, `batch` rows per transaction in key
    order: memory stays one batch's, writers wait for one batch at most, and a run stopped part-way is
    taken up by the next (what it sealed is under the active key already). Each value is replaced only
    if it is still the one read (compare and set): a writer's change made meanwhile is never undone."""
    active = cipher.ring.active_id
    changed = moved_on = 0
    unreadable: list[str] = []
    for model, attribute, field in ENCRYPTED_COLUMNS:
        column = getattr(model, attribute)
        (key,) = inspect(model).primary_key
        last: Any = None
        while True:
            with unit_of_work(sessions) as session:
                wanted = select(key, column).where(column.is_not(None)).order_by(key).limit(batch)
                rows = session.execute(wanted if last is None else wanted.where(key > last)).all()
                for row_key, token in rows:
                    if key_id_of(token) == active:
                        continue
                    try:
                        plain = cipher.decrypt(field, token)
                    except DecryptionError as exc:  # damaged, or another ring's: named, the rest goes on
                        unreadable.append(f"{_column_name(model, attribute)} #{row_key}: {exc}")
                        continue
                    sealed = cipher.encrypt(field, plain)
                    swap = update(model).where(key == row_key, column == token).values({attribute: sealed})
                    if session.execute(swap).rowcount == 1:  # type: ignore[attr-defined]
                        changed += 1
                    else:
                        moved_on += 1
            if len(rows) < batch:
                break
            last = rows[-1][0]
    return Reencrypted(changed, moved_on, tuple(unreadable))


_UNDER_WAY = "key rotation under way"  # an index_state row: the key a rotation seals with, until done


def rotation_starts(session: Session, key_id: str) -> None:
    """A rotation to `key_id` begins (its key saved): until `rotation_done`, `keys rotate` takes it up."""
    state = session.get(IndexState, _UNDER_WAY)
    if state is None:
        session.add(IndexState(name=_UNDER_WAY, value=key_id))
    else:
        state.value = key_id
    session.flush()


def rotation_under_way(session: Session) -> str | None:
    """The key a rotation stopped part-way was sealing with, or None."""
    state = session.get(IndexState, _UNDER_WAY)
    return state.value if state is not None else None


def rotation_done(session: Session) -> None:
    state = session.get(IndexState, _UNDER_WAY)
    if state is not None:
        session.delete(state)
        session.flush()


def holds_encrypted(session: Session) -> bool:
    """Whether any encrypted column holds a value (which only the key ring it was sealed with reads);
    a database whose tables are not made yet holds none."""
    tables = set(inspect(session.connection()).get_table_names())
    return any(
        session.scalar(select(column).where(column.is_not(None)).limit(1)) is not None
        for model, attribute, _ in ENCRYPTED_COLUMNS
        if model.__tablename__ in tables and (column := getattr(model, attribute)) is not None
    )
