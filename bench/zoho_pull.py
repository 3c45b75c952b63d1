"""Full contact pull from the Zoho sandbox into the ledger (fetch + map + store), against 30,000 records/s.

The sandbox runs in its own process (as Zoho runs on its own machines) with N generated contacts.
Measured in this one run, against that same sandbox:

* bare loop — an httpx client paging through every contact exactly as the adapter asks (the mapping's
  fields, 200 per page, sorted by Modified_Time, each page asked for from the last instant read) and
  decoding the JSON, nothing else: the ceiling any pull can reach on this machine. Run twice, before
  and after the pull, so both the sandbox's first rendering of the records and its warm cache are seen;
* connector pull — `connector.sync.pull.pull_stream` with the shipped mappings into a fresh SQLite
  database (or `--postgres`): the adapter's reader (token, credits, concurrency, retries), the inbound
  mapping, the customer master (identity, account numbers, encrypted personal data, bindings, events),
  the cursor, committed page by page.

Printed: records/s and seconds of each, the pull's ratio to the 30,000/s target and to the bare loops,
the pull's outcomes, and peak RSS.

    .venv/bin/python -m bench.zoho_pull [--contacts 100000] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from adapters.zoho.sandbox.config import SandboxConfig
from connector.bootstrap import build_container
from connector.mapping.files import load_mapping_set
from connector.settings import DatabaseSettings, MappingSettings, SecuritySettings, Settings, ZohoSettings
from connector.sync.pull import pull_stream

TARGET_PER_S = 30_000
ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def start_sandbox(contacts: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adapters.zoho.sandbox",
            "--contacts",
            str(contacts),
            "--accounts",
            "10",
            "--seed",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    if "sandbox at " not in first:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {first!r}")
    return process, first.split("sandbox at ", 1)[1].split()[0]


def bare_loop(base_url: str, fields: str) -> tuple[int, float]:
    config = SandboxConfig()
    with httpx.Client(base_url=base_url, timeout=60) as http:
        token = http.post(
            "/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": config.refresh_token,
                "client_id": config.client_id,
                "client_secret": config.client_secret,
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Zoho-oauthtoken {token}"}
        params = {"fields": fields, "per_page": "200", "sort_by": "Modified_Time", "sort_order": "asc"}
        started = time.perf_counter()
        count, since, seen, page_token = 0, None, set(), None
        while True:
            query = {**params, "page_token": page_token} if page_token else {**params, "page": "1"}
            asked = {**headers, "If-Modified-Since": since.isoformat()} if since else headers
            response = http.get("/crm/v8/Contacts", params=query, headers=asked)
            if response.status_code in (204, 304):
                break
            body = json.loads(response.content)
            rows = [(row["id"], datetime.fromisoformat(row["Modified_Time"])) for row in body["data"]]
            count += sum(1 for record_id, at in rows if at != since or record_id not in seen)
            if not rows or not body["info"]["more_records"]:
                break
            last = max(at for _, at in rows)
            if since is None or last > since:
                since, seen, page_token = last, {i for i, at in rows if at == last}, None
            else:  # a page all at one instant
                seen.update(i for i, _ in rows)
                page_token = body["info"]["next_page_token"]
        return count, time.perf_counter() - started


def connector_pull(base_url: str, workdir: Path, database_url: str) -> tuple[dict[str, int], float]:
    config = SandboxConfig()
    settings = Settings(
        database=DatabaseSettings(url=SecretStr(database_url)),
        security=SecuritySettings(keys_file=workdir / "keys.json"),
        mappings=MappingSettings(dir=ROOT / "mappings"),
        zoho=ZohoSettings(
            enabled=True,
            accounts_url=base_url,
            client_id=config.client_id,
            client_secret=SecretStr(config.client_secret),
        ),
    )
    container = build_container(settings, logging=False)
    container.credentials.save_refresh_token("zoho", config.refresh_token)
    mappings, problems = load_mapping_set(ROOT / "mappings")
    assert mappings is not None, problems
    try:
        started = time.perf_counter()
        result = pull_stream(container, container.zoho.records, mappings, "zoho", "Contacts")
        elapsed = time.perf_counter() - started
    finally:
        container.close()
    return dict(result.counts), elapsed


def fresh_postgres() -> str:
    engine = create_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return PG_URL


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="store into the local PostgreSQL `test` db")
    args = parser.parse_args()
    mappings, _ = load_mapping_set(ROOT / "mappings")
    assert mappings is not None
    mapping = mappings.for_source("zoho.Contacts", "inbound")
    assert mapping is not None
    fields = ",".join(
        ["Modified_Time", *(f for f in mapping.source_fields() if f not in ("id", "Modified_Time"))]
    )

    print(f"starting the sandbox with {args.contacts:,} contacts …", flush=True)
    process, base_url = start_sandbox(args.contacts)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            database = fresh_postgres() if args.postgres else f"sqlite:///{workdir / 'bench.db'}"
            cold_count, cold_s = bare_loop(base_url, fields)
            counts, pull_s = connector_pull(base_url, workdir, database)
            warm_count, warm_s = bare_loop(base_url, fields)
    finally:
        process.terminate()
        process.wait(timeout=10)
    read = counts.get("read", 0)
    pull_rate = read / pull_s
    cold_rate, warm_rate = cold_count / cold_s, warm_count / warm_s
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    where = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"bare httpx loop, cold sandbox:  {cold_count:>9,} records in {cold_s:6.2f} s = {cold_rate:>9,.0f} /s"
    )
    print(
        f"bare httpx loop, warm sandbox:  {warm_count:>9,} records in {warm_s:6.2f} s = {warm_rate:>9,.0f} /s"
    )
    print(f"connector pull into {where:<10}  {read:>9,} records in {pull_s:6.2f} s = {pull_rate:>9,.0f} /s")
    print(f"  outcomes: {', '.join(f'{k} {v:,}' for k, v in sorted(counts.items()) if v)}")
    print(f"  ratio to the {TARGET_PER_S:,}/s target: {pull_rate / TARGET_PER_S:.2f}x")
    print(
        f"  ratio to the bare loop: {pull_rate / cold_rate:.2f}x (cold), {pull_rate / warm_rate:.2f}x (warm)"
    )
    print(f"  peak RSS of this process: {rss_mb:,.0f} MB (the sandbox runs in a process of its own)")


if __name__ == "__main__":
    main()
