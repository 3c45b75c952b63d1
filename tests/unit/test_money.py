from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.errors import MoneyError
from connector.money import Money, currency_code, exponent, to_decimal, to_minor


@pytest.mark.parametrize(("currency", "digits"), [("JPY", 0), ("CNY", 2), ("USD", 2), ("KWD", 3), ("IQD", 3)])
def test_exponent_follows_iso_4217_not_display_digits(currency: str, digits: int) -> None:
    assert exponent(currency) == digits


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("123.45", "CNY", 12345), ("1000", "JPY", 1000), ("1.234", "KWD", 1234), ("-0.01", "USD", -1)],
)
def test_decimal_amounts_convert_to_exact_minor_units(amount: str, currency: str, minor: int) -> None:
    assert Money.of(amount, currency) == Money(minor, currency)


def test_more_decimals_than_the_currency_allows_is_an_error_not_a_rounding() -> None:
    with pytest.raises(MoneyError, match="more decimals than JPY allows"):
        to_minor("10.5", "JPY")


def test_float_amounts_are_refused() -> None:
    with pytest.raises(MoneyError, match="float"):
        to_minor(0.1, "CNY")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="must be an int"):
        Money(1.0, "CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["ABC", "XAU", "cny1", ""])
def test_unknown_or_non_monetary_currencies_are_refused(code: str) -> None:
    with pytest.raises(MoneyError):
        Money(1, code)


def test_a_refused_currency_is_quoted_only_when_it_is_three_letters_not_a_name_in_its_place() -> None:
    with pytest.raises(MoneyError, match="unknown currency code 'ZEB'"):
        currency_code(" zeb ")
    with pytest.raises(MoneyError, match=r"^unknown currency code: not an ISO 4217 code") as refused:
        currency_code("Zebulon Secret")
    assert "ZEBULON" not in str(refused.value)


def test_currency_codes_are_normalised() -> None:
    assert currency_code(" usd ") == "USD"


def test_amounts_of_different_currencies_do_not_mix() -> None:
    with pytest.raises(MoneyError, match="cannot combine CNY with USD"):
        _ = Money(1, "CNY") + Money(1, "USD")


def test_money_prints_with_the_currency_decimals() -> None:
    assert str(Money(123456789, "CNY")) == "1,234,567.89 CNY"
    assert str(Money(5, "JPY")) == "5 JPY"
    assert to_decimal(-5, "KWD") == Decimal("-0.005")


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["JPY", "CNY", "KWD", "CLF"]))
def test_minor_units_round_trip_through_decimal(minor: int, currency: str) -> None:
    assert to_minor(to_decimal(minor, currency), currency) == minor
    assert to_minor(str(to_decimal(minor, currency)), currency) == minor


def test_an_amount_of_more_digits_than_a_decimal_context_keeps_is_never_rounded_to_fit() -> None:
    with pytest.raises(MoneyError, match="more decimals"):
        to_minor(Decimal("1.0000000000000000000000000001"), "EUR")  # 29 digits: was 1.00
    assert to_minor(Decimal("9" * 40 + ".00"), "EUR") == int("9" * 40 + "00")
    assert to_decimal(10**40, "EUR") == Decimal("1" + "0" * 38)
