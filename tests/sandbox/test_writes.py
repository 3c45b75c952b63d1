"""Writing records: per-record results in input order, 200/207/400, upsert, delete and the deleted list."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from adapters.zoho.sandbox import FaultConfig, SandboxServer
from tests.sandbox.conftest import Api, connect


def test_update_with_partial_failure_answers_207_with_per_record_codes_in_order(
    start: Callable[..., SandboxServer],
) -> None:
    server = start(contacts=40, accounts=10)
    ids = server.sandbox.record_ids("Accounts")
    server.sandbox.faults.locked_ids.add(ids[1])
    api = connect(server)
    answer = api.send(
        "PUT",
        "/Accounts",
        {
            "data": [
                {"id": ids[0], "Outstanding_Balance": 1234.56, "Credit_Status": "正常 OK"},
                {"id": ids[1], "Outstanding_Balance": 10},
                {"id": ids[2], "Phone": "call me maybe"},
                {"id": "1234567890123456789", "Outstanding_Balance": 1},
                {"id": ids[3], "Account_Name": None},
                {"Outstanding_Balance": 1},
            ],
            "trigger": [],
        },
    )
    assert answer.status_code == 207
    results = answer.json()["data"]
    assert [r["code"] for r in results] == [
        "SUCCESS",
        "RECORD_LOCKED",
        "INVALID_DATA",
        "INVALID_DATA",
        "MANDATORY_NOT_FOUND",
        "MANDATORY_NOT_FOUND",
    ]
    assert results[0]["details"]["id"] == ids[0]
    assert results[0]["message"] == "record updated"
    assert results[2]["details"] == {
        "expected_data_type": "phone",
        "api_name": "Phone",
        "json_path": "$.data[2].Phone",
    }
    assert results[3]["message"] == "the id given seems to be invalid"
    assert results[4]["details"]["api_name"] == "Account_Name"
    assert results[5]["details"]["api_name"] == "id"
    written = server.sandbox.written("Accounts")
    assert [(w.record_id, w.values) for w in written] == [
        (ids[0], {"Outstanding_Balance": Decimal("1234.56"), "Credit_Status": "正常 OK"})
    ]
    stored = server.sandbox.record("Accounts", ids[0])
    assert stored is not None
    assert stored["Outstanding_Balance"] == Decimal("1234.56")
    assert stored["Modified_By"]["id"] == server.sandbox.api_user.id


def test_all_successful_update_is_200_and_all_failed_is_400(api: Api) -> None:
    ids = api.server.sandbox.record_ids("Contacts")[:2]
    ok = api.send("PUT", "/Contacts", {"data": [{"id": i, "Title": "Buyer"} for i in ids]})
    assert ok.status_code == 200
    failed = api.send("PUT", "/Contacts", {"data": [{"id": i, "Email": "not-an-email"} for i in ids]})
    assert failed.status_code == 400
    assert {r["code"] for r in failed.json()["data"]} == {"INVALID_DATA"}


def test_money_with_more_places_is_rounded_half_up_and_strings_are_invalid(api: Api) -> None:
    account = api.server.sandbox.record_ids("Accounts")[0]
    api.send("PUT", f"/Accounts/{account}", {"data": [{"Credit_Limit": 100.005}]})
    stored = api.server.sandbox.record("Accounts", account)
    assert stored is not None
    assert stored["Credit_Limit"] == Decimal("100.01")
    text = api.send("PUT", "/Accounts", {"data": [{"id": account, "Credit_Limit": "100.00"}]})
    assert text.json()["data"][0]["details"]["expected_data_type"] == "double"


def test_a_number_too_large_for_the_field_is_that_records_invalid_data_not_a_dropped_call(api: Api) -> None:
    accounts = api.server.sandbox.record_ids("Accounts")[:2]
    huge = {"id": accounts[0], "Outstanding_Balance": 1e27}  # read by the sandbox as Decimal("1E+27")
    answer = api.send("PUT", "/Accounts", {"data": [huge, {"id": accounts[1], "Outstanding_Balance": 1}]})
    assert answer.status_code == 207
    assert [r["code"] for r in answer.json()["data"]] == ["INVALID_DATA", "SUCCESS"]


def test_unknown_field_api_name_is_invalid_data(api: Api) -> None:
    account = api.server.sandbox.record_ids("Accounts")[0]
    answer = api.send("PUT", "/Accounts", {"data": [{"id": account, "Outstanding_Balanse": 1}]})
    assert answer.status_code == 400
    assert answer.json()["data"][0]["details"]["api_name"] == "Outstanding_Balanse"


def test_more_than_100_records_per_call_is_rejected(api: Api) -> None:
    answer = api.send("PUT", "/Contacts", {"data": [{"id": "1"}] * 101})
    assert answer.status_code == 400
    assert answer.json()["code"] == "LIMIT_EXCEEDED"


def test_invalid_data_fault_rejects_the_configured_record(start: Callable[..., SandboxServer]) -> None:
    server = start()
    target = server.sandbox.record_ids("Accounts")[0]
    server.sandbox.faults.invalid_data[target] = "Overdue_Amount"
    result = connect(server).send("PUT", "/Accounts", {"data": [{"id": target, "Overdue_Amount": 5}]})
    assert result.json()["data"][0] == {
        "code": "INVALID_DATA",
        "details": {
            "expected_data_type": "currency",
            "api_name": "Overdue_Amount",
            "json_path": "$.data[0].Overdue_Amount",
        },
        "message": "invalid data",
        "status": "error",
    }


def test_insert_adds_records_with_201(api: Api) -> None:
    account = api.server.sandbox.record_ids("Accounts")[0]
    answer = api.send(
        "POST",
        "/Contacts",
        {"data": [{"Last_Name": "李", "First_Name": "雷", "Account_Name": {"id": account}}]},
    )
    assert answer.status_code == 201
    new_id = answer.json()["data"][0]["details"]["id"]
    stored = api.server.sandbox.record("Contacts", new_id)
    assert stored is not None
    assert stored["Full_Name"] == "李雷"
    assert stored["Account_Name"]["id"] == account


def test_upsert_updates_by_email_and_inserts_unknown_ones(api: Api) -> None:
    sandbox = api.server.sandbox
    existing = next(
        r
        for r in map(lambda i: sandbox.record("Contacts", i), sandbox.record_ids("Contacts"))
        if r and r["Email"]
    )
    answer = api.send(
        "POST",
        "/Contacts/upsert",
        {
            "data": [
                {"Email": existing["Email"].upper(), "Last_Name": existing["Last_Name"], "Title": "CEO"},
                {"Email": "new.person@example.com", "Last_Name": "Person"},
            ],
            "duplicate_check_fields": ["Email"],
        },
    )
    assert answer.status_code == 200
    first, second = answer.json()["data"]
    assert (first["action"], first["duplicate_field"], first["details"]["id"]) == (
        "update",
        "Email",
        existing["id"],
    )
    assert (second["action"], second["message"]) == ("insert", "record added")


def test_deleted_records_are_listed_from_the_recycle_bin_then_as_permanent(api: Api) -> None:
    sandbox = api.server.sandbox
    ids = sandbox.record_ids("Contacts")[:3]
    answer = api.send("DELETE", "/Contacts", params={"ids": f"{ids[0]},{ids[1]},999"})
    assert answer.status_code == 207
    assert [r["status"] for r in answer.json()["data"]] == ["success", "success", "error"]
    sandbox.delete_as_user("Contacts", ids[2])
    sandbox.purge_deleted("Contacts", ids[0])
    listed = api.get("/Contacts/deleted", {"type": "all"}).json()
    by_id = {item["id"]: item for item in listed["data"]}
    assert set(by_id) == set(ids)
    assert by_id[ids[1]]["type"] == "recycle"
    assert by_id[ids[1]]["deleted_by"]["id"] == sandbox.api_user.id
    assert by_id[ids[2]]["deleted_by"]["id"] == sandbox.crm_user.id
    assert by_id[ids[0]] == {
        "deleted_by": None,
        "id": ids[0],
        "display_name": None,
        "type": "permanent",
        "created_by": None,
        "deleted_time": by_id[ids[0]]["deleted_time"],
    }
    assert {i["id"] for i in api.get("/Contacts/deleted", {"type": "recycle"}).json()["data"]} == set(ids[1:])
    assert api.get(f"/Contacts/{ids[1]}").status_code == 204
    assert listed["info"] == {"per_page": 200, "count": 3, "page": 1, "more_records": False}


def test_no_deleted_records_answers_204(start: Callable[..., SandboxServer]) -> None:
    assert connect(start(faults=FaultConfig())).get("/Accounts/deleted").status_code == 204
