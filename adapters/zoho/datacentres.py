"""Zoho data centres: the accounts server that issues tokens and the default API host of each.

The token response's `api_domain` is the API base actually used; the table gives the accounts server
to ask and a fallback. Sandbox and developer environments prefix the API host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DataCentre = Literal["US", "EU", "IN", "AU", "CN", "JP", "CA", "SA"]
Environment = Literal["production", "sandbox", "developer"]


@dataclass(frozen=True)
class Endpoints:
    accounts_url: str
    api_url: str


_HOSTS: dict[str, tuple[str, str]] = {
    "US": ("accounts.zoho.com", "www.zohoapis.com"),
    "EU": ("accounts.zoho.eu", "www.zohoapis.eu"),
    "IN": ("accounts.zoho.in", "www.zohoapis.in"),
    "AU": ("accounts.zoho.com.au", "www.zohoapis.com.au"),
    "CN": ("accounts.zoho.com.cn", "www.zohoapis.com.cn"),
    "JP": ("accounts.zoho.jp", "www.zohoapis.jp"),
    "CA": ("accounts.zohocloud.ca", "www.zohoapis.ca"),
    "SA": ("accounts.zoho.sa", "www.zohoapis.sa"),
}


def endpoints(data_centre: DataCentre, environment: Environment = "production") -> Endpoints:
    accounts, api = _HOSTS[data_centre]
    return Endpoints(f"https://{accounts}", in_environment(f"https://{api}", environment))


def in_environment(api_url: str, environment: Environment) -> str:
    """The API base of `environment` for a production one: a sandbox or developer org is served from
    `sandbox.`/`developer.` + the production API host, whatever host its token's `api_domain` names."""
    if environment == "production":
        return api_url
    scheme, _, host = api_url.partition("://")
    production = host.removeprefix("www.")
    if not production.startswith("zohoapis."):  # already the environment's, or not Zoho's (a local sandbox)
        return api_url
    return f"{scheme}://{environment}.{production}"
