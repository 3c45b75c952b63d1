"""Plainly written phone numbers to E.164 by phonenumbers' own rules, without its parser's cost.

`phonenumbers.parse` + `is_possible_number` + `format_number` take about 17 µs a number: three quarters
of mapping a contact. Nearly every number in CRM data is plainly written: digits with spaces, dashes,
dots or brackets, and maybe a leading +. For those, `plain_e164` takes the same steps as that chain
(international prefix or +, country code, the default region's code written without +, national prefix
and carrier code, possible lengths) on phonenumbers' own metadata, in about 2 µs.

It answers None for everything else (letters, extensions, RFC 3966, two-digit numbers) and for every
number the chain would refuse: the caller then asks phonenumbers itself, so edge cases and error messages
stay exactly its own. tests/unit/test_phones.py holds the two equal over generated numbers.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, region_code_for_country_code
from phonenumbers.phonemetadata import PhoneMetadata

_PLAIN = re.compile(r"\+?[0-9 ().\-]*")
# Country codes as they are written, for the look-up of a number's first one to three digits.
_COUNTRY_CODES = {str(code): code for code in COUNTRY_CODE_TO_REGION_CODE}
_MIN_NATIONAL, _MAX_NATIONAL = 2, 17  # phonenumbers' bounds on a national significant number
_MAX_INPUT = 250  # longer input is refused by phonenumbers outright

# phonenumbers' length verdicts (ValidationResult), as far as the steps below tell them apart
_POSSIBLE, _LOCAL_ONLY, _TOO_SHORT, _TOO_LONG, _INVALID_LENGTH = range(5)


class _Plan(NamedTuple):
    """One region's numbering plan, as parsing uses it: its metadata's patterns compiled once."""

    country_code: int
    international_prefix: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None
    transform_rule: str
    number_pattern: re.Pattern[str] | None
    verdicts: tuple[int, ...]  # the length verdict of a national number, by its length

    def verdict(self, number: str) -> int:
        length = len(number)
        return self.verdicts[length] if length < len(self.verdicts) else _TOO_LONG

    def fits(self, number: str) -> bool:
        return self.number_pattern is not None and self.number_pattern.fullmatch(number) is not None


class _NotPlain(Exception):
    """The number needs phonenumbers' full parser (or its verdict that it is no number)."""


def plain_e164(text: str, region: str) -> str | None:
    """The E.164 form phonenumbers gives `text` read in `region`, or None: ask phonenumbers itself.

    `text` is NFKC-normalised (full-width digits are ASCII digits by then)."""
    if len(text) > _MAX_INPUT:
        return None
    text = text.strip()
    if not _PLAIN.fullmatch(text):
        return None
    digits = _digits(text)
    if len(digits) < 3:  # two digits alone are a number of their own rules
        return None
    try:
        country_code, national, plan = _country_code(text.startswith("+"), digits, region)
        if len(national) < _MIN_NATIONAL:
            return None
        if plan.national_prefix is not None:
            stripped = _without_national_prefix(national, plan)
            if stripped is not national and plan.verdict(stripped) not in (
                _TOO_SHORT,
                _LOCAL_ONLY,
                _INVALID_LENGTH,
            ):
                national = stripped
        if len(national) > _MAX_NATIONAL or _plan_of_country_code(country_code).verdict(national) not in (
            _POSSIBLE,
            _LOCAL_ONLY,
        ):
            return None
    except _NotPlain:
        return None
    # The national significant number keeps its leading zeros (Italian-style numbers) as written.
    return f"+{country_code}{national}"


def _digits(plain: str) -> str:
    # Chained replace beats str.translate (a mapping look-up per character) by half on phone-sized text.
    return (
        plain.replace(" ", "")
        .replace("-", "")
        .replace("+", "")
        .replace("(", "")
        .replace(")", "")
        .replace(".", "")
    )


def _country_code(international: bool, digits: str, region: str) -> tuple[int, str, _Plan]:
    """(country code, national number, the plan to read the national number by)."""
    home = _plan_of_region(region)
    if not international and home.international_prefix is not None:
        idd = home.international_prefix.match(digits)
        if idd is not None and digits[idd.end() : idd.end() + 1] != "0":  # codes never start with 0
            international, digits = True, digits[idd.end() :]
    if international:
        if len(digits) <= _MIN_NATIONAL or digits[0] == "0":
            raise _NotPlain
        for size in (1, 2, 3):
            country_code = _COUNTRY_CODES.get(digits[:size])
            if country_code is not None:
                return country_code, digits[size:], _plan_for(country_code, region)
        raise _NotPlain
    # Written without +: the default region's own code in front is taken off when the number only
    # fits (or only fits in length) without it.
    own_code = str(home.country_code)
    if digits.startswith(own_code):
        rest = _without_national_prefix(digits[len(own_code) :], home)
        if (not home.fits(digits) and home.fits(rest)) or home.verdict(digits) == _TOO_LONG:
            return home.country_code, rest, _plan_for(home.country_code, region)
    return home.country_code, digits, home


@functools.cache
def _plan_for(country_code: int, region: str) -> _Plan:
    """The plan a number with this country code is read by: the region's own, or the code's main one."""
    if region_code_for_country_code(country_code) == region:
        return _plan_of_region(region)
    return _plan_of_country_code(country_code)


def _without_national_prefix(number: str, plan: _Plan) -> str:
    """`number` without its national prefix and carrier code, unless that would spoil a fitting number."""
    if not number or plan.national_prefix is None:
        return number
    found = plan.national_prefix.match(number)
    if found is None:
        return number
    groups = found.groups()
    if plan.transform_rule and not groups:
        raise _NotPlain  # a plan phonenumbers itself cannot apply
    if not plan.transform_rule or groups[-1] is None:
        result = number[found.end() :]
    else:
        result = plan.national_prefix.sub(plan.transform_rule, number, count=1)
    if plan.fits(number) and not plan.fits(result):
        return number
    return result


def _length_verdict(length: int, lengths: tuple[int, ...], local_lengths: tuple[int, ...]) -> int:
    """phonenumbers' verdict on a national number of `length` digits (ValidationResult)."""
    if length in local_lengths:
        return _LOCAL_ONLY
    if length == lengths[0]:
        return _POSSIBLE
    if length < lengths[0]:
        return _TOO_SHORT
    if length > lengths[-1]:
        return _TOO_LONG
    return _POSSIBLE if length in lengths else _INVALID_LENGTH


@functools.cache
def _plan_of_region(region: str) -> _Plan:
    return _plan(PhoneMetadata.metadata_for_region(region.upper(), None))


@functools.cache
def _plan_of_country_code(country_code: int) -> _Plan:
    region = region_code_for_country_code(country_code)
    return _plan(PhoneMetadata.metadata_for_region_or_calling_code(country_code, region))


def _plan(metadata: PhoneMetadata | None) -> _Plan:
    general = None if metadata is None else metadata.general_desc
    if metadata is None or metadata.country_code is None or general is None or not general.possible_length:
        raise _NotPlain
    lengths, local_lengths = tuple(general.possible_length), tuple(general.possible_length_local_only or ())
    return _Plan(
        country_code=metadata.country_code,
        international_prefix=_compiled(metadata.international_prefix),
        national_prefix=_compiled(metadata.national_prefix_for_parsing),
        transform_rule=metadata.national_prefix_transform_rule or "",
        number_pattern=_compiled(general.national_number_pattern),
        verdicts=tuple(
            _length_verdict(n, lengths, local_lengths) for n in range(max(lengths + local_lengths) + 1)
        ),
    )


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None
