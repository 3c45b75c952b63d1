"""Customer master throughput: N mapped Zoho contacts applied in batches, against the 60,000 records/s aim.

The records are what the shipped mappings/zoho_contacts.toml produces (its targets exactly, checked at
start): external_id, name (Chinese names — some with a compound surname — and Latin ones), company
(absent for one in seven: a private person), e-mail (lower-cased, absent for one in ten), phone in
E.164 (absent for one in twelve), a city for the Chinese ones (no province), country (China, Singapore,
the US, Japan) and modified_at (an aware datetime). Names, e-mails and phones are unique below 120,000
records, so every record is a new customer unless `--shared` makes some records reuse an earlier
record's e-mail: those go to the review queue (the customer already has another zoho.Contacts record),
as the identity rules say.

Measured, each database in its own spawned process (so peak RSS is per measurement), on a freshly
migrated database with the shipped customer master policy:

* pass 1 — a first-time load: `CustomerMaster.apply_many("zoho.Contacts", batch, digest)` per batch, one
  transaction per batch (session, master, apply_many, commit: what `connector.master.sync` does per
  batch after mapping);
* pass 2 — the same records again: the "no change" pass, every record skipped by its content hash;
* raw sqlite3 — the floor for SQLite: the rows pass 1 wrote (customers, bindings, events) replayed by
  plain executemany into a fresh file with the same schema and pragmas, in transactions of the same
  batches. (Its three blind-index B-trees on random keys make most of the cost: each commit writes the
  index pages a batch touched, and a batch of 500 touches a good part of them.)

Printed: records/s, µs per record, the outcomes, peak RSS and, for pass 1, the ratio to the aim and
to the raw sqlite3 floor.
PostgreSQL (`--postgres`) runs in a throw-away schema `bench_master`, dropped at the end.

    .venv/bin/python -m bench.apply_customers [--records 100000] [--batch 500] [--shared PERCENT]
        [--postgres] [--no-sqlite] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sqlite3
import tempfile
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bench.common import in_subprocess, peak_rss_mb, reset_pg_schema
from connector.bootstrap import Container, build_container
from connector.db import make_engine, unit_of_work
from connector.mapping.files import MappingSet, load_mapping_set
from connector.security.keys import KeyRing, save_keyring
from connector.settings import DatabaseSettings, SecuritySettings, Settings

T = TypeVar("T")
AIM_PER_S = 60_000
ROOT = Path(__file__).resolve().parent.parent
PG_SCHEMA = "bench_master"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

SURNAMES = (
    *("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"),
    *("徐", "孙", "马", "朱", "胡", "郭", "何", "林", "欧阳", "司马"),
)
GIVEN = "".join(
    dict.fromkeys(  # each character once, so that names are unique
        "伟芳娜秀英敏静丽强磊洋艳勇军杰娟涛明超兰霞平刚桂华玉萍红梅鹏飞建国志浩宇晨欣怡子涵梓轩"
        "佳琪雨婷思远博文嘉俊一鸣天佑然雅琴婉清若曦晓东海燕春生秋月冬松柏竹菊莲"
    )
)
FIRST = ("John", "Mary", "José", "Anna", "Peter", "Linda", "Thomas", "Sarah", "Michael", "Nguyễn")
LAST = ("Smith", "O'Neil", "Álvarez", "Müller", "Tanaka", "Kim", "Brown", "Rossi", "Dubois", "Novak")
COMPANIES = ("上海明远贸易有限公司", "北京华信科技有限公司", "ACME Trading Ltd.", "深圳市(南山)电子有限公司")
COUNTRIES = ("China", "China", "China", "Singapore", "United States", "Japan")
CITIES = ("上海", "深圳", "杭州", "成都")  # of China's contacts: a region of their own or the country's
MOBILE_PREFIXES = ("138", "139", "150", "186", "177", "199")
UNIQUE_BELOW = len(SURNAMES) * len(GIVEN) * len(GIVEN)
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Result:
    label: str
    records: int
    seconds: float
    outcomes: dict[str, int]
    peak_rss_mb: float
    aim: bool = False

    @property
    def per_s(self) -> float:
        return self.records / self.seconds

    def __str__(self) -> str:
        outcomes = ", ".join(f"{name} {count:,}" for name, count in sorted(self.outcomes.items()))
        ratio = f"  / aim {AIM_PER_S:,}/s: {self.per_s / AIM_PER_S:.2f}x" if self.aim else ""
        return (
            f"{self.label:<26} {self.records:>9,} records {self.seconds:>7.2f} s "
            f"{self.per_s:>9,.0f} records/s {self.seconds / self.records * 1e6:>7.2f} µs/record  "
            f"peak RSS {self.peak_rss_mb:,.1f} MB{ratio}\n{'':<28}{outcomes}"
        )


def name_of(i: int) -> str:
    """A unique name for record `i` (below UNIQUE_BELOW) after the mapping's width and space folding."""
    if i % 5 == 4:
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        return f"{first} {chr(ord('A') + (i // 100) % 26)}. {last} {i // 2600 + 1}"
    surname = SURNAMES[i % len(SURNAMES)]
    rest = i // len(SURNAMES)
    return f"{surname}{GIVEN[rest % len(GIVEN)]}{GIVEN[(rest // len(GIVEN)) % len(GIVEN)]}"


def phone_of(i: int) -> str | None:
    """E.164, as the mapping's phone converter writes it: mobile numbers and Shanghai fixed lines."""
    if i % 12 == 11:
        return None
    if i % 3 == 2:
        return f"+86216{i:07d}"
    return f"+86{MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)]}{i % 10}{i:07d}"


def mapped_contact(i: int, shared_every: int) -> dict[str, Any]:
    """A mapped Zoho contact; with `shared_every`, every such record reuses the previous record's e-mail."""
    owner = i - 1 if shared_every and i % shared_every == shared_every - 1 else i
    return {
        "external_id": f"48768760006{i:08d}",
        "name": name_of(i),
        "company": None if i % 7 == 0 else COMPANIES[i % len(COMPANIES)],
        "email": None if owner % 10 == 9 else f"user.{owner}@example.com",
        "phone": phone_of(i),
        "city": CITIES[i % len(CITIES)] if COUNTRIES[i % len(COUNTRIES)] == "China" else None,
        "province": None,
        "country": COUNTRIES[i % len(COUNTRIES)],
        "modified_at": START + timedelta(minutes=i, seconds=i % 60),
    }


def shipped_mappings() -> MappingSet:
    mappings, problems = load_mapping_set(ROOT / "mappings")
    if mappings is None:
        raise SystemExit("\n".join(map(str, problems)))
    targets = {field.target for field in mappings.files["zoho_contacts"].fields}
    built = set(mapped_contact(0, 0))
    if built != targets:
        raise SystemExit(f"bench records drifted from zoho_contacts.toml: {sorted(built ^ targets)}")
    return mappings


def open_container(url: str, keys_dir: str) -> Container:
    settings = Settings(
        database=DatabaseSettings(url=SecretStr(url)),
        security=SecuritySettings(keys_file=Path(keys_dir) / "keys.json"),
    )
    return build_container(settings, logging=False)


def apply_pass(
    container: Container, mappings: MappingSet, records: Sequence[dict[str, Any]], batch: int
) -> tuple[float, Counter[str]]:
    backend = mappings.files["zoho_contacts"].source  # what sync binds records under: zoho.Contacts
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for start in range(0, len(records), batch):
        with unit_of_work(container.sessions) as session:
            master = container.master(session, mappings.policy)
            applied = master.apply_many(backend, records[start : start + batch], mappings.digest)
        outcomes.update(result.outcome for result in applied)
    return time.perf_counter() - started, outcomes


def measure(
    label: str, url: str, keys_dir: str, count: int, batch: int, shared: float, profile: bool
) -> list[Result]:
    mappings = shipped_mappings()
    shared_every = round(100 / shared) if shared > 0 else 0
    records = [mapped_contact(i, shared_every) for i in range(count)]
    container = open_container(url, keys_dir)
    profiler = cProfile.Profile() if profile else None
    results = []
    try:
        for name, aim in ((f"{label} pass 1 (new)", True), (f"{label} pass 2 (no change)", False)):
            if profiler is not None:
                profiler.enable()
            seconds, outcomes = apply_pass(container, mappings, records, batch)
            if profiler is not None:
                profiler.disable()
                print(f"--- profile of {name} (top 25 by own time)")
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
                profiler = cProfile.Profile()
            results.append(Result(name, count, seconds, dict(outcomes), peak_rss_mb(), aim))
    finally:
        container.close()
    return results


def replay_raw_sqlite(master_db: str, path: str, batch: int) -> Result:
    """The floor for SQLite: the rows pass 1 wrote (customers, their bindings and events), inserted
    again by plain sqlite3 executemany into a fresh file with the master database's own schema and
    connection set-up, in transactions of the same batches."""
    engine = make_engine(f"sqlite:///{path}")  # the connector's pragmas: WAL, foreign keys, cache size
    pooled = engine.raw_connection()
    try:
        connection = pooled.driver_connection
        assert isinstance(connection, sqlite3.Connection)
        connection.isolation_level = None  # explicit BEGIN / COMMIT per batch
        connection.execute("ATTACH DATABASE ? AS master", (master_db,))
        query = "SELECT sql FROM master.sqlite_master WHERE sql IS NOT NULL AND name != 'alembic_version'"
        for (ddl,) in connection.execute(query).fetchall():
            connection.execute(ddl)
        tables = {
            table: connection.execute(f"SELECT * FROM master.{table} ORDER BY {order}").fetchall()
            for table, order in (
                ("customers", "id"),
                ("customer_bindings", "customer_id, id"),
                ("customer_events", "customer_id, id"),
            )
        }
        connection.execute("DETACH DATABASE master")
        customers, bindings, events = (
            tables["customers"],
            tables["customer_bindings"],
            tables["customer_events"],
        )
        binding_owner = [row[3] for row in bindings]  # customer_id columns
        event_owner = [row[1] for row in events]
        started = time.perf_counter()
        for start in range(0, len(customers), batch):
            rows = customers[start : start + batch]
            first, last = rows[0][0], rows[-1][0]
            connection.execute("BEGIN")
            for table, table_rows, owners in (
                ("customers", rows, None),
                ("customer_bindings", bindings, binding_owner),
                ("customer_events", events, event_owner),
            ):
                if owners is not None:
                    table_rows = table_rows[bisect_left(owners, first) : bisect_right(owners, last)]
                if table_rows:
                    marks = ", ".join("?" * len(table_rows[0]))
                    connection.executemany(f"INSERT INTO {table} VALUES ({marks})", table_rows)
            connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
    finally:
        pooled.close()
        engine.dispose()
    return Result(
        "raw sqlite3 (same rows)", len(customers), elapsed, {"customers": len(customers)}, peak_rss_mb()
    )


def parse_args() -> argparse.Namespace:
    raw_help = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw_help)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="records per apply_many (sync uses 500)")
    parser.add_argument(
        "--shared", type=float, default=0.0, help="percent of records reusing the previous e-mail (→ review)"
    )
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite measurement")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CONNECTOR_TEST_POSTGRES_URL", DEFAULT_PG_URL)
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary of each pass")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.records <= 0:
        raise SystemExit("--records must be positive")
    if args.records > UNIQUE_BELOW:
        print(f"note: names repeat above {UNIQUE_BELOW:,} records; repeated names may go to review")
    options = (args.records, args.batch, args.shared, args.profile)
    shape = f"in batches of {args.batch:,}, {args.shared:g} % shared e-mails"
    print(f"{args.records:,} mapped zoho contacts {shape}")
    with tempfile.TemporaryDirectory(prefix="bench-master-") as tmp:
        save_keyring(Path(tmp) / "keys.json", KeyRing.generate())  # shared by the runs, no "created" warning
        if not args.no_sqlite:
            results = in_subprocess(measure, "sqlite", f"sqlite:///{tmp}/master.db", tmp, *options)
            for result in results:
                print(result, flush=True)
            raw = in_subprocess(replay_raw_sqlite, f"{tmp}/master.db", f"{tmp}/raw.db", args.batch)
            print(raw, flush=True)
            print(f"sqlite pass 1 / raw sqlite3: {results[0].per_s / raw.per_s:.2f}x", flush=True)
        if args.postgres:
            url = make_url(args.postgres_url).update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
            reset_pg_schema(args.postgres_url, PG_SCHEMA, create=True)
            try:
                pg_url = url.render_as_string(hide_password=False)
                for result in in_subprocess(measure, "postgres", pg_url, tmp, *options):
                    print(result, flush=True)
            finally:
                reset_pg_schema(args.postgres_url, PG_SCHEMA, create=False)


if __name__ == "__main__":
    main()
