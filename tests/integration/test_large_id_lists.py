"""Reads over sets of customers that grow with the ledger, on PostgreSQL past its 65,535 bound
parameters per statement: no read puts such a set into one `IN (...)`.

The rows go in by COPY (`connector.bulk.insert_rows`): the ORM would take minutes for them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.bulk import insert_rows
from connector.db import unit_of_work
from connector.ledger.models import Customer, CustomerBalance
from connector.master.lifecycle import recordless_holding_money
from connector.master.models import CustomerBinding
from tests.conftest import LedgerDatabase

PAST_THE_BOUND = 65_536 + 100  # one more id than PostgreSQL takes parameters in a statement, and some


def _recordless_customers(database: LedgerDatabase, count: int) -> list[int]:
    """`count` customers, each bound to one record deleted at its source; their ids."""
    now = datetime.now(UTC)
    ids = list(range(1, count + 1))
    with unit_of_work(database.container.sessions) as session:
        insert_rows(
            session,
            Customer.__table__,  # type: ignore[arg-type]
            (
                "id",
                "account_no",
                "customer_type",
                "region",
                "seq",
                "name_enc",
                "bound_backends",
                "currency",
                "payment_terms_days",
                "status",
                "created_at",
                "updated_at",
            ),
            [(i, f"SMESH{i:06}", "SME", "SH", i, "-", "", "CNY", 30, "inactive", now, now) for i in ids],
        )
        insert_rows(
            session,
            CustomerBinding.__table__,  # type: ignore[arg-type]
            (
                "id",
                "backend",
                "external_id",
                "customer_id",
                "content_hash",
                "record_enc",
                "mapping_digest",
                "status",
                "last_synced_at",
                "deleted_at",
            ),
            [(i, "zoho.Contacts", f"c{i}", i, "-", "-", "-", "deleted", now, now) for i in ids],
        )
    return ids


@pytest.mark.postgres
def test_recordless_customers_holding_money_are_counted_past_the_bound_parameter_limit(
    postgres_database: LedgerDatabase,
) -> None:
    postgres_database.reset()
    ids = _recordless_customers(postgres_database, PAST_THE_BOUND)
    receivable = postgres_database.container.settings.ledger.chart.receivable.code
    survivor, merged, settled = ids[-1], ids[-2], ids[-3]
    holding = [*ids[:10], merged]  # the last of them holds money only through the one merged into it
    with unit_of_work(postgres_database.container.sessions) as session:
        session.get_one(Customer, merged).merged_into_id = survivor
        session.get_one(Customer, merged).status = "merged"
        insert_rows(
            session,
            CustomerBalance.__table__,  # type: ignore[arg-type]
            ("customer_id", "account_code", "currency", "balance_minor", "posting_count"),
            [
                *((i, receivable, "CNY", 100_00, 1) for i in holding),
                (settled, receivable, "CNY", 0, 2),  # invoiced and paid: holds nothing
            ],
        )
    with unit_of_work(postgres_database.container.sessions) as session:
        assert recordless_holding_money(session) == 11  # ten of their own, and the survivor
