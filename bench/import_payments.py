"""End-to-end import of a payment CSV, against 50,000 rows/s and 300 MB peak RSS.

A Zoho Books "Payments Received" export of N rows is generated (the shipped mapping
`mappings/export_zoho_books_payments.toml` reads it): most payments quote the customer's account
number in their reference (tier 1: posted to the customer), one in ten quotes nothing known and goes
to unapplied receipts with a reconciliation item, and one payment in twenty is applied to two
invoices (two rows, one document). Measured, each in its own spawned process so peak RSS is its own:

* connector import — `connector.imports.pipeline.import_file` into a fresh SQLite ledger with 1,000
  customers: encoding and format detection, the mapping, idempotency look-ups, matching, posting
  (entries, postings, balances), the imported-document records, reconciliation items, the file record;
* raw sqlite3 — the same file read with `csv.reader` and its rows stored with `executemany` into one
  table of the same columns: the floor of "reading and storing these rows" on this machine.

Printed: rows/s, seconds and peak RSS of each, the import's ratio to raw sqlite3 and to the target,
the import's counts; `--verify` then runs `connector ledger verify`'s check and imports the file
again (every document "unchanged"). `--changed` then imports the same export with every amount
changed: every payment reversed and reposted as its next revision (rows/s, peak RSS, and its ratio to
the first import), verified again with `--verify`.

    .venv/bin/python -m bench.import_payments [--rows 1000000] [--verify] [--changed]
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bench.common import in_subprocess, peak_rss_mb
from bench.post_entries import Result, create_customers, open_container
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.imports.pipeline import import_file
from connector.ledger.models import Customer
from connector.ledger.verify import verify_ledger
from connector.security.keys import KeyRing, save_keyring

TARGET_PER_S = 50_000
TARGET_RSS_MB = 300
CUSTOMERS = 1_000
COLUMNS = [
    "Date",
    "CustomerPayment ID",
    "Payment Number",
    "Customer Name",
    "CustomerID",
    "Amount",
    "Currency Code",
    "Reference Number",
    "Description",
    "Invoice Number",
    "Amount Applied to Invoice",
]


def write_export(path: Path, rows: int, account_nos: list[str], raised_by: int = 0) -> None:
    """`rows` data rows; a payment on two invoices takes two rows (so rows, not payments, are counted).
    With `raised_by` (minor units) every payment's amount is that much higher: the same export, changed."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        written = payment = 0
        while written < rows:
            payment += 1
            account_no = account_nos[payment % len(account_nos)]
            amount = 100 + (payment * 7919) % 1_000_000 + raised_by
            reference = f"RCPT {account_no}" if payment % 10 else "transfer"
            day = f"2026-{1 + payment % 12:02d}-{1 + payment % 28:02d}"
            head = [day, f"46000000{payment:010d}", f"PMT-{payment:07d}", f"Customer {account_no}", ""]
            money = f"{amount // 100}.{amount % 100:02d}"
            if payment % 20 == 0 and written + 2 <= rows:
                first = amount // 2
                for number, applied in ((f"INV-{payment}-1", first), (f"INV-{payment}-2", amount - first)):
                    applied_text = f"{applied // 100}.{applied % 100:02d}"
                    writer.writerow([*head, money, "CNY", reference, "", number, applied_text])
                written += 2
            else:
                writer.writerow([*head, money, "CNY", reference, "", "", ""])
                written += 1


def measure_import(url: str, keys_dir: str, export: str, rows: int) -> tuple[Result, Counter[str]]:
    container = open_container(url, keys_dir)
    try:
        write_export(Path(export), rows, create_customers(container, CUSTOMERS))
        return timed_import(container, Path(export), "connector import", rows)
    finally:
        container.close()


def timed_import(container: Container, path: Path, label: str, rows: int) -> tuple[Result, Counter[str]]:
    started = time.perf_counter()
    result = import_file(container, path, container.document_parsers())
    elapsed = time.perf_counter() - started
    if result.status != "imported":
        raise SystemExit(f"{label}: the import did not succeed: {result.status} {result.reason}")
    return Result(label, rows, elapsed, peak_rss_mb(), "rows"), result.counts


def measure_raw(export: str, database: str, rows: int) -> Result:
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        columns = ", ".join(f'"{name}" TEXT' for name in COLUMNS)
        connection.execute(f"CREATE TABLE payments (row INTEGER PRIMARY KEY, {columns})")
        insert = f"INSERT INTO payments VALUES (?, {', '.join('?' * len(COLUMNS))})"
        started = time.perf_counter()
        with open(export, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            batch: list[list[str | int]] = []
            for number, row in enumerate(reader, start=2):
                batch.append([number, *row])
                if len(batch) == 10_000:
                    _write(connection, insert, batch)
                    batch = []
            _write(connection, insert, batch)
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    return Result("raw sqlite3", rows, elapsed, peak_rss_mb(), "rows")


def _write(connection: sqlite3.Connection, insert: str, batch: list[list[str | int]]) -> None:
    connection.execute("BEGIN")
    connection.executemany(insert, batch)
    connection.execute("COMMIT")


def measure_changed(url: str, keys_dir: str, changed: str, rows: int) -> tuple[Result, Counter[str]]:
    """The export again with every amount changed: each payment reversed and reposted as revision 2."""
    container = open_container(url, keys_dir, migrate=False)
    try:
        with unit_of_work(container.sessions) as session:
            account_nos = list(session.scalars(select(Customer.account_no).order_by(Customer.id)))
        write_export(Path(changed), rows, account_nos, raised_by=100)
        return timed_import(container, Path(changed), "changed export reposted", rows)
    finally:
        container.close()


def verify_and_reimport(url: str, keys_dir: str, export: str) -> str:
    container = open_container(url, keys_dir, migrate=False)
    try:
        with unit_of_work(container.sessions) as session:
            report = verify_ledger(session)
        again = import_file(container, Path(export), container.document_parsers(), again=True)
    finally:
        container.close()
    outcome = "OK" if report.ok else f"{len(report.violations)} violations"
    counts = ", ".join(f"{v:,} {k}" for k, v in sorted(again.counts.items()))
    return f"verify: {outcome}, {report.entries:,} entries; imported again: {counts}"


def main() -> None:
    raw_help = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw_help)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--verify", action="store_true", help="verify the ledger and import the file again")
    parser.add_argument(
        "--changed",
        action="store_true",
        help="then import it with every amount changed (all reposted)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        save_keyring(Path(tmp) / "keys.json", KeyRing.generate())
        url = f"sqlite:///{tmp}/ledger.db"
        export = f"{tmp}/zoho_books_payments.csv"
        imported, counts = in_subprocess(measure_import, url, tmp, export, args.rows)
        print(imported, flush=True)
        print("  " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in sorted(counts.items())))
        raw = in_subprocess(measure_raw, export, f"{tmp}/raw.db", args.rows)
        print(raw, flush=True)
        print(f"connector import / raw sqlite3: {imported.per_s / raw.per_s:.2f}x")
        print(f"connector import / target {TARGET_PER_S:,} rows/s: {imported.per_s / TARGET_PER_S:.2f}x")
        rss_ratio = imported.peak_rss_mb / TARGET_RSS_MB
        print(f"peak RSS / target {TARGET_RSS_MB} MB: {rss_ratio:.2f}x", flush=True)
        if args.verify:
            print(in_subprocess(verify_and_reimport, url, tmp, export))
        if args.changed:
            reposted, counts = in_subprocess(measure_changed, url, tmp, f"{tmp}/changed.csv", args.rows)
            print(reposted, flush=True)
            print("  " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in sorted(counts.items())))
            print(f"changed export / first import: {reposted.per_s / imported.per_s:.2f}x")
            if args.verify:
                print(in_subprocess(verify_and_reimport, url, tmp, f"{tmp}/changed.csv"))


if __name__ == "__main__":
    main()
