"""Reads over sets of customers that grow with the ledger, on PostgreSQL past its 65,535 bound
parameters per statement: no read puts such a set into one `IN (...)`.

The rows go in by COPY (`connector.bulk.insert_rows`): the ORM would take minutes for them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connector.bulk import insert_rows
from connector.db import unit_of_work
from connector.imports.models import ImportedDocument, ImportedFile
from connector.imports.recorded import SeenInFile
from connector.imports.voucher_gaps import missing_from
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


@pytest.mark.postgres
def test_voucher_lines_missing_from_an_export_are_found_past_the_bound_parameter_limit_of_later_exports(
    postgres_database: LedgerDatabase,
) -> None:
    """A voucher source with more later export files than PostgreSQL takes parameters: a line of an
    earlier file, dated within the export's days and not in it, is still found missing."""
    postgres_database.reset()
    now, source = datetime.now(UTC), "kingdee_vouchers"
    files = range(1, PAST_THE_BOUND + 2)  # the earlier file, and every later export after it
    with unit_of_work(postgres_database.container.sessions) as session:
        insert_rows(
            session,
            ImportedFile.__table__,  # type: ignore[arg-type]
            ("id", "content_hash", "name", "format", "status", "counts_json", "started_at"),
            [(i, f"{i:064}", f"vouchers-{i}.xlsx", source, "imported", "{}", now) for i in files],
        )
        insert_rows(
            session,
            ImportedDocument.__table__,  # type: ignore[arg-type]
            (
                *("id", "source", "external_id", "kind", "fingerprint", "revision", "currency"),
                *("amount_minor", "document_date", "status", "match_rule", "file_id", "row"),
            ),
            [_voucher_line(source, file_id) for file_id in files],
        )
    with unit_of_work(postgres_database.container.sessions) as session:
        missing = missing_from(session, source, None, (date(2026, 3, 1), date(2026, 3, 31)), SeenInFile())
        assert [(document.external_id, name) for document, name in missing] == [
            ("2026-03-记-1#1", "vouchers-1.xlsx")
        ]


def _voucher_line(source: str, file_id: int) -> tuple[object, ...]:
    """File 1's line is dated in March, each later file's in April; one line per file, id as the file's."""
    month, on = (3, date(2026, 3, 10)) if file_id == 1 else (4, date(2026, 4, 1))
    voucher = f"2026-{month:02}-记-{file_id}#1"
    return (file_id, source, voucher, "invoice", "-", 1, "CNY", 100, on, "posted", "", file_id, 1)
