from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from connector.bootstrap import Container
from connector.db import Base, current_revision, upgrade_database


def test_the_migrations_create_exactly_the_schema_the_models_describe(container: Container) -> None:
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_upgrading_an_up_to_date_database_is_a_no_op(container: Container) -> None:
    before = current_revision(container.engine)
    upgrade_database(container.engine)
    assert current_revision(container.engine) == before == "0009"


def test_upgrading_to_0006_fills_each_customers_backends_from_its_live_bindings(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_database(engine, "0005")
    customer = (
        "INSERT INTO customers (id, account_no, customer_type, region, seq, name_enc, currency,"
        " payment_terms_days, status, created_at, updated_at)"
        " VALUES (:id, :no, 'SME', 'CN', :id, 'x', 'CNY', 30, 'active', '2026-01-01', '2026-01-01')"
    )
    binding = (
        "INSERT INTO customer_bindings (backend, external_id, customer_id, content_hash, record_enc,"
        " mapping_digest, status, last_synced_at) VALUES (:backend, :id, :customer, 'h', 'r', 'd', :status,"
        " '2026-01-01')"
    )
    with engine.begin() as connection:
        connection.execute(text(customer), [{"id": n, "no": f"SMECN{n:05}"} for n in (1, 2, 3)])
        connection.execute(
            text(binding),
            [
                {"backend": "zoho.Contacts", "id": "z1", "customer": 1, "status": "active"},
                {"backend": "fxiaoke.customers", "id": "f1", "customer": 1, "status": "active"},
                {"backend": "zoho.Contacts", "id": "z2", "customer": 2, "status": "deleted"},
            ],
        )
    upgrade_database(engine)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT id, bound_backends FROM customers ORDER BY id")).all()
    engine.dispose()
    assert [tuple(row) for row in found] == [(1, "fxiaoke.customers,zoho.Contacts"), (2, ""), (3, "")]
