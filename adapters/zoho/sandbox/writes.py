"""Checking one input record of an insert/update/upsert, and the per-record answers Zoho gives for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from adapters.zoho.sandbox.fields import ModuleDef
from adapters.zoho.sandbox.store import Record
from adapters.zoho.sandbox.values import FieldError, Resolvers, coerce, invalid, mandatory_missing

Source = Literal["api", "user"]


@dataclass(frozen=True)
class WriteEvent:
    """One change as the sandbox saw it: who (api = the connector, user = a simulated CRM user) did what."""

    module: str
    operation: Literal["insert", "update", "delete"]
    record_id: str
    values: dict[str, Any] = field(default_factory=dict)
    source: Source = "api"
    user_id: str = ""
    at: int = 0


def check_values(
    module: ModuleDef,
    raw: Mapping[str, Any],
    index: int,
    resolvers: Resolvers,
    strict: bool,
    inserting: bool,
) -> dict[str, Any]:
    """The stored values of one input record (system fields and `$` keys ignored), or FieldError."""
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "id" or key.startswith("$"):
            continue
        path = f"$.data[{index}].{key}"
        definition = module.get(key)
        if definition is None:
            if strict:
                raise invalid(key, path, message="the field api name given seems to be invalid")
            continue
        if definition.system:
            continue
        if definition.mandatory and (value is None or (isinstance(value, str) and not value.strip())):
            raise mandatory_missing(key, path)
        changes[key] = coerce(definition, value, path, resolvers)
    if inserting:
        for definition in module.mandatory():
            if changes.get(definition.api_name) in (None, ""):
                raise mandatory_missing(definition.api_name, f"$.data[{index}].{definition.api_name}")
    return changes


def audit_ref(user: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": user["name"], "id": user["id"]}


def success(record: Record, message: str) -> dict[str, Any]:
    values = record.values
    return {
        "code": "SUCCESS",
        "details": {
            "Modified_Time": values["Modified_Time"],
            "Modified_By": audit_ref(values["Modified_By"]),
            "Created_Time": values["Created_Time"],
            "id": values["id"],
            "Created_By": audit_ref(values["Created_By"]),
            "$approval_state": "approved",
        },
        "message": message,
        "status": "success",
    }


def record_locked(index: int) -> FieldError:
    return FieldError(
        "RECORD_LOCKED",
        "Sorry, you cannot perform this operation as the record is locked.",
        {"api_name": "id", "json_path": f"$.data[{index}].id", "action": "record_locking"},
    )


def invalid_id(index: int) -> FieldError:
    return invalid("id", f"$.data[{index}].id", message="the id given seems to be invalid")


def already_modified(record: Record) -> FieldError:
    values = record.values
    return FieldError(
        "ALREADY_MODIFIED",
        "record updated time has already passed if-unmodified-since time",
        {
            "Modified_Time": values["Modified_Time"],
            "Created_Time": values["Created_Time"],
            "id": values["id"],
            "Modified_By": audit_ref(values["Modified_By"]),
            "Created_By": audit_ref(values["Created_By"]),
        },
    )
