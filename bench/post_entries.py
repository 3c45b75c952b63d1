"""Posting throughput: N two-line payment entries through the real ledger API, per database backend.

Measured, each in its own spawned process (so peak RSS is per measurement):

* the ledger on SQLite and/or PostgreSQL — `Ledger(session).post_many(batch)`, one transaction per
  batch (1,000 customers created beforehand). Two figures: posting alone (post_many + commit: the
  ledger's work, held against the target; parsers build drafts in production) and posting plus
  building the drafts (held against raw sqlite3, which also builds its rows inside its timer);
* raw `sqlite3.executemany` writing the same rows (journal entries, 2 postings each, balance upserts
  aggregated per batch) into a fresh file: the floor for SQLite. Its schema is the ledger database's
  own DDL replayed as plain SQL (so it cannot drift from the migrations), on a connection with the
  ledger's pragmas (WAL, foreign keys, cache size) from `connector.db.make_engine`.

Printed: entries/s, elapsed seconds and peak RSS per measurement, the ledger/raw throughput ratio and
the SQLite ledger's posting throughput against the 50,000 entries/s target. `--verify` then checks
the SQLite ledger.
PostgreSQL runs in a throw-away schema `bench_ledger`, dropped at the end.

    .venv/bin/python -m bench.post_entries --entries 1000000 [--backend sqlite|postgres|both] [--verify]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bench.common import in_subprocess, peak_rss_mb, reset_pg_schema
from connector.bootstrap import Container, build_container
from connector.db import make_engine, unit_of_work
from connector.ledger.balances import BalanceDeltas
from connector.ledger.customers import NewCustomer
from connector.ledger.entries import EntryDraft, Line, Voucher
from connector.ledger.posting import Ledger
from connector.ledger.verify import verify_ledger
from connector.money import Money
from connector.security.keys import KeyRing, save_keyring
from connector.settings import DatabaseSettings, SecuritySettings, Settings

T = TypeVar("T")
TARGET_PER_S = 50_000
CUSTOMERS = 1_000
POSTING_DATE = date(2026, 3, 1)
PG_SCHEMA = "bench_ledger"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CNY = "CNY"

ENTRY_COLUMNS = (
    "id, source, external_id, revision, is_reversal, reverses_id, posting_date, value_date, document_date, "
    "memo, document_type, voucher_file, voucher_row, voucher_record, content_hash, created_at"
)
RAW_ENTRY = f"INSERT INTO journal_entries ({ENTRY_COLUMNS}) VALUES ({', '.join('?' * 16)})"
RAW_POSTING = (
    "INSERT INTO postings (entry_id, account_code, customer_id, currency, amount_minor) VALUES (?,?,?,?,?)"
)
ADD = (  # the balance upserts add the batch's aggregated deltas, like connector.ledger.balances
    "DO UPDATE SET balance_minor = balance_minor + excluded.balance_minor, "
    "posting_count = posting_count + excluded.posting_count"
)
RAW_ACCOUNT_BALANCE = (
    "INSERT INTO account_balances (account_code, currency, balance_minor, posting_count) "
    f"VALUES (?,?,?,?) ON CONFLICT {ADD}"
)
RAW_CUSTOMER_BALANCE = (
    "INSERT INTO customer_balances (customer_id, account_code, currency, balance_minor, posting_count) "
    f"VALUES (?,?,?,?,?) ON CONFLICT {ADD}"
)


@dataclass(frozen=True)
class Result:
    label: str
    entries: int
    seconds: float
    peak_rss_mb: float
    unit: str = "entries"

    @property
    def per_s(self) -> float:
        return self.entries / self.seconds

    def __str__(self) -> str:
        return (
            f"{self.label:<16} {self.entries:>10,} {self.unit} {self.seconds:>8.2f} s "
            f"{self.per_s:>10,.0f} {self.unit}/s  peak RSS {self.peak_rss_mb:,.1f} MB"
        )


def amount_of(i: int) -> int:
    return 100 + (i * 7919) % 1_000_000


def batch_ranges(entries: int, batch: int) -> Iterator[range]:
    for start in range(0, entries, batch):
        yield range(start, min(entries, start + batch))


def payment_draft(i: int, customer_account_no: str) -> EntryDraft:
    amount = Money(amount_of(i), CNY)
    return EntryDraft(
        source="bench",
        external_id=f"PAY-{i}",
        posting_date=POSTING_DATE,
        voucher=Voucher("payment", "bench.csv", i),
        lines=(Line.debit("1002", amount), Line.credit("1122", amount, customer_account_no)),
    )


def draft_batches(entries: int, batch: int, account_nos: list[str]) -> Iterator[list[EntryDraft]]:
    for indexes in batch_ranges(entries, batch):
        yield [payment_draft(i, account_nos[i % len(account_nos)]) for i in indexes]


def open_container(url: str, keys_dir: str, *, migrate: bool = True) -> Container:
    settings = Settings(
        database=DatabaseSettings(url=SecretStr(url)),
        security=SecuritySettings(keys_file=Path(keys_dir) / "keys.json"),
    )
    return build_container(settings, migrate=migrate, logging=False)


def create_customers(container: Container, count: int) -> list[str]:
    with unit_of_work(container.sessions) as session:
        directory = container.customers(session)
        new = NewCustomer(name="Bench customer", customer_type="KA", region="SH", currency=CNY)
        return [directory.create(new).account_no for _ in range(count)]


def measure_ledger(label: str, url: str, keys_dir: str, entries: int, batch: int) -> tuple[Result, Result]:
    """(posting alone, posting plus building the drafts)."""
    container = open_container(url, keys_dir)
    posting = 0.0
    try:
        account_nos = create_customers(container, CUSTOMERS)
        started = time.perf_counter()
        for drafts in draft_batches(entries, batch, account_nos):
            posting_started = time.perf_counter()
            with unit_of_work(container.sessions) as session:
                Ledger(session).post_many(drafts)
            posting += time.perf_counter() - posting_started
        elapsed = time.perf_counter() - started
    finally:
        container.close()
    rss = peak_rss_mb()
    return Result(f"{label} posting", entries, posting, rss), Result(
        f"{label} +drafts", entries, elapsed, rss
    )


def write_raw_batch(connection: sqlite3.Connection, indexes: range, customer_ids: list[int]) -> None:
    created_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    posting_date = POSTING_DATE.isoformat()
    entry_rows: list[tuple[object, ...]] = []
    posting_rows: list[tuple[int, str, int | None, str, int]] = []
    for i in indexes:
        amount, customer_id = amount_of(i), customer_ids[i % len(customer_ids)]
        digest = hashlib.sha256(f"bench|PAY-{i}|1|{amount}|{customer_id}".encode()).hexdigest()
        entry_id = i + 1
        row = (entry_id, "bench", f"PAY-{i}", 1, False, None, posting_date, None, None, "", "payment")
        entry_rows.append((*row, "bench.csv", i, None, digest, created_at))
        posting_rows.append((entry_id, "1002", None, CNY, amount))
        posting_rows.append((entry_id, "1122", customer_id, CNY, -amount))
    deltas = BalanceDeltas()
    deltas.add_postings(posting_rows)
    connection.execute("BEGIN")
    connection.executemany(RAW_ENTRY, entry_rows)
    connection.executemany(RAW_POSTING, posting_rows)
    connection.executemany(RAW_ACCOUNT_BALANCE, sorted((*key, *d) for key, d in deltas.accounts.items()))
    connection.executemany(RAW_CUSTOMER_BALANCE, sorted((*key, *d) for key, d in deltas.customers.items()))
    connection.execute("COMMIT")


def copy_schema(connection: sqlite3.Connection, ledger_db: str) -> list[int]:
    """Replay the ledger database's DDL (tables, indexes) and copy its chart and customers; their ids."""
    connection.execute("ATTACH DATABASE ? AS ledger", (ledger_db,))
    query = "SELECT sql FROM ledger.sqlite_master WHERE sql IS NOT NULL AND name NOT IN ('alembic_version')"
    for (ddl,) in connection.execute(query).fetchall():
        connection.execute(ddl)
    for table in ("ledger_accounts", "customers"):
        connection.execute(f"INSERT INTO main.{table} SELECT * FROM ledger.{table}")
    connection.execute("DETACH DATABASE ledger")
    return [customer_id for (customer_id,) in connection.execute("SELECT id FROM customers ORDER BY id")]


def measure_raw_sqlite(ledger_db: str, path: str, entries: int, batch: int) -> Result:
    engine = make_engine(f"sqlite:///{path}")  # the ledger's own connection set-up: WAL, foreign keys, cache
    pooled = engine.raw_connection()
    try:
        connection = pooled.driver_connection
        assert isinstance(connection, sqlite3.Connection)
        connection.isolation_level = None  # explicit BEGIN / COMMIT per batch
        customer_ids = copy_schema(connection, ledger_db)
        started = time.perf_counter()
        for indexes in batch_ranges(entries, batch):
            write_raw_batch(connection, indexes, customer_ids)
        elapsed = time.perf_counter() - started
    finally:
        pooled.close()
        engine.dispose()
    return Result("raw sqlite3", entries, elapsed, peak_rss_mb())


def run_verify(url: str, keys_dir: str) -> None:
    container = open_container(url, keys_dir, migrate=False)
    try:
        started = time.perf_counter()
        with unit_of_work(container.sessions) as session:
            report = verify_ledger(session)
        elapsed = time.perf_counter() - started
    finally:
        container.close()
    outcome = "OK" if report.ok else f"{len(report.violations)} violations"
    print(f"verify (sqlite ledger): {outcome}, {report.entries:,} entries, {elapsed:.2f} s")


def parse_args() -> argparse.Namespace:
    raw_help = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw_help)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CONNECTOR_TEST_POSTGRES_URL", DEFAULT_PG_URL)
    )
    parser.add_argument("--verify", action="store_true", help="verify the SQLite ledger afterwards")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        save_keyring(Path(tmp) / "keys.json", KeyRing.generate())  # shared by the runs, no "created" warning
        ledger_db = str(Path(tmp) / "ledger.db")
        sqlite_url = f"sqlite:///{ledger_db}"
        if args.backend in ("sqlite", "both"):
            posting, with_drafts = in_subprocess(
                measure_ledger, "sqlite", sqlite_url, tmp, args.entries, args.batch
            )
            print(posting, with_drafts, sep="\n", flush=True)
            raw = in_subprocess(measure_raw_sqlite, ledger_db, f"{tmp}/raw.db", args.entries, args.batch)
            print(raw, flush=True)
            print(f"ledger (+drafts) / raw sqlite3: {with_drafts.per_s / raw.per_s:.2f}x")
            print(
                f"ledger posting / target {TARGET_PER_S:,}/s: {posting.per_s / TARGET_PER_S:.2f}x", flush=True
            )
        if args.backend in ("postgres", "both"):
            url = make_url(args.postgres_url).update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
            reset_pg_schema(args.postgres_url, PG_SCHEMA, create=True)
            try:
                pg_url = url.render_as_string(hide_password=False)
                for result in in_subprocess(
                    measure_ledger, "postgres", pg_url, tmp, args.entries, args.batch
                ):
                    print(result, flush=True)
            finally:
                reset_pg_schema(args.postgres_url, PG_SCHEMA, create=False)
        if args.verify and args.backend in ("sqlite", "both"):
            run_verify(sqlite_url, tmp)


if __name__ == "__main__":
    main()
