"""`POST /zoho/notify`: Zoho's notification callbacks, verified and stored before they are answered.

The endpoint does as little as it can: read a bounded JSON body, check the channel and its token
(constant time), store the notification in the inbox and answer 200. Fetching and applying the records
is `process_notifications`' job, outside the request. An unknown channel or a wrong token is answered
403 and stores nothing; the log names the channel, never the token.

    routes = notification_routes(container)   # mounted in the daemon's app (`connector.web.app`)
"""

from __future__ import annotations

import json
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connector.bootstrap import Container
from connector.exact_json import loads_text
from connector.sync.channels import NOTIFY_PATH
from connector.sync.notifications import parse_callback, receive_callback

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "error" if status >= 400 else "ok", "message": message}, status)


def notification_routes(container: Container) -> list[BaseRoute]:
    """The notification endpoint, bound to `container` (its database and key ring)."""

    async def notify(request: Request) -> Response:
        try:
            raw = await _body(request)
        except _TooLarge:
            log.warning("zoho notification refused: body over %d bytes", MAX_BODY_BYTES)
            return _answer(413, "body too large")
        try:
            callback = parse_callback(loads_text(raw))
        except RecursionError:  # nesting deep enough to exhaust the parser: no notification is
            log.warning("zoho notification refused: not JSON (nested too deep)")
            return _answer(400, "not a notification")
        except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors too
            reason = (
                str(exc) if not isinstance(exc, json.JSONDecodeError | UnicodeDecodeError) else "not JSON"
            )
            log.warning("zoho notification refused: %s", reason)
            return _answer(400, "not a notification")
        try:
            received = await run_in_threadpool(receive_callback, container, callback)
        except Exception as exc:  # Zoho sends it again; the log never holds the statement's parameters
            log.error("zoho notification not stored: %s (Zoho retries it)", type(exc).__name__)
            return _answer(503, "not stored, try again")
        if received.stored_id is None:
            log.warning("zoho notification refused: %s", received.refused)
            return _answer(403, "forbidden")
        if received.duplicate:
            log.info("zoho notification %s received again: not stored twice", received.stored_id)
            return _answer(200, "already stored")
        log.info(
            "zoho notification %s stored: %s %s (%d record(s), channel %s)",
            received.stored_id,
            callback.operation,
            callback.module,
            len(callback.ids),
            callback.channel_id,
        )
        return _answer(200, "stored")

    return [Route(NOTIFY_PATH, notify, methods=["POST"])]
