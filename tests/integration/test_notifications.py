"""Notification channels, the callback endpoint and the inbox, on SQLite and PostgreSQL (no CRM needed)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import BudgetExhaustedError, TransientRemoteError
from connector.mapping.files import MappingSet, load_mapping_set
from connector.master.models import CustomerBinding
from connector.ports import Changed, Deletion
from connector.security.cipher import FieldCipher
from connector.security.keys import read_keyring_file, save_keyring
from connector.settings import ZohoSettings
from connector.sync.channels import (
    TOKEN_FIELD,
    ChannelRequest,
    RemoteChannel,
    list_channels,
    renew_channels,
    stop_channels,
    watch_modules,
)
from connector.sync.leases import lease
from connector.sync.notification_models import InboxNotification, NotificationChannel
from connector.sync.notifications import Callback, process_notifications, receive_callback
from connector.web.app import build_web_app
from tests.conftest import REPO

URL = "https://connector.example.com/zoho/notify"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeChannels:
    """The CRM's side of channels, in memory: grants what is asked, remembers what it holds."""

    def __init__(self) -> None:
        self.held: dict[str, ChannelRequest] = {}
        self.calls: list[tuple[str, str]] = []

    def subscribe(self, request: ChannelRequest) -> datetime:
        self.calls.append(("subscribe", request.channel_id))
        self.held[request.channel_id] = request
        return request.expires_at

    def renew(self, request: ChannelRequest) -> datetime:
        self.calls.append(("renew", request.channel_id))
        self.held[request.channel_id] = request
        return request.expires_at

    def listing(self) -> list[RemoteChannel]:
        return [RemoteChannel(r.channel_id, r.events, r.notify_url, r.expires_at) for r in self.held.values()]

    def unsubscribe(self, channel_ids: Sequence[str]) -> None:
        self.calls.append(("unsubscribe", ",".join(channel_ids)))
        for channel_id in channel_ids:
            del self.held[channel_id]


class FakeContacts:
    """A CRM's Contacts read by id; `failure` is raised instead while set."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.failure: Exception | None = None

    def put(self, record_id: str, name: str, email: str) -> None:
        self.records[record_id] = {
            "id": record_id,
            "Full_Name": name,
            "Email": email,
            "Mailing_Country": "China",
            "Modified_Time": "2026-03-02T09:00:00+08:00",
        }

    def by_ids(self, stream: str, fields: Sequence[str], ids: Sequence[str]) -> list[Changed]:
        if self.failure is not None:
            raise self.failure
        return [
            Changed(i, datetime.fromisoformat(self.records[i]["Modified_Time"]), self.records[i])
            for i in ids
            if i in self.records
        ]

    def changes(
        self, stream: str, fields: Sequence[str], since: datetime | None, seen_at_since: frozenset[str]
    ) -> Iterator[list[Changed]]:
        raise NotImplementedError

    def deletions(self, stream: str, since: datetime | None) -> Iterator[list[Deletion]]:
        raise NotImplementedError


@pytest.fixture
def connector(container: Container) -> Container:
    """The test database's container, configured with a callback URL."""
    settings = container.settings.model_copy(update={"zoho": ZohoSettings(callback_url=URL)})
    return dataclasses.replace(container, settings=settings)


@pytest.fixture
def mappings() -> MappingSet:
    found, problems = load_mapping_set(REPO / "mappings")
    assert found is not None, problems
    return found


@pytest.fixture
def crm() -> FakeChannels:
    return FakeChannels()


def subscribed(connector: Container, crm: FakeChannels, module: str = "Contacts") -> ChannelRequest:
    (view,) = watch_modules(connector, [module], channels=crm, clock=lambda: NOW)
    return crm.held[view.channel_id]


def inbox(connector: Container) -> list[InboxNotification]:
    with unit_of_work(connector.sessions) as session:
        return list(session.scalars(select(InboxNotification).order_by(InboxNotification.id)))


def notify(
    connector: Container, channel: ChannelRequest, operation: str, *ids: str, module: str = "Contacts"
) -> None:
    callback = Callback(channel.channel_id, channel.token, module, operation, ids)
    assert receive_callback(connector, callback).stored_id is not None


# --- channels ---------------------------------------------------------------------------------------


def test_watching_subscribes_a_channel_per_module_with_its_own_token_kept_encrypted(
    connector: Container, crm: FakeChannels
) -> None:
    views = watch_modules(connector, ["Contacts", "Accounts"], channels=crm, clock=lambda: NOW)
    assert [(v.module, v.events, v.notify_url) for v in views] == [
        ("Contacts", ("Contacts.all",), URL),
        ("Accounts", ("Accounts.all",), URL),
    ]
    assert all(NOW + timedelta(days=6) < v.expires_at < NOW + timedelta(days=7) for v in views)
    tokens = {r.token for r in crm.held.values()}
    assert len(tokens) == 2
    with unit_of_work(connector.sessions) as session:
        for row in session.scalars(select(NotificationChannel)):
            assert row.token_enc not in tokens
            assert connector.cipher.decrypt(TOKEN_FIELD, row.token_enc) == crm.held[row.channel_id].token


def test_watching_again_renews_the_same_channels_instead_of_adding_new_ones(
    connector: Container, crm: FakeChannels
) -> None:
    first = subscribed(connector, crm)
    later = NOW + timedelta(days=3)
    (view,) = watch_modules(connector, ["Contacts"], channels=crm, clock=lambda: later)
    assert view.channel_id == first.channel_id
    assert crm.calls == [("subscribe", first.channel_id), ("renew", first.channel_id)]
    assert crm.held[first.channel_id].token == first.token
    assert view.expires_at > later + timedelta(days=6)


def test_renewal_extends_only_the_channels_that_expire_within_the_margin(
    connector: Container, crm: FakeChannels
) -> None:
    watch_modules(connector, ["Contacts"], channels=crm, clock=lambda: NOW)
    watch_modules(connector, ["Accounts"], channels=crm, clock=lambda: NOW + timedelta(days=3))
    crm.calls.clear()
    six_days_on = NOW + timedelta(days=6, hours=12)
    renewed = renew_channels(connector, timedelta(days=1), channels=crm, clock=lambda: six_days_on)
    assert [(v.module, v.error) for v in renewed] == [("Contacts", None)]
    assert renewed[0].expires_at > six_days_on + timedelta(days=6)
    assert [call for call, _ in crm.calls] == ["renew"]
    assert renew_channels(connector, timedelta(days=1), channels=crm, clock=lambda: six_days_on) == []


def test_stopping_unsubscribes_ours_and_any_channel_still_calling_our_url(
    connector: Container, crm: FakeChannels
) -> None:
    ours = subscribed(connector, crm)
    orphan = dataclasses.replace(ours, channel_id="999", events=("Accounts.all",))
    crm.held["999"] = orphan
    crm.held["555"] = dataclasses.replace(ours, channel_id="555", notify_url="https://elsewhere/zoho/notify")
    assert stop_channels(connector, channels=crm) == sorted([ours.channel_id, "999"])
    assert list(crm.held) == ["555"]
    assert list_channels(connector) == []


# --- the endpoint -----------------------------------------------------------------------------------


def call(app: Starlette, method: str, path: str, **options: Any) -> httpx.Response:
    """One request to the ASGI app in process."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://connector.test") as client:
            return await client.request(method, path, **options)

    return asyncio.run(send())


def body(channel: ChannelRequest, token: str, operation: str = "update") -> dict[str, Any]:
    return {
        "server_time": 1718117126473,
        "query_params": {},
        "module": "Contacts",
        "ids": ["5725767000000200001"],
        "affected_fields": [],
        "operation": operation,
        "channel_id": channel.channel_id,
        "token": token,
    }


def test_a_verified_callback_is_stored_before_it_is_answered(connector: Container, crm: FakeChannels) -> None:
    channel = subscribed(connector, crm)
    answer = call(build_web_app(connector), "POST", "/zoho/notify", json=body(channel, channel.token))
    assert answer.status_code == 200
    (stored,) = inbox(connector)
    assert (stored.channel_id, stored.module, stored.operation, stored.status) == (
        channel.channel_id,
        "Contacts",
        "update",
        "pending",
    )
    assert json.loads(stored.ids_json) == ["5725767000000200001"]
    assert stored.server_time == 1718117126473


def test_a_callback_holding_a_lone_surrogate_is_stored_with_a_replacement_character(
    connector: Container, crm: FakeChannels
) -> None:
    channel = subscribed(connector, crm)
    cut = json.dumps({**body(channel, channel.token), "ids": ["5725767000000200001\ud83d"]})  # as \ud83d
    answer = call(build_web_app(connector), "POST", "/zoho/notify", content=cut.encode())
    assert answer.status_code == 200
    (stored,) = inbox(connector)
    assert json.loads(stored.ids_json) == ["5725767000000200001\ufffd"]


def test_a_callback_on_a_channel_whose_token_another_process_sealed_with_a_new_key_is_accepted(
    connector: Container, crm: FakeChannels
) -> None:
    channel = subscribed(connector, crm)
    keys_file = connector.settings.security.keys_file
    rotated = read_keyring_file(keys_file).rotated()
    save_keyring(keys_file, rotated)  # `connector keys rotate` in another process, re-sealing the token
    with unit_of_work(connector.sessions) as session:
        row = session.get_one(NotificationChannel, channel.channel_id)
        row.token_enc = FieldCipher(rotated).encrypt(TOKEN_FIELD, channel.token)

    answer = call(build_web_app(connector), "POST", "/zoho/notify", json=body(channel, channel.token))

    assert answer.status_code == 200


def test_the_same_callback_again_is_answered_but_stored_and_processed_once(
    connector: Container, crm: FakeChannels
) -> None:
    channel = subscribed(connector, crm)
    app = build_web_app(connector)
    first = call(app, "POST", "/zoho/notify", json=body(channel, channel.token))
    again = call(app, "POST", "/zoho/notify", json=body(channel, channel.token))
    later = call(
        app, "POST", "/zoho/notify", json={**body(channel, channel.token), "server_time": 1718117999000}
    )
    assert [first.status_code, again.status_code, later.status_code] == [200, 200, 200]
    assert [note.server_time for note in inbox(connector)] == [1718117126473, 1718117999000]


def test_a_wrong_token_or_an_unknown_channel_is_refused_with_403_stores_nothing_and_logs_no_token(
    connector: Container, crm: FakeChannels, caplog: pytest.LogCaptureFixture
) -> None:
    channel = subscribed(connector, crm)
    forged = "forged-token-0123456789-abcdefghij"
    stranger = dataclasses.replace(channel, channel_id="123456789")
    app = build_web_app(connector)
    elsewhere = {**body(channel, channel.token), "module": "Accounts"}
    with caplog.at_level(logging.INFO):
        wrong = call(app, "POST", "/zoho/notify", json=body(channel, forged))
        unknown = call(app, "POST", "/zoho/notify", json=body(stranger, channel.token))
        other_module = call(app, "POST", "/zoho/notify", json=elsewhere)
    assert [wrong.status_code, unknown.status_code, other_module.status_code] == [403, 403, 403]
    assert inbox(connector) == []
    assert f"wrong token for channel {channel.channel_id}" in caplog.text
    assert "unknown channel for channel 123456789" in caplog.text
    assert forged not in caplog.text
    assert channel.token not in caplog.text
    assert forged not in wrong.text


def test_a_body_that_is_not_a_notification_is_a_400(connector: Container) -> None:
    app = build_web_app(connector)
    assert call(app, "POST", "/zoho/notify", content=b"{not json").status_code == 400
    assert call(app, "POST", "/zoho/notify", json={"channel_id": "1"}).status_code == 400
    assert call(app, "POST", "/zoho/notify", content=b"x" * (2 << 20)).status_code == 413
    nested = b"[" * 100_000 + b"]" * 100_000  # deep enough to exhaust the parser, under the size limit
    assert call(app, "POST", "/zoho/notify", content=nested).status_code == 400
    assert call(app, "GET", "/health").json() == {"status": "ok", "message": "healthy"}
    assert inbox(connector) == []


# --- processing -------------------------------------------------------------------------------------


def bindings(connector: Container) -> dict[str, str]:
    with unit_of_work(connector.sessions) as session:
        rows = session.execute(select(CustomerBinding.external_id, CustomerBinding.status)).all()
    return dict(rows)


def test_processing_applies_inserts_updates_and_deletes_to_the_customer_master(
    connector: Container, crm: FakeChannels, mappings: MappingSet
) -> None:
    channel = subscribed(connector, crm)
    contacts = FakeContacts()
    contacts.put("101", "王小明", "wang@acme.cn")
    notify(connector, channel, "insert", "101")
    first = process_notifications(connector, mappings, source=contacts)
    assert first.outcomes == {"processed": 1}
    assert first.applied["created"] == 1
    assert bindings(connector) == {"101": "active"}

    contacts.put("101", "王小明", "xiaoming.wang@acme.cn")
    notify(connector, channel, "update", "101", "404")
    second = process_notifications(connector, mappings, source=contacts)
    assert (second.applied["updated"], second.applied["not_found"]) == (1, 1)
    with unit_of_work(connector.sessions) as session:
        binding = session.scalars(select(CustomerBinding)).one()
        assert connector.customers(session).view(binding.customer_id).email == "xiaoming.wang@acme.cn"

    notify(connector, channel, "delete", "101")
    third = process_notifications(connector, mappings, source=contacts)
    assert third.applied == {"deleted": 1}
    assert bindings(connector) == {"101": "deleted"}
    assert [n.status for n in inbox(connector)] == ["processed"] * 3
    assert json.loads(inbox(connector)[1].counts_json or "{}")["updated"] == 1


def test_a_failed_notification_stays_pending_for_the_next_round(
    connector: Container, crm: FakeChannels, mappings: MappingSet
) -> None:
    channel = subscribed(connector, crm)
    contacts = FakeContacts()
    contacts.put("7", "Li Wei", "li@acme.cn")
    contacts.failure = TransientRemoteError("zoho: read 1 Contacts by id: HTTP 503")
    notify(connector, channel, "update", "7")
    assert process_notifications(connector, mappings, source=contacts).outcomes == {"retry": 1}
    (held,) = inbox(connector)
    assert (held.status, held.attempts) == ("pending", 1)
    assert held.error is not None
    assert "HTTP 503" in held.error
    contacts.failure = None
    assert process_notifications(connector, mappings, source=contacts).outcomes == {"processed": 1}
    assert bindings(connector) == {"7": "active"}


def test_a_notification_waits_while_a_pull_writes_its_modules_records(
    connector: Container, crm: FakeChannels, mappings: MappingSet
) -> None:
    channel = subscribed(connector, crm)
    contacts = FakeContacts()
    contacts.put("7", "Li Wei", "li@acme.cn")
    notify(connector, channel, "update", "7")
    notify(connector, channel, "update", "8")
    accounts = subscribed(connector, crm, "Accounts")
    notify(connector, accounts, "delete", "900", module="Accounts")
    with lease(connector.sessions, "pull zoho.Contacts"):  # its pages may hold an older Li Wei
        waited = process_notifications(connector, mappings, source=contacts, limit=2)
        assert waited.outcomes == {"waiting": 2, "processed": 1}  # the Accounts one is not held up
    assert [(n.module, n.status, n.attempts) for n in inbox(connector)] == [
        ("Contacts", "pending", 0),
        ("Contacts", "pending", 0),
        ("Accounts", "processed", 1),
    ]
    assert process_notifications(connector, mappings, source=contacts).outcomes == {"processed": 2}


def test_a_spent_budget_ends_the_round_with_the_notification_untouched(
    connector: Container, crm: FakeChannels, mappings: MappingSet
) -> None:
    channel = subscribed(connector, crm)
    contacts = FakeContacts()
    contacts.failure = BudgetExhaustedError("zoho: the daily API credit budget (10) is spent")
    notify(connector, channel, "update", "7")
    notify(connector, channel, "update", "8")
    result = process_notifications(connector, mappings, source=contacts)
    assert result.stopped is not None
    assert "budget" in result.stopped
    assert [(n.status, n.attempts) for n in inbox(connector)] == [("pending", 0), ("pending", 0)]


def test_a_notification_for_a_module_without_an_inbound_mapping_is_skipped(
    connector: Container, crm: FakeChannels, mappings: MappingSet
) -> None:
    (view,) = watch_modules(connector, ["Leads"], channels=crm, clock=lambda: NOW)
    leads = crm.held[view.channel_id]
    callback = Callback(leads.channel_id, leads.token, "Leads", "insert", ("1",))
    assert receive_callback(connector, callback).stored_id is not None
    assert process_notifications(connector, mappings, source=FakeContacts()).outcomes == {"skipped": 1}
    (skipped,) = inbox(connector)
    assert skipped.error == "no inbound mapping for zoho.Leads"
