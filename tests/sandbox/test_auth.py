"""The accounts server and the API's token checks behave as Zoho's do."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from adapters.zoho.sandbox import ManualClock, SandboxServer
from tests.sandbox.conftest import EPOCH, Api, connect

INVALID_TOKEN = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}


def test_refresh_grant_returns_bearer_token_whose_api_domain_is_the_sandbox(
    start: Callable[..., SandboxServer],
) -> None:
    server = start()
    api = connect(server)
    body = api.refresh().json()
    assert body["access_token"].startswith("1000.")
    assert body["api_domain"] == server.base_url
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "refresh_token" not in body


def test_token_parameters_in_the_query_string_are_accepted(start: Callable[..., SandboxServer]) -> None:
    server = start()
    config = server.config
    params = {
        "grant_type": "refresh_token",
        "refresh_token": config.refresh_token,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
    }
    assert "access_token" in httpx.post(server.token_url, params=params).json()


def test_wrong_client_secret_is_invalid_client_with_http_200(start: Callable[..., SandboxServer]) -> None:
    server = start()
    config = server.config
    answer = httpx.post(
        server.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": config.refresh_token,
            "client_id": config.client_id,
            "client_secret": "wrong",
        },
    )
    assert (answer.status_code, answer.json()) == (200, {"error": "invalid_client"})


def test_unknown_refresh_token_is_invalid_code(start: Callable[..., SandboxServer]) -> None:
    server = start()
    config = server.config
    answer = httpx.post(
        server.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": "1000.revoked",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        },
    )
    assert answer.json() == {"error": "invalid_code"}


def test_expired_access_token_gets_invalid_token_until_refreshed(start: Callable[..., SandboxServer]) -> None:
    clock = ManualClock(EPOCH)
    api = connect(start(clock=clock, token_lifetime_s=60))
    assert api.get("/org").status_code == 200
    clock.advance(61)
    expired = api.get("/org")
    assert (expired.status_code, expired.json()) == (401, INVALID_TOKEN)
    api.token = api.refresh().json()["access_token"]
    assert api.get("/org").status_code == 200


def test_missing_or_bearer_authorization_is_authentication_failure(api: Api) -> None:
    for headers in ({}, {"Authorization": f"Bearer {api.token}"}):
        answer = api.http.get("/crm/v8/org", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["code"] == "AUTHENTICATION_FAILURE"


def test_eleventh_token_in_ten_minutes_is_access_denied_until_the_window_passes(
    start: Callable[..., SandboxServer],
) -> None:
    clock = ManualClock(EPOCH)
    api = connect(start(clock=clock))  # connecting took the first token
    for _ in range(9):
        clock.advance(10)
        assert api.refresh().status_code == 200
    throttled = api.refresh()
    assert throttled.status_code == 400
    assert throttled.json() == {
        "error_description": "You have made too many requests continuously. "
        "Please try again after some time.",
        "error": "Access Denied",
        "status": "failure",
    }
    clock.advance(600 - 90)
    assert api.refresh().status_code == 200


def test_grant_code_exchanges_once_for_refresh_and_access_tokens(start: Callable[..., SandboxServer]) -> None:
    server = start()
    config = server.config
    code = server.sandbox.grant_code(("ZohoCRM.modules.ALL",))
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "redirect_uri": "http://localhost/callback",
    }
    first = httpx.post(server.token_url, data=form).json()
    assert first["refresh_token"].startswith("1000.")
    assert first["scope"] == "ZohoCRM.modules.ALL"
    assert httpx.post(server.token_url, data=form).json() == {"error": "invalid_code"}
    headers = {"Authorization": f"Zoho-oauthtoken {first['access_token']}"}
    contacts = httpx.get(f"{server.base_url}/crm/v8/Contacts", params={"fields": "Email"}, headers=headers)
    assert contacts.status_code == 200
    org = httpx.get(f"{server.base_url}/crm/v8/org", headers=headers)
    assert (org.status_code, org.json()["code"]) == (401, "OAUTH_SCOPE_MISMATCH")
