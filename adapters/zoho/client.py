"""One Zoho CRM API call: signed, within the org's concurrency, paid for from the credit budget, retried.

Every call of the adapter goes through `ZohoApi.call`, which turns Zoho's answers into either a
`ZohoResponse` (200, 201, 202, 207; 204 and 304 with no body) or an error of the connector's tree:
429 and 5xx, timeouts and dropped connections are transient and retried by the one retry policy
(`Retry-After` honoured); a 429 with no credits left, or a spent local budget, is
`BudgetExhaustedError`; other 4xx are permanent and carry Zoho's code, message and details. A process
told to stop does not wait for the answer to a read or an idempotent write (`StoppingError` at once, the
next run repeats it); a POST or PATCH it waits for, so that what it made is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from adapters.zoho.auth import ZohoAuth
from adapters.zoho.datacentres import Environment, in_environment
from adapters.zoho.limits import PLAIN_CALL, CallCost, Concurrency, CreditMeter
from connector.errors import (
    AuthenticationError,
    BudgetExhaustedError,
    PermanentRemoteError,
    TransientRemoteError,
)
from connector.exact_json import dumps_exact, loads_text
from connector.retry import RetryPolicy, retry_after_seconds, transport_errors_are_transient, unless_stopping

API_VERSION = "/crm/v8"
SUCCESS = frozenset({200, 201, 202, 207})
NO_CONTENT = frozenset({204, 304})
AUTH_CODES = frozenset({"INVALID_TOKEN", "AUTHENTICATION_FAILURE", "OAUTH_SCOPE_MISMATCH"})
# Calls a stop need not wait for (RFC 9110's idempotent methods): the next run repeats one whose answer was
# dropped to the same effect (a pull's page, a push's update). A POST (a channel subscribed, fields
# created) or a PATCH is waited for, so what it made is recorded.
GIVES_WAY_TO_A_STOP = frozenset({"GET", "HEAD", "PUT", "DELETE"})


@dataclass(frozen=True)
class ZohoResponse:
    status: int
    body: dict[str, Any] | None  # None for 204 No Content and 304 Not Modified
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def data(self) -> list[dict[str, Any]]:
        items = (self.body or {}).get("data")
        return items if isinstance(items, list) else []

    @property
    def info(self) -> dict[str, Any]:
        info = (self.body or {}).get("info")
        return info if isinstance(info, dict) else {}


class ZohoApiError(PermanentRemoteError):
    """A call Zoho refused (4xx other than 429): its code, message and details, and, when it answered
    per item (`{"data": [{…}, …]}`: a write whose every record was refused), each item's result."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None,
        details: Mapping[str, Any],
        items: Sequence[dict[str, Any]] = (),
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.details = dict(details)
        self.items = list(items)


class ZohoApi:
    """The CRM API of one org; thread-safe (the HTTP client, semaphores and meter all are)."""

    def __init__(
        self,
        http: httpx.Client,
        auth: ZohoAuth,
        meter: CreditMeter,
        concurrency: Concurrency,
        retry: RetryPolicy,
        api_url: str | None = None,
        fallback_api_url: str = "https://www.zohoapis.com",
        environment: Environment = "production",
    ) -> None:
        self.http = http
        self.auth = auth
        self.meter = meter
        self.concurrency = concurrency
        self.retry = retry
        self.api_url = api_url.rstrip("/") if api_url else None
        self.fallback_api_url = fallback_api_url
        self.environment: Environment = environment

    def base_url(self) -> str:
        """The configured override, else the token's `api_domain` (in the configured environment), else
        the data centre's default host."""
        if self.api_url:
            return self.api_url
        api_domain = self.auth.token().api_domain
        if api_domain is None:
            return self.fallback_api_url.rstrip("/")
        return in_environment(api_domain.rstrip("/"), self.environment)

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        cost: CallCost = PLAIN_CALL,
    ) -> ZohoResponse:
        """`method` on `{api}/crm/v8{path}`, retried while transient; `what` names the call in errors.

        `body` is sent as JSON with Decimals as exact numbers (currency fields never pass through float).
        """
        content = dumps_exact(body).encode() if body is not None else None
        charged_again = True

        def attempt() -> ZohoResponse:
            # An attempt Zoho throttled (429) was refused unprocessed and cost nothing: the next one is not
            # charged again. One that failed otherwise (5xx, a timeout) may have been processed: it is.
            nonlocal charged_again
            if charged_again:
                self.meter.charge(cost.credits, what)
            try:
                return self._once(method, path, what, params, content, headers, cost)
            except TransientRemoteError as exc:
                charged_again = exc.status != 429
                raise

        return self.retry.call(attempt)

    def _once(
        self,
        method: str,
        path: str,
        what: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        cost: CallCost,
    ) -> ZohoResponse:
        url = f"{self.base_url()}{API_VERSION}{path}"
        if content is not None:
            headers = {**(headers or {}), "Content-Type": "application/json"}

        def send() -> httpx.Response:
            return self.http.request(
                method, url, params=params, content=content, headers=headers, auth=self.auth
            )

        with self.concurrency.slot(cost.complex_call), transport_errors_are_transient(what):
            response = unless_stopping(send, what) if method in GIVES_WAY_TO_A_STOP else send()
        self.meter.observe_remaining(response.headers.get("X-API-CREDITS-REMAINING"))
        return read_response(response, what)


def read_response(response: httpx.Response, what: str) -> ZohoResponse:
    """Zoho's answer as a `ZohoResponse`, or the error of the connector's tree it stands for."""
    status = response.status_code
    if status in NO_CONTENT:
        return ZohoResponse(status, None, response.headers)
    if status in SUCCESS:
        try:
            body = loads_text(response.content, parse_float=Decimal)  # amounts never pass through float
        except ValueError:
            raise TransientRemoteError(
                f"{what}: HTTP {status} with a body that is not JSON", status=status
            ) from None
        if not isinstance(body, dict):
            raise PermanentRemoteError(f"{what}: HTTP {status} with an unexpected body", status=status)
        return ZohoResponse(status, body, response.headers)
    code, message, details, items = _error_of(response)
    if status == 429:
        if response.headers.get("X-API-CREDITS-REMAINING") == "0":
            raise BudgetExhaustedError(
                f"{what}: the org's API credits for the day are spent", status=429, code=code
            )
        raise TransientRemoteError(
            f"{what}: throttled by Zoho (429 {code or ''})".rstrip(),
            status=429,
            code=code,
            retry_after=retry_after_seconds(response),
        )
    if status >= 500:
        raise TransientRemoteError(
            f"{what}: HTTP {status} {code or ''}".rstrip(),
            status=status,
            code=code,
            retry_after=retry_after_seconds(response),
        )
    text = f"{what}: HTTP {status} {code or 'error'}: {message}" + (f" {details}" if details else "")
    if status == 401 and code in AUTH_CODES:
        hint = {
            "OAUTH_SCOPE_MISMATCH": " — regenerate the grant code with the scopes the connector needs",
            "INVALID_TOKEN": " — the access token was refused even after a refresh",
        }.get(code or "", "")
        raise AuthenticationError(text + hint, status=status, code=code)
    raise ZohoApiError(text, status=status, code=code, details=details, items=items)


def _error_of(response: httpx.Response) -> tuple[str | None, str, dict[str, Any], list[dict[str, Any]]]:
    """Zoho's code, message and details, and the items of a per-item body (`{"data": [{…}, …]}`),
    whose first item's code, message and details stand for the whole answer."""
    try:
        body = response.json()
    except ValueError:
        return None, response.reason_phrase or "", {}, []
    items: list[dict[str, Any]] = []
    if isinstance(body, dict) and "code" not in body:
        lists = (value for value in body.values() if isinstance(value, list))
        listed = next((value for value in lists if value and isinstance(value[0], dict)), [])
        items = [item for item in listed if isinstance(item, dict)]
        body = items[0] if items else body
    if not isinstance(body, dict):
        return None, "", {}, []
    code = body.get("code")
    details = body.get("details")
    return (
        code if isinstance(code, str) else None,
        str(body.get("message", "")),
        details if isinstance(details, dict) else {},
        items,
    )
