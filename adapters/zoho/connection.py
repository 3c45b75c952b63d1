"""Everything that talks to one Zoho CRM org, built from settings: the composition root calls `connect`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx

from adapters.zoho.auth import PROVIDER, TokenSource, ZohoAuth, ZohoTokenClient
from adapters.zoho.client import ZohoApi
from adapters.zoho.datacentres import endpoints
from adapters.zoho.field_cache import FieldMetadata, FieldStore
from adapters.zoho.limits import Concurrency, CreditMeter, SpendingLog, edition_budget
from adapters.zoho.push import ZohoStatusSink
from adapters.zoho.records import ZohoRecords
from adapters.zoho.watch import ZohoChannels
from connector.errors import ConfigError
from connector.retry import RetryPolicy
from connector.settings import ZohoSettings


@dataclass
class ZohoConnection:
    settings: ZohoSettings
    http: httpx.Client
    tokens: ZohoTokenClient
    api: ZohoApi
    records: ZohoRecords
    sink: ZohoStatusSink
    channels: ZohoChannels
    meter: CreditMeter

    def close(self) -> None:
        self.meter.flush()
        self.http.close()


def retry_policy(settings: ZohoSettings) -> RetryPolicy:
    return RetryPolicy(
        attempts=settings.retry_attempts,
        initial_wait=settings.retry_initial_wait_s,
        max_wait=settings.retry_max_wait_s,
    )


def token_client(settings: ZohoSettings, http: httpx.Client) -> ZohoTokenClient:
    if not settings.client_id or settings.client_secret is None:
        raise ConfigError(
            "zoho.client_id and zoho.client_secret are not set",
            ["create a Self Client in the Zoho API console and put its id and secret in the settings"],
        )
    accounts = settings.accounts_url or endpoints(settings.data_centre, settings.environment).accounts_url
    return ZohoTokenClient(http, accounts, settings.client_id, settings.client_secret)


def org_key(settings: ZohoSettings) -> str:
    """The org the settings reach, as what is kept about it is keyed: its environment, data centre (or
    API host) and the self client's id."""
    where = settings.api_url or settings.data_centre
    return f"{PROVIDER}:{settings.environment}:{where}:{settings.client_id}"


def connect(
    settings: ZohoSettings,
    store: TokenSource,
    spending: SpendingLog,
    fields: FieldStore,
    http: httpx.Client | None = None,
) -> ZohoConnection:
    """A connection to the configured org; `http` is injected by tests (MockTransport), else created."""
    concurrency = Concurrency(settings.edition)
    client = http or httpx.Client(
        timeout=settings.timeout_s,
        limits=httpx.Limits(max_connections=concurrency.limit, max_keepalive_connections=concurrency.limit),
    )
    tokens = token_client(settings, client)
    budget = settings.daily_credit_budget or edition_budget(settings.edition, settings.licensed_users)
    meter = CreditMeter(PROVIDER, budget, spending)
    api = ZohoApi(
        client,
        ZohoAuth(store, tokens),
        meter,
        concurrency,
        retry_policy(settings),
        api_url=settings.api_url,
        fallback_api_url=endpoints(settings.data_centre, settings.environment).api_url,
        environment=settings.environment,
    )
    return ZohoConnection(
        settings,
        client,
        tokens,
        api,
        ZohoRecords(api, settings.page_size),
        ZohoStatusSink(
            api, FieldMetadata(api, fields, org_key(settings), timedelta(hours=settings.field_metadata_hours))
        ),
        ZohoChannels(api),
        meter,
    )
