"""The Zoho commands an operator runs, against the sandbox over loopback HTTP."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.zoho.sandbox.config import SandboxConfig
from adapters.zoho.sandbox.server import SandboxServer
from connector.bootstrap import build_container
from connector.db import unit_of_work
from connector.master.models import CustomerBinding
from connector.settings import load_settings
from connector.sync.leases import lease
from connector.sync.models import ApiCreditSpend
from tests.conftest import REPO, set_up_ledger
from tests.e2e.conftest import Result, stopped_while_waiting
from tests.e2e.zoho_org import MAPPINGS

Cli = Callable[..., Result]


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=4, contacts=300, accounts=120)) as running:
        yield running


@pytest.fixture
def configured(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = write_config(server, tmp_path)
    monkeypatch.setenv("CONNECTOR_CONFIG", str(config))
    return config


def write_config(server: SandboxServer, tmp_path: Path) -> Path:
    """A settings file for the connector against `server`, its database (set up) and keys in `tmp_path`."""
    set_up_ledger(tmp_path / "connector.db")
    config = tmp_path / "connector.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "connector.db"}"
[security]
keys_file = "{tmp_path / "keys.json"}"
[mappings]
dir = "{MAPPINGS}"
[zoho]
enabled = true
accounts_url = "{server.accounts_url}"
client_id = "{server.config.client_id}"
client_secret = "{server.config.client_secret}"
retry_initial_wait_s = 0.01
retry_max_wait_s = 0.05
""",
        encoding="utf-8",
    )
    return config


def test_authorize_pull_push_and_status_from_the_command_line(
    cli: Cli, server: SandboxServer, configured: Path
) -> None:
    authorized = cli("zoho", "authorize", "--code", server.sandbox.grant_code())
    assert authorized.code == 0, authorized.err
    assert f"API at {server.base_url}" in authorized.out
    assert server.config.refresh_token not in authorized.out + authorized.err

    pulled = cli("zoho", "pull")
    assert pulled.code == 0, pulled.err
    assert "zoho.Contacts: " in pulled.out
    assert "300 read" in pulled.out
    assert "120 read" in pulled.out

    server.sandbox.faults.invalid_data.update({server.sandbox.record_ids("Accounts")[0]: "Credit_Limit"})
    pushed = cli("zoho", "push")
    assert pushed.code == 0, pushed.err
    assert "1 rejected" in pushed.out

    refused = json.loads(cli("outbox", "list", "--status", "failed", "--json").out)
    assert [(r["code"], r["field"]) for r in refused] == [("INVALID_DATA", "Credit_Limit")]

    status = json.loads(cli("zoho", "status", "--json").out)
    assert {s["module"] for s in status["streams"]} == {"Contacts", "Accounts"}
    assert status["outbox"]["zoho.Accounts failed"] == 1
    assert 0 < status["credits"]["remaining"] < status["credits"]["budget"]
    assert [(f["module"], f["age_hours"]) for f in status["fields"]] == [("Accounts", 0.0)]
    shown = cli("zoho", "status").out
    assert "fields of Accounts: read 0.0 h ago (" in shown
    assert "read again once 24 h old, or at once when a write is refused for a field" in shown


def test_a_refused_grant_code_is_reported_without_a_traceback(cli: Cli, configured: Path) -> None:
    refused = cli("zoho", "authorize", "--code", "1000.not-a-code")
    assert refused.code != 0
    assert "invalid_code" in refused.err
    assert "Traceback" not in refused.err


def test_a_module_without_a_mapping_is_an_error_not_a_silent_success(
    cli: Cli, configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = cli("zoho", "pull", "--module", "contacts")
    assert refused.code == 1
    assert "zoho.contacts: no inbound mapping in the mapping set — did you mean 'Contacts'?" in refused.err
    monkeypatch.setenv("CONNECTOR_ZOHO__MODULES", '["contacts", "Accounts"]')
    checked = cli("check-config")
    assert checked.code == 1
    assert "zoho.modules: module 'contacts' has no inbound or outbound mapping" in checked.out + checked.err
    assert "did you mean 'Contacts'?" in checked.out + checked.err


def test_mapping_preview_reads_live_records_from_zoho(
    cli: Cli, server: SandboxServer, configured: Path
) -> None:
    assert cli("zoho", "authorize", "--code", server.sandbox.grant_code()).code == 0
    preview = cli("mapping", "preview", "zoho_contacts", "--live", "--limit", "2", "--json")
    assert preview.code == 0, preview.err
    records = json.loads(preview.out)["records"]
    assert len(records) == 2
    assert all(r["record"].startswith("zoho.Contacts ") for r in records)


def test_the_sandbox_on_a_port_in_use_says_so_in_one_line(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("sandbox", "zoho", "--port", str(port))
    assert result.code == 1
    assert result.err.strip().startswith(f"error: the sandbox cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in result.err


def credits_recorded(config: Path) -> int:
    """The Zoho API credits the connector's database holds as spent."""
    container = build_container(load_settings(config), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            return int(session.scalar(select(func.coalesce(func.sum(ApiCreditSpend.credits), 0))) or 0)
    finally:
        container.close()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_pull_stopped_by_sigterm_or_ctrl_c_stops_between_transactions_and_records_the_credits_it_spent(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: signal.Signals
) -> None:
    with SandboxServer(SandboxConfig(seed=4, contacts=4_000, accounts=2)) as slow:
        config = write_config(slow, tmp_path)
        monkeypatch.setenv("CONNECTOR_CONFIG", str(config))
        assert cli("zoho", "authorize", "--code", slow.sandbox.grant_code()).code == 0
        slow.sandbox.faults.latency_s = 0.2  # 20 pages: four seconds of listing at least
        limits = slow.sandbox.limits
        spent_before = limits.used()
        pulling = subprocess.Popen(
            [sys.executable, "-m", "connector", "zoho", "pull", "--module", "Contacts"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO)},  # this tree's code, installed or not
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while limits.used() - spent_before < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        pulling.send_signal(stop)
        said, _ = pulling.communicate(timeout=20)  # a Ctrl-C inside a statement once held the lock 30 s
        spent = limits.used() - spent_before

        assert pulling.returncode == 3, said
        assert "zoho.Contacts: stopped early" in said
        assert 4 <= spent < 2 + 20  # the deletions and some pages of 20, not all of them
        assert credits_recorded(config) == spent


def test_a_pull_killed_outright_has_written_the_credits_of_every_page_it_stored(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SandboxServer(SandboxConfig(seed=4, contacts=4_000, accounts=2)) as slow:
        config = write_config(slow, tmp_path)
        monkeypatch.setenv("CONNECTOR_CONFIG", str(config))
        assert cli("zoho", "authorize", "--code", slow.sandbox.grant_code()).code == 0
        slow.sandbox.faults.latency_s = 0.2  # a page a transaction
        limits = slow.sandbox.limits
        spent_before = limits.used()
        pulling = subprocess.Popen(
            [sys.executable, "-m", "connector", "zoho", "pull", "--module", "Contacts"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while limits.used() - spent_before < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        pulling.kill()  # SIGKILL: nothing of the process runs after it
        pulling.wait(timeout=30)
        spent = limits.used() - spent_before

        pages_stored = math.ceil(records_bound(config) / 200)
        assert pages_stored > 0
        # the deletions (2 credits) and a credit for each page stored: written with it
        assert 2 + pages_stored <= credits_recorded(config) <= spent


def records_bound(config: Path) -> int:
    container = build_container(load_settings(config), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            return int(session.scalar(select(func.count()).select_from(CustomerBinding)) or 0)
    finally:
        container.close()


@pytest.mark.parametrize(
    ("command", "lease_name"),
    [(("pull", "--module", "Contacts"), "pull zoho.Contacts"), (("push",), "push zoho.Accounts")],
    ids=["pull", "push"],
)
def test_a_command_stopped_while_it_waits_for_another_process_lease_exits_3_saying_nothing_was_done(
    cli: Cli,
    server: SandboxServer,
    configured: Path,
    tmp_path: Path,
    command: tuple[str, ...],
    lease_name: str,
) -> None:
    assert cli("zoho", "authorize", "--code", server.sandbox.grant_code()).code == 0
    container = build_container(load_settings(configured), logging=False)
    try:
        with lease(container.sessions, lease_name):  # another process pulling or pushing it
            stopped = stopped_while_waiting(tmp_path, "zoho", *command)
    finally:
        container.close()

    assert stopped.code == 3, stopped.out
    assert "Traceback" not in stopped.out
    assert f"stopped: {lease_name} was running elsewhere" in stopped.out
    assert "nothing of it was done here; run it again" in stopped.out
