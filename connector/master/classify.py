"""Classification rules as pure functions: customer type, region code, value tier and starting credit terms.

Every answer comes with its reason, so an admin can see why a customer landed where it did.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connector.mapping.decimals import DecimalFormatError, parse_decimal
from connector.master.policy import Condition, CustomerPolicy, Regions
from connector.money import Money


@dataclass(frozen=True)
class Decision:
    value: str
    reason: str


@dataclass(frozen=True)
class CreditTerms:
    credit_limit: Money | None
    payment_terms_days: int


@dataclass(frozen=True)
class PaymentHistory:
    """Receipts of one customer within the tier window: total and count (reversed receipts excluded)."""

    paid: Money
    payments: int


def fold(text: str) -> str:
    """Comparison form for names of places and picklist values: width, case and spacing ignored."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Decimal(value)
    text = _text(value)
    if text is None:
        return None
    try:
        return parse_decimal(text)
    except DecimalFormatError:
        return None


def condition_holds(condition: Condition, record: Mapping[str, Any]) -> bool:
    value = record.get(condition.field)
    text = _text(value)
    if condition.present is not None:
        return (text is not None) is condition.present
    if text is None:
        return False
    if condition.equals is not None:
        return fold(text) == fold(condition.equals)
    if condition.one_of is not None:
        return fold(text) in {fold(choice) for choice in condition.one_of}
    if condition.matches is not None:
        return re.search(condition.matches, text) is not None
    number = _number(value)
    if number is None:
        return False
    if condition.at_least is not None:
        return number >= condition.at_least
    return condition.below is not None and number < condition.below


# Fields whose values are personal data even when they read as numbers (a phone, an account).
PERSONAL_FIELDS = frozenset({"name", "email", "phone", "mobile", "address", "bank_account"})


def _describe(condition: Condition, record: Mapping[str, Any]) -> str:
    """The condition a record met, for its reason (kept in the audit trail, in clear): the field and the
    test, with the value only when it reads as a number (employees '1,200', revenue) or is absent. A text
    may be personal data (a company's name is its owner's, a mapped first name): never shown."""
    field = condition.field
    value = record.get(field)
    plain = value is None or (field not in PERSONAL_FIELDS and _number(value) is not None)
    shown = f" {value!r}" if plain else ""
    for test in ("equals", "one_of", "at_least", "below", "present", "matches"):
        expected = getattr(condition, test)
        if expected is not None:
            return f"{field}{shown} {test} {expected}"
    return condition.field  # pragma: no cover - a condition always has one test (validated)


def customer_type(record: Mapping[str, Any], policy: CustomerPolicy) -> Decision:
    rules = policy.classification
    from_crm = _text(record.get(rules.type_field)) if rules.type_field else None
    note = ""
    if from_crm is not None:
        for declared in policy.types:
            if fold(from_crm) in {fold(declared.code), fold(declared.label) or fold(declared.code)}:
                return Decision(declared.code, f"{rules.type_field} is {from_crm!r}")
        note = f"; {rules.type_field} {from_crm!r} is not a declared type"
    for number, rule in enumerate(rules.rules, start=1):
        if all(condition_holds(condition, record) for condition in rule.when):
            tests = " and ".join(_describe(condition, record) for condition in rule.when)
            return Decision(rule.type, f"rule {number}: {tests}{note}")
    return Decision(rules.default_type, f"default type{note}")


def region(record: Mapping[str, Any], regions: Regions) -> Decision:
    for field, table in (
        ("city", regions.cities),
        ("province", regions.provinces),
        ("country", regions.countries),
    ):
        place = _text(record.get(field))
        if place is None or not table:
            continue
        folded = fold(place)
        for name, code in table.items():
            if fold(name) == folded:
                return Decision(code, f"{field} {place!r}")
    return Decision(regions.default, "default region: no table knows the city, province or country")


def value_tier(history: PaymentHistory, policy: CustomerPolicy) -> Decision | None:
    """The first tier whose thresholds the payments reach; `None` when no tier applies."""
    for tier in policy.value_tiers:
        threshold = tier.paid_at_least.get(history.paid.currency) if tier.paid_at_least else None
        if tier.paid_at_least is not None and threshold is None:
            continue  # the tier sets no amount for this currency: it cannot be earned in it
        if threshold is not None and history.paid.minor < threshold.minor:
            continue
        if history.payments < tier.payments_at_least:
            continue
        return Decision(
            tier.tier,
            f"paid {history.paid} in {history.payments} payment(s) over {policy.tier_window_days} days",
        )
    return None


def credit_terms(policy: CustomerPolicy, type_code: str, currency: str) -> CreditTerms:
    declared = policy.type_named(type_code)
    limit = declared.credit_limit.get(currency) if declared.credit_limit else None
    return CreditTerms(limit, declared.payment_terms_days)
