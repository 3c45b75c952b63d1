"""`connector run` as ops start it: a process of its own, against the Zoho sandbox over loopback HTTP,
running its jobs on their intervals and serving Zoho's callbacks until SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from adapters.zoho.sandbox import SandboxConfig, SandboxServer
from connector.bootstrap import build_container
from connector.db import unit_of_work
from connector.master.models import CustomerBinding
from connector.security.keys import KeyRing, save_keyring
from connector.settings import load_settings
from connector.sync.channels import TOKEN_FIELD
from connector.sync.models import OutboxItem, SyncRun
from connector.sync.notification_models import NotificationChannel
from tests.conftest import REPO, copy_example_config
from tests.e2e.conftest import Result
from tests.e2e.test_zoho_admin import authorize, configure

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]
PAYMENTS = REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def eventually(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"the daemon never got to: {what}"
        time.sleep(0.2)


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def org(cli: Cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SandboxServer, str]]:
    """A sandbox org, the connector authorized, and the daemon's settings: its port, the callback URL
    on it, and short intervals (the pull once, at the start)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with SandboxServer(SandboxConfig(contacts=30, accounts=8)) as server:
        configure(monkeypatch, isolated_cwd, server, CALLBACK_URL=f"{url}/zoho/notify")
        for key, value in {
            "PORT": str(port),
            "PUSH_MINUTES": "0.02",
            "NOTIFICATIONS_SECONDS": "0.5",
            "INBOX_SECONDS": "0.5",
        }.items():
            monkeypatch.setenv(f"CONNECTOR_DAEMON__{key}", value)
        monkeypatch.setenv("CONNECTOR_IMPORTS__INBOX_SETTLE_SECONDS", "0")
        authorize(cli, server)
        yield server, url


def connector_run(workdir: Path) -> subprocess.Popen[str]:
    """`connector run` in a process of its own, its stderr merged into stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "connector", "run"],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO)},  # this tree's code, installed or not
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_the_daemon_pulls_pushes_imports_and_applies_notifications_until_sigterm(
    cli: Cli, org: tuple[SandboxServer, str], isolated_cwd: Path
) -> None:
    server, url = org
    inbox = isolated_cwd / "inbox"
    inbox.mkdir()
    shutil.copy(PAYMENTS, inbox / "payments.csv")
    container = build_container(load_settings(), logging=False)
    daemon = connector_run(isolated_cwd)
    try:
        eventually("answering /health", lambda: answers(url))

        def bound() -> list[CustomerBinding]:
            with unit_of_work(container.sessions) as session:
                return list(
                    session.scalars(select(CustomerBinding).where(CustomerBinding.status == "active"))
                )

        eventually("the pull", lambda: len(bound()) >= 30)
        # Taken from the inbox, the file is in processing/ until its import ends, then in archive/.
        eventually("the inbox file archived", lambda: list(inbox.glob("archive/*")) != [])
        assert not (inbox / "payments.csv").exists()
        assert len(list((inbox / "archive").iterdir())) == 1

        def pushed() -> int:
            with unit_of_work(container.sessions) as session:
                sent = OutboxItem.pushed_hash == OutboxItem.desired_hash
                return session.scalar(select(func.count()).select_from(OutboxItem).where(sent)) or 0

        eventually("the push", lambda: pushed() > 0)

        watched = cli("zoho", "watch")
        assert watched.code == 0, watched.err
        contact = next(b for b in bound() if b.backend == "zoho.Contacts")
        server.sandbox.edit_as_user("Contacts", contact.external_id, {"Email": "from.the.crm@example.cn"})
        assert [delivery.status for delivery in server.sandbox.callbacks()] == [200]

        def applied() -> bool:
            with unit_of_work(container.sessions) as session:
                return (
                    container.customers(session).view(contact.customer_id).email == "from.the.crm@example.cn"
                )

        eventually("the notification applied", applied)
        status = httpx.get(f"{url}/status.json", timeout=10).json()
        jobs = {job["name"]: job for job in status["jobs"]}
        assert jobs["zoho pull"]["runs"]["done"] >= 1
        assert jobs["zoho pull"]["next_run_at"] is not None
        assert {(run["job"], run["source"]) for run in status["runs"]} >= {("pull", "zoho.Contacts")}
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert 'connector_job_runs_total{job="inbox",outcome="done"}' in metrics
        assert 'connector_api_credits_budget{provider="zoho"}' in metrics
        with unit_of_work(container.sessions) as session:
            tokens = [
                container.cipher.decrypt(TOKEN_FIELD, c.token_enc)
                for c in session.scalars(select(NotificationChannel))
            ]
    finally:
        daemon.send_signal(signal.SIGTERM)
        log, _ = daemon.communicate(timeout=60)
        container.close()
    assert daemon.returncode == 0, log
    for job in (
        "zoho pull: zoho.Contacts",
        "zoho push: zoho.Accounts",
        "zoho notifications: processed 1",
        "inbox: ",
    ):
        assert job in log, log
    assert "daemon stopping" in log
    assert tokens
    assert all(token not in log for token in tokens)
    assert server.config.client_secret not in log


def test_a_daemon_stopped_while_zoho_is_slow_to_answer_stops_at_once_and_its_next_start_completes_the_pull(
    org: tuple[SandboxServer, str], isolated_cwd: Path
) -> None:
    server, _ = org
    server.sandbox.faults.latency_s = 15.0  # each call answered 15 s after Zoho read it
    limits = server.sandbox.limits
    before = limits.used()
    container = build_container(load_settings(), logging=False)
    daemon = connector_run(isolated_cwd)
    try:
        eventually("a call to Zoho", lambda: limits.used() > before)
        told = time.monotonic()
        daemon.send_signal(signal.SIGTERM)  # while that call waits for its answer
        log, _ = daemon.communicate(timeout=60)
        took = time.monotonic() - told
        assert daemon.returncode == 0, log
        assert took < 5, log  # not the client's 30 s timeout, nor Zoho's 15 s
        assert "Traceback" not in log
        with unit_of_work(container.sessions) as session:
            pulls = session.scalars(select(SyncRun).where(SyncRun.job == "pull")).all()
            assert [(run.source, run.status) for run in pulls] == [("zoho.Contacts", "failed")]
            assert "answer not waited for, the process is stopping; taken up again" in (pulls[0].error or "")
            assert session.scalar(select(func.count()).select_from(CustomerBinding)) == 0

        server.sandbox.faults.latency_s = 0.0
        daemon = connector_run(isolated_cwd)

        def pulled() -> bool:
            with unit_of_work(container.sessions) as session:
                contacts = (SyncRun.job == "pull") & (SyncRun.source == "zoho.Contacts")
                ran = session.scalars(select(SyncRun).where(contacts).order_by(SyncRun.id))
                return [run.status for run in ran] == ["failed", "succeeded"]

        eventually("the pull run again", pulled)
        with unit_of_work(container.sessions) as session:
            contacts = select(func.count()).where(CustomerBinding.backend == "zoho.Contacts")
            assert session.scalar(contacts) == 30
    finally:
        daemon.send_signal(signal.SIGTERM)
        log, _ = daemon.communicate(timeout=60)
        container.close()
    assert daemon.returncode == 0, log


def refused_start(workspace: Path, monkeypatch: pytest.MonkeyPatch, port: int) -> str:
    """`connector run` with a payments file in its inbox, expected to refuse to start: its stderr, once
    checked that it exited 1 and ran no job (the file is still there)."""
    monkeypatch.setenv("CONNECTOR_DAEMON__PORT", str(port))
    (workspace / "inbox").mkdir()
    shutil.copy(PAYMENTS, workspace / "inbox" / "payments.csv")
    ran = subprocess.run(
        [sys.executable, "-m", "connector", "run"],
        cwd=workspace,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 1
    assert (workspace / "inbox" / "payments.csv").exists()  # no job ran
    return ran.stderr


def test_a_daemon_that_cannot_listen_says_so_and_runs_no_job(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_CONFIG", str(copy_example_config(isolated_cwd)))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        said = refused_start(isolated_cwd, monkeypatch, port)
    assert f"error: the web app cannot listen on 127.0.0.1:{port}" in said


def test_a_daemon_whose_key_file_others_can_read_says_so_at_start_and_runs_no_job(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_CONFIG", str(copy_example_config(isolated_cwd)))
    keys = isolated_cwd / "connector-keys.json"
    save_keyring(keys, KeyRing.generate())
    keys.chmod(0o644)
    assert f"run `chmod 600 {keys.name}`" in refused_start(isolated_cwd, monkeypatch, free_port())
