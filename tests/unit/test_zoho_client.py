"""How the Zoho client reads answers: successes, empty answers, throttling, budgets and refusals."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from adapters.zoho.client import ZohoApiError
from adapters.zoho.limits import CreditMeter, MemorySpendingLog, write_call_cost
from connector import retry
from connector.errors import AuthenticationError, BudgetExhaustedError, StoppingError, TransientRemoteError
from tests.unit.zoho_fakes import NOW, fake_api


def test_amounts_in_answers_are_decimals_never_floats() -> None:
    api, _ = fake_api(lambda r: httpx.Response(200, content=b'{"data":[{"id":"1","Amount":1234.10}]}'))
    assert api.call("GET", "/Accounts", what="read").data[0]["Amount"] == Decimal("1234.10")


def test_a_lone_surrogate_in_an_answer_is_read_as_a_replacement_character() -> None:
    api, _ = fake_api(
        lambda r: httpx.Response(200, content=b'{"data":[{"id":"1","Full_Name":"Li \\ud83d"}]}')
    )
    assert api.call("GET", "/Contacts", what="read").data[0]["Full_Name"] == "Li \ufffd"


def test_decimal_values_are_sent_as_exact_json_numbers() -> None:
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(200, json={"data": []})

    api, _ = fake_api(handler)
    api.call("PUT", "/Accounts", body={"data": [{"id": "1", "Balance": Decimal("0.10")}]}, what="write")
    assert sent == [b'{"data":[{"id":"1","Balance":0.10}]}']


@pytest.mark.parametrize("status", [204, 304])
def test_no_content_and_not_modified_are_empty_answers(status: int) -> None:
    api, _ = fake_api(lambda r: httpx.Response(status))
    answer = api.call("GET", "/Contacts", what="list")
    assert answer.body is None
    assert answer.data == []


def test_calls_carry_the_zoho_oauthtoken_header_and_the_v8_path() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    api, _ = fake_api(handler)
    api.call("GET", "/Contacts", what="list")
    assert seen[0].headers["Authorization"] == "Zoho-oauthtoken 1000.token0"
    assert str(seen[0].url) == "https://www.zohoapis.com.cn/crm/v8/Contacts"


def test_throttling_and_server_errors_are_retried_until_an_answer_comes() -> None:
    answers = iter(
        [
            httpx.Response(429, json={"code": "TOO_MANY_REQUESTS"}),
            httpx.Response(503, text="upstream unavailable"),
            httpx.Response(200, json={"data": [{"id": "1"}]}),
        ]
    )
    api, meter = fake_api(lambda r: next(answers))
    assert api.call("GET", "/Contacts", what="list").data == [{"id": "1"}]
    assert meter.spent_by_me == 2  # the throttled attempt cost nothing; the failed one may have


def test_a_429_storm_spends_no_more_credits_than_the_call_itself() -> None:
    answers = iter([httpx.Response(429, json={"code": "TOO_MANY_REQUESTS"})] * 3 + [httpx.Response(204)])
    api, meter = fake_api(lambda r: next(answers))
    api.call("PUT", "/Accounts", body={"data": []}, cost=write_call_cost(100), what="update 100")
    assert meter.spent_by_me == write_call_cost(100).credits


def test_a_throttle_that_never_ends_surfaces_as_transient_with_the_call_named() -> None:
    api, _ = fake_api(
        lambda r: httpx.Response(429, headers={"Retry-After": "7"}, json={"code": "TOO_MANY_REQUESTS"})
    )
    with pytest.raises(TransientRemoteError, match="list Contacts: throttled") as caught:
        api.call("GET", "/Contacts", what="list Contacts")
    assert caught.value.retry_after == 7.0


def test_a_server_errors_retry_after_is_honoured_too() -> None:
    api, _ = fake_api(lambda r: httpx.Response(503, headers={"Retry-After": "20"}, text="unavailable"))
    with pytest.raises(TransientRemoteError, match="HTTP 503") as caught:
        api.call("GET", "/Contacts", what="list Contacts")
    assert caught.value.retry_after == 20.0


def test_429_with_no_credits_left_stops_without_retrying() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(
            429, headers={"X-API-CREDITS-REMAINING": "0"}, json={"code": "TOO_MANY_REQUESTS"}
        )

    api, _ = fake_api(handler)
    with pytest.raises(BudgetExhaustedError):
        api.call("GET", "/Contacts", what="list")
    assert calls == [1]


def test_other_client_errors_are_permanent_and_keep_zohos_code_and_details() -> None:
    body = {
        "code": "INVALID_DATA",
        "details": {"api_name": "Phone"},
        "message": "invalid data",
        "status": "error",
    }
    api, _ = fake_api(lambda r: httpx.Response(400, json=body))
    with pytest.raises(ZohoApiError, match="HTTP 400 INVALID_DATA: invalid data") as caught:
        api.call("PUT", "/Contacts", body={"data": []}, what="update")
    assert caught.value.code == "INVALID_DATA"
    assert caught.value.details == {"api_name": "Phone"}


def test_a_scope_mismatch_is_an_authentication_error_with_a_hint() -> None:
    body = {
        "code": "OAUTH_SCOPE_MISMATCH",
        "details": {},
        "message": "invalid oauth scope",
        "status": "error",
    }
    api, _ = fake_api(lambda r: httpx.Response(401, json=body))
    with pytest.raises(AuthenticationError, match="regenerate the grant code"):
        api.call("GET", "/settings/fields", what="fields")


def test_the_local_budget_refuses_a_call_before_it_is_made() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json={"data": []})

    api, meter = fake_api(handler, budget=12)
    api.call("PUT", "/Accounts", body={"data": []}, cost=write_call_cost(100), what="update 100")
    with pytest.raises(BudgetExhaustedError, match="update 100 waits for the next cycle"):
        api.call("PUT", "/Accounts", body={"data": []}, cost=write_call_cost(100), what="update 100")
    assert calls == [1]
    assert meter.remaining() == 2


def test_the_orgs_remaining_credits_header_caps_what_the_meter_will_spend() -> None:
    left = iter(["1", "0"])
    api, meter = fake_api(
        lambda r: httpx.Response(200, headers={"X-API-CREDITS-REMAINING": next(left)}, json={"data": []})
    )
    api.call("GET", "/Contacts", what="list")
    assert meter.remaining() == 1
    api.call("GET", "/Contacts", what="list")
    with pytest.raises(BudgetExhaustedError, match="the org has 0 API credits left"):
        api.call("GET", "/Contacts", what="list")


def test_the_orgs_remainder_is_asked_again_an_hour_after_zoho_said_it() -> None:
    now = [NOW]
    meter = CreditMeter("zoho", 10_000, MemorySpendingLog(), clock=lambda: now[0])
    meter.observe_remaining("0")
    with pytest.raises(BudgetExhaustedError, match="the org has 0 API credits left"):
        meter.charge(1, "list")
    now[0] += timedelta(hours=1, minutes=1)  # Zoho's window rolls on, and it stops sending the header
    meter.charge(1, "list")
    assert meter.remaining() == 9_999


def test_a_per_item_error_body_gives_its_first_items_code() -> None:
    body = {
        "watch": [
            {
                "code": "INVALID_DATA",
                "details": {"api_name": "notify_url"},
                "message": "bad url",
                "status": "error",
            }
        ]
    }
    api, _ = fake_api(lambda r: httpx.Response(400, json=body))
    with pytest.raises(ZohoApiError, match="INVALID_DATA: bad url") as caught:
        api.call("POST", "/actions/watch", body={"watch": []}, what="watch")
    assert caught.value.details == {"api_name": "notify_url"}


def test_a_sandbox_org_is_called_on_the_sandbox_host_though_its_token_names_production() -> None:
    hosts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(204)

    api, _ = fake_api(answer)
    api.environment = "sandbox"
    api.call("GET", "/Contacts", what="list Contacts")
    assert hosts == ["sandbox.zohoapis.com.cn"]


@pytest.fixture
def slow_zoho() -> Iterator[threading.Event]:
    """Zoho answering once the test sets the event (at its end, if not before); a stop told 0.2 s in."""
    answer = threading.Event()
    timer = threading.Timer(0.2, retry.STOPPING.set)
    timer.start()
    try:
        yield answer
    finally:
        timer.cancel()
        answer.set()
        retry.STOPPING.clear()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_read_or_an_idempotent_write_in_flight_gives_way_to_a_stop_at_once(
    slow_zoho: threading.Event, method: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        slow_zoho.wait(30)  # a slow Zoho: the answer after the client's whole timeout
        return httpx.Response(200, json={"data": []})

    api, _ = fake_api(handler)
    started = time.monotonic()
    with pytest.raises(StoppingError, match="zoho: list: answer not waited for, the process is stopping"):
        api.call(method, "/Contacts", what="zoho: list")
    assert time.monotonic() - started < 2


def test_a_post_in_flight_is_waited_for_when_told_to_stop_so_what_it_made_is_recorded(
    slow_zoho: threading.Event,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert retry.STOPPING.wait(5)
        return httpx.Response(201, json={"watch": [{"code": "SUCCESS"}]})

    api, _ = fake_api(handler)
    assert api.call("POST", "/actions/watch", what="zoho: watch").status == 201


def test_a_call_that_gives_way_to_a_stop_raises_its_own_errors_as_before() -> None:
    api, _ = fake_api(lambda r: httpx.Response(400, json={"code": "INVALID_DATA", "message": "no"}))
    with pytest.raises(ZohoApiError, match="INVALID_DATA"):
        api.call("GET", "/Contacts", what="zoho: list")
