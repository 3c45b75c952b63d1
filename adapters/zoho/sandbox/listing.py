"""`GET /crm/v8/{module}`: parameter checks, the 2,000-record wall, page tokens, If-Modified-Since, 204/304.

Pages are cut from the store's sorted indexes and joined from cached per-record JSON, so a page costs
a bisect plus `per_page` dictionary look-ups once the records have been rendered for the field set.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response

from adapters.zoho.sandbox.paging import PageCursor
from adapters.zoho.sandbox.render import encode, encode_record
from adapters.zoho.sandbox.responses import empty, error, invalid_param, json_bytes, required_param
from adapters.zoho.sandbox.state import Sandbox
from adapters.zoho.sandbox.store import ModuleStore, Record, SortBy, whole_number
from adapters.zoho.sandbox.timeutil import format_time, parse_time

MAX_FIELDS = 50
MAX_PER_PAGE = 200
SORT_BY: tuple[SortBy, ...] = ("id", "Created_Time", "Modified_Time")
BOUND_PARAMS = (
    "fields",
    "per_page",
    "sort_by",
    "sort_order",
    "cvid",
    "converted",
    "approved",
    "territory_id",
)


@dataclass(frozen=True)
class ListQuery:
    fields: tuple[str, ...]
    per_page: int
    page: int | None
    page_token: str | None
    sort_by: SortBy
    descending: bool
    since: int | None
    binding: tuple[str, ...]


def parse_fields(raw: str | None, known: frozenset[str]) -> tuple[str, ...] | Response:
    """Requested field API names (unknown names are dropped, as Zoho does); errors for none or > 50."""
    names = [n.strip() for n in (raw or "").split(",") if n.strip()]
    if not names:
        return required_param("fields")
    unique = list(dict.fromkeys(names))
    if len(unique) > MAX_FIELDS:
        return error(400, "LIMIT_EXCEEDED", "limit exceeded", {"limit": MAX_FIELDS, "param_name": "fields"})
    return tuple(n for n in unique if n in known and n != "id")


def positive_int(raw: str | None, name: str, default: int, maximum: int | None = None) -> int | Response:
    if raw is None:
        return default
    number = whole_number(raw)
    if number is None or number < 1 or (maximum is not None and number > maximum):
        return invalid_param(name)
    return number


def ambiguity(*names: str) -> Response:
    details = {"ambiguity_due_to": [{"param_name": n} for n in names]}
    return error(400, "AMBIGUITY_DURING_PROCESSING", "ambiguity while processing the request", details)


def parse_since(headers: Headers) -> int | Response | None:
    raw = headers.get("if-modified-since")
    if raw is None:
        return None
    since = parse_time(raw)
    if since is None:
        return error(400, "INVALID_DATA", "invalid data", {"header_name": "If-Modified-Since"})
    return since


def parse_list_query(
    params: QueryParams, headers: Headers, known: frozenset[str], user_id: str, module: str
) -> ListQuery | Response:
    fields = parse_fields(params.get("fields"), known)
    if isinstance(fields, Response):
        return fields
    if "page" in params and "page_token" in params:
        return ambiguity("page", "page_token")
    if "cvid" in params:
        return ambiguity("cvid", "sort_by") if "sort_by" in params else invalid_param("cvid")
    per_page = positive_int(params.get("per_page"), "per_page", MAX_PER_PAGE, MAX_PER_PAGE)
    if isinstance(per_page, Response):
        return per_page
    page = positive_int(params.get("page"), "page", 1) if "page" in params else None
    if isinstance(page, Response):
        return page
    sort_by = params.get("sort_by", "id")
    if sort_by not in SORT_BY:
        return invalid_param("sort_by", list(SORT_BY))
    sort_order = params.get("sort_order", "desc")
    if sort_order not in {"asc", "desc"}:
        return invalid_param("sort_order", ["asc", "desc"])
    since = parse_since(headers)
    if isinstance(since, Response):
        return since
    bound = tuple(f"{name}={params.get(name, '')}" for name in BOUND_PARAMS)
    binding = (user_id, module, *bound, f"ims={headers.get('if-modified-since', '')}")
    return ListQuery(
        fields,
        per_page,
        page,
        params.get("page_token"),
        sort_by,
        sort_order == "desc",
        since,
        binding,
    )


def render_rows(store: ModuleStore, rows: list[Record], fields: tuple[str, ...]) -> bytes:
    """`[rec,rec,…]` contents for a page, encoding each record only the first time per field set."""
    plan, cache = store.cache.for_fields(fields, store.module.decimal_fields())
    parts = []
    for record in rows:
        encoded = cache.get(record.id)
        if encoded is None:
            encoded = cache[record.id] = encode_record(record.values, plan)
        parts.append(encoded)
    return b",".join(parts)


def page_body(rows: bytes, info: dict[str, Any]) -> bytes:
    return b'{"data":[' + rows + b'],"info":' + encode(info) + b"}"


def _cursor_error(sandbox: Sandbox, query: ListQuery) -> PageCursor | Response:
    assert query.page_token is not None
    cursor = sandbox.page_tokens.find(query.page_token)
    mismatch = error(
        400,
        "TOKEN_BOUND_DATA_MISMATCH",
        "The page_token given seems to be invalid or input param is added or altered or deleted",
        {"param_name": "page_token"},
    )
    if cursor is None or cursor.binding != query.binding:
        return mismatch
    if cursor.expires_at <= sandbox.clock():
        return error(
            400,
            "EXPIRED_VALUE",
            "Page token expired",
            {"api_name": "page_token", "json_path": "$.query.page_token"},
        )
    if cursor.served >= sandbox.config.page_token_record_limit:
        return error(
            400,
            "PAGINATION_LIMIT_EXCEEDED",
            f"You can only get upto {sandbox.config.page_token_record_limit} records using page_token param",
            {"param_name": "page_token"},
        )
    return cursor


def list_page(sandbox: Sandbox, store: ModuleStore, query: ListQuery) -> Response:
    """One page of records (the caller holds the sandbox lock)."""
    config = sandbox.config
    if query.page_token is not None:
        cursor = _cursor_error(sandbox, query)
        if isinstance(cursor, Response):
            return cursor
        after, served, page_no, skip = cursor.after, cursor.served, cursor.page, 0
        room = min(query.per_page, config.page_token_record_limit - served)
    else:
        page_no = query.page or 1
        served = skip = (page_no - 1) * query.per_page
        after = None
        if served >= config.discrete_page_record_limit:
            return error(
                400,
                "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                f"You can only get the first {config.discrete_page_record_limit} records "
                "without using page_token param",
                {"limit": config.discrete_page_record_limit},
            )
        room = min(query.per_page, config.discrete_page_record_limit - served)
    rows = list(islice(store.walk(query.sort_by, query.descending, query.since, after, skip), room + 1))
    more = len(rows) > room
    rows = rows[:room]
    if not rows:
        return empty(304 if query.since is not None else 204)
    token = expiry = None
    if more:
        issued = sandbox.page_tokens.issue(
            query.binding, rows[-1].key(query.sort_by), served + len(rows), page_no + 1
        )
        token, expiry = issued.token, format_time(int(issued.expires_at), sandbox.tz)
    info = {
        "call": False,
        "per_page": query.per_page,
        "next_page_token": token,
        "count": len(rows),
        "sort_by": query.sort_by,
        "page": page_no,
        "page_token_expiry": expiry,
        "sort_order": "desc" if query.descending else "asc",
        "email": False,
        "more_records": more,
        "previous_page_token": None,
    }
    return json_bytes(page_body(render_rows(store, rows, query.fields), info))
