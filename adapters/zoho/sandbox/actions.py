"""`/crm/v8/actions/watch`: enable (POST), list (GET), update (PUT), events (PATCH), disable (DELETE)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from adapters.zoho.sandbox.gateway import BodyError, Call, invalid_body, json_body
from adapters.zoho.sandbox.listing import MAX_PER_PAGE, positive_int
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
    """GET lists live channels, optionally only those of `channel_id` and/or `module`, paged."""
    params = request.query_params
    per_page = positive_int(params.get("per_page"), "per_page", MAX_PER_PAGE, MAX_PER_PAGE)
    if isinstance(per_page, Response):
        return per_page
    page = positive_int(params.get("page"), "page", 1)
    if isinstance(page, Response):
        return page
    channel_id, module = params.get("channel_id"), params.get("module")
    sandbox = call.sandbox
    if module is not None and module not in sandbox.stores:
        return error(
            400, "INVALID_MODULE", "the module name given seems to be invalid", {"param_name": "module"}
        )
    denied = call.admit(1)
    if denied is not None:
        return denied
    channels = [
        c
        for c in sandbox.watch.listing(sandbox.now(), sandbox.base_url)
        if (channel_id is None or c["channel_id"] == channel_id)
        and (module is None or c["resource_name"] == module)
    ]
    start = (page - 1) * per_page
    chosen = channels[start : start + per_page]
    if not chosen:
        return empty(204)
    info = {
        "per_page": per_page,
        "count": len(chosen),
        "page": page,
        "more_records": len(channels) > start + per_page,
    }
    return json_response({"watch": chosen, "info": info})


async def unsubscribe(request: Request, call: Call) -> Response:
    ids = [i.strip() for i in request.query_params.get("channel_ids", "").split(",") if i.strip()]
    if not ids:
        return required_param("channel_ids")
    denied = call.admit(1)
    if denied is not None:
        return denied
    results = call.sandbox.watch.unsubscribe(ids, call.sandbox.base_url)
    return json_response({"watch": results}, _status(results, 200))
