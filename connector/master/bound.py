"""`customers.bound_backends` kept with the bindings it summarises.

Every change to a customer's active bindings (a record bound, deleted at its source, back again, moved
by a merge or a split) ends with `refresh_bound_backends` for the customers it touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.ledger.customers import backends_column
from connector.ledger.models import Customer
from connector.master.models import CustomerBinding


def refresh_bound_backends(session: Session, customer_ids: Iterable[int]) -> None:
    ids = set(customer_ids)
    session.flush()
    found: defaultdict[int, set[str]] = defaultdict(set)
    rows = session.execute(
        select(CustomerBinding.customer_id, CustomerBinding.backend).where(
            CustomerBinding.customer_id.in_(ids), CustomerBinding.status == "active"
        )
    )
    for customer_id, backend in rows:
        found[customer_id].add(backend)
    for customer_id in ids:
        session.get_one(Customer, customer_id).bound_backends = backends_column(found[customer_id])
