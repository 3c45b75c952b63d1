"""Reading records: fields rules, the 2,000-record wall, page tokens, If-Modified-Since, 204/304, shapes."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from adapters.zoho.sandbox import ManualClock, Sandbox, SandboxConfig, SandboxServer
from adapters.zoho.sandbox.timeutil import format_time, zone
from tests.sandbox.conftest import EPOCH, Api, connect

FIELDS = "First_Name,Last_Name,Full_Name,Email,Phone,Account_Name,Mailing_Country,Exchange_Rate,Modified_Time"


def test_paging_25000_records_across_the_2000_wall_returns_each_record_once(
    start: Callable[..., SandboxServer],
) -> None:
    api = connect(start(contacts=25_000))
    seen: list[str] = []
    params: dict[str, str | int] = {
        "fields": FIELDS,
        "per_page": 200,
        "sort_by": "Modified_Time",
        "sort_order": "asc",
    }
    pages = 0
    while True:
        answer = api.get("/Contacts", params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages += 1
        seen.extend(record["id"] for record in body["data"])
        info = body["info"]
        assert info["count"] == len(body["data"])
        assert info["page"] == pages
        if not info["more_records"]:
            assert info["next_page_token"] is None
            break
        params["page_token"] = info["next_page_token"]
    assert pages == 125
    assert len(seen) == len(set(seen)) == 25_000
    assert set(seen) == set(api.server.sandbox.record_ids("Contacts"))


def test_page_eleven_without_token_hits_the_discrete_pagination_limit(api: Api) -> None:
    assert api.get("/Contacts", {"fields": "Email", "page": 10, "per_page": 20}).status_code == 200
    answer = api.get("/Contacts", {"fields": "Email", "page": 11, "per_page": 200})
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
        "details": {"limit": 2000},
        "message": "You can only get the first 2000 records without using page_token param",
        "status": "error",
    }


def test_missing_fields_is_required_param_missing(api: Api) -> None:
    answer = api.get("/Contacts")
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "REQUIRED_PARAM_MISSING",
        "details": {"param_name": "fields"},
        "message": "required param is missing",
        "status": "error",
    }


def test_more_than_fifty_fields_is_limit_exceeded(api: Api) -> None:
    answer = api.get("/Contacts", {"fields": ",".join(f"Field_{n}" for n in range(51))})
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "LIMIT_EXCEEDED",
        "details": {"limit": 50, "param_name": "fields"},
        "message": "limit exceeded",
        "status": "error",
    }


def test_records_hold_only_requested_fields_plus_id(api: Api) -> None:
    records = api.get("/Contacts", {"fields": "Email,Last_Name", "per_page": 5}).json()["data"]
    assert all(set(record) == {"id", "Email", "Last_Name"} for record in records)


def test_per_page_over_200_and_page_with_page_token_are_rejected(api: Api) -> None:
    too_many = api.get("/Contacts", {"fields": "Email", "per_page": 201})
    assert (too_many.status_code, too_many.json()["code"]) == (400, "INVALID_DATA")
    both = api.get("/Contacts", {"fields": "Email", "page": 2, "page_token": "abc"})
    assert (both.status_code, both.json()["code"]) == (400, "AMBIGUITY_DURING_PROCESSING")
    bad_sort = api.get("/Contacts", {"fields": "Email", "sort_by": "Email"})
    assert bad_sort.json()["details"]["supported_values"] == ["id", "Created_Time", "Modified_Time"]


def test_page_token_is_bound_to_the_original_parameters(api: Api) -> None:
    first = api.get("/Contacts", {"fields": "Email", "per_page": 50}).json()
    token = first["info"]["next_page_token"]
    changed = api.get("/Contacts", {"fields": "Email,Phone", "per_page": 50, "page_token": token})
    assert changed.status_code == 400
    assert changed.json()["code"] == "TOKEN_BOUND_DATA_MISMATCH"
    same = api.get("/Contacts", {"fields": "Email", "per_page": 50, "page_token": token})
    assert same.json()["info"]["page"] == 2


def test_page_token_expires_after_a_day(start: Callable[..., SandboxServer]) -> None:
    clock = ManualClock(EPOCH)
    api = connect(start(clock=clock, token_lifetime_s=10**6))
    token = api.get("/Contacts", {"fields": "Email", "per_page": 10}).json()["info"]["next_page_token"]
    clock.advance(86_401)
    answer = api.get("/Contacts", {"fields": "Email", "per_page": 10, "page_token": token})
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "EXPIRED_VALUE",
        "details": {"api_name": "page_token", "json_path": "$.query.page_token"},
        "message": "Page token expired",
        "status": "error",
    }


def test_page_tokens_stop_at_the_record_limit(start: Callable[..., SandboxServer]) -> None:
    api = connect(start(contacts=900, page_token_record_limit=600))
    params: dict[str, str | int] = {"fields": "Email", "per_page": 200}
    for _ in range(3):
        body = api.get("/Contacts", params).json()
        params["page_token"] = body["info"]["next_page_token"]
    answer = api.get("/Contacts", params)
    assert answer.status_code == 400
    assert answer.json()["code"] == "PAGINATION_LIMIT_EXCEEDED"
    assert answer.json()["details"] == {"param_name": "page_token"}


def test_if_modified_since_lists_only_newer_records_and_304_when_none(api: Api) -> None:
    sandbox = api.server.sandbox
    clock = sandbox.clock
    assert isinstance(clock, ManualClock)
    since = format_time(int(clock()), zone(330))
    edited = sandbox.record_ids("Contacts")[:3]
    for record_id in edited:
        sandbox.edit_as_user("Contacts", record_id, {"Title": "CFO"})
    answer = api.get("/Contacts", {"fields": "Title,Modified_Time"}, **{"If-Modified-Since": since})
    assert answer.status_code == 200
    assert sorted(r["id"] for r in answer.json()["data"]) == sorted(edited)
    assert all(r["Modified_Time"] == since for r in answer.json()["data"])
    later = format_time(int(clock()) + 1, zone(330))
    nothing = api.get("/Contacts", {"fields": "Title"}, **{"If-Modified-Since": later})
    assert (nothing.status_code, nothing.content) == (304, b"")


def test_empty_module_answers_204_without_body(start: Callable[..., SandboxServer]) -> None:
    api = connect(start(contacts=0, accounts=0))
    answer = api.get("/Contacts", {"fields": "Email"})
    assert (answer.status_code, answer.content) == (204, b"")


def test_sort_by_modified_time_ascending_orders_by_modified_time(api: Api) -> None:
    params = {"fields": "Modified_Time", "sort_by": "Modified_Time", "sort_order": "asc"}
    times = [r["Modified_Time"] for r in api.get("/Contacts", params).json()["data"]]
    assert times == sorted(times)
    ids = [int(r["id"]) for r in api.get("/Contacts", {"fields": "Email"}).json()["data"]]
    assert ids == sorted(ids, reverse=True)  # default: id, descending


def test_records_have_zoho_shapes(start: Callable[..., SandboxServer]) -> None:
    api = connect(start(contacts=1000))
    contacts = api.get("/Contacts", {"fields": FIELDS}).json()["data"]
    assert all(re.fullmatch(r"\d{18,19}", r["id"]) for r in contacts)
    assert all(r["Modified_Time"].endswith("+05:30") for r in contacts)
    linked = [r["Account_Name"] for r in contacts if r["Account_Name"]]
    assert linked
    assert all(set(lookup) == {"name", "id"} for lookup in linked)
    assert all(isinstance(r["Exchange_Rate"], int | float) for r in contacts)
    assert any(re.search(r"[\u4e00-\u9fff]", r["Full_Name"]) for r in contacts)
    assert any(r["Full_Name"].isascii() for r in contacts)
    assert len({r["Mailing_Country"] for r in contacts}) >= 5
    accounts = api.get("/Accounts", {"fields": "Account_Name,Annual_Revenue"}).text
    assert re.search(r'"Annual_Revenue":\d+\.\d{2}[,}]', accounts)  # a JSON number with the field's 2 places


def test_money_is_rendered_from_decimal_exactly(api: Api) -> None:
    account_id = api.server.sandbox.record_ids("Accounts")[0]
    api.server.sandbox.edit_as_user(
        "Accounts", account_id, {"Outstanding_Balance": Decimal("12345678901.10")}
    )
    raw = api.get(f"/Accounts/{account_id}").text
    assert '"Outstanding_Balance":12345678901.10' in raw


def test_same_seed_gives_the_same_records(start: Callable[..., SandboxServer]) -> None:
    first, second = Sandbox(SandboxConfig(seed=5, contacts=300)), Sandbox(SandboxConfig(seed=5, contacts=300))
    other = Sandbox(SandboxConfig(seed=6, contacts=300))
    ids = first.record_ids("Contacts")
    assert ids == second.record_ids("Contacts") != other.record_ids("Contacts")
    assert first.record("Contacts", ids[7]) == second.record("Contacts", ids[7])


def test_get_one_record_and_records_by_ids(api: Api) -> None:
    ids = api.server.sandbox.record_ids("Contacts")[:3]
    one = api.get(f"/Contacts/{ids[0]}").json()["data"][0]
    assert one["id"] == ids[0]
    assert "Mailing_City" in one
    assert "Owner" in one
    some = api.get("/Contacts", {"ids": ",".join(ids), "fields": "Email"}).json()
    assert sorted(r["id"] for r in some["data"]) == sorted(ids)
    assert api.get("/Contacts/1234567890123456789").status_code == 204


def test_unknown_module_is_invalid_module(api: Api) -> None:
    answer = api.get("/Leads", {"fields": "Email"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_MODULE"


def test_prerendered_pages_are_identical_to_pages_rendered_on_demand(
    start: Callable[..., SandboxServer],
) -> None:
    cold = connect(start(seed=9, contacts=300))
    warm_server = start(seed=9, contacts=300)
    assert warm_server.sandbox.prerender("Contacts", tuple(FIELDS.split(","))) == 300
    warm = connect(warm_server)
    params = {"fields": FIELDS, "per_page": 100}
    assert cold.get("/Contacts", params).json()["data"] == warm.get("/Contacts", params).json()["data"]
