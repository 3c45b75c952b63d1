"""Rendering helpers shared by commands: money for humans and for JSON."""

from __future__ import annotations

import json
from typing import Any

from connector.money import Money


def money_text(money: Money) -> str:
    return f"{money.amount:,} {money.currency}"


def money_json(money: Money) -> dict[str, Any]:
    return {"amount": str(money.amount), "currency": money.currency, "minor": money.minor}


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2, default=str)
