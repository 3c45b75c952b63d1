"""The org and its users: who the API user is, who else edits records, what `GET /org` shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.zoho.sandbox.config import SandboxConfig


def full_name(first: str | None, last: str | None) -> str:
    """Zoho's Full_Name: "First Last" for Latin names, family name first and no space for CJK ones."""
    first, last = (first or "").strip(), (last or "").strip()
    if (first + last).isascii() or not first or any(c.isascii() and c.isalpha() for c in first + last):
        return f"{first} {last}".strip()
    return f"{last}{first}"


@dataclass(frozen=True)
class User:
    id: str
    first_name: str
    last_name: str
    email: str
    role: str
    profile: str

    @property
    def full_name(self) -> str:
        return full_name(self.first_name, self.last_name)

    def ref(self) -> dict[str, Any]:
        """The `{"name", "id", "email"}` form used in Owner / Created_By / Modified_By."""
        return {"name": self.full_name, "id": self.id, "email": self.email}


def build_users(org_id_prefix: int) -> tuple[User, ...]:
    """The API user first (the refresh token belongs to it), then two sales reps who edit in the CRM UI."""
    base = org_id_prefix * 10**12
    return (
        User(str(base + 411001), "伟", "张", "zhang.wei@galaxy-trading.example", "CEO", "Administrator"),
        User(
            str(base + 411017),
            "Emily",
            "Carter",
            "emily.carter@galaxy-trading.example",
            "Sales Rep",
            "Standard",
        ),
        User(str(base + 411033), "芳", "王", "wang.fang@galaxy-trading.example", "Sales Rep", "Standard"),
    )


def user_payload(user: User, config: SandboxConfig, current: bool) -> dict[str, Any]:
    base = config.org_id_prefix * 10**12
    return {
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "full_name": user.full_name,
        "email": user.email,
        "role": {"name": user.role, "id": str(base + (861 if user.role == "CEO" else 863))},
        "profile": {
            "name": user.profile,
            "id": str(base + (497 if user.profile == "Administrator" else 499)),
        },
        "status": "active",
        "confirm": True,
        "locale": "zh_CN" if not user.first_name.isascii() else "en_US",
        "time_zone": config.time_zone,
        "country": "CN",
        "zuid": str(700_000_000 + int(user.id) % 1_000_000),
        "date_format": "yyyy-MM-dd",
        "time_format": "HH:mm",
        "type__s": "Regular User",
        "current_user": current,
    }


def org_payload(config: SandboxConfig) -> dict[str, Any]:
    base = config.org_id_prefix * 10**12
    return {
        "id": str(base + 100),
        "company_name": config.company_name,
        "alias": "galaxy",
        "primary_email": "zhang.wei@galaxy-trading.example",
        "domain_name": f"org{config.org_id_prefix}",
        "country": "China",
        "country_code": "CN",
        "time_zone": config.time_zone,
        "currency": "Chinese Yuan Renminbi - CNY" if config.base_currency == "CNY" else config.base_currency,
        "currency_symbol": "¥" if config.base_currency == "CNY" else config.base_currency,
        "currency_locale": "zh_CN",
        "iso_code": config.base_currency,
        "mc_status": True,
        "type": "sandbox",
        "zgid": str(700_000_000 + config.org_id_prefix),
        "primary_zuid": "700411001",
        "max_per_page": 200,
        "license_details": {
            "paid": config.edition != "free",
            "paid_type": config.edition,
            "paid_expiry": None,
            "users_license_purchased": config.licensed_users,
            "trial_type": None,
            "trial_expiry": None,
        },
    }
