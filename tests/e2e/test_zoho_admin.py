"""Ops against the Zoho sandbox over loopback HTTP: custom fields; notifications from CRM edit to master."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from adapters.zoho.sandbox import Sandbox, SandboxConfig, SandboxServer
from adapters.zoho.sandbox.fields import FieldDef
from connector.bootstrap import Container, build_container
from connector.db import aware, unit_of_work
from connector.master.models import CustomerBinding
from connector.settings import load_settings
from connector.sync.channels import TOKEN_FIELD
from connector.sync.notification_models import InboxNotification, NotificationChannel
from connector.web.app import build_web_app
from tests.conftest import copy_example_config
from tests.e2e.conftest import Result

pytestmark = pytest.mark.usefixtures("isolated_cwd")
Cli = Callable[..., Result]


class CallbackServer:
    """The daemon's notification endpoint served by uvicorn on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, container: Container) -> None:
        config = uvicorn.Config(
            build_web_app(container),
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            loop="asyncio",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="notify", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            assert self._thread.is_alive(), "the callback server died"
            assert time.monotonic() < deadline, "the callback server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()


@dataclass
class Daemon:
    sandbox_server: SandboxServer
    callback: CallbackServer
    container: Container  # the callback side's: the same database as the CLI's

    @property
    def sandbox(self) -> Sandbox:
        return self.sandbox_server.sandbox

    def inbox(self) -> list[InboxNotification]:
        with unit_of_work(self.container.sessions) as session:
            return list(session.scalars(select(InboxNotification).order_by(InboxNotification.id)))

    def channels(self) -> dict[str, NotificationChannel]:
        with unit_of_work(self.container.sessions) as session:
            return {row.module: row for row in session.scalars(select(NotificationChannel))}

    def tokens(self) -> list[str]:
        return [self.container.cipher.decrypt(TOKEN_FIELD, c.token_enc) for c in self.channels().values()]

    def active_binding(self) -> CustomerBinding:
        with unit_of_work(self.container.sessions) as session:
            return session.scalars(
                select(CustomerBinding)
                .where(CustomerBinding.backend == "zoho.Contacts", CustomerBinding.status == "active")
                .order_by(CustomerBinding.id)
            ).first() or pytest.fail("the pull bound no contact")

    def binding(self, external_id: str) -> CustomerBinding:
        with unit_of_work(self.container.sessions) as session:
            return session.scalars(
                select(CustomerBinding).where(
                    CustomerBinding.backend == "zoho.Contacts", CustomerBinding.external_id == external_id
                )
            ).one()


def configure(monkeypatch: pytest.MonkeyPatch, workdir: Path, server: SandboxServer, **extra: str) -> None:
    """The shipped config plus the sandbox org, as environment (which wins over the file)."""
    monkeypatch.setenv("CONNECTOR_CONFIG", str(copy_example_config(workdir)))
    settings = {
        "ENABLED": "true",
        "ACCOUNTS_URL": server.accounts_url,
        "CLIENT_ID": server.config.client_id,
        "CLIENT_SECRET": server.config.client_secret,
        "RETRY_INITIAL_WAIT_S": "0.01",
        "RETRY_MAX_WAIT_S": "0.05",
        **extra,
    }
    for key, value in settings.items():
        monkeypatch.setenv(f"CONNECTOR_ZOHO__{key}", value)


def authorize(cli: Cli, server: SandboxServer) -> None:
    result = cli("zoho", "authorize", "--code", server.sandbox.grant_code())
    assert result.code == 0, result.err


@pytest.fixture
def bare_org(cli: Cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox org whose Accounts lack the connector's custom fields, and the connector authorized."""
    with SandboxServer(SandboxConfig(contacts=8, accounts=4, ledger_fields=False)) as server:
        configure(monkeypatch, isolated_cwd, server)
        authorize(cli, server)
        yield server


@pytest.fixture
def daemon(cli: Cli, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    """A sandbox org, the connector authorized and pulled once, and its callback endpoint listening."""
    callback = CallbackServer()
    with SandboxServer(SandboxConfig(contacts=40, accounts=10)) as server:
        configure(monkeypatch, isolated_cwd, server, CALLBACK_URL=f"{callback.url}/zoho/notify")
        container = build_container(load_settings(), logging=False)
        try:
            callback.start(container)
            authorize(cli, server)
            pulled = cli("zoho", "pull")
            assert pulled.code == 0, pulled.err
            yield Daemon(server, callback, container)
        finally:
            callback.stop()
            container.close()


# --- custom fields ----------------------------------------------------------------------------------


def test_setup_lists_the_missing_fields_then_apply_creates_them_and_a_second_run_finds_none_missing(
    cli: Cli, bare_org: SandboxServer
) -> None:
    check = cli("zoho", "setup")
    assert check.code == 1, check.err
    assert "Accounts: 1 of 20 field(s) in place, 19 missing" in check.out
    (row,) = [line for line in check.out.splitlines() if "Outstanding_Balance" in line]
    assert [cell.strip() for cell in row.split("│")[1:-1]] == [
        "Accounts",
        "Outstanding Balance",
        "Outstanding_Balance",
        "currency (2 decimals)",
    ]
    assert "19 field(s) missing; `connector zoho setup --apply` creates them" in check.out
    assert bare_org.sandbox.modules["Accounts"].get("Outstanding_Balance") is None

    applied = cli("zoho", "setup", "--apply")
    assert applied.code == 0, applied.err
    assert "created Accounts.Outstanding_Balance (currency (2 decimals))" in applied.out
    accounts = bare_org.sandbox.modules["Accounts"]
    names = ("Outstanding_Balance", "Credit_Score", "Last_Payment_Date", "Figures_As_Of")
    made = {name: accounts.get(name) for name in names}
    assert {name: (f.data_type, f.places()) for name, f in made.items() if f is not None} == {
        "Outstanding_Balance": ("currency", 2),
        "Credit_Score": ("double", 2),
        "Last_Payment_Date": ("date", 0),
        "Figures_As_Of": ("date", 0),
    }
    assert (accounts.get("Credit_Status") or pytest.fail("no Credit_Status")).data_type == "picklist"
    assert (accounts.get("Aging_1_30") or pytest.fail("no Aging_1_30")).label == "Aging 1 30"

    again = cli("zoho", "setup")
    assert again.code == 0, again.err
    assert "Accounts: 20 of 20 field(s) in place, 0 missing" in again.out


def test_a_field_with_a_type_that_cannot_hold_the_figure_is_reported_and_left_alone(
    cli: Cli, bare_org: SandboxServer
) -> None:
    bare_org.sandbox.add_field("Accounts", FieldDef("Overdue_Amount", "Overdue Amount", "text", custom=True))
    applied = cli("zoho", "setup", "--apply")
    assert applied.code == 1
    assert (
        "Accounts.Overdue_Amount: is a text field; the connector sends currency (2 decimals)" in applied.err
    )
    assert "created Accounts.Outstanding_Balance" in applied.out
    assert (
        bare_org.sandbox.modules["Accounts"].get("Overdue_Amount") or pytest.fail("gone")
    ).data_type == "text"


def test_a_read_only_field_a_short_text_and_a_picklist_lacking_a_mapped_value_are_reported(
    cli: Cli, bare_org: SandboxServer
) -> None:
    sandbox = bare_org.sandbox
    sandbox.add_field("Accounts", FieldDef("Payment_Terms", "Payment Terms", "text", system=True))
    sandbox.add_field(
        "Accounts", FieldDef("Credit_Status_Reason", "Credit Status Reason", "text", length=100)
    )
    statuses = ("正常 OK", "关注 Watch", "暂停 Hold")  # no 冻结 Blocked
    sandbox.add_field("Accounts", FieldDef("Credit_Status", "Credit Status", "picklist", picklist=statuses))

    applied = cli("zoho", "setup", "--apply")

    assert applied.code == 1
    err = " ".join(applied.err.split())
    assert "Accounts.Payment_Terms: is read-only for the connector's user" in err
    assert "Accounts.Credit_Status_Reason: holds 100 characters; the connector writes up to 255" in err
    assert "Accounts.Credit_Status: lacks the picklist value(s) '冻结 Blocked'" in err


# --- notifications ----------------------------------------------------------------------------------


def test_a_crm_users_edit_reaches_the_customer_master_through_a_verified_notification(
    cli: Cli, daemon: Daemon
) -> None:
    outputs: list[Result] = []
    watched = cli("zoho", "watch")
    outputs.append(watched)
    assert watched.code == 0, watched.err
    assert "Contacts.all → " in watched.out
    assert "Accounts.all → " in watched.out
    bound = daemon.active_binding()

    daemon.sandbox.edit_as_user("Contacts", bound.external_id, {"Email": "changed.address@example.cn"})
    (delivery,) = daemon.sandbox.callbacks()
    assert delivery.status == 200
    (stored,) = daemon.inbox()
    assert (stored.operation, json.loads(stored.ids_json), stored.status) == (
        "update",
        [bound.external_id],
        "pending",
    )

    processed = cli("zoho", "notifications", "--process")
    outputs.append(processed)
    assert processed.code == 0, processed.err
    assert "notifications: 1 processed; records: 1 read, 1 updated" in processed.out
    with unit_of_work(daemon.container.sessions) as session:
        assert (
            daemon.container.customers(session).view(bound.customer_id).email == "changed.address@example.cn"
        )

    daemon.sandbox.delete_as_user("Contacts", bound.external_id)
    assert [d.status for d in daemon.sandbox.callbacks()] == [200, 200]
    outputs.append(cli("zoho", "notifications", "--process", "--json"))
    assert daemon.binding(bound.external_id).status == "deleted"
    assert [n.status for n in daemon.inbox()] == ["processed", "processed"]
    assert "notifications: 1 processed" in outputs[-1].err  # stdout holds the JSON alone
    listed = json.loads(outputs[-1].out)
    assert [(n["operation"], n["counts"]) for n in listed] == [
        ("delete", {"deleted": 1}),
        ("update", {"read": 1, "updated": 1}),
    ]
    for token in daemon.tokens():
        assert all(token not in r.out and token not in r.err for r in outputs)


def test_a_forged_callback_is_refused_with_403_and_stores_nothing(
    cli: Cli, daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    assert cli("zoho", "watch").code == 0
    contacts = daemon.channels()["Contacts"]
    forged = {
        "server_time": 1718117126473,
        "module": "Contacts",
        "ids": [daemon.active_binding().external_id],
        "operation": "delete",
        "channel_id": contacts.channel_id,
        "token": "a-guessed-token-that-is-not-the-channels",
    }
    with caplog.at_level(logging.INFO):
        answer = httpx.post(f"{daemon.callback.url}/zoho/notify", json=forged, timeout=10)
    assert answer.status_code == 403
    assert daemon.inbox() == []
    assert f"wrong token for channel {contacts.channel_id}" in caplog.text
    assert "a-guessed-token" not in caplog.text
    assert all(token not in caplog.text for token in daemon.tokens())


def test_renewal_extends_a_channel_about_to_expire_and_stop_removes_every_channel(
    cli: Cli, daemon: Daemon
) -> None:
    assert cli("zoho", "watch").code == 0
    soon = datetime.now(UTC) + timedelta(hours=1)
    with unit_of_work(daemon.container.sessions) as session:
        contacts = session.scalars(
            select(NotificationChannel).where(NotificationChannel.module == "Contacts")
        ).one()
        contacts.expires_at = soon
    accounts_before = aware(daemon.channels()["Accounts"].expires_at)

    renewed = cli("zoho", "watch", "--renew", "--margin-hours", "2")
    assert renewed.code == 0, renewed.err
    assert f"channel {contacts.channel_id} (Contacts) renewed until" in renewed.out
    assert "(Accounts)" not in renewed.out
    after = daemon.channels()
    assert aware(after["Contacts"].expires_at) > soon + timedelta(days=6)
    assert after["Contacts"].renewed_at is not None
    assert aware(after["Accounts"].expires_at) == accounts_before
    held = daemon.sandbox.watch.channels[(contacts.channel_id, "Contacts")]
    assert held.expires_at > time.time() + 6 * 86_400
    assert cli("zoho", "watch", "--renew").out.strip() == "no channel expires within 24 hour(s)"

    listed = cli("zoho", "channels", "--json")
    assert sorted(c["module"] for c in json.loads(listed.out)) == ["Accounts", "Contacts"]
    assert all(token not in listed.out for token in daemon.tokens())

    stopped = cli("zoho", "watch", "--stop")
    assert stopped.code == 0, stopped.err
    assert stopped.out.startswith("stopped 2 channel(s)")
    assert daemon.sandbox.watch.channels == {}
    assert daemon.channels() == {}


def test_stop_removes_channels_calling_our_url_past_the_first_page_of_zohos_listing(
    cli: Cli, daemon: Daemon
) -> None:
    sandbox, url = daemon.sandbox, f"{daemon.callback.url}/zoho/notify"
    for n in range(205):  # one page lists 200
        item = {"channel_id": str(1000 + n), "events": ["Contacts.all"], "notify_url": url}
        assert sandbox.watch.subscribe(item, 0, sandbox.now(), sandbox.base_url)["status"] == "success"

    stopped = cli("zoho", "watch", "--stop")
    assert stopped.code == 0, stopped.err
    assert stopped.out.startswith("stopped 205 channel(s)")
    assert sandbox.watch.channels == {}
