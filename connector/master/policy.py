"""The customer master policy file (`kind = "customer_master"`): identity, classification, credit terms.

One file in the mappings folder says how the master recognises the same customer across sources, which
class (customer type) a customer belongs to, which region code it gets, which value tier its payments
earn, and what credit limit and payment terms each class starts with. Without the file the defaults
below apply; the shipped `mappings/customer_master.toml` spells them out with comments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.errors import MoneyError
from connector.mapping.model import closest
from connector.money import Money, currency_code
from connector.settings import account_number_template

IdentityRule = Literal["external_id", "email", "phone", "name_region"]
CODE = re.compile(r"^[0-9A-Za-z]{1,20}$")


def _code(value: str, what: str) -> str:
    if not CODE.match(value):
        raise ValueError(
            f"{what} {value!r} must be 1–20 letters or digits (it becomes part of account numbers)"
        )
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Amounts(Strict):
    """An amount per currency, `{ CNY = "500000.00", USD = "70000.00" }`, exact to the minor unit."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="after")
    def _exact_amounts(self) -> Amounts:
        for code, amount in self.by_currency().items():
            if amount.minor < 0:
                raise ValueError(f"{code}: amount must not be negative")
        return self

    def by_currency(self) -> dict[str, Money]:
        amounts = {}
        for code, text in (self.model_extra or {}).items():
            if not isinstance(text, str | int):
                raise ValueError(f'{code}: write the amount as text, e.g. {code} = "500000.00"')
            try:
                amount = Decimal(str(text))
            except ArithmeticError:
                raise ValueError(f"{code} = {text!r}: {_not_plain(str(text))}") from None
            try:
                amounts[currency_code(code)] = Money.of(amount, code)
            except MoneyError as exc:
                raise ValueError(f"{code} = {text!r}: {exc}") from None
        return amounts

    def get(self, currency: str) -> Money | None:
        return self.by_currency().get(currency)


def _not_plain(text: str) -> str:
    """Why an amount such as "1,000.5" is refused, with the plain form to write when there is one."""
    plain = re.sub(r"[,_' ]", "", text)
    try:
        fits = Decimal(plain).is_finite() and plain != text
    except ArithmeticError:
        fits = False
    example = plain if fits else "1000.50"
    return f"not a plain decimal amount (write {example} without thousands separators or currency signs)"


class IdentityPolicy(Strict):
    order: tuple[IdentityRule, ...] = ("external_id", "email", "phone", "name_region")

    @field_validator("order")
    @classmethod
    def _each_rule_once(cls, order: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(order)) != len(order):
            raise ValueError("each identity rule may appear once")
        if not order or order[0] != "external_id":
            raise ValueError("'external_id' must come first: a record already bound is always that customer")
        return order


class CustomerType(Strict):
    """A class of customers with its starting credit terms and, optionally, its own account numbers."""

    code: str
    label: str = ""
    payment_terms_days: int = Field(default=30, ge=0, le=3650)
    credit_limit: Amounts | None = None
    account_number_template: str | None = None  # default: ledger.account_number_template

    @field_validator("code")
    @classmethod
    def _valid_code(cls, value: str) -> str:
        return _code(value, "customer type")

    @field_validator("account_number_template")
    @classmethod
    def _valid_template(cls, value: str | None) -> str | None:
        return value if value is None else account_number_template(value)


class Condition(Strict):
    """One test on a canonical field; a rule's conditions must all hold."""

    field: str = Field(min_length=1)
    equals: str | None = None
    one_of: tuple[str, ...] | None = None
    at_least: Decimal | None = None
    below: Decimal | None = None
    present: bool | None = None
    matches: str | None = None

    @model_validator(mode="after")
    def _exactly_one_test(self) -> Condition:
        tests = [
            name
            for name in ("equals", "one_of", "at_least", "below", "present", "matches")
            if getattr(self, name) is not None
        ]
        if len(tests) != 1:
            raise ValueError(
                "a condition needs exactly one of equals, one_of, at_least, below, present, matches"
                + (f" (has {', '.join(tests)})" if tests else "")
            )
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"matches: invalid pattern {self.matches!r}: {exc}") from None
        return self


class TypeRule(Strict):
    type: str
    when: tuple[Condition, ...] = Field(min_length=1)


class Classification(Strict):
    """Customer type from a CRM field naming a declared type, else the first matching rule, else default."""

    type_field: str | None = "customer_type"
    default_type: str = "SME"
    rules: tuple[TypeRule, ...] = ()


class Regions(Strict):
    """Region codes from the most specific table that knows the place: city, then province, then country."""

    default: str = "00"
    cities: dict[str, str] = Field(default_factory=dict)
    provinces: dict[str, str] = Field(default_factory=dict)
    countries: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid_codes(self) -> Regions:
        _code(self.default, "region")
        for table in (self.cities, self.provinces, self.countries):
            for place, code in table.items():
                _code(code, f"region for {place!r}:")
        return self


class ValueTier(Strict):
    """A tier earned when trailing payments reach every threshold given; tiers are tried in order."""

    tier: str = Field(min_length=1, max_length=20)
    paid_at_least: Amounts | None = None
    payments_at_least: int = Field(default=0, ge=0)


def _default_types() -> tuple[CustomerType, ...]:
    return (
        CustomerType(code="KA", label="大客户 key account", payment_terms_days=60),
        CustomerType(code="SME", label="中小企业 SME", payment_terms_days=30),
        CustomerType(code="IND", label="个人 individual", payment_terms_days=0),
    )


class CustomerPolicy(Strict):
    kind: Literal["customer_master"] = "customer_master"
    description: str = ""
    identity: IdentityPolicy = IdentityPolicy()
    types: tuple[CustomerType, ...] = Field(default_factory=_default_types, min_length=1)
    classification: Classification = Classification()
    regions: Regions = Regions()
    tier_window_days: int = Field(default=365, ge=1, le=3660)
    value_tiers: tuple[ValueTier, ...] = ()

    @staticmethod
    def cross_check(data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Checks across sections on the raw file data, as (key, message): they run even when other keys
        fail validation, so a file's every mistake is reported at once."""
        found: list[tuple[str, str]] = []
        types = data.get("types")
        declared = (
            [t.get("code") for t in types if isinstance(t, Mapping)] if isinstance(types, list) else None
        )
        codes = [str(code) for code in declared] if declared else [t.code for t in _default_types()]
        for index, code in enumerate(codes):
            if code in codes[:index]:
                found.append((f"types[{index}].code", f"customer type '{code}' is declared twice"))
        classification = data.get("classification")
        section = classification if isinstance(classification, Mapping) else {}
        named = [("classification.default_type", section.get("default_type", "SME"))]
        rules = section.get("rules")
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, Mapping) and "type" in rule:
                named.append((f"classification.rules[{index}].type", rule["type"]))
        for key, code in named:
            if str(code) not in codes:
                found.append((key, f"unknown customer type '{code}' — {closest(str(code), codes)}"))
        tiers = data.get("value_tiers")
        names = [t.get("tier") for t in tiers if isinstance(t, Mapping)] if isinstance(tiers, list) else []
        for index, tier in enumerate(names):
            if tier in names[:index]:
                found.append((f"value_tiers[{index}].tier", f"tier '{tier}' is declared twice"))
        return found

    def fields_read(self) -> set[str]:
        """The canonical fields this policy's classification reads."""
        rules = self.classification
        read = {condition.field for rule in rules.rules for condition in rule.when}
        return read | ({rules.type_field} if rules.type_field else set())

    def type_named(self, code: str) -> CustomerType:
        return next(customer_type for customer_type in self.types if customer_type.code == code)
