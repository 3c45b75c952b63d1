"""Notification channels: enabling, listing, changing, disabling, and real callbacks on changes."""

from __future__ import annotations

from adapters.zoho.sandbox.timeutil import format_time, zone
from tests.sandbox.conftest import Api, Receiver


def _watch(api: Api, url: str, events: list[str], channel_id: str = "1000000068001") -> dict[str, object]:
    answer = api.send(
        "POST",
        "/actions/watch",
        {"watch": [{"channel_id": channel_id, "events": events, "notify_url": url, "token": "verify-me"}]},
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, object] = answer.json()["watch"][0]
    return result


def test_watch_channel_receives_a_callback_when_a_crm_user_edits_a_record(
    api: Api, receiver: Receiver
) -> None:
    result = _watch(api, receiver.url, ["Contacts.all"])
    assert result["code"] == "SUCCESS"
    sandbox = api.server.sandbox
    record_id = sandbox.record_ids("Contacts")[4]
    sandbox.edit_as_user("Contacts", record_id, {"Mobile": "+86 139 0000 1111"})
    assert receiver.arrived.wait(5)
    body = receiver.bodies[0]
    assert body["channel_id"] == "1000000068001"
    assert body["token"] == "verify-me"
    assert body["ids"] == [record_id]
    assert body["operation"] == "update"
    assert body["module"] == "Contacts"
    assert body["resource_uri"] == f"{api.server.base_url}/crm/v8/Contacts"
    assert body["affected_fields"] == [{record_id: ["Mobile"]}]
    assert body["query_params"] == {"source": "crm"}
    assert isinstance(body["server_time"], int)


def test_api_writes_fire_callbacks_for_subscribed_events_only(api: Api, receiver: Receiver) -> None:
    _watch(api, receiver.url, ["Accounts.create", "Accounts.delete"])
    sandbox = api.server.sandbox
    account = sandbox.record_ids("Accounts")[0]
    api.send("PUT", "/Accounts", {"data": [{"id": account, "Credit_Score": 700}]})
    created = api.send("POST", "/Accounts", {"data": [{"Account_Name": "Contoso Ltd"}]}).json()["data"][0]
    api.send("DELETE", f"/Accounts/{account}")
    deliveries = sandbox.callbacks()
    assert [(d.body["operation"], d.body["ids"]) for d in deliveries] == [
        ("insert", [created["details"]["id"]]),
        ("delete", [account]),
    ]
    assert all(d.status == 200 for d in deliveries)


def test_channels_can_be_listed_narrowed_and_disabled(api: Api, receiver: Receiver) -> None:
    expiry = format_time(int(api.server.sandbox.clock()) + 2 * 86_400, zone(330))
    answer = api.send(
        "POST",
        "/actions/watch",
        {
            "watch": [
                {
                    "channel_id": 42,
                    "events": ["Contacts.all"],
                    "notify_url": receiver.url,
                    "channel_expiry": expiry,
                }
            ]
        },
    )
    assert answer.json()["watch"][0]["details"]["events"][0]["channel_expiry"] == expiry
    listed = api.get("/actions/watch").json()["watch"]
    assert [(c["channel_id"], c["events"]) for c in listed] == [("42", ["Contacts.all"])]
    patched = api.send(
        "PATCH",
        "/actions/watch",
        {"watch": [{"channel_id": "42", "events": ["Contacts.all"], "_delete_events": True}]},
    )
    assert patched.status_code == 200
    assert api.get("/actions/watch").status_code == 204
    _watch(api, receiver.url, ["Contacts.edit"], channel_id="43")
    removed = api.send("DELETE", "/actions/watch", params={"channel_ids": "43"})
    assert removed.json()["watch"][0]["message"] == "Successfully un-subscribed from actions-watch"
    assert api.get("/actions/watch").status_code == 204


def test_watch_without_notify_url_is_mandatory_not_found(api: Api) -> None:
    answer = api.send("POST", "/actions/watch", {"watch": [{"channel_id": "1", "events": ["Contacts.all"]}]})
    assert answer.status_code == 400
    assert answer.json()["watch"][0]["code"] == "MANDATORY_NOT_FOUND"
    assert answer.json()["watch"][0]["details"]["api_name"] == "notify_url"


def test_an_unreachable_notify_url_is_recorded_not_fatal(api: Api) -> None:
    _watch(api, "http://127.0.0.1:9/unreachable", ["Contacts.edit"])
    sandbox = api.server.sandbox
    sandbox.edit_as_user("Contacts", sandbox.record_ids("Contacts")[0], {"Title": "Buyer"})
    (delivery,) = sandbox.callbacks()
    assert delivery.status is None
    assert delivery.error is not None
    assert api.get("/org").status_code == 200
