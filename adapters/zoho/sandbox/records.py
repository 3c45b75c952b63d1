"""Module endpoints: list, get one, get by ids, deleted, search, insert, update, upsert, delete.

Writes answer per record in input order (200 all succeeded / 207 mixed / 400 all failed; 201 for inserts)
and fire watch callbacks for the records that changed.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from adapters.zoho.limits import DELETED_COST, write_cost
from adapters.zoho.sandbox.gateway import BodyError, Call, invalid_body, json_body
from adapters.zoho.sandbox.listing import (
    MAX_PER_PAGE,
    list_page,
    page_body,
    parse_fields,
    parse_list_query,
    parse_since,
    positive_int,
    render_rows,
)
from adapters.zoho.sandbox.render import encode
from adapters.zoho.sandbox.responses import (
    empty,
    error,
    invalid_module,
    invalid_param,
    json_bytes,
    json_response,
    per_record,
    required_param,
)
from adapters.zoho.sandbox.search import (
    CriteriaError,
    criteria_matcher,
    email_matcher,
    field_names,
    parse_criteria,
    phone_matcher,
    word_matcher,
)
from adapters.zoho.sandbox.state import Sandbox, WriteResult
from adapters.zoho.sandbox.store import ModuleStore, Record, whole_number
from adapters.zoho.sandbox.timeutil import format_time, parse_time

MAX_WRITE = 100
MAX_IDS = 100
RECYCLE_S = 60 * 86_400
PERMANENT_S = 120 * 86_400


def _store(call: Call, request: Request) -> ModuleStore | Response:
    found = call.sandbox.stores.get(request.path_params["module"])
    return found if found is not None else invalid_module()


def _ids(raw: str | None) -> list[str] | Response:
    ids = [i.strip() for i in (raw or "").split(",") if i.strip()]
    if not ids:
        return required_param("ids")
    if len(ids) > MAX_IDS:
        return error(400, "LIMIT_EXCEEDED", "limit exceeded", {"limit": MAX_IDS, "param_name": "ids"})
    return ids


def _full(values: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    if fields is None:
        return values
    return {"id": values["id"], **{f: values.get(f) for f in fields}}


async def list_records(request: Request, call: Call) -> Response:
    store = _store(call, request)
    if isinstance(store, Response):
        return store
    if "ids" in request.query_params:
        return await records_by_ids(request, call, store)
    query = parse_list_query(
        request.query_params, request.headers, store.module.names(), call.token.user_id, store.module.api_name
    )
    if isinstance(query, Response):
        return query
    denied = call.admit(1, complex_call="sort_by" in request.query_params)
    if denied is not None:
        return denied
    with call.sandbox.lock:
        return list_page(call.sandbox, store, query)


def _optional_fields(request: Request, store: ModuleStore) -> tuple[str, ...] | Response | None:
    """`fields` when the caller sent it (by-id reads return every field without it), or its error."""
    if "fields" not in request.query_params:
        return None
    return parse_fields(request.query_params.get("fields"), store.module.names())


async def records_by_ids(request: Request, call: Call, store: ModuleStore) -> Response:
    ids = _ids(request.query_params.get("ids"))
    if isinstance(ids, Response):
        return ids
    fields = _optional_fields(request, store)
    if isinstance(fields, Response):
        return fields
    denied = call.admit(1)
    if denied is not None:
        return denied
    with call.sandbox.lock:
        found = [store.get(n) for i in ids if (n := whole_number(i)) is not None]
        rows = [r for r in found if r is not None]
        if not rows:
            return empty(204)
        if fields is not None:
            body = render_rows(store, rows, fields)
        else:
            body = b",".join(encode(r.values) for r in rows)
    info = {"per_page": len(rows), "count": len(rows), "page": 1, "more_records": False}
    return json_bytes(page_body(body, info))


async def get_record(request: Request, call: Call) -> Response:
    store = _store(call, request)
    if isinstance(store, Response):
        return store
    fields = _optional_fields(request, store)
    if isinstance(fields, Response):
        return fields
    denied = call.admit(1)
    if denied is not None:
        return denied
    raw_id = request.path_params["record_id"]
    with call.sandbox.lock:
        number = whole_number(raw_id)
        record = store.get(number) if number is not None else None
        if record is None:
            return empty(204)
        return json_response({"data": [_full(record.values, fields)]})


def _deleted_items(store: ModuleStore, now: int, kind: str, since: int | None) -> list[dict[str, Any]]:
    """Recycle-bin entries (60 days) and permanently deleted ids (listed 120 days), newest first."""
    items: list[tuple[int, int, dict[str, Any]]] = []
    for entry in store.deleted:
        purged = entry.purged_at
        if purged is None and now >= entry.deleted_at + RECYCLE_S:
            purged = entry.deleted_at + RECYCLE_S
        if purged is not None and now >= purged + PERMANENT_S:
            continue
        entry_type = "recycle" if purged is None else "permanent"
        at = entry.deleted_at if purged is None else purged
        if (kind != "all" and kind != entry_type) or (since is not None and at < since):
            continue
        items.append((at, entry.id, {"type": entry_type, "entry": entry}))
    items.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [{"at": at, **rest} for at, _, rest in items]


async def deleted_records(request: Request, call: Call) -> Response:
    store = _store(call, request)
    if isinstance(store, Response):
        return store
    params = request.query_params
    kind = params.get("type", "all")
    if kind not in {"all", "recycle", "permanent"}:
        return invalid_param("type", ["all", "recycle", "permanent"])
    per_page = positive_int(params.get("per_page"), "per_page", MAX_PER_PAGE, MAX_PER_PAGE)
    page = positive_int(params.get("page"), "page", 1)
    since = parse_since(request.headers)
    if isinstance(per_page, Response):
        return per_page
    if isinstance(page, Response):
        return page
    if isinstance(since, Response):
        return since
    denied = call.admit(DELETED_COST)
    if denied is not None:
        return denied
    sandbox = call.sandbox
    with sandbox.lock:
        items = _deleted_items(store, sandbox.now(), kind, since)
    start = (page - 1) * per_page
    chosen = items[start : start + per_page]
    if not chosen:
        return empty(204)
    data = []
    for item in chosen:
        entry = item["entry"]
        permanent = item["type"] == "permanent"
        data.append(
            {
                "deleted_by": None if permanent else entry.deleted_by,
                "id": str(entry.id),
                "display_name": None if permanent else entry.display_name,
                "type": item["type"],
                "created_by": None if permanent else entry.created_by,
                "deleted_time": format_time(item["at"], sandbox.tz),
            }
        )
    info = {
        "per_page": per_page,
        "count": len(data),
        "page": page,
        "more_records": len(items) > start + per_page,
    }
    return json_response({"data": data, "info": info})


async def search_records(request: Request, call: Call) -> Response:
    store = _store(call, request)
    if isinstance(store, Response):
        return store
    params = request.query_params
    sandbox = call.sandbox
    if params.get("criteria"):
        try:
            node = parse_criteria(params["criteria"])
        except CriteriaError as exc:
            return error(
                400, "INVALID_QUERY", "invalid query formed", {"reason": str(exc), "param_name": "criteria"}
            )
        unknown = field_names(node) - store.module.names() - {"id"}
        if unknown:
            return error(
                400,
                "INVALID_QUERY",
                "invalid query formed",
                {"reason": "invalid field", "api_name": sorted(unknown)[0]},
            )
        test = criteria_matcher(node)
    elif params.get("email"):
        test = email_matcher(params["email"])
    elif params.get("phone"):
        test = phone_matcher(params["phone"])
    elif params.get("word"):
        test = word_matcher(params["word"])
    else:
        return required_param("criteria")
    per_page = positive_int(params.get("per_page"), "per_page", MAX_PER_PAGE, MAX_PER_PAGE)
    page = positive_int(params.get("page"), "page", 1)
    if isinstance(per_page, Response):
        return per_page
    if isinstance(page, Response):
        return page
    fields = None
    if "fields" in params:
        parsed = parse_fields(params.get("fields"), store.module.names())
        if isinstance(parsed, Response):
            return parsed
        fields = parsed
    limit = sandbox.config.search_result_limit
    start = (page - 1) * per_page
    if start >= limit:
        return error(400, "LIMIT_REACHED", f"search results exceeds {limit} records", {"limit": limit})
    denied = call.admit(1)
    if denied is not None:
        return denied
    room = min(per_page, limit - start)
    with sandbox.lock:
        hits = (r for r in store.walk("id", True, None, None) if test(r.values))
        rows: list[Record] = list(islice(hits, start, start + room + 1))
        more = len(rows) > room
        rows = rows[:room]
        if not rows:
            return empty(204)
        body = (
            render_rows(store, rows, fields)
            if fields is not None
            else b",".join(encode(r.values) for r in rows)
        )
    info = {"per_page": per_page, "count": len(rows), "page": page, "more_records": more}
    return json_bytes(page_body(body, info))


async def _write_batch(
    request: Request, call: Call
) -> tuple[ModuleStore, list[Any], dict[str, Any]] | Response:
    store = _store(call, request)
    if isinstance(store, Response):
        return store
    try:
        body = await json_body(request)
    except BodyError:
        return invalid_body()
    data = body.get("data")
    if not isinstance(data, list) or not data:
        return error(
            400,
            "MANDATORY_NOT_FOUND",
            "required field not found",
            {"api_name": "data", "json_path": "$.data"},
        )
    if len(data) > MAX_WRITE:
        return error(
            400, "LIMIT_EXCEEDED", "limit exceeded", {"maximum_length": MAX_WRITE, "api_name": "data"}
        )
    denied = call.admit(write_cost(len(data)), complex_call=len(data) > 10)
    if denied is not None:
        return denied
    return store, data, body


def _not_an_object(index: int) -> WriteResult:
    return WriteResult(
        {
            "code": "INVALID_DATA",
            "details": {"expected_data_type": "jsonobject", "json_path": f"$.data[{index}]"},
            "message": "invalid data",
            "status": "error",
        }
    )


def _notify(sandbox: Sandbox, module: str, operation: str, results: list[WriteResult]) -> None:
    changed = {str(r.record.values["id"]): r.changes or {} for r in results if r.record is not None}
    sandbox.notify(module, operation, changed)


async def insert_records(request: Request, call: Call) -> Response:
    batch = await _write_batch(request, call)
    if isinstance(batch, Response):
        return batch
    store, data, _ = batch
    module = store.module.api_name
    results = [
        call.sandbox.write_insert(module, item, n, call.user, "api")
        if isinstance(item, dict)
        else _not_an_object(n)
        for n, item in enumerate(data)
    ]
    _notify(call.sandbox, module, "insert", results)
    return per_record([r.body for r in results], 201)


async def update_records(request: Request, call: Call) -> Response:
    batch = await _write_batch(request, call)
    if isinstance(batch, Response):
        return batch
    store, data, _ = batch
    module = store.module.api_name
    path_id = request.path_params.get("record_id")
    if path_id is not None:
        data = [{**item, "id": path_id} if isinstance(item, dict) else item for item in data[:1]]
    unmodified = request.headers.get("if-unmodified-since")
    since = parse_time(unmodified) if unmodified else None
    results = [
        call.sandbox.write_update(module, item, n, call.user, "api", since)
        if isinstance(item, dict)
        else _not_an_object(n)
        for n, item in enumerate(data)
    ]
    _notify(call.sandbox, module, "update", results)
    bodies = [r.body for r in results]
    if all(b.get("code") == "ALREADY_MODIFIED" for b in bodies):
        return json_response({"data": bodies}, 412)
    return per_record(bodies)


async def upsert_records(request: Request, call: Call) -> Response:
    batch = await _write_batch(request, call)
    if isinstance(batch, Response):
        return batch
    store, data, body = batch
    module = store.module
    checks = body.get("duplicate_check_fields") or [module.duplicate_check]
    if not isinstance(checks, list) or any(not isinstance(c, str) or module.get(c) is None for c in checks):
        return error(
            400,
            "INVALID_DATA",
            "invalid data",
            {"api_name": "duplicate_check_fields", "json_path": "$.duplicate_check_fields"},
        )
    sandbox = call.sandbox
    inserted: list[WriteResult] = []
    updated: list[WriteResult] = []
    bodies: list[dict[str, Any]] = []
    for n, item in enumerate(data):
        if not isinstance(item, dict):
            bodies.append(_not_an_object(n).body)
            continue
        with sandbox.lock:
            target, duplicate_field = _upsert_target(store, item, checks)
        if target is None:
            result = sandbox.write_insert(module.api_name, item, n, call.user, "api")
            inserted.append(result)
            action = "insert"
        else:
            result = sandbox.write_update(module.api_name, {**item, "id": target}, n, call.user, "api")
            updated.append(result)
            action = "update"
        answer = dict(result.body)
        if result.record is not None:
            answer = {"code": "SUCCESS", "duplicate_field": duplicate_field, "action": action, **answer}
        bodies.append(answer)
    _notify(sandbox, module.api_name, "insert", inserted)
    _notify(sandbox, module.api_name, "update", updated)
    all_inserts = not updated and all(b.get("status") == "success" for b in bodies)
    return per_record(bodies, 201 if all_inserts else 200)


def _upsert_target(
    store: ModuleStore, item: dict[str, Any], checks: list[str]
) -> tuple[str | None, str | None]:
    """The record an upsert item matches: by id, else by the first duplicate-check field that hits."""
    raw_id = str(item.get("id", ""))
    number = whole_number(raw_id)
    if number is not None and store.get(number) is not None:
        return raw_id, None
    for name in checks:
        value = item.get(name)
        if value in (None, ""):
            continue
        found = store.find_by(name, value)
        if found:
            return str(found[0]), name
    return None, None


async def delete_records(request: Request, call: Call) -> Response:
    store = _store(call, request)
    if isinstance(store, Response):
        return store
    path_id = request.path_params.get("record_id")
    ids = [path_id] if path_id is not None else _ids(request.query_params.get("ids"))
    if isinstance(ids, Response):
        return ids
    denied = call.admit(1)
    if denied is not None:
        return denied
    module = store.module.api_name
    results = [call.sandbox.write_delete(module, raw_id, call.user, "api") for raw_id in ids]
    _notify(call.sandbox, module, "delete", results)
    return per_record([r.body for r in results])
