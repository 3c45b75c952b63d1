"""Checking and converting one written field value the way Zoho does, with Zoho's per-record error bodies."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from adapters.zoho.sandbox.fields import FieldDef
from adapters.zoho.sandbox.store import whole_number
from adapters.zoho.sandbox.timeutil import format_time, parse_date, parse_time

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^[0-9+\-()./ x#*]{1,30}$")


class FieldError(Exception):
    """A per-record failure: becomes `{"code", "details", "message", "status": "error"}` in data[]."""

    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


@dataclass(frozen=True)
class Resolvers:
    """Look-ups a value needs: a record's display name by module and id, a user by id, the user's zone."""

    lookup: Callable[[str, str], dict[str, Any] | None]
    user: Callable[[str], dict[str, Any] | None]
    tz: timezone


def invalid(
    api_name: str, path: str, expected: str | None = None, message: str = "invalid data"
) -> FieldError:
    details: dict[str, Any] = {"api_name": api_name, "json_path": path}
    if expected is not None:
        details = {"expected_data_type": expected, **details}
    return FieldError("INVALID_DATA", message, details)


def mandatory_missing(api_name: str, path: str) -> FieldError:
    return FieldError(
        "MANDATORY_NOT_FOUND", "required field not found", {"api_name": api_name, "json_path": path}
    )


def _too_long(definition: FieldDef, path: str, limit: int) -> FieldError:
    details = {"maximum_length": limit, "api_name": definition.api_name, "json_path": path}
    return FieldError("INVALID_DATA", "invalid data", details)


def _text(definition: FieldDef, raw: Any, path: str) -> str:
    if not isinstance(raw, str):
        raise invalid(definition.api_name, path, definition.data_type)
    value = raw.replace("\x00", "")
    limit = definition.max_length()
    if limit is not None and len(value) > limit:
        raise _too_long(definition, path, limit)
    return value


def _digits(value: int | Decimal) -> int:
    """Digits before the point, read off the exponent (1E+5000 has too many to be written out)."""
    number = Decimal(value)
    return max(number.adjusted() + 1, 1) if number else 1


def _decimal(definition: FieldDef, raw: Any, path: str) -> Decimal:
    """JSON numbers only (the body is parsed with Decimal floats), rounded half-up to the field's places."""
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise invalid(definition.api_name, path, "double")
    limit = definition.max_length() or 16
    value = Decimal(raw)
    if not value.is_finite() or _digits(value) > limit - definition.places():  # before rounding: 1E+40
        raise _too_long(definition, path, limit)  # is too long, not past what quantize can hold
    value = value.quantize(Decimal(1).scaleb(-definition.places()), rounding=ROUND_HALF_UP)
    if _digits(value) > limit - definition.places():  # 99.995 rounded to 100.00 may no longer fit
        raise _too_long(definition, path, limit)
    return value


def _integer(definition: FieldDef, raw: Any, path: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise invalid(definition.api_name, path, definition.data_type)
    limit = definition.max_length() or 9
    if _digits(raw) > limit:
        raise _too_long(definition, path, limit)
    return raw


def _reference_id(raw: Any) -> str | None:
    if isinstance(raw, dict):
        raw = raw.get("id")
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | str) and whole_number(str(raw)) is not None:
        return str(raw)
    return None


def coerce(definition: FieldDef, raw: Any, path: str, resolvers: Resolvers) -> Any:
    """The stored form of a written value, or FieldError; `None` clears (mandatory is checked earlier)."""
    if raw is None:
        return None
    kind = definition.data_type
    name = definition.api_name
    if kind in {"text", "textarea", "website", "picklist"}:
        return _text(definition, raw, path)
    if kind == "email":
        value = _text(definition, raw, path)
        if value and not _EMAIL.match(value):
            raise invalid(name, path, "email")
        return value
    if kind == "phone":
        value = _text(definition, raw, path)
        if value and not _PHONE.match(value):
            raise invalid(name, path, "phone")
        return value
    if kind in {"currency", "double", "percent"}:
        return _decimal(definition, raw, path)
    if kind in {"integer", "bigint"}:
        return _integer(definition, raw, path)
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise invalid(name, path, "boolean")
        return raw
    if kind == "date":
        if not isinstance(raw, str) or parse_date(raw) is None:
            raise invalid(name, path, "date")
        return raw
    if kind == "datetime":
        seconds = parse_time(raw) if isinstance(raw, str) else None
        if seconds is None:
            raise invalid(name, path, "datetime")
        return format_time(seconds, resolvers.tz)
    if kind == "multiselectpicklist":
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise invalid(name, path, "jsonarray")
        return list(raw)
    if kind == "lookup":
        ref = _reference_id(raw)
        found = resolvers.lookup(definition.lookup_module or "", ref) if ref else None
        if found is None:
            raise invalid(name, path, message="the related id given seems to be invalid")
        return found
    if kind == "ownerlookup":
        ref = _reference_id(raw)
        user = resolvers.user(ref) if ref else None
        if user is None:
            raise invalid(name, path, message="the related id given seems to be invalid")
        return user
    raise invalid(name, path, kind)
