"""A `ZohoApi` over an `httpx.MockTransport`, with a fixed token: for the adapter's contract tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr

from adapters.zoho.auth import ZohoAuth, ZohoTokenClient
from adapters.zoho.client import ZohoApi
from adapters.zoho.limits import Concurrency, CreditMeter, MemorySpendingLog
from connector.retry import RetryPolicy
from connector.security.credentials import IssuedToken, Refresh

API = "https://www.zohoapis.com.cn"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class FixedToken:
    def __init__(self) -> None:
        self.refreshed = 0

    def access_token(self, provider: str, refresh: Refresh, rejected: str | None = None) -> IssuedToken:
        if rejected is not None:
            self.refreshed += 1
        return IssuedToken(f"1000.token{self.refreshed}", API, NOW + timedelta(hours=1))


def fake_api(
    handler: Callable[[httpx.Request], httpx.Response], budget: int = 10_000, attempts: int = 4
) -> tuple[ZohoApi, CreditMeter]:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    tokens = ZohoTokenClient(http, "https://accounts.zoho.com.cn", "1000.C", SecretStr("s"))
    meter = CreditMeter("zoho", budget, MemorySpendingLog(), clock=lambda: NOW)
    retry = RetryPolicy(attempts=attempts, initial_wait=0.0, max_wait=0.0, sleep=lambda _: None)
    return ZohoApi(http, ZohoAuth(FixedToken(), tokens), meter, Concurrency("enterprise"), retry), meter
