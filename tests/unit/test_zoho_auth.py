from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx
from pydantic import SecretStr

from adapters.zoho.auth import ZohoAuth, ZohoTokenClient
from adapters.zoho.datacentres import Environment, endpoints, in_environment
from connector.errors import AuthenticationError, PermanentRemoteError, TransientRemoteError
from connector.security.credentials import IssuedToken, Refresh

ACCOUNTS = "https://accounts.zoho.com.cn"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def token_client(http: httpx.Client) -> ZohoTokenClient:
    return ZohoTokenClient(http, ACCOUNTS, "1000.CLIENT", SecretStr("shh"), clock=lambda: NOW)


@respx.mock
def test_a_refresh_reads_the_token_its_lifetime_and_the_api_domain() -> None:
    route = respx.post(f"{ACCOUNTS}/oauth/v2/token").respond(
        json={"access_token": "1000.a", "api_domain": "https://www.zohoapis.com.cn", "expires_in": 3600}
    )
    with httpx.Client() as http:
        issued = token_client(http).refresh("1000.r")
    assert issued == IssuedToken(
        "1000.a", "https://www.zohoapis.com.cn", datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    )
    form = dict(httpx.QueryParams(route.calls.last.request.content.decode()))
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "1000.r",
        "client_id": "1000.CLIENT",
        "client_secret": "shh",
    }


@respx.mock
def test_the_older_token_answer_is_read_in_seconds_not_its_milliseconds() -> None:
    respx.post(f"{ACCOUNTS}/oauth/v2/token").respond(
        json={"access_token": "1000.a", "expires_in_sec": 3600, "expires_in": 3_600_000}
    )
    with httpx.Client() as http:
        issued = token_client(http).refresh("1000.r")
    assert issued.expires_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "status", "error", "message"),
    [
        (
            {"error": "invalid_client"},
            200,
            AuthenticationError,
            "check zoho.client_id, zoho.client_secret and",
        ),
        (
            {
                "code": "INVALID_URL_PATTERN",
                "message": "Please check if the URL trying to access is a correct one",
            },
            404,
            PermanentRemoteError,
            r"HTTP 404 INVALID_URL_PATTERN \(Please check if the URL.*check zoho.accounts_url",
        ),
        ({"error": "invalid_code"}, 200, AuthenticationError, "run `connector zoho authorize` again"),
        (
            {"error_description": "You have made too many requests continuously.", "error": "Access Denied"},
            400,
            TransientRemoteError,
            "throttles token requests",
        ),
    ],
)
@respx.mock
def test_token_server_refusals_map_onto_the_error_tree(
    body: dict[str, str], status: int, error: type[Exception], message: str
) -> None:
    respx.post(f"{ACCOUNTS}/oauth/v2/token").respond(status, json=body)
    with httpx.Client() as http, pytest.raises(error, match=message):
        token_client(http).refresh("1000.r")


@respx.mock
def test_a_grant_code_gives_the_refresh_token_to_store() -> None:
    respx.post(f"{ACCOUNTS}/oauth/v2/token").respond(
        json={
            "access_token": "1000.a",
            "refresh_token": "1000.r",
            "api_domain": "https://x",
            "expires_in": 3600,
        }
    )
    with httpx.Client() as http:
        refresh_token, issued = token_client(http).exchange_code("1000.code")
    assert (refresh_token, issued.access_token) == ("1000.r", "1000.a")


class Tokens:
    def __init__(self) -> None:
        self.current = "1000.old"
        self.rejections: list[str | None] = []

    def access_token(self, provider: str, refresh: Refresh, rejected: str | None = None) -> IssuedToken:
        self.rejections.append(rejected)
        if rejected == self.current:
            self.current = "1000.new"
        return IssuedToken(self.current, "https://www.zohoapis.com.cn", NOW)


@respx.mock
def test_an_expired_token_is_replaced_once_and_the_call_sent_again() -> None:
    invalid = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}
    route = respx.get("https://www.zohoapis.com.cn/crm/v8/org").mock(
        side_effect=[httpx.Response(401, json=invalid), httpx.Response(200, json={"org": []})]
    )
    tokens = Tokens()
    with httpx.Client() as http:
        auth = ZohoAuth(tokens, token_client(http))
        response = http.get("https://www.zohoapis.com.cn/crm/v8/org", auth=auth)
    assert response.status_code == 200
    assert [call.request.headers["Authorization"] for call in route.calls] == [
        "Zoho-oauthtoken 1000.old",
        "Zoho-oauthtoken 1000.new",
    ]
    assert tokens.rejections == [None, "1000.old"]


@respx.mock
def test_other_401s_are_not_retried() -> None:
    scope = {
        "code": "OAUTH_SCOPE_MISMATCH",
        "details": {},
        "message": "invalid oauth scope",
        "status": "error",
    }
    route = respx.get("https://www.zohoapis.com.cn/crm/v8/org").respond(401, json=scope)
    with httpx.Client() as http:
        response = http.get(
            "https://www.zohoapis.com.cn/crm/v8/org", auth=ZohoAuth(Tokens(), token_client(http))
        )
    assert (response.status_code, route.call_count) == (401, 1)


def test_each_data_centre_has_its_accounts_server_and_sandbox_api_host() -> None:
    assert endpoints("EU").accounts_url == "https://accounts.zoho.eu"
    assert endpoints("CN", "sandbox").api_url == "https://sandbox.zohoapis.com.cn"
    assert endpoints("CA").accounts_url == "https://accounts.zohocloud.ca"


@pytest.mark.parametrize(
    ("api_domain", "environment", "base"),
    [
        ("https://www.zohoapis.com", "sandbox", "https://sandbox.zohoapis.com"),
        ("https://www.zohoapis.eu", "developer", "https://developer.zohoapis.eu"),
        ("https://sandbox.zohoapis.in", "sandbox", "https://sandbox.zohoapis.in"),
        ("https://www.zohoapis.jp", "production", "https://www.zohoapis.jp"),
        ("http://127.0.0.1:8123", "sandbox", "http://127.0.0.1:8123"),
    ],
)
def test_a_sandbox_or_developer_org_is_called_on_its_own_host_whatever_the_token_names(
    api_domain: str, environment: Environment, base: str
) -> None:
    assert in_environment(api_domain, environment) == base
