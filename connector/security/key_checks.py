"""Which bytes each data key id stands for: a check value per key id (a keyed hash of a fixed text,
which neither is nor reveals the key) kept in `index_state`, as the index key's fingerprint is.

Ciphertexts name only their key's id, so a ring giving other bytes under the right id (a key file
copied by hand, two replicas given different keys for the same new id) would seal new values nobody
can read again and fail the values already there. The check value is recorded for every key of a ring
that passes, when a process starts on the database and when `keys rotate` makes a key, and a ring whose
key differs from it is refused before it seals anything. A database made before check values were
kept has none: a key id is then tried on a few values sealed with it, and recorded when one opens."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.db import fitted
from connector.errors import DecryptionError, KeyStoreError
from connector.security.cipher import FieldCipher
from connector.security.keys import KeyRing, entry_name
from connector.security.models import IndexState
from connector.security.rotation import ENCRYPTED_COLUMNS

_SAMPLES = 3  # values tried under a key id with no check value: a wrong key opens none of them
_NAME_LENGTH = 60  # index_state.name


def check_value(key: bytes) -> str:
    return hmac.new(key, b"connector data key check", hashlib.sha256).hexdigest()[:32]


def _row_name(key_id: str) -> str:
    return fitted(f"data key {key_id}", _NAME_LENGTH)


def key_problems(session: Session, ring: KeyRing, where: str) -> list[str]:
    """Each key of `ring` (found at `where`) that is not the one its id stood for in this database: its
    recorded check value differs or, with none recorded, none of the values sealed under its id opens."""
    if not inspect(session.connection()).has_table(IndexState.__tablename__):
        return []
    recorded = {row.name: row.value for row in session.scalars(select(IndexState))}
    cipher = FieldCipher(ring)
    problems = []
    for position, (kid, key) in enumerate(ring.keys.items(), 1):
        known = recorded.get(_row_name(kid))
        if known == check_value(key) or (known is None and _opens_its_values(session, cipher, kid)):
            continue
        problems.append(
            f"{entry_name(kid, position)} of {where} is not the key this database's values under that id "
            "were sealed with (another copy of the key file, or a ring given other bytes for the same id): "
            "nothing it sealed could be read again"
        )
    return problems


def _opens_its_values(session: Session, cipher: FieldCipher, key_id: str) -> bool:
    """Whether a value sealed under `key_id` opens with the ring's key of that id (none sealed: yes)."""
    tried = 0
    tables = set(inspect(session.connection()).get_table_names())
    prefix = f"{key_id}:"
    for model, attribute, field in ENCRYPTED_COLUMNS:
        if model.__tablename__ not in tables:
            continue
        column = getattr(model, attribute)
        under = func.substr(column, 1, len(prefix)) == prefix
        for token in session.scalars(select(column).where(under).limit(_SAMPLES - tried)):
            try:
                cipher.decrypt(field, token)
                return True
            except DecryptionError:
                tried += 1
        if tried >= _SAMPLES:
            break
    return tried == 0


def check_data_keys(session: Session, ring: KeyRing, where: str) -> None:
    """Refuse `ring` (`KeyStoreError`) when a key of it is not the one its id stands for here; else
    record the check value of each of its keys not recorded yet."""
    refuse_other_keys(key_problems(session, ring, where))
    recorded = set(session.scalars(select(IndexState.name)))
    missing = [
        {"name": _row_name(kid), "value": check_value(key)}
        for kid, key in ring.keys.items()
        if _row_name(kid) not in recorded
    ]
    if not missing:
        return
    # Processes starting together with a new key (replicas given the same ring, `keys rotate` and a start
    # reading its key file) each find no value recorded yet: the one that records it second keeps the
    # first's and compares its key with it, as with one recorded before it started.
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(IndexState).values(missing).on_conflict_do_nothing())
    refuse_other_keys(key_problems(session, ring, where))


USE_THE_SEALING_RING = "use the key file (or ring) the database was sealed with, the same on every machine"


def refuse_other_keys(problems: list[str]) -> None:
    """`key_problems`' problems, if any, as the error that refuses the ring."""
    if problems:
        raise KeyStoreError(f"{'; '.join(problems)}: {USE_THE_SEALING_RING}")
