"""Named converters for mapping files: pure functions, one registry, adding one is one function.

A converter takes the current value and its keyword options and returns the new value, or raises
`ConversionError` with a reason an admin can act on. `None` means "no value": most converters pass
it through, so `required` and `default` decide what an absent value means.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from connector.mapping.decimals import STYLES, DecimalFormatError, format_decimal, parse_decimal

Convert = Callable[..., Any]


class ConversionError(ValueError):
    """A value the converter cannot turn into what the mapping asks for."""


@dataclass(frozen=True)
class Converter:
    name: str
    function: Convert
    options: tuple[str, ...]  # keyword options it accepts
    required_options: tuple[str, ...] = ()


REGISTRY: dict[str, Converter] = {}


def converter(
    name: str, *, options: tuple[str, ...] = (), required: tuple[str, ...] = ()
) -> Callable[[Convert], Convert]:
    def register(function: Convert) -> Convert:
        REGISTRY[name] = Converter(name, function, options, required)
        return function

    return register


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _on_text(name: str, transform: Callable[[str], str]) -> None:
    """Register a text converter: `None` passes through, an empty result counts as missing."""

    def convert(value: Any) -> str | None:
        text = _text(value)
        return None if text is None else transform(text) or None

    REGISTRY[name] = Converter(name, convert, ())


_on_text("strip", str.strip)
_on_text("lower", str.lower)
_on_text("upper", str.upper)
_on_text("title", str.title)
_on_text("collapse_spaces", lambda text: " ".join(text.split()))


@converter("fullwidth_to_halfwidth")
def fullwidth_to_halfwidth(value: Any) -> str | None:
    """Full-width ASCII forms and the ideographic space to their ordinary forms (ＡＢＣ１２３ → ABC123)."""
    text = _text(value)
    if text is None:
        return None
    return "".join(
        unicodedata.normalize("NFKC", char) if "\uff01" <= char <= "\uff5e" or char == "\u3000" else char
        for char in text
    )


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


@converter("email")
def email(value: Any) -> str | None:
    text = _text(value)
    if text is None or not text.strip():
        return None
    normalised = unicodedata.normalize("NFKC", text).strip().lower()
    if not _EMAIL.match(normalised):
        raise ConversionError(f"not an e-mail address: {text!r}")
    return normalised


@converter("phone", options=("region",))
def phone(value: Any, region: str = "CN") -> str | None:
    """E.164 (+8613800138000); numbers without a country code are read in `region`."""
    text = _text(value)
    if text is None or not text.strip():
        return None
    try:
        number = phonenumbers.parse(unicodedata.normalize("NFKC", text), region)
    except phonenumbers.NumberParseException as exc:
        raise ConversionError(f"not a phone number: {text!r} ({exc})") from None
    if not phonenumbers.is_possible_number(number):
        raise ConversionError(f"not a possible phone number in region {region}: {text!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@converter("date", options=("format",), required=("format",))
def to_date(value: Any, format: str) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, format).date()  # noqa: DTZ007 - a calendar date has no zone
    except ValueError:
        raise ConversionError(f"{text!r} does not match the date format {format!r}") from None


@converter("datetime", options=("format", "tz"), required=("format",))
def to_datetime(value: Any, format: str, tz: str = "UTC") -> datetime | None:
    """An aware datetime; text without an offset is read in time zone `tz`."""
    if value is None:
        return None
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConversionError(f"unknown time zone {tz!r}") from None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            parsed = datetime.strptime(text, format)  # noqa: DTZ007 - the zone is applied below
        except ValueError:
            raise ConversionError(f"{text!r} does not match the datetime format {format!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


@converter("decimal", options=("separator",))
def to_decimal(value: Any, separator: str | None = None) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise ConversionError(f"float {value!r} is not exact; read the source as text")
    if isinstance(value, int):
        return Decimal(value)
    text = str(value)
    if not text.strip():
        return None
    if separator not in (None, ".", ","):
        raise ConversionError(f"decimal separator must be '.' or ',', not {separator!r}")
    try:
        return parse_decimal(text, separator)  # type: ignore[arg-type]
    except DecimalFormatError as exc:
        raise ConversionError(str(exc)) from None


@converter("map", options=("values", "default"), required=("values",))
def map_values(value: Any, values: Mapping[str, Any], default: Any = None) -> Any:
    """Picklist values through a table; unknown values take `default`, or are an error without one."""
    if value is None:
        return default
    key = str(value)
    if key in values:
        return values[key]
    if default is not None:
        return default
    raise ConversionError(f"{key!r} is not one of {', '.join(map(repr, values))} and there is no default")


@converter("default", options=("value",), required=("value",))
def default(current: Any, value: Any) -> Any:
    """`value` where the source has nothing (missing or empty)."""
    return value if current is None or current == "" else current


@converter("template", options=("template",), required=("template",))
def template(value: Any, template: str, **fields: Any) -> str:
    """`{value}` plus the record's other mapped fields, e.g. "{last_name}{first_name}"."""
    try:
        return template.format(value="" if value is None else value, **fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConversionError(f"template {template!r} cannot be filled: {exc}") from None


@converter("regex", options=("pattern", "group"), required=("pattern",))
def regex(value: Any, pattern: str, group: int | str = 1) -> str | None:
    text = _text(value)
    if text is None:
        return None
    found = re.search(pattern, text)
    if found is None:
        raise ConversionError(f"{text!r} does not match /{pattern}/")
    try:
        return found.group(group)
    except IndexError:
        raise ConversionError(f"/{pattern}/ has no group {group!r}") from None


@converter("required")
def required(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConversionError("a value is required here but the source has none")
    return value


# --- formatting for outbound fields (ledger figures → CRM) ----------------------------------------------


def _exact(value: Any, converter_name: str) -> Decimal | None:
    """Figures as exact decimals: Decimal, int, or anything with an exact `.amount` (Money)."""
    amount = getattr(value, "amount", value)
    if amount is None or isinstance(amount, Decimal):
        return amount
    if isinstance(amount, bool | float):
        raise ConversionError(f"{converter_name}: {amount!r} is not an exact number")
    if isinstance(amount, int):
        return Decimal(amount)
    try:
        return parse_decimal(str(amount))
    except DecimalFormatError as exc:
        raise ConversionError(f"{converter_name}: {exc}") from None


def _places(places: Any) -> Decimal:
    if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 10:
        raise ConversionError(f"places must be a whole number from 0 to 10, not {places!r}")
    return Decimal(1).scaleb(-places)


@converter("number", options=("places",))
def number(value: Any, places: int = 2) -> Decimal | None:
    """An exact number rounded half-up to `places` decimals, for CRM currency and decimal fields."""
    exact = _exact(value, "number")
    return None if exact is None else exact.quantize(_places(places), rounding=ROUND_HALF_UP)


@converter("format_decimal", options=("style", "places"))
def format_decimal_text(value: Any, style: str = "en", places: int = 2) -> str | None:
    """The number as text in an export style: `1,234.50` (en), `1.234,50` (de), `(12.00)` (accounting)."""
    exact = number(value, places)
    if exact is None:
        return None
    if style not in STYLES:
        raise ConversionError(f"unknown decimal style {style!r}; use one of {', '.join(STYLES)}")
    return format_decimal(exact, style)


@converter("format_date", options=("format",))
def format_date(value: Any, format: str = "%Y-%m-%d") -> str | None:
    """A date or datetime as text, e.g. `%Y-%m-%d` for CRM date fields or `%Y年%m月%d日`."""
    if value is None:
        return None
    if not isinstance(value, date):
        raise ConversionError(f"format_date: {value!r} is not a date")
    return value.strftime(format)
