"""Writing figures to Zoho CRM records: `PUT /{module}` in batches of ≤ 100, one result per record.

Zoho answers 200 when every record was written, 207 when some were and some were not, 202 when it
accepted the batch for later, 400 when it refused every record: in every case `data[]` holds one result
per record in input order, and each is read. A refused record carries Zoho's code (INVALID_DATA,
MANDATORY_NOT_FOUND, RECORD_LOCKED …) and the field it names in `details.api_name`. Workflows are
not triggered by the connector's writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.zoho.client import ZohoApi, ZohoApiError
from adapters.zoho.limits import write_call_cost
from connector.errors import PermanentRemoteError
from connector.ports import FieldUpdate, PushResult

MAX_BATCH = 100


class ZohoStatusSink:
    """`StatusSink` over the Zoho CRM API."""

    max_batch = MAX_BATCH

    def __init__(self, api: ZohoApi) -> None:
        self.api = api

    def push(self, stream: str, updates: Sequence[FieldUpdate]) -> list[PushResult]:
        if not updates:
            return []
        if len(updates) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} records per update call, got {len(updates)}")
        body = {"data": [{"id": u.external_id, **u.values} for u in updates], "trigger": []}
        try:
            results = self.api.call(
                "PUT",
                f"/{stream}",
                body=body,
                cost=write_call_cost(len(updates)),
                what=f"zoho: update {len(updates)} {stream}",
            ).data
        except ZohoApiError as exc:
            if len(exc.items) != len(updates):
                raise  # the call itself was refused
            results = exc.items  # every record was refused (HTTP 400): each with its own code and field
        if len(results) != len(updates):
            raise PermanentRemoteError(
                f"zoho: update {stream} answered {len(results)} results for {len(updates)} records"
            )
        return [_result(update.external_id, item) for update, item in zip(updates, results, strict=True)]


def _result(external_id: str, item: dict[str, Any]) -> PushResult:
    code = str(item.get("code", "")) or None
    if item.get("status") == "success":
        return PushResult(external_id, True, code)
    details = item.get("details")
    field = details.get("api_name") if isinstance(details, dict) else None
    return PushResult(
        external_id,
        False,
        code,
        field if isinstance(field, str) else None,
        str(item.get("message", "")),
    )
