"""Metadata and search: fields (read and create), current user, org, record search."""

from __future__ import annotations

from decimal import Decimal

from tests.sandbox.conftest import Api


def test_fields_metadata_lists_api_names_and_types(api: Api) -> None:
    fields = {f["api_name"]: f for f in api.get("/settings/fields", {"module": "Accounts"}).json()["fields"]}
    assert fields["Account_Name"]["system_mandatory"] is True
    assert fields["Outstanding_Balance"]["data_type"] == "currency"
    assert fields["Outstanding_Balance"]["custom_field"] is True
    missing = api.get("/settings/fields")
    assert (missing.status_code, missing.json()["details"]) == (400, {"param_name": "module"})


def test_a_created_custom_field_can_be_written_and_read(api: Api) -> None:
    created = api.send(
        "POST",
        "/settings/fields",
        {"fields": [{"field_label": "Deposit Held", "data_type": "currency", "decimal_place": 2}]},
        params={"module": "Accounts"},
    )
    assert created.status_code == 201
    assert created.json()["fields"][0]["code"] == "SUCCESS"
    account = api.server.sandbox.record_ids("Accounts")[0]
    assert api.send("PUT", "/Accounts", {"data": [{"id": account, "Deposit_Held": 99.5}]}).status_code == 200
    stored = api.server.sandbox.record("Accounts", account)
    assert stored is not None
    assert stored["Deposit_Held"] == Decimal("99.50")
    listed = api.get("/Accounts", {"fields": "Deposit_Held", "ids": account}).text
    assert '"Deposit_Held":99.50' in listed
    again = api.send(
        "POST",
        "/settings/fields",
        {"fields": [{"field_label": "Deposit Held", "data_type": "currency"}]},
        {"module": "Accounts"},
    )
    assert again.json()["fields"][0]["code"] == "DUPLICATE_DATA"


def test_current_user_and_org(api: Api) -> None:
    users = api.get("/users", {"type": "CurrentUser"}).json()
    assert [u["id"] for u in users["users"]] == [api.server.sandbox.api_user.id]
    assert users["info"]["count"] == 1
    org = api.get("/org").json()["org"][0]
    assert org["iso_code"] == "CNY"
    assert org["time_zone"] == "Asia/Kolkata"


def test_search_by_email_criteria_and_word(api: Api) -> None:
    sandbox = api.server.sandbox
    record = next(
        r for r in (sandbox.record("Contacts", i) for i in sandbox.record_ids("Contacts")) if r and r["Email"]
    )
    by_email = api.get("/Contacts/search", {"email": record["Email"]}).json()["data"]
    assert [r["id"] for r in by_email] == [record["id"]]
    criteria = f"((Email:equals:{record['Email']})and(Last_Name:starts_with:{record['Last_Name']}))"
    by_criteria = api.get("/Contacts/search", {"criteria": criteria, "fields": "Email"}).json()
    assert [r["id"] for r in by_criteria["data"]] == [record["id"]]
    assert set(by_criteria["data"][0]) == {"id", "Email"}
    assert api.get("/Contacts/search", {"word": "no-such-word-anywhere"}).status_code == 204
    broken = api.get("/Contacts/search", {"criteria": "(Email:equals"})
    assert (broken.status_code, broken.json()["code"]) == (400, "INVALID_QUERY")
