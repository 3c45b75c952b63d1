"""Zoho OAuth: token exchanges with the accounts server, and the `httpx.Auth` that signs API calls.

Every call carries `Authorization: Zoho-oauthtoken …` with the one shared access token (see
`connector.security.credentials`); a call answered 401 `INVALID_TOKEN` gets the token replaced once
and is sent again. Token-server answers are mapped onto the connector's error tree: a wrong client or
revoked refresh token is an `AuthenticationError`, Zoho's "too many requests" throttle is transient.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from connector.errors import AuthenticationError, PermanentRemoteError, TransientRemoteError
from connector.retry import transport_errors_are_transient
from connector.security.credentials import IssuedToken, Refresh

PROVIDER = "zoho"
THROTTLE_WAIT = 60.0  # seconds; Zoho names no wait for its token throttle


class ZohoTokenClient:
    """Refresh-token and grant-code exchanges against one data centre's accounts server."""

    def __init__(
        self,
        http: httpx.Client,
        accounts_url: str,
        client_id: str,
        client_secret: SecretStr,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http = http
        self.token_url = f"{accounts_url.rstrip('/')}/oauth/v2/token"
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock

    def refresh(self, refresh_token: str) -> IssuedToken:
        body = self._post({"grant_type": "refresh_token", "refresh_token": refresh_token})
        return self._issued(body)

    def exchange_code(self, code: str, redirect_uri: str | None = None) -> tuple[str, IssuedToken]:
        """A self-client grant code → (refresh token, first access token). The code works once."""
        form = {"grant_type": "authorization_code", "code": code}
        if redirect_uri:
            form["redirect_uri"] = redirect_uri
        body = self._post(form)
        refresh_token = body.get("refresh_token")
        if not isinstance(refresh_token, str):
            raise AuthenticationError(
                "zoho: the grant code gave no refresh token (generate it with offline access)"
            )
        return refresh_token, self._issued(body)

    def _post(self, form: dict[str, str]) -> dict[str, Any]:
        data = {**form, "client_id": self.client_id, "client_secret": self.client_secret.get_secret_value()}
        with transport_errors_are_transient("zoho token request"):
            response = self.http.post(self.token_url, data=data)
        if response.status_code >= 500:
            raise TransientRemoteError(
                f"zoho token request: HTTP {response.status_code}", status=response.status_code
            )
        try:
            body = response.json()
        except ValueError:
            raise PermanentRemoteError(
                f"zoho token request: HTTP {response.status_code}, not JSON", status=response.status_code
            ) from None
        if not isinstance(body, dict):
            raise PermanentRemoteError("zoho token request: unexpected answer", status=response.status_code)
        if "access_token" not in body:
            raise _token_error(body, response.status_code, self.token_url)
        return body

    def _issued(self, body: dict[str, Any]) -> IssuedToken:
        # The older answer gives `expires_in_sec` beside an `expires_in` in milliseconds: seconds first.
        lifetime = body.get("expires_in_sec", body.get("expires_in", 3600))
        api_domain = body.get("api_domain")
        return IssuedToken(
            str(body["access_token"]),
            str(api_domain) if api_domain else None,
            self.clock() + timedelta(seconds=int(lifetime)),
        )


def _token_error(body: dict[str, Any], status: int, token_url: str = "") -> Exception:
    error = str(body.get("error") or body.get("code") or "unknown")
    if error == "invalid_client":
        return AuthenticationError(
            "zoho: invalid_client — check zoho.client_id, zoho.client_secret and the data centre (each has "
            "its own accounts server: zoho.accounts_url)",
            status=status,
            code=error,
        )
    if error == "invalid_code":
        return AuthenticationError(
            "zoho: invalid_code — the grant code was used or expired, or the refresh token was revoked; "
            "run `connector zoho authorize` again",
            status=status,
            code=error,
        )
    if error == "Access Denied" or "too many requests" in str(body.get("error_description", "")).lower():
        return TransientRemoteError(
            "zoho: the accounts server throttles token requests",
            status=status,
            code=error,
            retry_after=THROTTLE_WAIT,
        )
    said = str(body.get("error_description") or body.get("message") or "")
    return PermanentRemoteError(
        f"zoho token request to {token_url or 'the accounts server'} refused: HTTP {status} {error}"
        + (f" ({said})" if said else "")
        + " — check zoho.accounts_url (the accounts server of the org's data centre, e.g. "
        "https://accounts.zoho.com)",
        status=status,
        code=error,
    )


def error_code(response: httpx.Response) -> str | None:
    """Zoho's `code` from an error body (`{"code": "INVALID_TOKEN", …}`), if the body is one."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


class TokenSource(Protocol):
    def access_token(self, provider: str, refresh: Refresh, rejected: str | None = None) -> IssuedToken: ...


class ZohoAuth(httpx.Auth):
    """Signs each call with the shared token; on 401 INVALID_TOKEN replaces the token once and resends."""

    requires_response_body = True

    def __init__(self, store: TokenSource, tokens: ZohoTokenClient) -> None:
        self.store = store
        self.tokens = tokens

    def token(self, rejected: str | None = None) -> IssuedToken:
        return self.store.access_token(PROVIDER, self.tokens.refresh, rejected)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        issued = self.token()
        request.headers["Authorization"] = f"Zoho-oauthtoken {issued.access_token}"
        response = yield request
        if response.status_code == 401 and error_code(response) == "INVALID_TOKEN":
            issued = self.token(rejected=issued.access_token)
            request.headers["Authorization"] = f"Zoho-oauthtoken {issued.access_token}"
            yield request
