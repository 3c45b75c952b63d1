"""What a sandbox serves and how it misbehaves: data size, credentials, edition limits and fault knobs.

Limits follow Zoho's published tables (API credits per rolling 24 h, concurrency per edition); every
number can be overridden so tests can hit a wall after a handful of calls instead of thousands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from adapters.zoho.limits import CONCURRENCY, SUB_CONCURRENCY, edition_budget
from connector.settings import ZohoEdition

Edition = ZohoEdition

DEFAULT_SCOPES: tuple[str, ...] = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.ALL",
    "ZohoCRM.users.READ",
    "ZohoCRM.org.READ",
    "ZohoCRM.notifications.ALL",
    "ZohoSearch.securesearch.READ",
)

IST = timezone(timedelta(hours=5, minutes=30))


@dataclass
class FaultConfig:
    """Knobs for trouble; the live copy on `Sandbox.faults` can be changed while the server runs."""

    error_rate: float = 0.0  # share of API calls answered with `error_status` (seeded, reproducible)
    error_status: int = 500  # 500 gives Zoho's INTERNAL_ERROR JSON; 502/503/504 a gateway's plain text
    latency_s: float = 0.0  # added to every API call before it is processed (keeps it "in flight")
    burst_429_every: int = 0  # every Nth API call starts a burst of TOO_MANY_REQUESTS (0 = off)
    burst_429_length: int = 1  # calls per burst
    locked_ids: set[str] = field(default_factory=set)  # updates/deletes of these ids fail RECORD_LOCKED
    invalid_data: dict[str, str] = field(
        default_factory=dict
    )  # record id → field api name rejected as invalid


@dataclass
class SandboxConfig:
    """Everything a sandbox is built from; the same seed always yields the same records and ids."""

    seed: int = 1
    contacts: int = 1_000
    accounts: int | None = None  # default: one account per four contacts (at least one when contacts > 0)
    edition: Edition = "enterprise"
    licensed_users: int = 10
    daily_credits: int | None = None  # override of the edition's budget
    concurrency_limit: int | None = None  # override of the edition's concurrency
    sub_concurrency_limit: int = SUB_CONCURRENCY
    token_lifetime_s: int = 3600
    token_rate_limit: int = 10  # access tokens per refresh token per window …
    token_rate_window_s: int = 600  # … of 10 minutes
    grant_code_lifetime_s: int = 180
    client_id: str = "1000.SANDBOX0CLIENT0ID0000000000000"
    client_secret: str = "sandbox-client-secret-0000000000000000000000"
    refresh_token: str = "1000.sandbox0refresh0token000000000000.0000000000000000000000000000000"
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    utc_offset_minutes: int = 330  # datetimes are rendered in the API user's zone (+05:30 by default)
    time_zone: str = "Asia/Kolkata"
    epoch: datetime = datetime(2024, 6, 1, tzinfo=IST)  # seeded records are created/modified before this
    history_days: int = 730
    org_id_prefix: int = 5725767  # 7 digits → 19-digit record ids, as in a typical US-DC org
    page_token_record_limit: int = 100_000
    discrete_page_record_limit: int = 2_000
    page_token_lifetime_s: int = 86_400
    search_result_limit: int = 2_000
    ledger_fields: bool = (
        True  # Accounts carries the connector's custom figure fields (Outstanding_Balance …)
    )
    strict_fields: bool = True  # writing an unknown field api name is INVALID_DATA (v8 behaviour)
    base_currency: str = "CNY"
    company_name: str = "星河贸易有限公司 Galaxy Trading Co."
    clock: Callable[[], float] = time.time
    faults: FaultConfig = field(default_factory=FaultConfig)

    def account_count(self) -> int:
        if self.accounts is not None:
            return self.accounts
        return max(1, self.contacts // 4) if self.contacts > 0 else 0

    def concurrency(self) -> int:
        return self.concurrency_limit if self.concurrency_limit is not None else CONCURRENCY[self.edition]

    def credit_budget(self) -> int:
        if self.daily_credits is not None:
            return self.daily_credits
        return edition_budget(self.edition, self.licensed_users)
