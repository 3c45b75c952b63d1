"""JSON text with `Decimal` values as numbers written exactly (the standard encoder would need floats), and
JSON read with a lone UTF-16 surrogate as U+FFFD."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def dumps_exact(value: Any) -> str:
    """Compact JSON; Decimals as plain numbers (`1234.50`, never `1.2345E+3`), dates as ISO text."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as a JSON number")
        return format(value, "f")
    if isinstance(value, Mapping):
        items = (
            f"{json.dumps(str(key), ensure_ascii=False)}:{dumps_exact(item)}" for key, item in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_exact(item) for item in value) + "]"
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


# A \uD800–\uDFFF escape: half of a surrogate pair, or a lone half (a name cut in the middle of an emoji).
# A regular expression with a literal start: a tenth of json.loads' time on a page of records.
_SURROGATE_TEXT = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a decoded pair is one character: what is left is lone


def loads_text(raw: str | bytes, **options: Any) -> Any:
    """`json.loads(raw, **options)`, with each lone surrogate its text escapes (`"Li \\ud83d"`) read as
    U+FFFD: such text cannot be encoded, so printing, hashing or storing the record would fail every time."""
    value = json.loads(raw, **options)
    found = _SURROGATE_TEXT.search(raw) if isinstance(raw, str) else _SURROGATE_BYTES.search(raw)
    return value if found is None else _without_lone_surrogates(value)  # walked only when there may be one


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value
