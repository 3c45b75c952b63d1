"""The `connector` command as ops use it: demo, verify, balances, entries, config checks, key rotation."""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from connector.bootstrap import build_container
from connector.cli import keys as keys_cli
from connector.cli.context import out
from connector.cli.imports import IMPORT_COUNTS
from connector.db import current_revision, make_engine, unit_of_work, upgrade_database
from connector.ledger.models import Customer
from connector.security.cipher import FieldCipher
from connector.security.keys import read_keyring_file, save_keyring
from connector.security.rotation import Reencrypted, reencrypt_all
from connector.settings import load_settings
from connector.sync.models import OutboxItem
from tests.conftest import REPO, copy_example_config, postgres_url
from tests.e2e.conftest import Result, table_column
from tests.integration.test_mapping_sets import BANK_EXPORT

STATEMENT = REPO / "tests" / "fixtures" / "statements" / "camt053_v02_two_statements.xml"

pytestmark = pytest.mark.usefixtures("isolated_cwd")


def test_the_demo_builds_a_verified_ledger_and_a_second_run_changes_nothing(cli, isolated_cwd: Path) -> None:
    first = cli("demo")
    assert first.code == 0, first.err
    assert "posted 12 new document(s) and reversed INV-2026-0007 (issued in error)" in first.out
    assert "ledger verify: OK (13 entries, 26 postings)" in first.out
    assert (isolated_cwd / "connector.db").exists()
    assert "created the local key file" in first.err
    second = cli("demo")
    assert second.code == 0
    assert "posted 0 new document(s), 12 already in the ledger" in second.out
    assert "ledger verify: OK (13 entries, 26 postings)" in second.out
    assert "created the local key file" not in second.err


def test_the_demo_in_a_pipes_80_columns_shows_every_customers_name_whole(cli) -> None:
    demo = cli("demo", columns=80)
    assert (demo.code, "…" in demo.out) == (0, False)
    assert "上海明远贸易有限公司" in table_column(demo.out, 1)


def test_the_demo_posts_on_the_configured_chart(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_LEDGER__CHART__BANK__CODE", "100200")
    monkeypatch.setenv("CONNECTOR_LEDGER__CHART__BANK__NAME", "银行存款 Bank")
    result = cli("demo")
    assert result.code == 0, result.err
    report = json.loads(cli("ledger", "accounts", "--json").out)
    posted_to = {row["account"] for row in report["accounts"] if row["postings"]}
    assert posted_to == {"100200", "1122", "2203", "6001"}


def test_balance_and_entries_trace_each_figure_to_its_voucher(cli) -> None:
    cli("demo")
    balance = json.loads(cli("ledger", "balance", "KASH00001", "--json").out)
    assert balance["net_receivable"] == [{"amount": "56400.50", "currency": "CNY", "minor": 5640050}]
    entries = json.loads(cli("ledger", "entries", "SMEZJ00001", "--json").out)
    assert [(e["external_id"], e["document_type"]) for e in entries] == [
        ("INV-2026-0003", "invoice"),
        ("INV-2026-0007", "invoice"),
        ("CAMT-20260306-002", "bank_line"),
        ("INV-2026-0007", "reversal"),
    ]
    assert entries[3]["reverses"] == entries[1]["entry_id"]
    assert entries[3]["running_balance"]["amount"] == "11999.99"
    assert entries[0]["voucher"] == "demo/zoho_books_export.csv:4"
    table = cli("ledger", "entries", "SMEZJ00001")
    assert table.code == 0
    assert "reversed by" in table.out


def test_a_person_reverses_a_voided_invoice_with_a_reason_and_the_ledger_still_verifies(cli) -> None:
    cli("demo")
    [first, *_] = json.loads(cli("ledger", "entries", "SMEZJ00001", "--json").out)
    assert cli("ledger", "reverse", str(first["entry_id"])).code == 2  # no reason, no reversal
    later = cli("ledger", "reverse", str(first["entry_id"]), "--reason", "void", "--on", "2099-01-01")
    assert (later.code, "2099-01-01 is after today" in later.err) == (2, True)
    reason = "voided [/b] in Zoho Books"
    done = cli("ledger", "reverse", str(first["entry_id"]), "--reason", reason, "--on", "2020-01-01")
    assert done.code == 0, done.err
    assert done.out.startswith(f"entry {first['entry_id']} reversed by entry ")
    said = done.out.split(", dated ", 1)[1]
    assert said.startswith(f"{first['posting_date']} (not 2020-01-01: never before the entry itself): ")
    assert (
        "invoice INV-2026-0003 of zoho_books (demo/zoho_books_export.csv:4), SMEZJ00001 23,999.99 CNY" in said
    )
    again = cli("ledger", "reverse", str(first["entry_id"]), "--reason", "twice")
    assert (again.code, "already reversed" in again.err) == (1, True)
    assert cli("ledger", "verify").code == 0
    table = cli("ledger", "entries", "SMEZJ00001")  # the memo's brackets are its text, never markup
    assert (table.code, "voided [/b] in Zoho Books" in table.out.replace("\n", " ")) == (0, True), table.err


def test_reading_a_ledger_where_there_is_none_is_an_error_and_makes_no_database(
    cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = isolated_cwd / "elsewhere" / "ledger.db"
    (isolated_cwd / "elsewhere").mkdir()
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", f"sqlite:///{missing}")
    for command in (["ledger", "verify"], ["ledger", "accounts"], ["ledger", "balance", "KASH00001"]):
        result = cli(*command)
        assert (result.code, f"no ledger in sqlite:///{missing} (database.url)" in result.err) == (1, True)
    assert not missing.exists()
    monkeypatch.delenv("CONNECTOR_DATABASE__URL")
    cli("demo")  # a ledger in the current folder, read through a URI filename too
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", f"sqlite:///file:{isolated_cwd / 'connector.db'}?uri=true")
    assert cli("ledger", "verify").code == 0


def test_only_db_upgrade_the_daemon_and_the_demo_migrate_any_other_command_refuses_a_schema_behind(
    cli, isolated_cwd: Path
) -> None:
    copy_example_config(isolated_cwd, ledger=False)
    older = make_engine(f"sqlite:///{isolated_cwd / 'connector.db'}")
    upgrade_database(older, "0024")  # left there by a fleet of daemons of an older connector
    (isolated_cwd / "statement.xml").write_bytes(STATEMENT.read_bytes())
    for command in (
        ["status"],
        ["runs"],
        ["ledger", "verify"],
        ["files", "list"],
        ["import", "statement.xml"],
        ["customers", "list"],
    ):
        refused = cli(*command)
        assert refused.code == 1, (command, refused.out)
        said, needs = refused.err.split(", this connector needs ")
        assert said == "error: the database is at schema 0024", command
        assert needs.endswith(": run `connector db upgrade`\n"), command
        assert current_revision(older) == "0024"  # not upgraded behind the fleet's back
    upgraded = cli("db", "upgrade")
    assert (upgraded.code, current_revision(older)) == (0, needs.split(":")[0]), upgraded.err
    assert cli("ledger", "verify").code == 0
    older.dispose()


def test_a_command_writing_to_a_database_never_set_up_refuses_it_and_the_demo_sets_it_up(
    cli, isolated_cwd: Path
) -> None:
    copy_example_config(isolated_cwd, ledger=False)
    (isolated_cwd / "statement.xml").write_bytes(STATEMENT.read_bytes())
    refused = cli("import", "statement.xml")
    assert refused.code == 1
    assert refused.err.startswith("error: no ledger in sqlite:///connector.db (database.url): ")
    assert "run `connector db upgrade` to set up a new one" in refused.err
    assert not (isolated_cwd / "connector.db").exists()
    assert cli("demo").code == 0  # the quick start: the demo sets the database up
    assert cli("import", "statement.xml").code == 0


@pytest.mark.parametrize(
    "command",
    [
        ("outbox", "retry"),
        ("quarantine", "resolve", "1", "--note", "duplicate"),
        ("quarantine", "retry", "1"),
        ("reconcile", "apply", "1"),
        ("reconcile", "reject", "1", "--note", "interest"),
        ("customers", "reviews"),
        ("customers", "resolve", "1", "--new"),
        ("customers", "merge", "KASH00001", "SMEZJ00001", "--reason", "same company"),
        ("customers", "unmerge", "SMEZJ00001", "--reason", "two companies"),
        ("customers", "split", "zoho.Contacts", "4876876000000624001"),
        ("customers", "classify"),
        ("zoho", "notifications"),
        ("ledger", "reverse", "1", "--reason", "voided"),
        ("keys", "rotate"),
    ],
)
def test_a_command_acting_on_the_ledgers_rows_where_there_is_none_is_an_error_and_makes_no_database(
    cli, isolated_cwd: Path, command: tuple[str, ...]
) -> None:
    result = cli(*command)
    assert (result.code, "no ledger in sqlite:///connector.db (database.url)" in result.err) == (1, True)
    assert not (isolated_cwd / "connector.db").exists()


def test_a_sqlite_database_the_connector_cannot_write_names_the_file_and_the_folder_that_must_be_writable(
    cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("demo")
    # What a folder the connector may not write gives (its WAL files cannot be made), as root too.
    monkeypatch.setenv(
        "CONNECTOR_DATABASE__URL", f"sqlite:///file:{isolated_cwd / 'connector.db'}?mode=ro&uri=true"
    )
    refused = cli("ledger", "reverse", "1", "--reason", "voided")
    assert refused.code == 1
    said = " ".join(refused.err.split())
    assert "attempt to write a readonly database" in said
    assert f"{isolated_cwd / 'connector.db'}-wal" in said
    assert f"the folder {isolated_cwd} must be writable" in said


def test_the_trial_balance_lists_every_chart_account_and_adds_up_to_zero_in_each_currency(cli) -> None:
    cli("demo")
    report = json.loads(cli("ledger", "accounts", "--json").out)
    assert [total["minor"] for total in report["totals"]] == [0, 0, 0]
    assert [total["currency"] for total in report["totals"]] == ["CNY", "JPY", "USD"]
    rows = {
        (row["account"], row["balance"]["currency"] if row["balance"] else None): row
        for row in report["accounts"]
    }
    assert rows[("1122", "JPY")]["balance"]["minor"] == 1_250_000
    assert rows[("220399", None)]["postings"] == 0  # in the chart, never posted to
    assert sum(row["postings"] for row in report["accounts"]) == 26  # the demo's postings, each once
    table = cli("ledger", "accounts")
    assert table.code == 0
    assert "total CNY" in table.out


def test_verify_fails_listing_each_violation_of_a_tampered_ledger(cli, isolated_cwd: Path) -> None:
    cli("demo")
    with sqlite3.connect(isolated_cwd / "connector.db") as raw:
        raw.execute("UPDATE postings SET amount_minor = amount_minor + 1 WHERE id = 1")
        raw.execute("DELETE FROM postings WHERE id = 4")
        raw.execute("UPDATE customer_balances SET balance_minor = 0 WHERE customer_id = 2")
    result = cli("ledger", "verify")
    assert result.code == 1
    assert "ledger verification FAILED" in result.err
    for check in ("[balanced] entry 1", "[balanced] entry 2", "[postings] entry 2", "[content]", "[control]"):
        assert check in result.err
    report = json.loads(cli("ledger", "verify", "--json").out)
    assert report["ok"] is False
    assert len(report["violations"]) >= 6


def test_an_unknown_account_number_is_a_clear_error(cli) -> None:
    cli("demo")
    result = cli("ledger", "balance", "NOPE0001")
    assert (result.code, result.err.strip()) == (1, "error: no customer with account number NOPE0001")


@pytest.mark.parametrize(
    "args",
    [
        ("ledger", "reverse", "99999999999999999999", "--reason", "x"),
        ("quarantine", "show", "0"),
        ("reconcile", "apply", "99999999999999999999"),
        ("ledger", "entries", "KAGB00001", "--limit", "0"),
        ("ledger", "entries", "KAGB00001", "--limit", "-1"),
    ],
)
def test_a_number_no_row_can_have_is_a_usage_error_not_a_traceback(cli, args: tuple[str, ...]) -> None:
    cli("demo")
    result = cli(*args)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "Invalid value" in result.err


def test_check_config_passes_on_the_example_and_lists_every_problem_otherwise(
    cli, isolated_cwd: Path
) -> None:
    assert cli("--config", str(copy_example_config(isolated_cwd)), "check-config").code == 0
    bad = isolated_cwd / "bad.toml"
    bad.write_text('[ledger]\nbase_currency = "RMB"\n[logging]\nlevle = "x"\n', encoding="utf-8")
    result = cli("--config", str(bad), "check-config")
    assert result.code == 1
    assert "2 configuration problem(s)" in result.err
    assert "ledger.base_currency: unknown currency code 'RMB'" in result.err
    assert "logging.levle: Extra inputs are not permitted" in result.err
    assert "did you mean 'level'?" in result.err
    other = cli("--config", str(bad), "ledger", "verify")
    assert other.code == 1
    assert "the configuration is invalid" in other.err


def test_check_config_notes_a_database_never_set_up_or_behind_this_connector_and_still_passes(
    cli, isolated_cwd: Path
) -> None:
    config = str(copy_example_config(isolated_cwd, ledger=False))
    fresh = cli("--config", config, "check-config")
    assert fresh.code == 0, fresh.err
    assert "note: no ledger at sqlite:///connector.db yet: `connector db upgrade`" in " ".join(
        fresh.out.split()
    )
    assert not (isolated_cwd / "connector.db").exists()  # asked, not made

    copy_example_config(isolated_cwd)
    current = cli("--config", config, "check-config")
    assert (current.code, "note:" in current.out) == (0, False)
    with sqlite3.connect(isolated_cwd / "connector.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0027'")
    behind = cli("--config", config, "check-config")
    assert behind.code == 0, behind.err
    said = " ".join(behind.out.split())
    assert "note: the database is at schema 0027, this connector needs" in said
    assert "every other command refuses the database until then" in said


def test_a_config_file_that_is_no_toml_or_a_missing_secrets_dir_is_a_clear_error_not_a_traceback(
    cli, isolated_cwd: Path
) -> None:
    broken = isolated_cwd / "broken.toml"
    broken.write_text('[database]\nurl = "sqlite:///x.db\n', encoding="utf-8")
    result = cli("--config", str(broken), "ledger", "verify")
    assert result.code == 1
    assert result.err.startswith(f"error: {broken}: not valid TOML (")
    assert "Traceback" not in result.err
    missing = cli("--secrets-dir", str(isolated_cwd / "nope"), "ledger", "verify")
    assert missing.code == 1
    assert "nope" in missing.err
    assert "Traceback" not in missing.err


def test_text_that_looks_like_an_emoji_code_is_printed_as_it_is() -> None:
    with out.capture() as shown:
        out.print("Acme:B:Trading PO:A:123 :ok:", markup=False)
    assert shown.get() == "Acme:B:Trading PO:A:123 :ok:\n"


def test_rotating_keys_re_encrypts_and_the_demo_still_reads_every_customer(cli, isolated_cwd: Path) -> None:
    cli("demo")
    before = json.loads((isolated_cwd / "connector-keys.json").read_text())
    rotated = cli("keys", "rotate")
    assert rotated.code == 0
    assert "re-encrypted 15 field(s)" in rotated.out  # 5 names, 5 e-mails, 3 phones, 2 bank accounts
    after = json.loads((isolated_cwd / "connector-keys.json").read_text())
    assert after["active"] != before["active"]
    assert set(after["keys"]) == {before["active"], after["active"]}
    status = cli("keys", "status")
    assert (status.code, f"{after['active']} (active): 15 encrypted value(s)" in status.out) == (0, True)
    assert "上海明远贸易有限公司" in cli("demo").out


def test_a_rotation_meeting_a_damaged_value_seals_the_rest_and_names_it(cli, isolated_cwd: Path) -> None:
    cli("demo")
    database = sqlite3.connect(isolated_cwd / "connector.db")
    with database:  # one e-mail's ciphertext damaged on disk
        (email_enc,) = database.execute("SELECT email_enc FROM customers WHERE id = 1").fetchone()
        database.execute("UPDATE customers SET email_enc = ? WHERE id = 1", (email_enc[:-4] + "AAAA",))
    database.close()

    first = cli("keys", "rotate")

    assert first.code == 1
    assert "re-encrypted 14 field(s)" in first.out  # every other value: names, phones, bank accounts …
    assert "1 value(s) no key of the ring opens" in first.out
    assert "customers email_enc #1" in first.out
    made = json.loads((isolated_cwd / "connector-keys.json").read_text())["active"]
    again = cli("keys", "rotate")  # months later, say: a key of its own, whatever stays unreadable
    assert json.loads((isolated_cwd / "connector-keys.json").read_text())["active"] != made
    assert again.code == 1  # the damaged value is still named


def test_a_value_another_process_seals_with_the_old_key_during_a_rotation_is_counted_and_the_next_takes_it_up(
    cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("demo")
    keys = isolated_cwd / "connector-keys.json"
    old = FieldCipher(read_keyring_file(keys))
    scan = reencrypt_all

    def with_a_late_writer(*args: Any, **kwargs: Any) -> Reencrypted:
        done = scan(*args, **kwargs)
        database = sqlite3.connect(isolated_cwd / "connector.db")
        with database:  # `inbox --watch` or an import, still on the old key, writes after the scan
            sealed = old.encrypt("customer.email", "ada@example.org")
            database.execute("UPDATE customers SET email_enc = ? WHERE id = 2", (sealed,))
        database.close()
        return done

    monkeypatch.setattr(keys_cli, "reencrypt_all", with_a_late_writer)

    first = cli("keys", "rotate")

    assert first.code == 3, first.out
    assert "1 value(s) are still sealed with an older key" in first.out
    assert "1 in customers email_enc" in first.out
    assert "run `connector keys rotate` again once the running processes" in first.out
    made = json.loads(keys.read_text())["active"]
    monkeypatch.setattr(keys_cli, "reencrypt_all", scan)
    again = cli("keys", "rotate")
    assert again.code == 0, again.out
    assert f"taking up the rotation to {made}, stopped part-way" in again.out
    assert "re-encrypted 1 field(s)" in again.out
    assert "still sealed with an older key" not in again.out
    assert json.loads(keys.read_text())["active"] == made  # no third key
    assert f"{made} (active): 15 encrypted value(s)" in cli("keys", "status").out


def test_a_rotation_stopped_part_way_is_taken_up_with_the_key_it_made(cli, isolated_cwd: Path) -> None:
    cli("demo")
    keys = isolated_cwd / "connector-keys.json"
    stopped = read_keyring_file(keys).rotated()
    save_keyring(keys, stopped)  # a rotation killed right after it saved its key
    database = sqlite3.connect(isolated_cwd / "connector.db")
    with database:
        database.execute(
            "INSERT INTO index_state (name, value, updated_at) VALUES (?, ?, CURRENT_TIMESTAMP)",
            ("key rotation under way", stopped.active_id),
        )
    database.close()

    again = cli("keys", "rotate")

    assert f"taking up the rotation to {stopped.active_id}, stopped part-way" in again.out
    assert "re-encrypted 15 field(s)" in again.out
    assert json.loads(keys.read_text())["active"] == stopped.active_id  # no third key
    fresh = cli("keys", "rotate")  # done: the next makes a key of its own
    assert (fresh.code, json.loads(keys.read_text())["active"] != stopped.active_id) == (0, True)


def test_check_config_fails_when_no_key_ring_holds_the_key_the_data_is_sealed_with(
    cli, isolated_cwd: Path
) -> None:
    cli("demo")
    keys = isolated_cwd / "connector-keys.json"
    keys.rename(isolated_cwd / "elsewhere.json")
    checked = cli("check-config")
    assert checked.code == 1
    assert "encrypted value(s) are sealed with key(s) " in checked.out + checked.err
    assert f"which {keys} lacks" in checked.out + checked.err
    (isolated_cwd / "elsewhere.json").rename(keys)
    again = cli("check-config")
    assert "sealed with key" not in again.out + again.err


def test_check_config_fails_when_the_key_ring_holds_another_index_key_than_the_lookups_were_made_with(
    cli, isolated_cwd: Path
) -> None:
    cli("demo")
    keys = isolated_cwd / "connector-keys.json"
    ring = json.loads(keys.read_text())
    ring["index_key"] = base64.b64encode(bytes(32)).decode()
    keys.write_text(json.dumps(ring))
    checked = cli("check-config")
    assert checked.code == 1
    assert "look-ups were made with another index_key" in checked.out + checked.err


KEY, OTHER_KEY, INDEX_KEY = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3))


@pytest.mark.parametrize(
    ("ring", "told"),
    [
        ({"active": "k1", "keys": {KEY: "k1"}}, "the key of entry 1 of keys is not valid base64"),
        ({"active": "k1", "keys": {"k1": KEY, OTHER_KEY: "k2"}}, "the key of entry 2 of keys is not valid"),
        ({"active": KEY, "keys": {"k1": OTHER_KEY}}, "active names no key of the key ring"),
    ],
)
@pytest.mark.parametrize("given", ["keys_file", "encryption_keys"])
def test_a_key_ring_with_a_key_in_an_ids_place_is_refused_without_printing_the_key(
    cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, ring: dict[str, Any], told: str, given: str
) -> None:
    text = json.dumps({**ring, "index_key": INDEX_KEY})
    if given == "keys_file":
        (isolated_cwd / "connector-keys.json").write_text(text, encoding="utf-8")
        (isolated_cwd / "connector-keys.json").chmod(0o600)
    else:
        monkeypatch.setenv("CONNECTOR_SECURITY__ENCRYPTION_KEYS", text)

    checked = cli("check-config")

    printed = checked.out + checked.err
    assert (checked.code, told in printed) == (1, True)
    shown = [key[at : at + 8] for key in (KEY, OTHER_KEY, INDEX_KEY) for at in range(len(key) - 7)]
    assert [part for part in shown if part in printed] == []


def test_a_lost_key_file_is_never_replaced_while_the_database_holds_what_it_sealed(
    cli, isolated_cwd: Path
) -> None:
    cli("demo")
    keys = isolated_cwd / "connector-keys.json"
    keys.rename(isolated_cwd / "elsewhere.json")
    refused = cli("customers", "show", "KASH00001")
    assert refused.code == 1
    assert f"{keys}: no key file, but the database holds data encrypted with one" in refused.err
    assert not keys.exists()
    (isolated_cwd / "elsewhere.json").rename(keys)
    assert cli("customers", "show", "KASH00001").code == 0


def test_database_passwords_never_appear_in_output(
    cli, monkeypatch: pytest.MonkeyPatch, isolated_cwd: Path
) -> None:
    url = postgres_url().replace("postgres@", "postgres:TopSecret-4711@")
    if "TopSecret-4711" not in url:
        pytest.skip("CONNECTOR_TEST_POSTGRES_URL has a different shape")
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", url)
    copy_example_config(isolated_cwd)
    result = cli("check-config")
    assert result.code == 0
    assert "TopSecret-4711" not in result.out + result.err
    assert "***" in result.out


def test_a_database_that_cannot_be_reached_is_one_clear_line_without_its_password(
    cli, monkeypatch: pytest.MonkeyPatch, isolated_cwd: Path
) -> None:
    copy_example_config(isolated_cwd)
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", "postgresql+psycopg://bob:TopSecret-4711@127.0.0.1:9/db")
    result = cli("ledger", "verify")
    assert result.code == 1
    assert result.err.startswith("error: the database cannot be used: connection failed")
    assert len(result.err.strip().splitlines()) == 1
    assert "TopSecret-4711" not in result.out + result.err


def test_a_database_url_with_an_option_the_driver_does_not_know_is_one_clear_line_without_its_password(
    cli, monkeypatch: pytest.MonkeyPatch, isolated_cwd: Path
) -> None:
    copy_example_config(isolated_cwd)
    url = "postgresql+psycopg://bob:TopSecret-4711@127.0.0.1:9/db?foo=bar"
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", url)
    result = cli("ledger", "verify")
    assert result.code == 1
    assert result.err.startswith('error: the database cannot be used: invalid connection option "foo"')
    assert len(result.err.strip().splitlines()) == 1
    assert "TopSecret-4711" not in result.out + result.err


@pytest.fixture
def scratch_schema() -> Iterator[tuple[psycopg.Connection[Any], str]]:
    """A schema of its own in the test database (and an admin connection to it), dropped afterwards."""
    url = postgres_url()
    try:
        admin = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    schema = f"e2e_{uuid.uuid4().hex[:10]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield admin, schema
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.mark.postgres
def test_the_demo_runs_on_postgresql_too(
    cli, monkeypatch: pytest.MonkeyPatch, scratch_schema: tuple[psycopg.Connection[Any], str]
) -> None:
    _, schema = scratch_schema
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", f"{postgres_url()}?options=-csearch_path%3D{schema}")
    assert "ledger verify: OK (13 entries, 26 postings)" in cli("demo").out
    assert "posted 0 new document(s)" in cli("demo").out
    assert cli("ledger", "verify").code == 0


@pytest.mark.postgres
def test_a_role_without_the_grant_to_make_tables_is_told_what_to_grant_not_shown_a_traceback(
    cli, monkeypatch: pytest.MonkeyPatch, scratch_schema: tuple[psycopg.Connection[Any], str]
) -> None:
    admin, name = scratch_schema
    url = postgres_url()
    limited = url.replace("//postgres@", f"//{name}@", 1)
    if limited == url:
        pytest.skip("the test database URL names no postgres user to swap")
    admin.execute(f"CREATE ROLE {name} LOGIN")
    admin.execute(f"GRANT USAGE ON SCHEMA {name} TO {name}")  # may read it, not make tables in it
    try:
        monkeypatch.setenv("CONNECTOR_DATABASE__URL", f"{limited}?options=-csearch_path%3D{name}")
        result = cli("db", "upgrade")
    finally:
        admin.execute(f"DROP OWNED BY {name}")
        admin.execute(f"DROP ROLE {name}")
    assert result.code == 1
    assert result.err.startswith("error: the database refuses: permission denied for schema")
    assert "grant the connector's role USAGE and CREATE on its schema" in result.err
    assert "Traceback" not in result.err


def test_the_installed_console_command_runs(isolated_cwd: Path) -> None:
    executable = Path(sys.executable).with_name("connector")
    result = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout.strip()) == (0, "connector 0.1.0")


def test_db_upgrade_creates_the_schema_and_reports_the_revision(cli) -> None:
    assert "revision (none: empty database)" in cli("db", "current").out
    assert cli("db", "upgrade").out.strip() == "database sqlite:///connector.db is at revision 0028"
    assert cli("db", "upgrade").code == 0
    assert "is at revision 0028" in cli("db", "current").out


def test_a_database_a_newer_connector_migrated_is_one_clear_error_for_every_command(
    cli, isolated_cwd: Path
) -> None:
    cli("db", "upgrade")
    with sqlite3.connect(isolated_cwd / "connector.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.close()
    said = (
        "error: the database is at schema 9999, newer than this connector knows (0028): upgrade the connector"
    )
    current = cli("db", "current")
    assert (current.code, "is at revision 9999" in current.out, current.err.strip()) == (1, True, said)
    for command in (["db", "upgrade"], ["ledger", "verify"], ["status"], ["run"]):
        result = cli(*command)
        assert (result.code, result.err.strip()) == (1, said), command


def test_mapping_check_lists_each_mistake_and_passes_the_shipped_files(cli, isolated_cwd: Path) -> None:
    copy_example_config(isolated_cwd)
    assert "19 mapping file(s) OK in mappings" in cli("mapping", "check").out
    (isolated_cwd / "mappings" / "typo.toml").write_text(
        'kind = "inbound"\nsource = "x"\n[[fields]]\ntarget = "a"\nconvert = ["deciml"]\n', encoding="utf-8"
    )
    result = cli("mapping", "check")
    assert result.code == 1
    assert (
        "typo.toml:5: fields[0].convert[0]: unknown converter 'deciml' — did you mean 'decimal'?"
        in result.err
    )
    assert cli("check-config").code == 1


def test_mapping_check_warns_of_an_export_mapping_another_one_recognises_every_file_of(
    cli, isolated_cwd: Path
) -> None:
    copy_example_config(isolated_cwd)
    text = (isolated_cwd / "mappings" / "export_kingdee_receipts.toml").read_text(encoding="utf-8")
    acme = text.replace('"kingdee.receipts"', '"acme.kd_receipts"').replace(
        '"收款金额"]', '"收款金额", "实收金额"]'
    )
    (isolated_cwd / "mappings" / "export_kingdee_receipts_acme.toml").write_text(acme, encoding="utf-8")
    result = cli("mapping", "check")
    assert (result.code, "20 mapping file(s) OK in mappings" in result.out) == (0, True)
    assert result.err.startswith(
        "1 warning(s):\n  - mappings/export_kingdee_receipts.toml:14: detect.headers: "
    )


def test_check_config_warns_of_an_export_mapping_another_one_recognises_every_file_of_as_mapping_check_does(
    cli, isolated_cwd: Path
) -> None:
    copy_example_config(isolated_cwd)
    text = (isolated_cwd / "mappings" / "export_kingdee_receipts.toml").read_text(encoding="utf-8")
    copy = text.replace('"kingdee.receipts"', '"acme.kd_receipts"')
    (isolated_cwd / "mappings" / "export_kingdee_receipts_acme.toml").write_text(copy, encoding="utf-8")

    result = cli("check-config")

    assert (result.code, result.out.startswith("configuration OK")) == (0, True)
    said = " ".join(result.err.split())
    assert said.startswith("1 warning(s): - mappings: ")
    assert "export_kingdee_receipts_acme.toml:14: detect.headers: every header is among those of" in said


def test_mapping_check_refuses_an_inbound_target_a_letter_from_a_field_the_master_reads(
    cli, isolated_cwd: Path
) -> None:
    copy_example_config(isolated_cwd)
    contacts = isolated_cwd / "mappings" / "zoho_contacts.toml"
    text = contacts.read_text(encoding="utf-8")
    contacts.write_text(text.replace('target = "email"', 'target = "e_mail"'), encoding="utf-8")
    result = cli("mapping", "check")
    assert result.code == 1
    assert "target 'e_mail' is read by nothing — did you mean 'email'?" in result.err
    assert "zoho_contacts.toml:26: fields[3].target" in result.err


def bank_receipts_imported(cli: Callable[..., Result], workspace: Path) -> tuple[Path, Path]:
    """The example configuration with a bank's receipts mapping (`BANK_EXPORT`), and a file of its
    receipts imported: the mapping and the file."""
    copy_example_config(workspace)
    export = workspace / "mappings" / "export_cn_bank.toml"
    export.write_text(BANK_EXPORT, encoding="utf-8")
    receipts = workspace / "r.csv"
    receipts.write_text("流水号,交易日期,对方户名,金额\nLS601,2026-03-05,A公司,100.00\n", encoding="utf-8")
    assert cli("import", str(receipts)).code == 0
    return export, receipts


def test_check_config_and_imports_refuse_an_export_source_renamed_after_its_documents_were_imported(
    cli, isolated_cwd: Path
) -> None:
    export, receipts = bank_receipts_imported(cli, isolated_cwd)
    export.write_text(BANK_EXPORT.replace("cnbank.receipts", "cnbank.payments"), encoding="utf-8")

    checked = cli("check-config")
    receipts.write_bytes(receipts.read_bytes() + b"\n")  # other bytes: the same document again
    again = cli("import", "--json", str(receipts))

    assert checked.code == 1
    said = " ".join(checked.out.split() + checked.err.split())
    assert "export_cn_bank.toml:2: source: 1 document(s) were imported under source 'cnbank.receipts'" in said
    assert 'Keep source = "cnbank.receipts"' in said
    [result] = json.loads(again.out)
    assert result["format"] == "cnbank.receipts"
    assert result["counts"] == {**dict.fromkeys(IMPORT_COUNTS, 0), "documents": 1, "unchanged": 1}


def test_mapping_check_refuses_an_export_source_renamed_after_its_documents_were_imported_as_runs_do(
    cli, isolated_cwd: Path
) -> None:
    export, _ = bank_receipts_imported(cli, isolated_cwd)
    assert cli("mapping", "check").code == 0
    export.write_text(BANK_EXPORT.replace("cnbank.receipts", "cnbank.payments"), encoding="utf-8")

    checked = cli("mapping", "check")

    assert checked.code == 1
    said = " ".join(checked.err.split())
    assert said.startswith("1 mapping problem(s): - mappings/export_cn_bank.toml:2: source: 1 document(s)")
    assert 'Keep source = "cnbank.receipts"' in said
    assert "OK" not in checked.out


def test_a_status_no_record_can_have_is_refused_naming_the_ones_there_are(cli) -> None:
    refused = cli("outbox", "list", "--status", "refused")
    assert refused.code == 2
    assert "'refused' is not one of pending, pushed, failed, dead, retired" in " ".join(refused.err.split())
    assert cli("zoho", "notifications", "--status", "bogus").code == 2
    cli("demo")
    assert cli("outbox", "list", "--status", "failed").out.strip().endswith("0 record(s) failed")


def test_outbox_list_says_how_many_records_match_when_the_limit_leaves_some_out(cli) -> None:
    cli("demo")
    container = build_container(load_settings(), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            customer_id = session.scalar(select(Customer.id).limit(1))
            assert customer_id is not None
            session.add_all(
                OutboxItem(
                    target="zoho.Accounts",
                    external_id=f"{n:03}",
                    customer_id=customer_id,
                    desired_json="{}",
                    desired_hash="",
                )
                for n in range(7)
            )
    finally:
        container.close()
    assert cli("outbox", "list", "--limit", "5").out.strip().endswith("5 of 7 record(s) (--limit for more)")
    assert cli("outbox", "list", "--status", "pending").out.strip().endswith("7 record(s) pending")


def test_outbox_list_in_a_pipes_80_columns_shows_ids_codes_fields_and_messages_whole(cli) -> None:
    cli("demo")
    message = "the value given is not valid for the field Outstanding_Balance of this module"
    container = build_container(load_settings(), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            customer_id = session.scalar(select(Customer.id).limit(1))
            assert customer_id is not None
            session.add(
                OutboxItem(
                    target="zoho.Accounts",
                    external_id="4876876000000624001",
                    customer_id=customer_id,
                    desired_json="{}",
                    desired_hash="",
                    status="failed",
                    attempts=3,
                    last_code="INVALID_DATA",
                    last_field="Outstanding_Balance",
                    last_message=message,
                    next_attempt_at=datetime(2025, 12, 7, 16, 35, tzinfo=UTC),
                )
            )
    finally:
        container.close()
    listed = cli("outbox", "list", columns=80)
    assert listed.code == 0, listed.err
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]] for line in listed.out.splitlines() if "│" in line
    ]
    assert rows[0][:6] + rows[0][7:] == [
        "zoho.Accounts", "4876876000000624001", "failed", "3", "INVALID_DATA", "Outstanding_Balance",
        "2025-12-07T16:35:00+00:00",
    ]  # fmt: skip
    folded = "".join(row[6] for row in rows).replace(" ", "")  # folded onto more lines (long words too)
    assert folded == message.replace(" ", "")


def test_the_trial_balance_a_balance_and_entries_keep_amounts_and_accounts_whole_in_a_narrow_pipe(
    cli,
) -> None:
    cli("demo")
    accounts = cli("ledger", "accounts", columns=50)
    assert accounts.code == 0, accounts.err
    assert "-209,688.49 CNY" in accounts.out
    assert "141,788.00 CNY" in accounts.out
    balance = cli("ledger", "balance", "KASH00001", columns=40)
    assert "56,400.50 CNY" in balance.out
    entries = cli("ledger", "entries", "KASH00001", columns=60)
    assert ("-128,000.00 CNY" in entries.out, "2026-03-05" in entries.out) == (True, True)
    assert "…" not in accounts.out + balance.out + entries.out


def test_outbox_retry_naming_a_record_not_in_the_outbox_fails_naming_it_and_retries_none(cli) -> None:
    cli("demo")
    container = build_container(load_settings(), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            customer_id = session.scalar(select(Customer.id).limit(1))
            assert customer_id is not None
            session.add(
                OutboxItem(
                    target="zoho.Accounts",
                    external_id="001",
                    customer_id=customer_id,
                    desired_json="{}",
                    desired_hash="",
                    status="failed",
                )
            )
    finally:
        container.close()
    refused = cli("outbox", "retry", "001", "nope-id")
    assert (refused.code, refused.out) == (1, "")
    assert "not in the outbox: nope-id" in refused.err
    assert cli("outbox", "list", "--status", "failed").out.strip().endswith("1 record(s) failed")
    elsewhere = cli("outbox", "retry", "001", "--target", "zoho.Contacts")
    assert (elsewhere.code, "not in the outbox of zoho.Contacts: 001" in elsewhere.err) == (1, True)
    retried = cli("outbox", "retry", "001")
    assert (retried.code, retried.out.strip()) == (0, "1 record(s) will be sent with the next push")


@pytest.mark.parametrize(
    "command", [("runs", "--json"), ("quarantine", "list", "--json"), ("quarantine", "retry", "--all")]
)
def test_runs_of_a_job_there_is_none_of_is_refused_naming_the_jobs(cli, command: tuple[str, ...]) -> None:
    cli("demo")
    refused = cli(*command, "--job", "bogus")
    assert (refused.code, refused.out) == (2, "")
    assert "'bogus' is not one of pull, push, notification, import, customers.import" in " ".join(
        refused.err.split()
    )
    assert cli("runs", "--job", "customers.import", "--json").out.strip() == "[]"


def test_help_texts_show_the_settings_sections_they_name(cli) -> None:
    assert "[daemon] port" in cli("run", "--help").out
    assert "[imports] inbox" in " ".join(cli("inbox", "--help").out.split())


def test_a_misspelt_environment_variable_or_secret_file_is_an_error_not_a_new_local_database(
    cli, monkeypatch: pytest.MonkeyPatch, isolated_cwd: Path
) -> None:
    config = copy_example_config(isolated_cwd, ledger=False)
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", "postgresql://ops@db/ledger")
    monkeypatch.setenv("CONNECTOR_DATABSE__URL", "postgresql://ops@db/ledger")
    secrets = isolated_cwd / "secrets"
    secrets.mkdir()
    (secrets / "database_url").write_text("postgresql://ops@db/ledger", encoding="utf-8")

    checked = cli("--config", str(config), "--secrets-dir", str(secrets), "check-config")
    other = cli("--config", str(config), "ledger", "verify")

    assert checked.code == 1
    assert "CONNECTOR_DATABASE_URL: no setting; did you mean CONNECTOR_DATABASE__URL?" in checked.err
    assert "CONNECTOR_DATABSE__URL: no setting; did you mean the section 'database'?" in checked.err
    assert f"secret file {secrets / 'database_url'}: no setting; did you mean database__url?" in checked.err
    assert other.code == 1
    assert "CONNECTOR_DATABASE_URL: no setting" in other.err
    assert not (isolated_cwd / "connector.db").exists()


@pytest.mark.postgres
def test_check_config_finds_a_renumbered_account_the_ledger_would_refuse_and_a_database_that_is_not_there(
    cli, monkeypatch: pytest.MonkeyPatch, isolated_cwd: Path
) -> None:
    config = copy_example_config(isolated_cwd)
    assert cli("--config", str(config), "demo").code == 0
    assert cli("--config", str(config), "check-config").code == 0
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('[ledger.chart.bank]\ncode = "1002"', '[ledger.chart.bank]\ncode = "1003"')
    )

    renumbered = cli("--config", str(config), "check-config")

    assert renumbered.code == 1
    assert "ledger.chart.bank.code: the ledger uses 1002, the configuration says 1003" in renumbered.err
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", postgres_url().rsplit("/", 1)[0] + "/no_such_db_4711")
    missing = cli("--config", str(config), "check-config")
    assert missing.code == 1
    assert "database.url: the database cannot be used:" in missing.err
    assert "no_such_db_4711" in missing.err


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (("status",), "--json"),
        (("import",), "--dry-run"),
        (("zoho", "push"), "--resend"),
        (("inbox",), "--watch"),
    ],
)
def test_the_help_shows_on_off_flags_as_taking_no_value(cli, command: tuple[str, ...], flag: str) -> None:
    shown = cli(*command, "--help").out
    assert flag in shown
    assert "<bool>" not in shown  # `--json true` is refused: a flag takes no value
