"""The accounts server's HTTP face: `POST /oauth/v2/token` and `POST /oauth/v2/token/revoke`.

Parameters may come as a form body or in the query string (Zoho accepts both). `api_domain` in a token
answer is the sandbox's own base URL, so a client that follows it (as it must) stays on the sandbox.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from adapters.zoho.sandbox.responses import json_response
from adapters.zoho.sandbox.state import Sandbox


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    body = (await request.body()).decode("utf-8", errors="replace")
    if body:
        params.update(parse_qsl(body, keep_blank_values=True))
    return params


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def token(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    status, body = sandbox.accounts.token(await _params(request), base_url(request))
    return json_response(body, status)


async def revoke(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    status, body = sandbox.accounts.revoke((await _params(request)).get("token", ""))
    return json_response(body, status)
