"""A push whose writes the CRM refuses for a field reads the fields again at once and sends the records
refused once more, those that fit the fields as read; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import httpx
import respx

from adapters.zoho.field_cache import FieldMetadata
from adapters.zoho.push import ZohoStatusSink
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.exact_json import dumps_exact
from connector.ledger.customers import NewCustomer
from connector.sync.field_metadata import DatabaseFieldStore
from connector.sync.models import OutboxItem
from connector.sync.push import values_hash
from connector.sync.push_fields import REREAD, RETRIED
from connector.sync.push_send import PushOutcome, send
from connector.sync.runs import start_run
from tests.unit.zoho_fakes import API, fake_api

TARGET = "zoho.Accounts"
AMOUNTS = {"r0": "10.00", "r1": "20.00", "r2": "30.555"}


def refused(field: str) -> dict[str, object]:
    return {
        "code": "INVALID_DATA",
        "details": {"api_name": field},
        "message": "invalid data",
        "status": "error",
    }


def success(record: str) -> dict[str, object]:
    return {"code": "SUCCESS", "details": {"id": record}, "message": "record updated", "status": "success"}


def test_a_write_refused_for_a_field_reads_the_fields_again_and_sends_only_the_refused_records_once_more(
    container: Container,
) -> None:
    with unit_of_work(container.sessions) as session:
        customer = container.customers(session).create(NewCustomer("明远贸易", "SME", "SH", "CNY"))
        for record, amount in AMOUNTS.items():
            desired = dumps_exact({"Outstanding_Balance": Decimal(amount)})
            session.add(
                OutboxItem(
                    target=TARGET,
                    external_id=record,
                    customer_id=customer.id,
                    desired_json=desired,
                    desired_hash=values_hash(desired),
                    planned_from="planned",
                    status="pending",
                    attempts=0,
                )
            )
        run_id = start_run(session, "push", TARGET, "digest").id
    router = respx.Router()
    # The admin made the field keep 2 places: 30.555 no longer fits, and is not sent again.
    fields = router.get(f"{API}/crm/v8/settings/fields").respond(
        json={"fields": [{"api_name": "Outstanding_Balance", "data_type": "currency", "decimal_place": 2}]}
    )
    writes = router.put(f"{API}/crm/v8/Accounts").mock(
        side_effect=[
            httpx.Response(
                207,
                json={
                    "data": [success("r0"), refused("Outstanding_Balance"), refused("Outstanding_Balance")]
                },
            ),
            httpx.Response(200, json={"data": [success("r1")]}),
        ]
    )
    api, _ = fake_api(router.handler)
    store = DatabaseFieldStore(container.sessions)
    sink = ZohoStatusSink(api, FieldMetadata(api, store, "zoho:org", timedelta(hours=24)))

    outcome = send(container, sink, PushOutcome(TARGET), run_id)

    assert (outcome.counts["pushed"], outcome.counts["rejected"]) == (2, 1)
    assert (outcome.counts[REREAD], outcome.counts[RETRIED]) == (1, 1)
    assert fields.call_count == 1
    assert [
        [record["id"] for record in json.loads(call.request.content)["data"]] for call in writes.calls
    ] == [["r0", "r1", "r2"], ["r1"]]
    assert list(store.read_at("zoho:org")) == ["Accounts"]
    with unit_of_work(container.sessions) as session:
        items = {
            item.external_id: (item.status, item.attempts, item.planned_from)
            for item in session.query(OutboxItem).filter(OutboxItem.target == TARGET)
        }
    # The one still refused is planned again next run, against the fields as now read (held: 3 places).
    assert items == {
        "r0": ("pushed", 0, "planned"),
        "r1": ("pushed", 0, "planned"),
        "r2": ("failed", 1, None),
    }


def test_fields_are_read_again_once_a_run_however_many_batches_are_refused_for_a_field(
    container: Container,
) -> None:
    with unit_of_work(container.sessions) as session:
        customer = container.customers(session).create(NewCustomer("青禾科技", "SME", "ZJ", "CNY"))
        for record in ("a", "b"):
            desired = dumps_exact({"Credit_Status": "HOLD"})
            session.add(
                OutboxItem(
                    target=TARGET,
                    external_id=record,
                    customer_id=customer.id,
                    desired_json=desired,
                    desired_hash=values_hash(desired),
                    status="pending",
                    attempts=0,
                )
            )
        run_id = start_run(session, "push", TARGET, "digest").id
    router = respx.Router()
    fields = router.get(f"{API}/crm/v8/settings/fields").respond(json={"fields": []})
    writes = router.put(f"{API}/crm/v8/Accounts").respond(400, json={"data": [refused("Credit_Status")]})
    api, _ = fake_api(router.handler)
    sink = ZohoStatusSink(
        api, FieldMetadata(api, DatabaseFieldStore(container.sessions), "zoho:org", timedelta(hours=24))
    )
    sink.max_batch = 1

    outcome = send(container, sink, PushOutcome(TARGET), run_id)

    assert outcome.counts["rejected"] == 2
    assert (fields.call_count, outcome.counts[REREAD], outcome.counts[RETRIED]) == (1, 1, 1)
    assert writes.call_count == 3  # a, a once more, b
