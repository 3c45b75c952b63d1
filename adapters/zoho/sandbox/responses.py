"""Zoho-shaped HTTP answers: JSON bodies as Zoho's content type, error envelopes, empty 204/304."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from adapters.zoho.sandbox.render import encode

JSON_TYPE = "application/json;charset=UTF-8"

LIMIT_MESSAGE = (
    "Number of API requests for the 24 hour period is exceeded or the concurrency limit of the user "
    "for the app is exceeded."
)


def json_bytes(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=headers, media_type=JSON_TYPE)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_bytes(encode(payload), status, headers)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "details": details if details is not None else {},
        "message": message,
        "status": "error",
    }


def error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    """The envelope of a call-level error: `{"code", "details", "message", "status": "error"}`."""
    return json_response(error_body(code, message, details), status)


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    """204 No Content / 304 Not Modified: no body at all."""
    return Response(status_code=status, headers=headers)


def too_many_requests() -> Response:
    return error(429, "TOO_MANY_REQUESTS", LIMIT_MESSAGE)


def server_error(status: int) -> Response:
    if status == 500:
        return error(500, "INTERNAL_ERROR", "Internal Server Error")
    return Response(f"{status} upstream unavailable", status_code=status, media_type="text/html")


def required_param(name: str) -> Response:
    return error(400, "REQUIRED_PARAM_MISSING", "required param is missing", {"param_name": name})


def invalid_param(name: str, supported: list[str] | None = None) -> Response:
    details: dict[str, Any] = {"param_name": name}
    if supported is not None:
        details["supported_values"] = supported
    return error(400, "INVALID_DATA", "invalid data", details)


def invalid_module(index: int = 0) -> Response:
    return error(
        400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": index}
    )


def per_record(results: list[dict[str, Any]], all_ok_status: int = 200) -> Response:
    """Per-record results in input order: all success → `all_ok_status`, mixed → 207, all failed → 400."""
    successes = sum(1 for r in results if r.get("status") == "success")
    if successes == len(results):
        status = all_ok_status
    elif successes == 0:
        status = 400
    else:
        status = 207
    return json_response({"data": results}, status)
