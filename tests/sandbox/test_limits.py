"""Concurrency, API credits and injected faults answer the way Zoho's gateway does."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from adapters.zoho.sandbox import FaultConfig, ManualClock, SandboxServer
from tests.sandbox.conftest import EPOCH, Api, connect

TOO_MANY = {
    "code": "TOO_MANY_REQUESTS",
    "details": {},
    "message": "Number of API requests for the 24 hour period is exceeded "
    "or the concurrency limit of the user for the app is exceeded.",
    "status": "error",
}


def test_calls_beyond_the_concurrency_limit_get_429(start: Callable[..., SandboxServer]) -> None:
    server = start(edition="free", faults=FaultConfig(latency_s=0.4))
    token = connect(server).token

    def call(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            return http.get("/crm/v8/org", headers={"Authorization": f"Zoho-oauthtoken {token}"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, range(8)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {200, 429}
    assert statuses.count(200) <= 5
    assert next(a for a in answers if a.status_code == 429).json() == TOO_MANY
    assert server.sandbox.limits.peak_in_flight == 5


def test_complex_calls_beyond_their_sub_concurrency_get_429(start: Callable[..., SandboxServer]) -> None:
    server = start(sub_concurrency_limit=1, faults=FaultConfig(latency_s=0.4))
    token = connect(server).token
    query = {"fields": "Last_Name", "sort_by": "Modified_Time"}  # a sorted listing is a complex call

    def call(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            headers = {"Authorization": f"Zoho-oauthtoken {token}"}
            return http.get("/crm/v8/Contacts", params=query, headers=headers)

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = [answer.status_code for answer in pool.map(call, range(4))]
    assert statuses.count(200) == 1
    assert statuses.count(429) == 3


def test_malformed_ids_and_numbers_are_zoho_errors_not_server_errors(api: Api) -> None:
    assert api.get("/Contacts", params={"fields": "Email", "per_page": "²"}).status_code == 400
    assert api.get("/Contacts/²", params={"fields": "Email"}).status_code == 204
    criteria = {"criteria": "(Employees:greater_than:NaN)"}
    assert api.get("/Accounts/search", params=criteria).status_code in (204, 400)
    account = api.server.sandbox.record_ids("Accounts")[0]
    huge = api.send("PUT", "/Accounts", {"data": [{"id": account, "Outstanding_Balance": 1e300}]})
    assert huge.json()["data"][0]["code"] == "INVALID_DATA"


def test_exhausted_daily_credits_answer_429_until_the_window_rolls(
    start: Callable[..., SandboxServer],
) -> None:
    clock = ManualClock(EPOCH)
    api = connect(start(clock=clock, daily_credits=5, token_lifetime_s=10**6))
    headers = [api.get("/org").headers.get("X-API-CREDITS-REMAINING") for _ in range(5)]
    assert headers == [None, None, "2", "1", "0"]
    exhausted = api.get("/org")
    assert (exhausted.status_code, exhausted.json()) == (429, TOO_MANY)
    clock.advance(86_400)
    assert api.get("/org").status_code == 200


def test_writes_cost_one_credit_per_ten_records_and_deleted_listing_two(api: Api) -> None:
    sandbox = api.server.sandbox
    before = sandbox.limits.used()
    ids = sandbox.record_ids("Contacts")[:25]
    api.send("PUT", "/Contacts", {"data": [{"id": i, "Title": "X"} for i in ids]})
    assert sandbox.limits.used() - before == 3
    api.get("/Contacts/deleted")
    assert sandbox.limits.used() - before == 5


def test_every_nth_call_is_throttled_when_bursts_are_configured(start: Callable[..., SandboxServer]) -> None:
    api = connect(start(faults=FaultConfig(burst_429_every=3)))
    statuses = [api.get("/org").status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 200, 200, 429]


def test_error_rate_answers_internal_error(start: Callable[..., SandboxServer]) -> None:
    server = start()
    api = connect(server)
    server.sandbox.faults.error_rate = 1.0
    answer = api.get("/org")
    assert answer.status_code == 500
    assert answer.json()["code"] == "INTERNAL_ERROR"
    server.sandbox.faults.error_status = 503
    assert api.get("/org").status_code == 503
    server.sandbox.faults.error_rate = 0.0
    assert api.get("/org").status_code == 200
