"""What the CRM's fields keep, for the push: an amount fit to its field's decimal places, never rounded,
and a batch's records refused for a field sent once more after the fields are read again.

The push holds the fields' metadata as last read (kept for a period: each read costs an API credit). A
write refused for what a field is (`PushResult.for_field`: its type, length or places, the field gone)
means an admin may have changed it: the fields are read from the CRM at once, and the refused records
whose values still fit are sent once more; those that no longer fit are not, and are planned again by
the next push against the fields as now read (held, naming the field, when they cannot be written).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from connector.ports import FieldUpdate, PushResult, StatusSink

REREAD = "fields re-read"  # run counts: the fields read again after a refusal for a field
RETRIED = "retried after re-reading fields"  # … and the records sent once more


def retry_refused_for_fields(
    sink: StatusSink,
    stream: str,
    updates: Sequence[FieldUpdate],
    results: Sequence[PushResult],
    counts: Counter[str],
) -> list[PushResult]:
    """`results` of sending `updates`, with those refused for a field replaced by the answers to sending
    them once more, after reading the fields again: only those whose values fit the fields as read."""
    places = sink.decimal_places(stream, fresh=True)
    counts[REREAD] += 1
    again = [
        n
        for n, result in enumerate(results)
        if result.for_field and not fit_places(dict(updates[n].values), places)
    ]
    answered = list(results)
    if not again:
        return answered
    for n, answer in zip(again, sink.push(stream, [updates[n] for n in again]), strict=True):
        answered[n] = answer
    counts[RETRIED] += len(again)
    return answered


def fit_places(values: dict[str, Any], places: Mapping[str, int]) -> dict[str, str]:
    """Why each amount the CRM field it goes to would round cannot be sent (target → reason): refused,
    never rounded. An amount whose extra decimals are zeros is written at the field's places, in place."""
    refused: dict[str, str] = {}
    for target, value in values.items():
        kept = places.get(target)
        if kept is None or not isinstance(value, Decimal) or not value.is_finite():
            continue
        needed = _places_needed(value)
        if needed > kept:
            refused[target] = (
                f"{value} needs {needed} decimal places; the CRM field keeps {kept} and would round it "
                f"(give the field {needed} decimal places in the CRM, or round it in the mapping: "
                f"places = {kept}, rounding = 'half_up')"
            )
        elif -int(value.as_tuple().exponent) > kept:
            values[target] = Decimal(value).quantize(Decimal(1).scaleb(-kept))
    return refused


def _places_needed(value: Decimal) -> int:
    """The decimal places `value` needs, its trailing zeros left out (1234.500 needs 1, 0.000 none)."""
    if not value:
        return 0
    _, digits, exponent = value.as_tuple()
    zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(int(exponent) + zeros))
