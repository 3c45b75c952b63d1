from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from connector.bootstrap import Container, build_container
from connector.db import (
    Base,
    alembic_config,
    current_revision,
    make_engine,
    serialize,
    unit_of_work,
    upgrade_database,
)
from connector.security.keys import read_keyring_file
from connector.settings import DatabaseSettings, SecuritySettings, Settings
from tests.conftest import postgres_url


def test_the_migrations_create_exactly_the_schema_the_models_describe(container: Container) -> None:
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_upgrading_an_up_to_date_database_is_a_no_op(container: Container) -> None:
    before = current_revision(container.engine)
    upgrade_database(container.engine)
    assert current_revision(container.engine) == before == "0028"


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


def test_upgrading_to_0010_keeps_every_posting_and_drops_only_their_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_database(engine, "0009")
    entry = (
        "INSERT INTO journal_entries (id, source, external_id, revision, is_reversal, posting_date, memo,"
        " document_type, content_hash, created_at) VALUES (1, 'bank', 'R-1', 1, 0, '2026-03-01', '',"
        " 'payment', 'h', '2026-03-01')"
    )
    posting = (
        "INSERT INTO postings (entry_id, account_code, currency, amount_minor) VALUES (1, :a, 'CNY', :m)"
    )
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO ledger_accounts VALUES ('1002', 'Bank', 'bank', 'asset', 0, 0)"))
        connection.execute(
            text("INSERT INTO ledger_accounts VALUES ('2203', 'Unapplied', NULL, 'liability', 0, 0)")
        )
        connection.execute(text(entry))
        connection.execute(text(posting), [{"a": "1002", "m": 500}, {"a": "2203", "m": -500}])
    upgrade_database(engine)
    with engine.connect() as connection:
        postings = connection.execute(
            text("SELECT entry_id, account_code, amount_minor FROM postings ORDER BY id")
        )
        found = [tuple(row) for row in postings]
        foreign_keys = connection.execute(text("PRAGMA foreign_key_list(postings)")).all()
        indexes = {row[1] for row in connection.execute(text("PRAGMA index_list(postings)"))}
    engine.dispose()
    assert found == [(1, "1002", 500), (1, "2203", -500)]
    assert foreign_keys == []
    assert indexes == {"ix_postings_entry_id", "ix_postings_customer_id"}


def test_upgrading_to_0011_drops_only_the_imported_documents_customer_index(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_database(engine, "0010")
    upgrade_database(engine)
    with engine.connect() as connection:
        indexes = {row[1] for row in connection.execute(text("PRAGMA index_list(imported_documents)"))}
    engine.dispose()
    assert indexes == {
        "sqlite_autoindex_imported_documents_1",
        "ix_imported_documents_amount",
        "ix_imported_documents_number",
        "ix_imported_documents_linked_id",
    }


def test_upgrading_to_0012_keeps_the_documents_imported_before_naming_no_bank_account(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_database(engine, "0011")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO imported_documents (source, external_id, kind, fingerprint, revision, "
                "currency, amount_minor, document_date, status, match_rule) VALUES ('camt053', 'L-1', "
                "'bank_line', 'f', 1, 'EUR', 100, '2026-03-04', 'ignored', '')"
            )
        )
    upgrade_database(engine)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT external_id, bank_account FROM imported_documents")).all()
    engine.dispose()
    assert [tuple(row) for row in found] == [("L-1", None)]


def test_upgrading_to_0022_records_the_source_each_export_file_served_in_the_sets_kept(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_database(engine, "0021")
    files = {
        "export_cn_bank.toml": 'kind = "document"\nsource = "cnbank.receipts"\n',
        "export_gl.toml": 'kind = "voucher"\nsource = "kingdee.gl"\n',
        "zoho_contacts.toml": 'kind = "inbound"\nsource = "zoho.Contacts"\n',
    }
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mapping_set_versions (digest, files_json, first_valid_at, last_valid_at) "
                "VALUES ('d', :files, '2026-03-01', '2026-03-01')"
            ),
            {"files": json.dumps(files)},
        )
    upgrade_database(engine)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT stem, source FROM export_sources ORDER BY stem")).all()
    engine.dispose()
    assert [tuple(row) for row in found] == [
        ("export_cn_bank", "cnbank.receipts"),
        ("export_gl", "kingdee.gl"),
    ]


@contextmanager
def scratch_schema(prefix: str = "migrations") -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema named `prefix`_…, dropped afterwards."""
    url = postgres_url()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.mark.postgres
def test_upgrading_a_postgresql_schema_migrated_before_0008_and_0012_were_edited_ends_as_the_models() -> None:
    with scratch_schema() as url:
        engine = create_engine(url)
        upgrade_database(engine, "0022")
        with engine.begin() as connection:  # as 0012 and 0008 made it before they were edited
            connection.execute(
                text("ALTER TABLE imported_documents ALTER COLUMN bank_account TYPE VARCHAR(64)")
            )
            connection.execute(text("DROP INDEX ix_imported_documents_amount"))
        upgrade_database(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        engine.dispose()
    assert differences == []


def test_upgrading_an_sqlite_database_migrated_before_0008_was_edited_makes_the_amount_index(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_database(engine, "0022")
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_imported_documents_amount"))
    upgrade_database(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_downgrading_to_base_and_upgrading_again_ends_as_the_models(dialect: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        url = (
            f"sqlite:///{tmp_path / 'db.sqlite'}"
            if dialect == "sqlite"
            else stack.enter_context(scratch_schema())
        )
        engine = make_engine(url)  # as the connector connects: SQLite with its foreign keys on
        upgrade_database(engine)
        command.downgrade(alembic_config(engine), "base")
        at_base = current_revision(engine)
        upgrade_database(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        engine.dispose()
    assert (at_base, differences) == (None, [])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database to migrate step by step: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url = postgres_url()
    schema = f"steps_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


def test_upgrading_to_0025_keeps_every_entry_naming_no_imported_file_and_downgrades_back(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    upgrade_database(engine, "0024")
    entry = (
        "INSERT INTO journal_entries (id, source, external_id, revision, is_reversal, posting_date, memo,"
        " document_type, voucher_file, voucher_row, content_hash, created_at) VALUES (1, 'zoho_books',"
        " 'INV-1', 1, false, '2026-03-01', '', 'invoice', 'zoho_books_invoices.csv', 4, 'h', '2026-03-01')"
    )
    with engine.begin() as connection:
        connection.execute(text(entry))
    upgrade_database(engine)
    with engine.begin() as connection:
        found = connection.execute(
            text("SELECT id, voucher_file, voucher_row, voucher_file_id FROM journal_entries")
        ).all()
        connection.execute(text(entry.replace("(1, ", "(2, ").replace("INV-1", "INV-2")))
        connection.execute(text("UPDATE journal_entries SET voucher_file_id = 7 WHERE id = 2"))
    command.downgrade(alembic_config(engine), "0024")
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT id, voucher_file FROM journal_entries ORDER BY id")).all()
    engine.dispose()
    assert [tuple(row) for row in found] == [(1, "zoho_books_invoices.csv", 4, None)]
    assert [tuple(row) for row in kept] == [(1, "zoho_books_invoices.csv"), (2, "zoho_books_invoices.csv")]


MIGRATE_AT = """
import sys, time
from sqlalchemy import create_engine
from connector.db import upgrade_database
url, at = sys.argv[1], float(sys.argv[2])
engine = create_engine(url)
time.sleep(max(0.0, at - time.time()))
upgrade_database(engine)
"""


def run_at_once(script: str, *args: str, processes: int = 3) -> list[str]:
    """`script` run by `processes` Python processes that start its work together (each sleeps until a
    moment given as its last argument): what each printed; each must exit 0."""
    at = str(time.time() + 3)  # every process imported and connected by then: they start together
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args, at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    said = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0] * processes, [err for _, err in said]
    return [out for out, _ in said]


@pytest.mark.postgres
def test_processes_migrating_a_fresh_postgresql_schema_at_once_all_end_up_current() -> None:
    with scratch_schema("race") as in_schema:
        run_at_once(MIGRATE_AT, in_schema)
        engine = create_engine(in_schema)
        assert current_revision(engine) is not None
        engine.dispose()


START_AT = """
import sys, time
from pydantic import SecretStr
from connector.bootstrap import build_container
from connector.settings import DatabaseSettings, SecuritySettings, Settings
url, keys, at = sys.argv[1], sys.argv[2], float(sys.argv[3])
settings = Settings(database=DatabaseSettings(url=SecretStr(url)), security=SecuritySettings(keys_file=keys))
time.sleep(max(0.0, at - time.time()))
container = build_container(settings, logging=False)
print(container.keyring.active_id)
container.close()
"""


@pytest.mark.postgres
def test_replicas_starting_at_once_on_a_fresh_postgresql_schema_all_start_sharing_one_key(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys.json"
    with scratch_schema("start") as in_schema:
        printed = run_at_once(START_AT, in_schema, str(keys), processes=4)
    assert {out.strip() for out in printed} == {read_keyring_file(keys).active_id}


@pytest.mark.postgres
def test_a_replica_starting_waits_for_another_one_starting_on_the_same_database(tmp_path: Path) -> None:
    with scratch_schema("start") as in_schema:
        settings = Settings(
            database=DatabaseSettings(url=SecretStr(in_schema)),
            security=SecuritySettings(keys_file=tmp_path / "keys.json"),
        )
        other = build_container(settings, logging=False)
        started: list[Container] = []
        try:
            with unit_of_work(other.sessions) as session:
                serialize(session, "start-up")  # another replica, adding the chart of accounts
                starting = threading.Thread(
                    target=lambda: started.append(build_container(settings, logging=False))
                )
                starting.start()
                starting.join(timeout=1.5)
                waited = starting.is_alive()
            starting.join(timeout=60)
        finally:
            for container in (other, *started):
                container.close()
    assert (waited, len(started)) == (True, 1)
