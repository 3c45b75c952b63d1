"""Rendering helpers shared by commands: money for humans and for JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from connector.db import aware
from connector.money import Money


def money_text(money: Money) -> str:
    return f"{money.amount:,} {money.currency}"


def money_json(money: Money) -> dict[str, Any]:
    return {"amount": str(money.amount), "currency": money.currency, "minor": money.minor}


def iso_time(moment: datetime | None) -> str | None:
    """A stored instant in ISO 8601 with its offset (SQLite hands it back without one: it is UTC)."""
    return None if moment is None else aware(moment).isoformat()


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2, default=str)
