"""Which index key the customers' blind indexes were made with: a fingerprint (the key's keyed hash of a
fixed text) kept in `index_state`, recorded when the first customer is indexed and checked whenever a
process starts on the database, so that a key ring with another index key is refused before it could
find nobody and let every customer come in again as new."""

from __future__ import annotations

from sqlalchemy.orm import Session

from connector.errors import KeyStoreError
from connector.security.cipher import FieldCipher
from connector.security.models import IndexState

NAME = "index key fingerprint"


def fingerprint(cipher: FieldCipher) -> str:
    return cipher.blind_index("fingerprint", "index key")


def check_index_key(session: Session, cipher: FieldCipher) -> None:
    """Refuse `cipher` when its index key is not the one the stored indexes were made with; record it
    when none is recorded yet."""
    made = fingerprint(cipher)
    state = session.get(IndexState, NAME)
    if state is None:
        session.add(IndexState(name=NAME, value=made))
        session.flush()
    elif state.value != made:
        raise KeyStoreError(
            "the key ring's index_key is not the one this database's look-ups were made with: no customer "
            "would be found by e-mail, phone or name (each would come in again as new); use the key file "
            "the database was made with"
        )
