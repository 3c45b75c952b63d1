"""The customers' blind indexes kept up with the rules that make them, and with the key.

A blind index is a keyed hash of a normalised value (`FieldCipher.blind_index`): the identity rules and
every look-up by e-mail, phone or name compare indexes, never the encrypted values. So when the rules of
normalising change (names: legal forms as whole words only; e-mails: without their +tag) the stored
indexes are made again, once, when the connector starts on the database (after its migrations); and an
index key other than the one the stored indexes were made with (a key ring assembled by hand) is refused
there, before it could find nobody and let every customer come in again as new.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.ledger.customers import contact_indexes
from connector.ledger.index_key import check_index_key
from connector.ledger.models import Customer
from connector.security.cipher import FieldCipher
from connector.security.models import IndexState

log = logging.getLogger(__name__)

# 2: names by `identity.name_core` (legal forms as whole words), e-mails without their +tag;
# 3: punctuation after a name's legal form ignored ("X有限公司。"); 5: Sa, Se, AB … legal forms only dotted
# or in capitals in a mixed-case name; 6, 7: a dotted form ending an abbreviation (U.S.A.) kept
RULES = "7"
_RULES = "customer index rules"
_BATCH = 1000


def keep_indexes_current(session: Session, cipher: Callable[[], FieldCipher]) -> int:
    """Make the customers' indexes again when they were made by older rules; refuse another index key.
    How many customers were indexed again. Without customers, the keys are not even read."""
    state = {row.name: row for row in session.scalars(select(IndexState))}
    if session.scalar(select(Customer.id).limit(1)) is None:
        _set(session, state, _RULES, RULES)  # nothing indexed yet: made by these rules from now on
        return 0
    sealing = cipher()
    check_index_key(session, sealing)
    if _RULES in state and state[_RULES].value == RULES:
        return 0
    indexed = _index_again(session, sealing)
    _set(session, state, _RULES, RULES)
    log.info("customer look-ups made again by the current rules (names, e-mails): %d customer(s)", indexed)
    return indexed


def _index_again(session: Session, cipher: FieldCipher) -> int:
    decrypt, last, count = cipher.decrypt_optional, 0, 0
    columns = (Customer.id, Customer.name_enc, Customer.email_enc, Customer.phone_enc)
    while rows := session.execute(
        select(*columns).where(Customer.id > last).order_by(Customer.id).limit(_BATCH)
    ).all():
        changes = []
        for customer_id, name_enc, email_enc, phone_enc in rows:
            name = cipher.decrypt("customer.name", name_enc)
            email, phone = decrypt("customer.email", email_enc), decrypt("customer.phone", phone_enc)
            made = contact_indexes(cipher.blind_index, name, email, phone)
            changes.append(
                {
                    "id": customer_id,
                    "name_index": made.name,
                    "email_index": made.email,
                    "phone_index": made.phone,
                }
            )
        session.execute(update(Customer), changes)
        last, count = rows[-1][0], count + len(rows)
    return count


def _set(session: Session, state: dict[str, IndexState], name: str, value: str) -> None:
    if name in state:
        state[name].value = value
    else:
        state[name] = IndexState(name=name, value=value)
        session.add(state[name])
    session.flush()
