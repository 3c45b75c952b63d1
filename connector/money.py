"""Exact money: integer minor units plus an ISO 4217 code, with `Decimal` only at the edges.

Exponents come from the ISO 4217 table (the `iso4217` package), not from CLDR display digits,
which differ for accounting purposes (ISO says IQD has 3 decimals, CLDR shows 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation
from functools import cache

from iso4217 import Currency

from connector.errors import MoneyError

# Minor units of one amount: far beyond any document (a quadrillion yuan), far within the 64-bit sums a
# balance keeps (nine thousand such amounts would still fit): what no line of the ledger may exceed.
MAX_MINOR = 10**15 - 1
# Decimals a file may write in a currency of none, all zeros: statements write yen as 1000.00 too.
PADDED_DECIMALS = 2
# Shifting an amount's point without rounding it: the default context keeps 28 digits and would round
# a longer amount silently (1.0000000000000000000000000001 would pass as 1.00); this one refuses it.
EXACT = Context(prec=1_000, traps=[Inexact, InvalidOperation])


@cache
def exponent(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (JPY 0, CNY 2, KWD 3)."""
    try:
        found = Currency[currency.lower()] if currency.isascii() and currency.isalpha() else None
    except KeyError:
        found = None
    if found is None or found.code != currency:
        # Only three letters are quoted: anything else may be a name or a note in the wrong column, and
        # a reason is kept in clear where the record is encrypted.
        if len(currency) == 3 and currency.isascii() and currency.isalpha():
            raise MoneyError(
                f"unknown currency code {currency!r} (expected an ISO 4217 code such as CNY, USD)"
            )
        raise MoneyError("unknown currency code: not an ISO 4217 code (three letters such as CNY, USD)")
    if found.exponent is None:
        raise MoneyError(f"currency {currency} has no minor unit (ISO 4217 'N.A.'), it cannot hold money")
    return found.exponent


def currency_code(value: str) -> str:
    """Normalise and validate a currency code: ' cny ' → 'CNY'."""
    code = value.strip().upper()
    exponent(code)
    return code


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """Convert a decimal amount to minor units exactly; more decimals than the currency has is an error."""
    if isinstance(amount, float | bool):
        raise MoneyError(f"{type(amount).__name__} amounts are not accepted, use Decimal or str: {amount!r}")
    try:
        value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    except InvalidOperation as exc:
        raise MoneyError(f"not a decimal amount: {amount!r}") from exc
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {amount!r}")
    try:
        scaled = value.scaleb(exponent(currency), EXACT)
    except ArithmeticError:  # more digits than EXACT keeps: no amount
        raise MoneyError(f"not an amount: {len(value.as_tuple().digits)} digits") from None
    if scaled != scaled.to_integral_value():
        raise MoneyError(
            f"{amount} {currency} has more decimals than {currency} allows ({exponent(currency)}); "
            "round it explicitly at the source"
        )
    return int(scaled)


def to_decimal(minor: int, currency: str) -> Decimal:
    """Minor units back to a `Decimal` with exactly the currency's number of decimals."""
    digits = exponent(currency)
    # Read from text: exact however many digits (scaleb and quantize round to the context's 28).
    return Decimal(f"{minor}E-{digits}") if digits else Decimal(minor)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: `minor` units of `currency` (e.g. Money(12345, "CNY") is 123.45 CNY)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise MoneyError(f"Money.minor must be an int, got {type(self.minor).__name__}")
        exponent(self.currency)

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Money from a decimal amount: Money.of("123.45", "CNY")."""
        code = currency_code(currency)
        return cls(to_minor(amount, code), code)

    @classmethod
    def written(cls, amount: Decimal, currency: str) -> Money:
        """Money from an amount as a file writes it, refused when written with more decimals than the
        currency has (SWIFT's network rule C03, ISO 20022's CurrencyAmount rule), even zeros: `1,000` yen
        read with a decimal comma is 1.000, one yen where a thousand was meant. Up to PADDED_DECIMALS
        zeros (yen as 1000.00) are no such doubt."""
        money = cls.of(amount, currency)  # decimals that are not zeros: refused in its words
        written = -int(amount.as_tuple().exponent)
        digits = exponent(money.currency)
        if written > max(digits, PADDED_DECIMALS):
            raise MoneyError(
                f"{amount} {money.currency} is written with {written} decimals, {money.currency} has "
                f"{digits}: a separator grouping thousands, or decimals that are not there; never rounded, "
                "correct it at the source"
            )
        return money

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency_code(currency))

    @property
    def amount(self) -> Decimal:
        return to_decimal(self.minor, self.currency)

    @classmethod
    def _checked(cls, minor: int, currency: str) -> Money:
        """Arithmetic result of already valid operands: skips re-validation on the posting hot path."""
        money = object.__new__(cls)
        object.__setattr__(money, "minor", minor)
        object.__setattr__(money, "currency", currency)
        return money

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money._checked(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money._checked(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money._checked(-self.minor, self.currency)

    def __str__(self) -> str:
        return f"{self.amount:,} {self.currency}"


class Priced(Decimal):
    """A decimal amount that knows its currency (a customer's figure on its way out): it reads, prints,
    formats and compares as the plain number, and a converter writing a currency finds `currency`."""

    currency: str

    def __new__(cls, value: Decimal, currency: str) -> Priced:
        priced = super().__new__(cls, value)
        priced.currency = currency
        return priced
