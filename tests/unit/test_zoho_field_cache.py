"""The fields' metadata the push reads: kept for the configured period, read again after it or when
asked fresh, one API credit a read."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import respx

from adapters.zoho.field_cache import FieldMetadata, MemoryFieldStore
from adapters.zoho.push import ZohoStatusSink
from connector.ports import FieldUpdate, PushResult
from tests.unit.zoho_fakes import API, NOW, fake_api

FIELDS = f"{API}/crm/v8/settings/fields"


def fields(places: int) -> dict[str, object]:
    return {
        "fields": [
            {"api_name": "Outstanding_Balance", "data_type": "currency", "decimal_place": places},
            {"api_name": "Payment_Terms", "data_type": "integer"},
            {"api_name": "Credit_Status", "data_type": "picklist", "pick_list_values": []},
        ]
    }


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def sink_over(router: respx.Router, store: MemoryFieldStore, clock: Clock) -> ZohoStatusSink:
    api, _ = fake_api(router.handler)
    return ZohoStatusSink(api, FieldMetadata(api, store, "zoho:org", timedelta(hours=24), clock))


def test_two_pushes_within_the_period_read_the_fields_once_and_one_after_it_reads_them_again() -> None:
    router = respx.Router(assert_all_called=False)
    route = router.get(FIELDS, params={"module": "Accounts"}).respond(json=fields(2))
    store, clock = MemoryFieldStore(), Clock()

    first = sink_over(router, store, clock).decimal_places("Accounts")
    clock.now += timedelta(hours=23, minutes=59)
    second = sink_over(router, store, clock).decimal_places("Accounts")  # another process, one store

    assert first == second == {"Outstanding_Balance": 2, "Payment_Terms": 0}
    assert route.call_count == 1
    assert store.read_at("zoho:org") == {"Accounts": NOW}

    clock.now = NOW + timedelta(hours=24)
    assert sink_over(router, store, clock).decimal_places("Accounts") == first
    assert route.call_count == 2
    assert store.read_at("zoho:org") == {"Accounts": NOW + timedelta(hours=24)}


def test_fields_asked_fresh_are_read_again_within_the_period_and_kept() -> None:
    router = respx.Router(assert_all_called=False)
    route = router.get(FIELDS).mock(
        side_effect=[httpx.Response(200, json=fields(3)), httpx.Response(200, json=fields(2))]
    )
    sink = sink_over(router, MemoryFieldStore(), Clock())

    assert sink.decimal_places("Accounts")["Outstanding_Balance"] == 3
    assert sink.decimal_places("Accounts", fresh=True)["Outstanding_Balance"] == 2
    assert sink.decimal_places("Accounts")["Outstanding_Balance"] == 2
    assert route.call_count == 2


def test_a_period_of_zero_reads_the_fields_every_push() -> None:
    router = respx.Router(assert_all_called=False)
    route = router.get(FIELDS).respond(json=fields(2))
    api, _ = fake_api(router.handler)
    sink = ZohoStatusSink(api, FieldMetadata(api, MemoryFieldStore(), "zoho:org", timedelta(0), Clock()))

    sink.decimal_places("Accounts")
    sink.decimal_places("Accounts")

    assert route.call_count == 2


def test_fields_kept_in_another_form_are_read_again() -> None:
    router = respx.Router(assert_all_called=False)
    route = router.get(FIELDS).respond(json=fields(2))
    store = MemoryFieldStore()
    store.save("zoho:org", "Accounts", '[{"api_name": "Outstanding_Balance"}]', NOW)

    assert sink_over(router, store, Clock()).decimal_places("Accounts") == {
        "Outstanding_Balance": 2,
        "Payment_Terms": 0,
    }
    assert route.call_count == 1


def test_a_write_refused_for_a_field_says_so_and_one_refused_for_its_id_or_a_lock_does_not() -> None:
    router = respx.Router()
    router.put(f"{API}/crm/v8/Accounts").respond(
        400,
        json={
            "data": [
                {"code": "INVALID_DATA", "details": {"api_name": "Outstanding_Balance"}, "status": "error"},
                {"code": "INVALID_DATA", "details": {"api_name": "id"}, "status": "error"},
                {"code": "RECORD_LOCKED", "details": {}, "status": "error"},
            ]
        },
    )
    updates = [FieldUpdate(str(n), {"Outstanding_Balance": Decimal("1.50")}) for n in (1, 2, 3)]

    results = sink_over(router, MemoryFieldStore(), Clock()).push("Accounts", updates)

    assert [(r.external_id, r.for_field) for r in results] == [("1", True), ("2", False), ("3", False)]
    assert results[0] == PushResult("1", False, "INVALID_DATA", "Outstanding_Balance", "", True)
