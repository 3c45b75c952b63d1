"""The data keys a key ring gives, checked against the keys this database's values were sealed with."""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.bootstrap import build_container
from connector.security.keys import read_keyring_file, save_keyring
from connector.settings import load_settings
from connector.sync.leases import KEY_ROTATION, lease
from tests.conftest import copy_example_config
from tests.e2e.conftest import Result, waiting_for_a_lease

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]
NEW_CUSTOMER = [
    {
        "type": "customer.created",
        "timestamp": "2026-01-02T09:00:00Z",
        "data": {"id": "2954000000045009", "name": "Nova GmbH", "company": "Nova GmbH", "type": "SME"}
        | {"currency": "EUR", "email": "ap@nova.example.de"},
    }
]


def other_bytes_for_the_active_key(workspace: Path) -> str:
    """The demo's key ring with other bytes under its active key id (its index key kept)."""
    ring = json.loads((workspace / "connector-keys.json").read_text())
    ring["keys"][ring["active"]] = base64.b64encode(secrets.token_bytes(32)).decode()
    return json.dumps(ring)


def customers_in(workspace: Path) -> int:
    database = sqlite3.connect(workspace / "connector.db")
    try:
        (count,) = database.execute("SELECT count(*) FROM customers").fetchone()
        return int(count)
    finally:
        database.close()


@pytest.mark.parametrize("recorded", [False, True], ids=["before-check-values", "check-value-recorded"])
def test_a_ring_with_other_bytes_under_the_right_key_id_is_refused_before_it_seals_anything(
    cli: Cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, recorded: bool
) -> None:
    cli("demo")  # its key file is made mid-run: its key's check value is not recorded by it
    copy_example_config(isolated_cwd, ledger=False)
    (isolated_cwd / "new.json").write_text(json.dumps(NEW_CUSTOMER), encoding="utf-8")
    if recorded:
        assert cli("keys", "status").code == 0  # a start on the database records it
    active = json.loads((isolated_cwd / "connector-keys.json").read_text())["active"]
    before = customers_in(isolated_cwd)
    monkeypatch.setenv("CONNECTOR_SECURITY__ENCRYPTION_KEYS", other_bytes_for_the_active_key(isolated_cwd))

    checked = cli("check-config")
    status = cli("keys", "status")
    imported = cli("customers", "import", "webhook_customers", "new.json")

    told = f"key '{active}' of security.encryption_keys is not the key this database's values under that id"
    assert (checked.code, told in checked.out + checked.err) == (1, True)
    assert (status.code, told in status.err) == (1, True)
    assert (imported.code, told in imported.err) == (1, True)
    assert "use the key file (or ring) the database was sealed with" in imported.err
    assert customers_in(isolated_cwd) == before
    monkeypatch.delenv("CONNECTOR_SECURITY__ENCRYPTION_KEYS")
    assert cli("customers", "list").code == 0
    assert cli("check-config").code == 0


def test_the_key_a_rotation_makes_is_recorded_so_another_copy_of_it_is_refused(
    cli: Cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("demo")
    assert cli("keys", "rotate").code == 0
    database = sqlite3.connect(isolated_cwd / "connector.db")
    active = json.loads((isolated_cwd / "connector-keys.json").read_text())["active"]
    (check,) = database.execute(
        "SELECT value FROM index_state WHERE name = ?", (f"data key {active}",)
    ).fetchone()
    database.close()
    assert check not in (isolated_cwd / "connector-keys.json").read_text()  # a check value, not the key
    monkeypatch.setenv("CONNECTOR_SECURITY__ENCRYPTION_KEYS", other_bytes_for_the_active_key(isolated_cwd))
    refused = cli("keys", "status")
    assert (refused.code, f"key '{active}' of security.encryption_keys is not" in refused.err) == (1, True)


def test_a_rotation_says_to_back_up_the_key_file_again_naming_it_and_the_new_key(
    cli: Cli, isolated_cwd: Path
) -> None:
    cli("demo")
    keys = isolated_cwd / "connector-keys.json"

    rotated = cli("keys", "rotate", columns=400)

    active = json.loads(keys.read_text())["active"]
    assert rotated.code == 0
    told = f"the key file {keys} holds the new key {active}, which earlier backups of it lack. Back it up"
    assert told in rotated.out


def test_a_rotation_of_a_ring_given_in_the_settings_says_to_update_the_stored_secret_everywhere(
    cli: Cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("demo")
    given = read_keyring_file(isolated_cwd / "connector-keys.json").rotated()  # the admin's new ring
    monkeypatch.setenv("CONNECTOR_SECURITY__ENCRYPTION_KEYS", given.to_json())

    rotated = cli("keys", "rotate", columns=400)

    assert rotated.code == 0
    assert f"the data is sealed with key {given.active_id} now" in rotated.out
    assert "update that stored secret everywhere it is kept" in rotated.out


def test_a_rotation_of_a_ring_given_in_the_settings_with_no_new_key_says_none_was_made_and_how_to_add_one(
    cli: Cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("demo")
    given = read_keyring_file(isolated_cwd / "connector-keys.json")  # the same ring, no new key in it
    monkeypatch.setenv("CONNECTOR_SECURITY__ENCRYPTION_KEYS", given.to_json())

    rotated = cli("keys", "rotate", columns=400)

    assert rotated.code == 0
    assert (
        f"no new key: the ring comes from security.encryption_keys, whose active key {given.active_id}"
        in (rotated.out)
    )
    assert "add a new key to that ring, make it active" in rotated.out
    assert "update that stored secret" not in rotated.out


def test_a_rotation_started_while_another_runs_waits_for_it_and_keeps_the_key_it_made(
    cli: Cli, isolated_cwd: Path
) -> None:
    cli("demo")
    keys = isolated_cwd / "connector-keys.json"
    first = read_keyring_file(keys)
    container = build_container(load_settings(), logging=False)
    try:
        with lease(container.sessions, KEY_ROTATION):  # another `keys rotate`, which saves its key
            waiting, said = waiting_for_a_lease(isolated_cwd, "keys", "rotate")
            other = first.rotated()
            save_keyring(keys, other)
    finally:
        container.close()
    rest, _ = waiting.communicate(timeout=60)

    assert "keys rotate is running elsewhere" in said
    assert waiting.returncode == 0, said + rest
    last = read_keyring_file(keys)
    assert set(last.keys) == {*other.keys, last.active_id}
    assert last.active_id not in other.keys
    assert cli("keys", "status").code == 0
