"""Metadata endpoints: `GET/POST /settings/fields?module=`, `GET /users`, `GET /users/{id}`, `GET /org`."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from adapters.zoho.sandbox.directory import org_payload, user_payload
from adapters.zoho.sandbox.fields import (
    CREATABLE_TYPES,
    PICKLIST_TYPES,
    FieldDef,
    ModuleDef,
    field_metadata,
)
from adapters.zoho.sandbox.gateway import BodyError, Call, invalid_body, json_body
from adapters.zoho.sandbox.responses import (
    empty,
    error,
    invalid_param,
    json_response,
    per_record,
    required_param,
)

USER_TYPES = ("AllUsers", "ActiveUsers", "DeactiveUsers", "AdminUsers", "ActiveConfirmedUsers", "CurrentUser")
MAX_NEW_FIELDS = 5


def _module(call: Call, request: Request) -> ModuleDef | Response:
    name = request.query_params.get("module")
    if not name:
        return required_param("module")
    store = call.sandbox.stores.get(name)
    if store is None:
        return error(
            400, "INVALID_MODULE", "the module name given seems to be invalid", {"param_name": "module"}
        )
    return store.module


async def get_fields(request: Request, call: Call) -> Response:
    module = _module(call, request)
    if isinstance(module, Response):
        return module
    denied = call.admit(1)
    if denied is not None:
        return denied
    with call.sandbox.lock:
        fields = [field_metadata(f) for f in module.fields]
    return json_response({"fields": fields})


def api_name_of(label: str) -> str:
    """Zoho's API name for a custom field: the label with underscores for anything not a letter or digit."""
    return re.sub(r"[^0-9A-Za-z]+", "_", label).strip("_")


def _options(raw: Any) -> tuple[str, ...] | None:
    """Options from `pick_list_values` (`[{"display_value", "actual_value"}, …]`); None if malformed."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        return None
    options: list[str] = []
    for entry in raw:
        value = entry.get("actual_value", entry.get("display_value")) if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value.strip():
            return None
        options.append(value)
    return tuple(dict.fromkeys(options))


def _new_field(module: ModuleDef, item: Any, index: int) -> FieldDef | dict[str, Any]:
    path = f"$.fields[{index}]"

    def failure(code: str, message: str, api_name: str) -> dict[str, Any]:
        return {
            "code": code,
            "details": {"api_name": api_name, "json_path": f"{path}.{api_name}"},
            "message": message,
            "status": "error",
        }

    if not isinstance(item, dict):
        return failure("INVALID_DATA", "invalid data", "fields")
    label, data_type = item.get("field_label"), item.get("data_type")
    if not isinstance(label, str) or not label.strip():
        return failure("MANDATORY_NOT_FOUND", "required field not found", "field_label")
    if not isinstance(data_type, str) or not data_type:
        return failure("MANDATORY_NOT_FOUND", "required field not found", "data_type")
    if data_type not in CREATABLE_TYPES:
        return failure("INVALID_DATA", "invalid data", "data_type")
    api_name = api_name_of(label)
    if not api_name or module.get(api_name) or any(f.label == label for f in module.fields):
        return failure("DUPLICATE_DATA", "duplicate data", "field_label")
    places = item.get("decimal_place")
    currency = item.get("currency")
    if places is None and isinstance(currency, dict):
        places = currency.get("precision")
    length = item.get("length")
    options = _options(item.get("pick_list_values")) if data_type in PICKLIST_TYPES else ()
    if options is None:
        return failure("INVALID_DATA", "invalid data", "pick_list_values")
    return FieldDef(
        api_name,
        label.strip(),
        data_type,
        custom=True,
        length=length if isinstance(length, int) and not isinstance(length, bool) else None,
        decimal_place=places if isinstance(places, int) and not isinstance(places, bool) else None,
        picklist=options,
    )


async def create_fields(request: Request, call: Call) -> Response:
    module = _module(call, request)
    if isinstance(module, Response):
        return module
    try:
        body = await json_body(request)
    except BodyError:
        return invalid_body()
    items = body.get("fields")
    if not isinstance(items, list) or not items:
        return error(
            400,
            "MANDATORY_NOT_FOUND",
            "required field not found",
            {"api_name": "fields", "json_path": "$.fields"},
        )
    if len(items) > MAX_NEW_FIELDS:
        return error(
            400, "LIMIT_EXCEEDED", "limit exceeded", {"maximum_length": MAX_NEW_FIELDS, "api_name": "fields"}
        )
    denied = call.admit(1)
    if denied is not None:
        return denied
    results = []
    for n, item in enumerate(items):
        with call.sandbox.lock:
            made = _new_field(module, item, n)
            if isinstance(made, FieldDef):
                created = call.sandbox.add_field(module.api_name, made)
                made = {
                    "code": "SUCCESS",
                    "details": {"id": str(created.id)},
                    "message": "field created",
                    "status": "success",
                }
        results.append(made)
    response = per_record(results, 201)
    return json_response({"fields": results}, response.status_code)


async def get_users(request: Request, call: Call) -> Response:
    kind = request.query_params.get("type", "AllUsers")
    if kind not in USER_TYPES:
        return invalid_param("type", list(USER_TYPES))
    denied = call.admit(1)
    if denied is not None:
        return denied
    sandbox = call.sandbox
    current = call.user
    if kind == "CurrentUser":
        chosen = [current]
    elif kind == "DeactiveUsers":
        chosen = []
    elif kind == "AdminUsers":
        chosen = [u for u in sandbox.users if u.profile == "Administrator"]
    else:
        chosen = list(sandbox.users)
    if not chosen:
        return empty(204)
    users = [user_payload(u, sandbox.config, u.id == current.id) for u in chosen]
    info = {"per_page": 200, "count": len(users), "page": 1, "more_records": False}
    return json_response({"users": users, "info": info})


async def get_user(request: Request, call: Call) -> Response:
    denied = call.admit(1)
    if denied is not None:
        return denied
    found = call.sandbox.user(request.path_params["user_id"])
    if found is None:
        return empty(204)
    return json_response({"users": [user_payload(found, call.sandbox.config, found.id == call.user.id)]})


async def get_org(request: Request, call: Call) -> Response:
    denied = call.admit(1)
    if denied is not None:
        return denied
    return json_response({"org": [org_payload(call.sandbox.config)]})
