"""Writing figures to Zoho CRM records: `PUT /{module}` in batches of ≤ 100, one result per record.

Zoho answers 200 when every record was written, 207 when some were and some were not, 202 when it
accepted the batch for later, 400 when it refused every record: in every case `data[]` holds one result
per record in input order, and each is read. A refused record carries Zoho's code (INVALID_DATA,
MANDATORY_NOT_FOUND, RECORD_LOCKED …), the field it names in `details.api_name` and, in its message,
the rest of the details (maximum_length, expected_data_type …). Workflows are not triggered by the
connector's writes. An INVALID_DATA naming a field (not the record's id) is a refusal for what the field
is: an admin may have changed or removed it (`PushResult.for_field`).

The fields' decimal places come from their metadata, kept for a while (`FieldMetadata`): one
`GET /settings/fields` per module per period, not per push.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from adapters.zoho.client import ZohoApi, ZohoApiError
from adapters.zoho.field_cache import FieldMetadata
from adapters.zoho.limits import write_call_cost
from connector.errors import PermanentRemoteError
from connector.ports import FieldUpdate, PushResult

MAX_BATCH = 100
DECIMAL_TYPES = frozenset({"currency", "double"})
WHOLE_TYPES = frozenset({"integer", "bigint"})  # keep no decimal places
_IN_BATCH = re.compile(r"\$\.data\[\d+\]\.(\w+)")  # a field of a record of the batch sent


class ZohoStatusSink:
    """`StatusSink` over the Zoho CRM API."""

    max_batch = MAX_BATCH

    def __init__(self, api: ZohoApi, fields: FieldMetadata) -> None:
        self.api = api
        self.fields = fields

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

    def decimal_places(self, stream: str, *, fresh: bool = False) -> dict[str, int]:
        """The decimal places of the module's currency, decimal and whole-number fields, from its fields'
        metadata as kept (`fresh`: read from Zoho again)."""
        places: dict[str, int] = {}
        for found in self.fields.fields(stream, fresh=fresh):
            if found.data_type in DECIMAL_TYPES and found.decimal_place is not None:
                places[found.api_name] = found.decimal_place
            elif found.data_type in WHOLE_TYPES:
                places[found.api_name] = 0
        return places


def _result(external_id: str, item: dict[str, Any]) -> PushResult:
    code = str(item.get("code", "")) or None
    if item.get("status") == "success":
        return PushResult(external_id, True, code)
    details = item.get("details")
    details = details if isinstance(details, dict) else {}
    field = details.get("api_name")
    field = field if isinstance(field, str) else None
    message = str(item.get("message", ""))
    said = _details(details, field)
    if said:
        message = f"{message} ({said})"
    if code == "INVALID_DATA" and field == "id":
        message += ": the record may have been deleted in the CRM; the next pull retires it"
    for_field = code == "INVALID_DATA" and field not in (None, "id")
    return PushResult(external_id, False, code, field, message, for_field)


def _details(details: dict[str, Any], field: str | None) -> str:
    """What Zoho says besides the field (maximum_length 255, expected_data_type double …): why a value
    was refused. A `json_path` only placing the field in the batch is left out, and a nested value (a
    duplicate's record and its owner: personal data) is only named."""
    said: list[str] = []
    for key, value in details.items():
        if key == "api_name" or (key == "json_path" and _in_batch(str(value)) == field):
            continue
        if isinstance(value, str | int | float | bool):
            said.append(f"{key} {str(value)[:100]}")
        else:
            said.append(key)
    return ", ".join(said)


def _in_batch(path: str) -> str | None:
    """The field a json_path names when it only places it in the batch (`$.data[3].Phone`)."""
    found = _IN_BATCH.fullmatch(path)
    return found.group(1) if found else None
