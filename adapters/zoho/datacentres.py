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
    if environment != "production":
        api = f"{environment}.{api.removeprefix('www.')}"
    return Endpoints(f"https://{accounts}", f"https://{api}")
