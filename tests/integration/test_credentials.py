from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import AuthenticationError, TransientRemoteError
from connector.security.credentials import CredentialStore, IssuedToken, TokenLimits
from connector.security.models import RemoteCredential


class FakeTokenServer:
    def __init__(self, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.lifetime = lifetime
        self.now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        self.issued: list[str] = []
        self.lock = threading.Lock()

    def clock(self) -> datetime:
        return self.now

    def refresh(self, refresh_token: str) -> IssuedToken:
        assert refresh_token == "1000.refresh"
        with self.lock:
            token = f"1000.access.{len(self.issued) + 1}"
            self.issued.append(token)
        return IssuedToken(token, "https://www.zohoapis.com.cn", self.now + self.lifetime)


def store_for(container: Container, server: FakeTokenServer, **limits: object) -> CredentialStore:
    store = CredentialStore(container.sessions, container.cipher, TokenLimits(**limits), server.clock)  # type: ignore[arg-type]
    store.save_refresh_token("zoho", "1000.refresh")
    return store


def test_every_thread_shares_one_access_token(container: Container) -> None:
    server = FakeTokenServer()
    store = store_for(container, server)
    tokens: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: tokens.append(store.access_token("zoho", server.refresh).access_token)
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.issued == ["1000.access.1"]
    assert set(tokens) == {"1000.access.1"}


def test_a_second_replica_uses_the_token_the_first_stored(container: Container) -> None:
    server = FakeTokenServer()
    first = store_for(container, server)
    first.access_token("zoho", server.refresh)
    replica = CredentialStore(container.sessions, container.cipher, TokenLimits(), server.clock)
    assert replica.access_token("zoho", server.refresh).access_token == "1000.access.1"
    assert server.issued == ["1000.access.1"]


def test_the_token_is_refreshed_five_minutes_before_it_expires(container: Container) -> None:
    server = FakeTokenServer()
    store = store_for(container, server)
    store.access_token("zoho", server.refresh)
    server.now += timedelta(minutes=54)
    assert store.access_token("zoho", server.refresh).access_token == "1000.access.1"
    server.now += timedelta(minutes=1, seconds=1)
    assert store.access_token("zoho", server.refresh).access_token == "1000.access.2"


def test_a_rejected_token_is_replaced_once_however_many_callers_saw_it_rejected(container: Container) -> None:
    server = FakeTokenServer()
    store = store_for(container, server)
    stale = store.access_token("zoho", server.refresh).access_token
    assert store.access_token("zoho", server.refresh, rejected=stale).access_token == "1000.access.2"
    assert store.access_token("zoho", server.refresh, rejected=stale).access_token == "1000.access.2"
    assert len(server.issued) == 2


def test_the_providers_token_quota_is_never_exceeded(container: Container) -> None:
    server = FakeTokenServer()
    store = store_for(container, server, per_window=2)
    token = store.access_token("zoho", server.refresh).access_token
    token = store.access_token("zoho", server.refresh, rejected=token).access_token
    with pytest.raises(TransientRemoteError) as raised:
        store.access_token("zoho", server.refresh, rejected=token)
    assert raised.value.retry_after == 600.0
    server.now += timedelta(minutes=10)
    assert store.access_token("zoho", server.refresh, rejected=token).access_token == "1000.access.3"


def test_without_a_refresh_token_the_connector_asks_to_be_authorized(container: Container) -> None:
    store = CredentialStore(container.sessions, container.cipher)
    with pytest.raises(AuthenticationError, match="authorize the connector first"):
        store.access_token("zoho", FakeTokenServer().refresh)


def test_tokens_are_stored_encrypted(container: Container) -> None:
    server = FakeTokenServer()
    store_for(container, server).access_token("zoho", server.refresh)
    with unit_of_work(container.sessions) as session:
        row = session.scalars(select(RemoteCredential)).one()
    assert "1000.refresh" not in row.refresh_token_enc
    assert row.access_token_enc is not None
    assert "1000.access" not in row.access_token_enc
