"""Zoho admin commands told to stop (Ctrl-C, SIGTERM) in a real subprocess: they stop between two units of
work, keep what is done, say what is left and exit 3."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.zoho.sandbox import SandboxConfig, SandboxServer
from connector.bootstrap import Container, build_container
from connector.db import unit_of_work
from connector.settings import load_settings
from connector.sync.notification_models import InboxNotification, NotificationChannel
from tests.conftest import REPO
from tests.e2e.conftest import Result
from tests.e2e.test_zoho_admin import authorize, configure

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]
STOPS = pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])


def connector(workdir: Path, *args: str) -> subprocess.Popen[str]:
    """`connector *args` in a process of its own (this tree's code), its stderr merged into stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "connector", *args],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.005)


@pytest.fixture
def org(cli: Cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(contacts=40, accounts=4, ledger_fields=False)) as server:
        configure(monkeypatch, isolated_cwd, server, CALLBACK_URL="https://connector.invalid/zoho/notify")
        authorize(cli, server)
        yield server


@pytest.fixture
def container(org: SandboxServer) -> Iterator[Container]:
    built = build_container(load_settings(), logging=False)
    try:
        yield built
    finally:
        built.close()


@STOPS
def test_notifications_process_told_to_stop_stops_between_two_notifications_keeping_those_processed(
    org: SandboxServer, container: Container, isolated_cwd: Path, stop: signal.Signals
) -> None:
    ids = org.sandbox.record_ids("Contacts")[:30]
    with unit_of_work(container.sessions) as session:
        for record_id in ids:
            session.add(
                InboxNotification(
                    backend="zoho",
                    channel_id="100000000000000001",
                    module="Contacts",
                    operation="update",
                    ids_json=json.dumps([record_id]),
                    status="pending",
                    attempts=0,
                )
            )
    org.sandbox.faults.latency_s = 0.3  # each notification's fetch answered 0.3 s after Zoho read it
    limits = org.sandbox.limits
    before = limits.used()
    processing = connector(isolated_cwd, "zoho", "notifications", "--process")
    wait_for(lambda: limits.used() > before + 1, "a notification processed, the next one's records fetched")
    processing.send_signal(stop)  # while that fetch is answered: it is not waited for, the notification left
    said, _ = processing.communicate(timeout=30)

    assert processing.returncode == 3, said
    assert "Traceback" not in said
    with unit_of_work(container.sessions) as session:
        rows = session.scalars(select(InboxNotification)).all()
        done = [row for row in rows if row.status == "processed"]
        left = [row for row in rows if row.status == "pending"]
        assert len(done) + len(left) == 30  # none failed, none given up on
        assert 1 <= len(done) < 30
        assert all(row.attempts == 0 and row.error is None for row in left)
    assert f"notifications: {len(done)} processed; records: " in said
    assert f"stopped early — told to stop: {len(left)} notification(s) still pending" in said


@STOPS
def test_watch_told_to_stop_records_the_channel_zoho_subscribed_then_stops_naming_the_modules_left(
    org: SandboxServer, container: Container, isolated_cwd: Path, stop: signal.Signals
) -> None:
    org.sandbox.faults.latency_s = 1.0  # Zoho holds the channel a second before it answers
    watching = connector(isolated_cwd, "zoho", "watch")
    wait_for(lambda: bool(org.sandbox.watch.channels), "a channel subscribed in Zoho")
    watching.send_signal(stop)  # between subscribing it and recording it
    said, _ = watching.communicate(timeout=30)

    assert watching.returncode == 3, said
    assert "Traceback" not in said
    subscribed = {module: channel_id for channel_id, module in org.sandbox.watch.channels}
    assert list(subscribed) == ["Contacts"]
    with unit_of_work(container.sessions) as session:
        rows = session.scalars(select(NotificationChannel)).all()
        assert {row.module: row.channel_id for row in rows} == subscribed
    assert f"channel {subscribed['Contacts']}: Contacts.all → " in said
    assert "stopped: zoho.Accounts not watched yet; run `connector zoho watch` again" in said


@STOPS
def test_setup_apply_told_to_stop_stops_between_field_creations_naming_those_created_and_those_left(
    cli: Cli, org: SandboxServer, isolated_cwd: Path, stop: signal.Signals
) -> None:
    accounts = org.sandbox.modules["Accounts"]
    before = {f.api_name for f in accounts.fields}
    org.sandbox.faults.latency_s = 1.0  # Zoho holds the fields a second before it answers
    applying = connector(isolated_cwd, "zoho", "setup", "--apply")
    wait_for(lambda: len(accounts.fields) > len(before), "a batch of fields created in Zoho")
    applying.send_signal(stop)  # between creating those fields and saying so
    said, _ = applying.communicate(timeout=30)

    assert applying.returncode == 3, said
    assert "Traceback" not in said
    assert "could not create" not in said
    made = sorted({f.api_name for f in accounts.fields} - before)
    assert len(made) == 5  # one call's batch; the next was never sent
    assert sorted(line.split()[1] for line in said.splitlines() if line.startswith("created ")) == [
        f"Accounts.{name}" for name in made
    ]
    assert "stopped: 5 field(s) created, 14 left: Accounts." in said
    org.sandbox.faults.latency_s = 0.0
    again = cli("zoho", "setup")
    assert "Accounts: 6 of 20 field(s) in place, 14 missing" in again.out
