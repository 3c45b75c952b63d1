"""`/crm/v8/actions/watch`: enable (POST), list (GET), update (PUT), events (PATCH), disable (DELETE)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from adapters.zoho.sandbox.gateway import BodyError, Call, invalid_body, json_body
from adapters.zoho.sandbox.responses import empty, error, json_response, required_param

MAX_CHANNELS = 50


def _status(results: list[dict[str, Any]], ok: int) -> int:
    successes = sum(1 for r in results if r.get("status") == "success")
    return ok if successes == len(results) else 400 if successes == 0 else 207


async def _items(request: Request) -> list[Any] | Response:
    try:
        body = await json_body(request)
    except BodyError:
        return invalid_body()
    items = body.get("watch")
    if not isinstance(items, list) or not items:
        return error(
            400,
            "MANDATORY_NOT_FOUND",
            "required field not found",
            {"api_name": "watch", "json_path": "$.watch"},
        )
    if len(items) > MAX_CHANNELS:
        return error(
            400, "LIMIT_EXCEEDED", "limit exceeded", {"maximum_length": MAX_CHANNELS, "api_name": "watch"}
        )
    return items


def _not_object(index: int) -> dict[str, Any]:
    details = {"expected_data_type": "jsonobject", "json_path": f"$.watch[{index}]"}
    return {"code": "INVALID_DATA", "details": details, "message": "invalid data", "status": "error"}


async def subscribe(request: Request, call: Call) -> Response:
    """POST creates channels (201); PUT replaces their details and renews expiry (200)."""
    items = await _items(request)
    if isinstance(items, Response):
        return items
    denied = call.admit(1)
    if denied is not None:
        return denied
    sandbox = call.sandbox
    results = [
        sandbox.watch.subscribe(item, n, sandbox.now(), sandbox.base_url)
        if isinstance(item, dict)
        else _not_object(n)
        for n, item in enumerate(items)
    ]
    ok = 201 if request.method == "POST" else 200
    return json_response({"watch": results}, _status(results, ok))


async def change_events(request: Request, call: Call) -> Response:
    items = await _items(request)
    if isinstance(items, Response):
        return items
    denied = call.admit(1)
    if denied is not None:
        return denied
    sandbox = call.sandbox
    results = [
        sandbox.watch.change_events(item, n, sandbox.base_url) if isinstance(item, dict) else _not_object(n)
        for n, item in enumerate(items)
    ]
    return json_response({"watch": results}, _status(results, 200))


async def list_channels(request: Request, call: Call) -> Response:
    denied = call.admit(1)
    if denied is not None:
        return denied
    sandbox = call.sandbox
    channels = sandbox.watch.listing(sandbox.now(), sandbox.base_url)
    if not channels:
        return empty(204)
    info = {"per_page": 200, "count": len(channels), "page": 1, "more_records": False}
    return json_response({"watch": channels, "info": info})


async def unsubscribe(request: Request, call: Call) -> Response:
    ids = [i.strip() for i in request.query_params.get("channel_ids", "").split(",") if i.strip()]
    if not ids:
        return required_param("channel_ids")
    denied = call.admit(1)
    if denied is not None:
        return denied
    results = call.sandbox.watch.unsubscribe(ids, call.sandbox.base_url)
    return json_response({"watch": results}, _status(results, 200))
