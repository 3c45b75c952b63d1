"""The accounts server (`POST /oauth/v2/token`) and the API's token and scope checks.

Zoho's rules reproduced: access tokens live `token_lifetime_s` (1 h); one refresh token mints at most 10
access tokens per 10 minutes, then "Access Denied" until the window frees up; grant codes are one-time
and short-lived; at most 20 refresh tokens per client (the 21st deletes the oldest). Token errors are
JSON with HTTP 200 (`invalid_client`, `invalid_code`), the throttle is HTTP 400.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.zoho.sandbox.config import SandboxConfig

THROTTLED: dict[str, Any] = {
    "error_description": "You have made too many requests continuously. Please try again after some time.",
    "error": "Access Denied",
    "status": "failure",
}
REFRESH_TOKENS_PER_CLIENT = 20


@dataclass
class AccessToken:
    value: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class RefreshGrant:
    value: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    issued: deque[float] = field(default_factory=deque)


@dataclass
class GrantCode:
    value: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(frozen=True)
class AuthFailure:
    """Why an API call's token was refused: HTTP 401 with Zoho's code and message."""

    code: str
    message: str


def _new_token() -> str:
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


def covers(granted: str, required: str) -> bool:
    """Does a granted scope (`ZohoCRM.modules.ALL`) cover a required one (`ZohoCRM.modules.contacts.READ`)?"""
    g, r = granted.split("."), required.split(".")
    if len(g) < 2 or len(r) < 2 or g[0].lower() != r[0].lower():
        return False
    g_path, g_op = [p.lower() for p in g[1:-1]], g[-1].upper()
    r_path, r_op = [p.lower() for p in r[1:-1]], r[-1].upper()
    if r_path[: len(g_path)] != g_path:
        return False
    return g_op in {"ALL", r_op} or (g_op == "WRITE" and r_op in {"CREATE", "UPDATE", "DELETE"})


def has_scopes(granted: tuple[str, ...], required: tuple[str, ...]) -> bool:
    return all(any(covers(g, r) for g in granted) for r in required)


class Accounts:
    """Clients, refresh tokens, grant codes and live access tokens of one sandbox (thread-safe)."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float], user_id: str) -> None:
        self.config = config
        self.clock = clock
        self.user_id = user_id
        self.clients = {config.client_id: config.client_secret}
        self.refresh: dict[str, RefreshGrant] = {
            config.refresh_token: RefreshGrant(config.refresh_token, config.client_id, user_id, config.scopes)
        }
        self.codes: dict[str, GrantCode] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.issued = 0
        self._lock = threading.Lock()

    def grant_code(self, scopes: tuple[str, ...] | None = None, client_id: str | None = None) -> str:
        """A one-time code, as the API console's "Generate Code" (Self Client) hands out."""
        code = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        with self._lock:
            self.codes[code] = GrantCode(
                code,
                client_id or self.config.client_id,
                self.user_id,
                scopes or self.config.scopes,
                self.clock() + self.config.grant_code_lifetime_s,
            )
        return code

    def token(self, params: Mapping[str, str], api_domain: str) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (HTTP status, JSON body)."""
        grant_type = params.get("grant_type", "")
        if grant_type not in {"refresh_token", "authorization_code"}:
            return 200, {"error": "unsupported_grant_type"}
        client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
        with self._lock:
            if self.clients.get(client_id) != secret or not secret:
                return 200, {"error": "invalid_client"}
            if grant_type == "authorization_code":
                return self._exchange_code(params.get("code", ""), client_id, api_domain)
            return self._refresh(params.get("refresh_token", ""), client_id, api_domain)

    def revoke(self, token: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.refresh.pop(token, None)
            self.tokens.pop(token, None)
        return 200, {"status": "success"}

    def check(self, header: str | None) -> AccessToken | AuthFailure:
        """The access token of an `Authorization: Zoho-oauthtoken …` header, or why it is refused."""
        if not header:
            return AuthFailure("AUTHENTICATION_FAILURE", "Authentication failed")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "zoho-oauthtoken" or not value.strip():
            return AuthFailure("AUTHENTICATION_FAILURE", "Authentication failed")
        with self._lock:
            found = self.tokens.get(value.strip())
        if found is None or found.expires_at <= self.clock():
            return AuthFailure("INVALID_TOKEN", "invalid oauth token")
        return found

    def expire_all(self) -> None:
        """Test helper: every access token issued so far is now expired."""
        with self._lock:
            for token in self.tokens.values():
                token.expires_at = 0.0

    def _mint(self, user_id: str, scopes: tuple[str, ...]) -> AccessToken:
        now = self.clock()
        for value in [v for v, t in self.tokens.items() if t.expires_at <= now]:
            del self.tokens[value]
        token = AccessToken(_new_token(), user_id, scopes, now + self.config.token_lifetime_s)
        self.tokens[token.value] = token
        self.issued += 1
        return token

    def _body(self, token: AccessToken, api_domain: str, refresh: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": token.value}
        if refresh is not None:
            body["refresh_token"] = refresh
        body.update(
            {
                "scope": " ".join(token.scopes),
                "api_domain": api_domain,
                "token_type": "Bearer",
                "expires_in": self.config.token_lifetime_s,
            }
        )
        return body

    def _refresh(self, value: str, client_id: str, api_domain: str) -> tuple[int, dict[str, Any]]:
        grant = self.refresh.get(value)
        if grant is None or grant.client_id != client_id:
            return 200, {"error": "invalid_code"}
        now = self.clock()
        while grant.issued and grant.issued[0] <= now - self.config.token_rate_window_s:
            grant.issued.popleft()
        if len(grant.issued) >= self.config.token_rate_limit:
            return 400, dict(THROTTLED)
        grant.issued.append(now)
        return 200, self._body(self._mint(grant.user_id, grant.scopes), api_domain)

    def _exchange_code(self, value: str, client_id: str, api_domain: str) -> tuple[int, dict[str, Any]]:
        code = self.codes.pop(value, None)
        if code is None or code.client_id != client_id or code.expires_at <= self.clock():
            return 200, {"error": "invalid_code"}
        refresh = RefreshGrant(_new_token(), client_id, code.user_id, code.scopes)
        mine = [v for v, g in self.refresh.items() if g.client_id == client_id]
        for oldest in mine[: max(0, len(mine) + 1 - REFRESH_TOKENS_PER_CLIENT)]:
            del self.refresh[oldest]
        self.refresh[refresh.value] = refresh
        refresh.issued.append(self.clock())
        return 200, self._body(self._mint(code.user_id, code.scopes), api_domain, refresh.value)
