"""Named converters for mapping files: pure functions, one registry, adding one is one function.

A converter takes the current value and its keyword options and returns the new value, or raises
`ConversionError` with a reason an admin can act on. A reason does not quote the value (amount text
aside, a figure): any field may be personal data (a name through `regex`, a birthday through `date`),
and reasons are stored and shown in clear; the value is kept encrypted with the record
(`connector quarantine show`). `None` means "no value": most converters pass
it through, so `required` and `default` decide what an absent value means.

Compiled mappings call `bind(name, options)` once per step and then the one-argument result per
value. A converter may register a binder that resolves its options ahead of time (a time zone, a
pattern); the bound step gives exactly the converter's results and errors.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import string
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from connector.errors import MoneyError
from connector.mapping.decimals import (
    STYLES,
    DecimalFormatError,
    NumberText,
    Separator,
    format_decimal,
    parse_decimal,
)
from connector.mapping.phones import plain_e164
from connector.mapping.slash_dates import order_hint
from connector.money import Priced, exponent

Convert = Callable[..., Any]
Bound = Callable[[Any], Any]  # a converter with its options applied: value → value
Binder = Callable[..., Bound | None]  # options → bound step, or None to use the plain converter
B = TypeVar("B", bound=Binder)


class ConversionError(ValueError):
    """A value the converter cannot turn into what the mapping asks for."""


@dataclass(frozen=True)
class Converter:
    name: str
    function: Convert
    options: tuple[str, ...]  # keyword options it accepts
    required_options: tuple[str, ...] = ()
    bind: Binder | None = None  # resolves the options once for compiled mappings


REGISTRY: dict[str, Converter] = {}


def converter(
    name: str, *, options: tuple[str, ...] = (), required: tuple[str, ...] = ()
) -> Callable[[Convert], Convert]:
    def register(function: Convert) -> Convert:
        REGISTRY[name] = Converter(name, function, options, required)
        return function

    return register


def binder(name: str) -> Callable[[B], B]:
    """Register how converter `name` resolves its options once; it returns None when it cannot."""

    def register(function: B) -> B:
        REGISTRY[name] = replace(REGISTRY[name], bind=function)
        return function

    return register


def bind(name: str, options: Mapping[str, Any]) -> Bound:
    """Converter `name` with `options` applied, as a one-argument function.

    The options were validated when the mapping file was loaded; nothing is checked again here. When a
    binder cannot resolve an option up front (an unknown time zone, a bad pattern) the plain converter
    is bound instead, so the failure is reported per value exactly as it always was.
    """
    converter = REGISTRY[name]
    if converter.bind is not None:
        try:
            bound = converter.bind(**options)
        except Exception:  # same as None: the plain converter reports it for each value
            bound = None
        if bound is not None:
            return bound
    return functools.partial(converter.function, **options) if options else converter.function


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _on_text(name: str, transform: Callable[[str], str]) -> None:
    """Register a text converter: `None` passes through, an empty result counts as missing."""

    def convert(value: Any) -> str | None:
        if type(value) is str:  # the common case first: export cells are text
            return transform(value) or None
        if isinstance(value, NumberText | DateText) and transform(value) == value:
            return value  # a number or date cell keeps its mark (`strip` before `decimal` or `date`)
        text = _text(value)
        return None if text is None else transform(text) or None

    REGISTRY[name] = Converter(name, convert, ())


_on_text("strip", str.strip)
_on_text("lower", str.lower)
_on_text("upper", str.upper)
_on_text("title", str.title)
_on_text("collapse_spaces", lambda text: " ".join(text.split()))


# Each full-width ASCII form (U+FF01–U+FF5E) and the ideographic space to its NFKC form.
_HALFWIDTH = str.maketrans(
    {chr(code): unicodedata.normalize("NFKC", chr(code)) for code in (*range(0xFF01, 0xFF5F), 0x3000)}
)


@converter("fullwidth_to_halfwidth")
def fullwidth_to_halfwidth(value: Any) -> str | None:
    """Full-width ASCII forms and the ideographic space to their ordinary forms (ＡＢＣ１２３ → ABC123)."""
    text = _text(value)
    if text is None or text.isascii():
        return text
    return text.translate(_HALFWIDTH)


def _nfkc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFKC", text)  # ASCII is NFKC already


def in_digits(text: str, digits: int) -> str:
    """An all-digit id or number in `digits` digits, zero-padded, the zeros before them dropped (12 and
    00012 in 4: 0012), its full-width digits (１２, typed by a Chinese input method) as ASCII; other text
    as it is. A spreadsheet saves 0012 as the number 12: written so again, it is the id its source wrote."""
    folded = _nfkc(text)
    if not (folded.isascii() and folded.isdigit()):
        return text
    return folded.lstrip("0").zfill(digits)


@converter("zero_pad", options=("digits",), required=("digits",))
def zero_pad(value: Any, digits: int) -> str | None:
    """An all-digit value in `digits` digits (`in_digits`): 用友's 0000000012, re-saved by Excel as 12, is
    0000000012 again; other text stays as it is."""
    text = _text(value)
    return None if text is None else in_digits(text, digits)


# name@domain: a local part without spaces or the characters that delimit addresses; a domain of
# labels of letters, digits and inner hyphens, ending in a top-level domain of letters (or an IDN's xn--).
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:[^\W\d_]{2,}|xn--[a-z0-9-]+)$")
_ADDRESS_IN_BRACKETS = re.compile(r"<([^<>]*)>$")  # "Li Wei <li@acme.cn>", "<li@acme.cn>"
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")  # format characters (Cf)


@converter("email")
def email(value: Any) -> str | None:
    """A lower-cased address; one written in brackets, after a name or `mailto:`, is taken out of them."""
    text = _text(value)
    if text is None or not text.strip():
        return None
    # Invisible format characters (a zero-width space, a BOM pasted in) would make one mailbox two.
    normalised = _INVISIBLE.sub("", _nfkc(text)).strip().lower()
    if normalised.count("@") > 1:  # "Li <li@a.cn>, Wang <wang@b.cn>": whose would be a guess
        raise ConversionError("several e-mail addresses in one field: map one")
    if (bracketed := _ADDRESS_IN_BRACKETS.search(normalised)) is not None:
        normalised = bracketed.group(1).strip()
    normalised = normalised.removeprefix("mailto:")
    if not _EMAIL.match(normalised):
        # Contact values are personal data: a reason is stored and shown in clear, so it says what is
        # wrong without the value (kept encrypted with the record, for `quarantine show`).
        raise ConversionError("not an e-mail address (expected name@domain)")
    return normalised


_SEVERAL_NUMBERS = re.compile(r"\d\s*[;,，；、|]\s*[+(]?\d")
# A slash after a number of its own: "021-6123 4567/8", "13800138000/13900139000" (this number or the
# next). A slash after an area code alone, as German numbers are written ("030/1234567", "0049 33203/12345",
# "+49(0)6221/123456"), is fine: at most six digits stand before it once the country code (+49, 0049,
# (0049)) and a trunk "(0)" are left out.
_COUNTRY_CODE = re.compile(r"\s*\(?\s*(?:\+|00)\s*\d{1,3}\s*\)?[\s.\-]*(?:\(0\)[\s.\-]*)?")
_DIGIT = re.compile(r"\d")


# "021-62345678转12", "分机 12", "內線：12": the extension words of Chinese (simplified and traditional),
# read as phonenumbers' own "ext." (on NFKC text, so full-width spaces and colons are plain ones).
_CHINESE_EXTENSION = re.compile(r"\s*(?:转|轉|分机|分機|[内內][线線])\s*:?\s*(?=\d)")


def _number_or_next(text: str) -> bool:
    """Whether a slash in `text` follows a whole number (seven digits or more, its country code left out)."""
    before = re.split(r"[/／]", text, maxsplit=1)[0]
    national = before[country.end() :] if (country := _COUNTRY_CODE.match(before)) else before
    return len(_DIGIT.findall(national)) >= 7


@converter("phone", options=("region",))
def phone(value: Any, region: str = "CN") -> str | None:
    """E.164 (+8613800138000), an extension after it as RFC 3966 writes it (+861065123456;ext=101);
    numbers without a country code are read in `region`."""
    text = _text(value)
    if text is None or not text.strip():
        return None
    # phonenumbers would read one of them and drop the rest
    if _SEVERAL_NUMBERS.search(text) or (("/" in text or "／" in text) and _number_or_next(text)):
        raise ConversionError(
            "several phone numbers in one field (or after a slash, or an extension after a comma): map one"
        )
    # Plainly written numbers take phonenumbers' rules without its parser (phones.py); the rest, and
    # every refusal with its reason, come from phonenumbers itself.
    text = _CHINESE_EXTENSION.sub(" ext. ", _nfkc(text))
    return plain_e164(text, region) or _parsed_e164(text, region)


# CRM data repeats numbers (switchboards, shared lines): remember recent results of the full parser,
# which costs ~17 µs a number. Failures raise and are not cached.
@functools.lru_cache(maxsize=16_384)
def _parsed_e164(text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(_nfkc(text), region)
    except phonenumbers.NumberParseException as exc:
        raise ConversionError(f"not a phone number ({exc})") from None
    if not phonenumbers.is_possible_number(number):
        raise ConversionError(f"not a possible phone number in region {region}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # An extension is another person at the switchboard's number: kept (RFC 3966), never dropped.
    return f"{e164};ext={number.extension}" if number.extension else e164


def clear_caches() -> None:
    """Forget remembered results (benchmarks measure uncached work)."""
    _parsed_e164.cache_clear()


# --- dates: strptime is the reference; ISO-shaped text takes datetime.fromisoformat -----------------------

# Formats whose text datetime.fromisoformat reads exactly as strptime does, when the text matches the
# strict pattern below (two-digit fields, ASCII digits, `Z` or `±hh:mm` offsets); other text goes to
# strptime, which also words every refusal.
_ISO_FORMAT = re.compile(r"%Y-%m-%d(?:[T ]%H:%M(?::%S)?(?:%z)?)?")
_ISO_FIELDS = {
    "%Y": "[0-9]{4}",
    "%m": "(?:0[1-9]|1[0-2])",
    "%d": "(?:0[1-9]|[12][0-9]|3[01])",
    "%H": "(?:[01][0-9]|2[0-3])",
    "%M": "[0-5][0-9]",
    "%S": "[0-5][0-9]",
    "%z": "(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])",
}


@functools.lru_cache(maxsize=64)
def _datetime_reader(format: str) -> Callable[[str], datetime]:
    """`datetime.strptime(·, format)`, with a fast path for ISO-shaped formats."""
    if not _ISO_FORMAT.fullmatch(format):
        return lambda text: datetime.strptime(text, format)  # noqa: DTZ007 - callers apply the zone
    iso = re.compile(re.sub(r"%[YmdHMSz]", lambda field: _ISO_FIELDS[field.group()], format))

    def read(text: str) -> datetime:
        if iso.fullmatch(text):
            try:
                return datetime.fromisoformat(text)
            except ValueError:  # e.g. 30 February: strptime words the refusal
                pass
        return datetime.strptime(text, format)  # noqa: DTZ007 - callers apply the zone

    return read


class DateText(str):
    """A workbook's date cell as ISO text (`2026-03-05`, `2026-03-05T10:30:00`): read as the date it holds
    whatever text format a mapping declares, as a number cell is read whatever decimal separator."""

    __slots__ = ()


@converter("date", options=("format",), required=("format",))
def to_date(value: Any, format: str | Sequence[str]) -> date | None:
    """A calendar date; `format` is one strptime format or a list tried in order (exports mix them)."""
    if isinstance(value, datetime):
        return value.date()
    if value is None or isinstance(value, date):
        return value
    if type(value) is DateText:
        return datetime.fromisoformat(value).date()
    read, described = _formats_reader(format, "date")
    return _read_date(read, described, value, format)


def _formats_reader(format: str | Sequence[str], what: str) -> tuple[Callable[[str], datetime], str]:
    """A reader for one format or for the first of several that matches, and how to name them (`what`:
    date or datetime)."""
    if isinstance(format, str):
        return _datetime_reader(format), f"the {what} format {format!r}"
    readers = tuple(_datetime_reader(each) for each in format)

    def read(text: str) -> datetime:
        for reader in readers:
            try:
                return reader(text)
            except ValueError:
                continue
        raise ValueError(text)

    return read, f"any of the {what} formats {', '.join(map(repr, format))}"


def _read_date(
    read: Callable[[str], datetime], described: str, value: Any, formats: str | Sequence[str] = ()
) -> date | None:
    """The date in `value` as the formats say, its digits half-width or full-width (２０２６年３月５日)."""
    text = str(value).strip()
    if not text:
        return None
    try:
        return read(text).date()  # a calendar date: any zone in the text is dropped
    except ValueError:
        pass
    folded = text.translate(HALF_WIDTH)
    try:
        if folded != text:
            return read(folded).date()
    except ValueError:
        pass
    raise ConversionError(order_hint(text, formats) or str(_unmatched(text, described)))


_SERIAL_DATE = re.compile(r"\d{5}(?:\.\d+)?")  # 46091: how a workbook stores 2026-03-10
_DATE_WORDS = frozenset("年月日号時时分秒上下午")


def _unmatched(text: str, described: str) -> ConversionError:
    """The refusal of a date or moment no format reads: how it is written, its digits as 9 and its
    letters as a (`9999.99.99`, a date's words kept: `9999年9月9日`), so that its format can be added
    without the value itself in the reason (a birthday is personal data); a whole number of five digits
    is told for the spreadsheet serial date it likely is."""
    shape = "".join(
        "9" if char.isdigit() else char if char in _DATE_WORDS else "a" if char.isalpha() else char
        for char in text
    )
    reason = f"the value, written {shape}, does not match {described}"
    if _SERIAL_DATE.fullmatch(text.translate(HALF_WIDTH)):
        reason += (
            "; a number of five digits is a date as a spreadsheet stores it (days since 1899-12-30): "
            "format the column as a date, or export the file again"
        )
    return ConversionError(reason)


# Full-width forms (U+FF01–U+FF5E, the ideographic space) as their ASCII: what a Chinese or Japanese
# input method types for digits and punctuation.
HALF_WIDTH = {0xFF01 + offset: 0x21 + offset for offset in range(0x5E)} | {0x3000: 0x20}


@binder("date")
def _bind_date(format: str | Sequence[str]) -> Bound:
    read, described = _formats_reader(format, "date")

    # Exports repeat a few hundred dates over millions of rows: remember them (failures are not cached).
    @functools.lru_cache(maxsize=4096)
    def read_text(text: str) -> date | None:
        return _read_date(read, described, text, format)

    def convert(value: Any) -> date | None:
        if type(value) is str:
            return read_text(value)
        if type(value) is DateText:
            return datetime.fromisoformat(value).date()
        if isinstance(value, datetime):
            return value.date()
        if value is None or isinstance(value, date):
            return value
        return _read_date(read, described, value, format)

    return convert


@converter("datetime", options=("format", "tz"), required=("format",))
def to_datetime(value: Any, format: str | Sequence[str], tz: str = "UTC") -> datetime | None:
    """An aware datetime; `format` is one strptime format or a list tried in order, and text read by a
    format without an offset (%z) is read in time zone `tz`."""
    if value is None:
        return None
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConversionError(f"unknown time zone {tz!r}") from None
    read, described = _formats_reader(format, "datetime")
    return _read_datetime(read, described, zone, value)


def _read_datetime(
    read: Callable[[str], datetime], described: str, zone: ZoneInfo, value: Any
) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif type(value) is DateText:  # a workbook's date cell: midnight of its day, unless it holds a time
        parsed = datetime.fromisoformat(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            parsed = read(text)
        except ValueError:
            raise _unmatched(text, described) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


@binder("datetime")
def _bind_datetime(format: str | Sequence[str], tz: str = "UTC") -> Bound | None:
    try:
        zone = ZoneInfo(tz)  # once per step, not per value
    except (ZoneInfoNotFoundError, ValueError):
        return None  # the plain converter reports the unknown zone for each value that has one
    read, described = _formats_reader(format, "datetime")

    def convert(value: Any) -> datetime | None:
        return None if value is None else _read_datetime(read, described, zone, value)

    return convert


@converter("decimal", options=("separator",))
def to_decimal(value: Any, separator: str | None = None) -> Decimal | None:
    return _decimal_from(value, functools.partial(_parse_with, separator))


def _decimal_from(value: Any, parse: Callable[[str], Decimal]) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise ConversionError("a float is not exact; read the source as text")
    if isinstance(value, int):
        return Decimal(value)
    text = value if isinstance(value, str) else str(value)  # str() would drop a `NumberText`'s mark
    if not text.strip():
        return None
    try:
        return parse(text)
    except DecimalFormatError as exc:
        raise ConversionError(str(exc)) from None


def _parse_with(separator: str | None, text: str) -> Decimal:
    if separator not in (None, ".", ","):
        raise ConversionError(f"decimal separator must be '.' or ',', not {separator!r}")
    return parse_decimal(text, separator)  # type: ignore[arg-type]


@binder("decimal")
def _bind_decimal(separator: str | None = None) -> Bound | None:
    if separator not in (None, ".", ","):
        return None  # the plain converter refuses it for each value that has text
    point = cast("Separator | None", separator)  # one of the three, checked just above
    return functools.partial(_decimal_from, parse=functools.partial(parse_decimal, decimal_separator=point))


@converter("map", options=("values", "default"), required=("values",))
def map_values(value: Any, values: Mapping[str, Any], default: Any = None) -> Any:
    """Picklist values through a table; unknown values take `default`, or are an error without one."""
    if value is None:
        return default
    if isinstance(value, bool):  # as JSON writes it, or as Python does
        keys = ("true", "True") if value else ("false", "False")
        key = next((key for key in keys if key in values), keys[0])
    else:
        key = str(value)
    if key in values:
        return values[key]
    if default is not None:
        return default
    raise ConversionError(f"the value is not one of {', '.join(map(repr, values))} and there is no default")


@converter("default", options=("value",), required=("value",))
def default(current: Any, value: Any) -> Any:
    """`value` where the source has nothing (missing or empty)."""
    return value if current is None or current == "" else current


@converter("template", options=("template", "empty"), required=("template",))
def template(current: Any, /, template: str, empty: str = "", **fields: Any) -> str:
    """`{value}` (the current value) plus the record's other mapped fields, e.g. "{last_name}{first_name}";
    a field without a value is written as `empty` (`{value}` without one: as nothing).

    The first parameter is not called `value`, so that a mapped field of that name cannot clash with it.
    """
    filled = {name: empty if field is None else field for name, field in fields.items()}
    try:
        return template.format(**{**filled, "value": "" if current is None else current})
    # TypeError: "{amount:.2f}" of nothing; AttributeError: "{value.name}" of a value without one
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as exc:
        unfilled = _empty_formatted(template, {**fields, "value": current})
        if unfilled is not None:
            raise ConversionError(f"`{{{unfilled}}}` is empty") from None
        raise ConversionError(f"template {template!r} cannot be filled: {exc}") from None


def _empty_formatted(template: str, fields: Mapping[str, Any]) -> str | None:
    """The first field the template formats with a spec ("{amount:.2f}") that has no value: an empty
    cell, not the spec, is what a person must fix."""
    for _, name, spec, _ in string.Formatter().parse(template):
        if name and spec and name in fields and (fields[name] is None or fields[name] == ""):
            return name
    return None


@converter("regex", options=("pattern", "group"), required=("pattern",))
def regex(value: Any, pattern: str, group: int | str = 1) -> str | None:
    return _search(functools.partial(re.search, pattern), pattern, group, value)


def _search(
    search: Callable[[str], re.Match[str] | None], pattern: str, group: int | str, value: Any
) -> str | None:
    text = _text(value)
    if text is None:
        return None
    found = search(text)
    if found is None:
        raise ConversionError(f"the value does not match /{pattern}/")
    try:
        return found.group(group)
    except IndexError:
        raise ConversionError(f"/{pattern}/ has no group {group!r}") from None


@binder("regex")
def _bind_regex(pattern: str, group: int | str = 1) -> Bound:
    return functools.partial(_search, re.compile(pattern).search, pattern, group)  # compiled once per step


@converter("required")
def required(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConversionError("a value is required here but the source has none")
    return value


@converter("digest", options=("length",))
def digest(value: Any, length: int = 20) -> str | None:
    """The first `length` hex digits of the text's SHA-256: a composite id (a template over several
    columns) that must fit an id column and stay the same on every re-export of the same row."""
    text = _text(value)
    if text is None or not text.strip():
        return None
    if not isinstance(length, int) or isinstance(length, bool) or not 8 <= length <= 64:
        raise ConversionError(f"digest length must be a whole number from 8 to 64, not {length!r}")
    # surrogatepass: a lone surrogate (text cut mid-emoji) has no UTF-8 form; other text hashes as UTF-8.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


# --- formatting for outbound fields (ledger figures → CRM) ----------------------------------------------


def _exact(value: Any, converter_name: str) -> Decimal | None:
    """Figures as exact decimals: Decimal, int, or anything with an exact `.amount` (Money)."""
    amount = getattr(value, "amount", value)
    if amount is None or isinstance(amount, Decimal):
        return amount
    if isinstance(amount, bool | float):
        raise ConversionError(f"{converter_name}: a {type(amount).__name__} is not an exact number")
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


ROUNDINGS = ("refuse", "half_up")


def _rounding_problem(rounding: Any) -> str | None:
    if rounding not in ROUNDINGS:
        return f"rounding must be one of {', '.join(ROUNDINGS)}, not {rounding!r}"
    return None


def _rounder(places: Any, rounding: Any) -> Callable[[Decimal], Decimal]:
    """Exact decimals to `places`: half-up when told to, else refused when that would change them (money
    is never rounded unasked: a KWD amount in a field of two places would lose its fils)."""
    quantum = _places(places)
    if (problem := _rounding_problem(rounding)) is not None:
        raise ConversionError(problem)

    def rounded(exact: Decimal) -> Decimal:
        if not exact.is_finite():
            raise ConversionError(f"{exact} is not an amount")
        result = exact.quantize(quantum, rounding=ROUND_HALF_UP)
        if rounding == "refuse" and result != exact:
            needed = -int(exact.normalize().as_tuple().exponent)
            raise ConversionError(
                f"{exact} has more decimal places than {places}: rounding it would change the amount "
                f"(set places = {needed}, and the CRM field's decimal places, or rounding = 'half_up')"
            )
        return result

    return rounded


@converter("number", options=("places", "rounding"))
def number(value: Any, places: int = 2, rounding: str = "refuse") -> Decimal | None:
    """An exact number with `places` decimals, for CRM currency and decimal fields; one with more is
    refused, or rounded half-up with `rounding = 'half_up'`."""
    exact = _exact(value, "number")
    return None if exact is None else _priced_as(value, _rounder(places, rounding)(exact))


@binder("number")
def _bind_number(places: int = 2, rounding: str = "refuse") -> Bound:
    rounded = _rounder(places, rounding)  # raises for bad options: bind() then keeps the plain converter

    def convert(value: Any) -> Decimal | None:
        exact = _exact(value, "number")
        return None if exact is None else _priced_as(value, rounded(exact))

    return convert


def _priced_as(value: Any, number: Decimal) -> Decimal:
    """`number`, knowing the currency `value` knew (a figure's amount): a step after it may write it.
    In a currency of fewer decimals than `places` it keeps the currency's own (yen: 120000, not
    120000.00); a field of more places holds it as it is."""
    currency = getattr(value, "currency", None)
    return Priced(_own_decimals(number, currency), currency) if isinstance(currency, str) else number


def _own_decimals(number: Decimal, currency: str) -> Decimal:
    if not number.is_finite():
        return number
    try:
        digits = exponent(currency)
    except MoneyError:
        return number  # not a currency: the figure's number as the mapping wrote it
    if -int(number.as_tuple().exponent) <= digits:
        return number
    own = number.quantize(Decimal(1).scaleb(-digits))
    return own if own == number else number


@converter("format_decimal", options=("style", "places", "rounding"))
def format_decimal_text(
    value: Any, style: str = "en", places: int = 2, rounding: str = "refuse"
) -> str | None:
    """The number as text in an export style: `1,234.50` (en), `1.234,50` (de), `(12.00)` (accounting)."""
    exact = number(value, places, rounding)
    if exact is None:
        return None
    if style not in STYLES:
        raise ConversionError(f"unknown decimal style {style!r}; use one of {', '.join(STYLES)}")
    return format_decimal(exact, style, getattr(value, "currency", None))


@binder("format_decimal")
def _bind_format_decimal(style: str = "en", places: int = 2, rounding: str = "refuse") -> Bound | None:
    if style not in STYLES:
        return None  # the plain converter refuses it for each value that is a number
    rounded = _bind_number(places, rounding)

    def convert(value: Any) -> str | None:
        exact = rounded(value)
        return None if exact is None else format_decimal(exact, style, getattr(value, "currency", None))

    return convert


@converter("format_date", options=("format",))
def format_date(value: Any, format: str = "%Y-%m-%d") -> str | None:
    """A date or datetime as text, e.g. `%Y-%m-%d` for CRM date fields or `%Y年%m月%d日`."""
    if value is None:
        return None
    if not isinstance(value, date):
        raise ConversionError(f"format_date: a {type(value).__name__} is not a date")
    return value.strftime(format)


# --- options checked when a mapping file is loaded -----------------------------------------------------

_SAMPLE = datetime(2026, 3, 5, 14, 37, 9, tzinfo=UTC)  # fields all apart: a wrong directive shows


def options_problem(name: str, options: Mapping[str, Any]) -> str | None:
    """Why converter `name` cannot work with `options` (a mapping file being loaded), or None: what
    would otherwise fail on every value, or worse, read every value wrong (`%M`, minutes, for the
    month), is refused before the file is used."""
    if name in ("date", "datetime"):
        formats = options.get("format")
        listed = [formats] if isinstance(formats, str) else list(formats or ())
        for format in listed:
            if (problem := _date_format_problem(format, with_time=name == "datetime")) is not None:
                return problem
        if (problem := _ambiguous_formats(listed)) is not None:
            return problem
        if name == "datetime":
            tz = options.get("tz", "UTC")
            try:
                ZoneInfo(str(tz))
            except (ZoneInfoNotFoundError, ValueError):
                return f"unknown time zone {tz!r} (an IANA name, e.g. 'Asia/Shanghai')"
    elif name == "decimal" and options.get("separator") not in (None, ".", ","):
        return f"separator must be '.' or ',', not {options['separator']!r}"
    elif name == "zero_pad":
        digits = options.get("digits")
        if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 20:
            return f"digits must be a whole number from 1 to 20, not {digits!r}"
    elif name == "digest":
        length = options.get("length", 20)
        if not isinstance(length, int) or isinstance(length, bool) or not 8 <= length <= 64:
            return f"length must be a whole number from 8 to 64, not {length!r}"
    elif name == "regex":
        if not isinstance(options.get("pattern", ""), str):
            return f"pattern must be text (a regular expression), not {options['pattern']!r}"
        return _group_problem(str(options.get("pattern", "")), options.get("group", 1))
    elif name == "map" and not isinstance(options.get("values", {}), Mapping):
        return f'values must be a table, e.g. {{ "Key Account" = "KA" }}, not {options["values"]!r}'
    elif name == "template":
        if not isinstance(options.get("template", ""), str):
            return f"template must be text, e.g. '{{last_name}}{{value}}', not {options['template']!r}"
        if not isinstance(options.get("empty", ""), str):
            return (
                f"empty must be text (what a field without a value is written as), not {options['empty']!r}"
            )
    elif name in ("number", "format_decimal"):
        try:
            _places(options.get("places", 2))
        except ConversionError as exc:
            return str(exc)
        if (problem := _rounding_problem(options.get("rounding", "refuse"))) is not None:
            return problem
        if name == "format_decimal" and options.get("style", "en") not in STYLES:
            return f"unknown decimal style {options['style']!r}; use one of {', '.join(STYLES)}"
    elif name == "phone":
        region = options.get("region", "CN")
        if not isinstance(region, str) or region not in phonenumbers.SUPPORTED_REGIONS:
            return f"unknown region {region!r} (a two-letter country code, e.g. 'CN')"
    elif name == "format_date":
        format = options.get("format", "%Y-%m-%d")
        if not isinstance(format, str) or not format:
            return "format must be a format (text), e.g. '%Y-%m-%d'"
    return None


def _date_format_problem(format: Any, with_time: bool = False) -> str | None:
    """Why a format cannot read dates back (a directive strptime does not know, minutes for months), or
    `with_time`, the moment too (seconds for minutes, a zone name read as nothing)."""
    if not isinstance(format, str) or not format:
        return f"{format!r} is not a format (text, e.g. '%Y-%m-%d')"
    if with_time and "%Z" in format.replace("%%", ""):
        # strptime takes a zone name and drops it: "10:00 UTC" would be read in `tz`, hours off.
        return f"format {format!r} reads a time zone name (%Z), which is ignored: use %z (+08:00, Z)"
    try:
        read = datetime.strptime(_SAMPLE.strftime(format), format)  # noqa: DTZ007 - a calendar date
    except ValueError as exc:
        return f"format {format!r} cannot be read: {exc}"
    if read.date() != _SAMPLE.date():
        hint = " (%M is minutes: the month is %m)" if "%M" in format and "%m" not in format else ""
        came_back = f"{_SAMPLE:%Y-%m-%d} comes back as {read:%Y-%m-%d}"
        return f"format {format!r} does not read a whole date: {came_back}{hint}"
    if with_time and read.replace(tzinfo=None) not in _TRUNCATED_SAMPLES:  # a format may leave out seconds
        came_back = f"{_SAMPLE:%H:%M:%S} comes back as {read:%H:%M:%S}"
        twelve = "%I" in format and "%p" not in format
        hint = " (%I is the 12-hour clock: add %p, or use %H)" if twelve else " (a time of day is %H:%M:%S)"
        return f"format {format!r} does not read the time of day back: {came_back}{hint}"
    return None


def _ambiguous_formats(formats: Sequence[str]) -> str | None:
    """Two listed formats that read one text as different moments (`%m/%d/%Y` and `%d/%m/%Y`: 03/05/2026):
    the first that matches wins, so one file's rows would be read day first or month first as their
    day happens to fall. Found on the sample, whose day and month both fit either place."""
    for first, second in itertools.permutations(formats, 2):
        text = _SAMPLE.strftime(first)
        try:
            read = datetime.strptime(text, second)  # noqa: DTZ007 - compared as written
        except ValueError:
            continue
        if read.replace(tzinfo=None) != datetime.strptime(text, first).replace(tzinfo=None):  # noqa: DTZ007
            one, other = sorted((first, second), key=formats.index)
            return f"formats {one!r} and {other!r} read {text} differently: list one of them"
    return None


# The sample as formats that stop at the day, the hour, the minute or the second read it.
_NAIVE_SAMPLE = _SAMPLE.replace(tzinfo=None)
_TRUNCATED_SAMPLES = (
    _NAIVE_SAMPLE.replace(hour=0, minute=0, second=0),
    _NAIVE_SAMPLE.replace(minute=0, second=0),
    _NAIVE_SAMPLE.replace(second=0),
    _NAIVE_SAMPLE,
)


def _group_problem(pattern: str, group: Any) -> str | None:
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None  # the pattern's own check says why
    if isinstance(group, bool) or not isinstance(group, int | str):
        return f"group must be a number or a name, not {group!r}"
    if isinstance(group, int) and not 0 <= group <= compiled.groups:
        return f"/{pattern}/ has no group {group} (it has {compiled.groups})"
    if isinstance(group, str) and group not in compiled.groupindex:
        return f"/{pattern}/ has no group named {group!r}"
    return None
