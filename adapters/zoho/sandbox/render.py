"""JSON out, fast: compact bytes, Decimal money as JSON numbers (never via float), cached record fragments.

`json` cannot emit a Decimal as a bare number, so a Decimal is encoded as a marked string
("\\x00" + digits) and the marker's quotes are stripped from the encoded text afterwards. Stored text never
contains NUL (writes strip it), so the marker cannot be forged by data.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# The C encoder built once (JSONEncoder.encode rebuilds it on every call): ~15% off the listing hot path.
_MAKE_C_ENCODER: Callable[..., Callable[[Any, int], list[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)
_C_ENCODE = (
    _MAKE_C_ENCODER(None, _refuse, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    if _MAKE_C_ENCODER is not None
    else None
)


def _encode_plain(payload: dict[str, Any]) -> str:
    """Compact JSON of a payload holding only JSON-native values (no Decimal)."""
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(payload, 0))
    return _ENCODER.encode(payload)


_MARKED_NUMBER = re.compile(r'"\\u0000(-?[0-9]+(?:\.[0-9]+)?)"')
_MARK = "\\u0000"


def _mark(value: Any) -> Any:
    if type(value) is Decimal:
        return "\x00" + format(value, "f")
    if type(value) is dict:
        return {k: _mark(v) for k, v in value.items()}
    if type(value) is list:
        return [_mark(v) for v in value]
    return value


def encode_text(payload: Any) -> str:
    """Compact JSON text of any payload; Decimals anywhere in it become JSON numbers."""
    text = _ENCODER.encode(_mark(payload))
    return _MARKED_NUMBER.sub(r"\1", text) if _MARK in text else text


def encode(payload: Any) -> bytes:
    return encode_text(payload).encode()


@dataclass(frozen=True)
class FieldPlan:
    """How to cut a record down to a field set: `id` and plain fields by one C-level itemgetter call,
    Decimal fields appended as `"Name":digits` after encoding (API names need no JSON escaping).

    Records hold every field of their module (None when empty), so the getter never misses.
    """

    keys: tuple[str, ...]
    numbers: tuple[str, ...]
    getter: Callable[[dict[str, Any]], Any]

    @classmethod
    def build(cls, fields: tuple[str, ...], decimal_fields: frozenset[str]) -> FieldPlan:
        keys = ("id", *(f for f in fields if f not in decimal_fields))
        numbers = tuple(f for f in fields if f in decimal_fields)
        return cls(keys, numbers, itemgetter(*keys) if len(keys) > 1 else lambda values: (values["id"],))


def encode_record(values: dict[str, Any], plan: FieldPlan) -> bytes:
    """One record restricted to a field set (plus `id`, which Zoho always returns), as JSON bytes."""
    text = _encode_plain(dict(zip(plan.keys, plan.getter(values), strict=True)))
    if plan.numbers:
        tail = "".join(
            f',"{name}":{value:f}' if (value := values[name]) is not None else f',"{name}":null'
            for name in plan.numbers
        )
        text = text[:-1] + tail + "}"
    return text.encode()


class RenderCache:
    """Encoded records per requested field set, so repeated pages cost a join, not an encode.

    Keeps the few most recent field sets; a record's entries are dropped whenever it changes.
    """

    def __init__(self, field_sets: int = 4) -> None:
        self._sets: OrderedDict[tuple[str, ...], tuple[FieldPlan, dict[int, bytes]]] = OrderedDict()
        self._limit = field_sets

    def for_fields(
        self, fields: tuple[str, ...], decimal_fields: frozenset[str]
    ) -> tuple[FieldPlan, dict[int, bytes]]:
        found = self._sets.get(fields)
        if found is None:
            found = self._sets[fields] = (FieldPlan.build(fields, decimal_fields), {})
            while len(self._sets) > self._limit:
                self._sets.popitem(last=False)
        else:
            self._sets.move_to_end(fields)
        return found

    def forget(self, record_id: int) -> None:
        for _, cached in self._sets.values():
            cached.pop(record_id, None)

    def clear(self) -> None:
        self._sets.clear()
