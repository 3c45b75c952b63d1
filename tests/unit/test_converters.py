from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.mapping.converters import REGISTRY, ConversionError
from connector.mapping.decimals import STYLES, DecimalFormatError, Separator, format_decimal, parse_decimal


def convert(name: str, current: object, **options: object) -> object:
    return REGISTRY[name].function(current, **options)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("¥1,234.56", "1234.56"),
        ("(12.00)", "-12.00"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("12.00-", "-12.00"),
        ("RMB 1,234,567.8", "1234567.8"),
        ("1,234", "1234"),
        ("1,23", "1.23"),
        ("-0.5", "-0.5"),
    ],
)
def test_amounts_in_every_export_style_parse_exactly(text: str, amount: str) -> None:
    assert parse_decimal(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["", "abc", "1,2,3", "1.2.3,4,5", "--1", "12-3"])
def test_text_that_is_not_an_amount_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(DecimalFormatError):
        parse_decimal(text)


def test_a_declared_separator_settles_the_ambiguous_cases() -> None:
    assert parse_decimal("1.234", ",") == Decimal(1234)
    assert parse_decimal("1,234", ",") == Decimal("1.234")


amounts = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=3, allow_nan=False)


@given(amounts, st.sampled_from(STYLES))
def test_decimal_parsing_round_trips_through_formatting_in_every_style(amount: Decimal, style: str) -> None:
    separator: Separator = "," if style in ("de", "fr") else "."
    assert parse_decimal(format_decimal(amount, style), separator) == amount


def test_the_decimal_converter_refuses_floats() -> None:
    with pytest.raises(ConversionError, match="not exact"):
        convert("decimal", 1.1)
    assert convert("decimal", "1.234,50", separator=",") == Decimal("1234.50")


emails = st.emails().map(lambda address: f"  {address.upper()} ")


@given(emails)
def test_email_normalisation_is_idempotent(address: str) -> None:
    once = convert("email", address)
    assert once == convert("email", once)


phones = st.sampled_from(
    [
        "+86 138 0013 8000",
        "138-0013-8000",
        "(021) 6888 1234",
        "+44 20 7946 0958",
        "＋８６ １３８００１３８０００",
    ]
)


@given(phones)
def test_phone_normalisation_is_idempotent_and_e164(number: str) -> None:
    once = convert("phone", number, region="CN")
    assert isinstance(once, str)
    assert once.startswith("+")
    assert convert("phone", once, region="CN") == once


def test_invalid_contacts_are_refused_with_the_value_named() -> None:
    with pytest.raises(ConversionError, match="not an e-mail address: 'no-at-sign'"):
        convert("email", "no-at-sign")
    with pytest.raises(ConversionError, match="phone number"):
        convert("phone", "12", region="CN")


def test_text_converters_pass_missing_values_through() -> None:
    for name in (
        "strip",
        "lower",
        "upper",
        "title",
        "collapse_spaces",
        "fullwidth_to_halfwidth",
        "email",
        "phone",
    ):
        assert convert(name, None) is None


def test_fullwidth_forms_become_halfwidth_but_cjk_stays() -> None:
    assert convert("fullwidth_to_halfwidth", "ＡＢＣ１２３　有限公司（上海）") == "ABC123 有限公司(上海)"


def test_dates_and_datetimes_follow_the_declared_format_and_zone() -> None:
    assert convert("date", "2026年3月5日", format="%Y年%m月%d日") == date(2026, 3, 5)
    assert convert("date", "05.03.2026", format="%d.%m.%Y") == date(2026, 3, 5)
    moment = convert("datetime", "2026-03-05 09:30", format="%Y-%m-%d %H:%M", tz="Asia/Shanghai")
    assert isinstance(moment, datetime)
    assert moment.astimezone(UTC) == datetime(2026, 3, 5, 1, 30, tzinfo=UTC)
    with pytest.raises(ConversionError, match="does not match the date format"):
        convert("date", "03/05/26", format="%Y-%m-%d")


def test_map_default_template_regex_and_required() -> None:
    assert convert("map", "Key Account", values={"Key Account": "KA"}) == "KA"
    assert convert("map", "Other", values={"Key Account": "KA"}, default="SME") == "SME"
    with pytest.raises(ConversionError, match="no default"):
        convert("map", "Other", values={"Key Account": "KA"})
    assert convert("default", "", value="CNY") == "CNY"
    assert convert("template", "明", template="{last}{value}", last="王") == "王明"
    assert convert("regex", "INV-2026-0007 paid", pattern=r"(INV-\d{4}-\d{4})") == "INV-2026-0007"
    with pytest.raises(ConversionError, match="required"):
        convert("required", "  ")
