"""What every CRM API call goes through before its handler: concurrency, latency, token, scope, faults.

Credits and the sub-concurrency pool depend on what the call is (a write of 37 records costs 4 credits
and is "complex"), so the handler claims them through `Call.admit` once it has read its input.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from adapters.zoho.sandbox.auth import AccessToken, AuthFailure, has_scopes
from adapters.zoho.sandbox.directory import User
from adapters.zoho.sandbox.responses import error, server_error, too_many_requests
from adapters.zoho.sandbox.state import Sandbox

ScopeRule = Callable[[Request], tuple[str, ...]]


@dataclass
class Call:
    """One admitted API call: the sandbox, the caller's token, and the complex-call slot it may hold."""

    sandbox: Sandbox
    token: AccessToken
    holds_complex_slot: bool = False

    @property
    def user(self) -> User:
        return self.sandbox.user(self.token.user_id) or self.sandbox.api_user

    def admit(self, cost: int, complex_call: bool = False) -> Response | None:
        """Claim a sub-concurrency slot (complex calls) and `cost` credits; a 429 answer if either is gone."""
        limits = self.sandbox.limits
        if complex_call:
            if not limits.enter_complex():
                return too_many_requests()
            self.holds_complex_slot = True
        if not limits.charge(cost):
            return too_many_requests()
        return None


Handler = Callable[[Request, Call], Awaitable[Response]]


def module_scope(operation: str) -> ScopeRule:
    """`ZohoCRM.modules.{module}.{operation}` for the module in the path."""
    return lambda request: (f"ZohoCRM.modules.{request.path_params.get('module', '').lower()}.{operation}",)


def fixed_scope(*scopes: str) -> ScopeRule:
    return lambda request: scopes


def api(handler: Handler, scopes: ScopeRule) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler in the call pipeline Zoho's gateway applies."""

    async def endpoint(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        limits = sandbox.limits
        if not limits.enter():
            return too_many_requests()
        call: Call | None = None
        try:
            token = sandbox.accounts.check(request.headers.get("authorization"))
            if isinstance(token, AuthFailure):
                return error(401, token.code, token.message)
            if not has_scopes(token.scopes, scopes(request)):
                return error(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")
            injected = sandbox.injector.decide()
            if injected is not None:
                return too_many_requests() if injected.status == 429 else server_error(injected.status)
            call = Call(sandbox, token)
            response = await handler(request, call)
            # The call's time is spent holding its slots, a complex call's too (the handler claims that
            # one as it learns what the call is): a slow Zoho is one whose slots stay taken.
            await sandbox.injector.delay()
            remaining = limits.remaining_header()
            if remaining is not None:
                response.headers["X-API-CREDITS-REMAINING"] = remaining
            return response
        finally:
            limits.leave()
            if call is not None and call.holds_complex_slot:
                limits.leave_complex()

    return endpoint


class BodyError(ValueError):
    """The request body is not the JSON object the endpoint expects."""


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object body, numbers with a fraction as Decimal (money never passes through float)."""
    raw = await request.body()
    try:
        parsed = json.loads(raw or b"null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(str(exc)) from exc
    if not isinstance(parsed, dict):
        raise BodyError("body is not a JSON object")
    return parsed


def invalid_body() -> Response:
    return error(400, "INVALID_DATA", "body", {"json_path": "$"})
