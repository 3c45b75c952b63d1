"""The fast path for plainly written phone numbers answers exactly what phonenumbers answers, or defers."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from connector.mapping.phones import plain_e164

# Regions with different numbering habits: national prefixes 0 / 1 / 8 / none, carrier codes and
# transform rules (CN, BR, AR, MX), leading zeros kept (IT), shared country codes (US/CA, RU/KZ).
REGIONS = (
    "CN", "HK", "MO", "TW", "SG", "JP", "KR", "IN", "US", "CA", "GB", "DE", "FR", "IT", "ES", "NL", "CH",
    "AU", "NZ", "BR", "AR", "MX", "RU", "KZ", "AE", "SA", "IL", "ZA", "NG", "BY", "SM", "VA",
)  # fmt: skip
TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE)
FORMATS = (PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL)


def reference(text: str, region: str) -> str | None:
    """What the converter's slow path answers: phonenumbers' E.164, or None where it refuses."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def written_examples() -> list[str]:
    """Every region's example numbers, written the ways people write them."""
    found = []
    for region in REGIONS:
        for kind in TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found += [phonenumbers.format_number(example, style) for style in FORMATS]
    return found


EXAMPLES = written_examples()
SEPARATORS = st.sampled_from(["", "", "", " ", "-", ".", " - "])


@st.composite
def plain_numbers(draw: st.DrawFn) -> str:
    """Digits with the prefixes that change their reading (+, 00, 0, a country code), spaced and
    bracketed at random: example numbers with a digit changed, added or dropped, or random digits."""
    if draw(st.booleans()):
        digits = "".join(ch for ch in draw(st.sampled_from(EXAMPLES)) if ch.isdigit())
        position = draw(st.integers(0, len(digits)))
        edit = draw(st.sampled_from(["keep", "change", "add", "drop"]))
        digit = draw(st.sampled_from("0123456789"))
        if edit == "change":
            digits = digits[:position] + digit + digits[position + 1 :]
        elif edit == "add":
            digits = digits[:position] + digit + digits[position:]
        elif edit == "drop":
            digits = digits[:position] + digits[position + 1 :]
    else:
        digits = draw(st.text("0123456789", min_size=1, max_size=19))
    prefix = draw(st.sampled_from(["", "", "+", "00", "0", "011", "8", "86", "1", "+0", "+86 0"]))
    text = prefix
    for index, char in enumerate(digits):
        if index and draw(st.integers(0, 3)) == 0:
            text += draw(SEPARATORS)
        text += char
    if len(text) > 4 and draw(st.integers(0, 5)) == 0:  # an area code in brackets
        cut = draw(st.integers(1, 4))
        text = f"({text[:cut]}) {text[cut:]}"
    return text


@settings(max_examples=3000)
@given(plain_numbers(), st.sampled_from(REGIONS))
def test_the_fast_path_answers_what_phonenumbers_answers_or_defers(text: str, region: str) -> None:
    fast = plain_e164(text, region)
    if fast is not None:
        assert fast == reference(text, region)


@pytest.mark.parametrize("region", REGIONS)
def test_every_example_number_is_read_the_same_by_the_fast_path(region: str) -> None:
    for text in EXAMPLES:
        expected = reference(text, region)
        fast = plain_e164(text, region)
        assert fast == expected or (fast is None and expected is None), (text, region)


def test_plainly_written_numbers_take_the_fast_path() -> None:
    for text in ("+86 138 0013 8000", "13800138000", "(010) 6552-9988", "021-6532 1234", "+1 415.555.2671"):
        assert plain_e164(text, "CN") == reference(text, "CN") is not None


@pytest.mark.parametrize(
    "text",
    [
        "+86 138 0013 8000 ext. 12",
        "tel:+86-10-1234-5678",
        "1-800-FLOWERS",
        "12",
        "++86 13800138000",
        "(+86)13800",
    ],
)
def test_letters_extensions_and_odd_shapes_are_left_to_phonenumbers(text: str) -> None:
    assert plain_e164(text, "CN") is None


def test_a_region_phonenumbers_does_not_know_is_left_to_it() -> None:
    assert plain_e164("13800138000", "XX") is None
