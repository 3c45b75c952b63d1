"""The classification rules memoised for a batch: they are pure functions of a few fields, which most
records of a batch share (the same country, no type field, the same currency)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.master import classify
from connector.master.policy import CustomerPolicy
from connector.master.records import text_of


class Classifier:
    """`classify.region`, `customer_type`, `credit_terms` and the "created" event's words, memoised."""

    def __init__(self, policy: CustomerPolicy) -> None:
        self.policy = policy
        rules = policy.classification
        self._type_fields = [rules.type_field] if rules.type_field else []
        self._type_fields += [condition.field for rule in rules.rules for condition in rule.when]
        self._regions: dict[tuple[str | None, ...], classify.Decision] = {}
        self._types: dict[tuple[tuple[type, Any], ...], classify.Decision] = {}
        self._terms: dict[tuple[str, str], tuple[classify.CreditTerms, str | None]] = {}
        self._details: dict[tuple[classify.Decision, classify.Decision, classify.CreditTerms], str] = {}

    def region(self, record: Mapping[str, Any]) -> classify.Decision:
        key = (text_of(record, "city"), text_of(record, "province"), text_of(record, "country"))
        found = self._regions.get(key)
        if found is None:
            found = self._regions[key] = classify.region(record, self.policy.regions)
        return found

    def customer_type(self, record: Mapping[str, Any]) -> classify.Decision:
        try:  # the value's type too: 1 and True are equal, but described differently
            key = tuple((type(value), value) for value in map(record.get, self._type_fields))
            found = self._types.get(key)
        except TypeError:  # an unhashable value: no memo
            return classify.customer_type(record, self.policy)
        if found is None:
            found = self._types[key] = classify.customer_type(record, self.policy)
        return found

    def terms(self, kind: str, currency: str) -> tuple[classify.CreditTerms, str | None]:
        """The class's starting credit terms in this currency, and its account number template."""
        found = self._terms.get((kind, currency))
        if found is None:
            template = self.policy.type_named(kind).account_number_template
            found = self._terms[(kind, currency)] = (
                classify.credit_terms(self.policy, kind, currency),
                template,
            )
        return found

    def detail(self, kind: classify.Decision, region: classify.Decision, terms: classify.CreditTerms) -> str:
        """The "created" event's words for a new customer, as `CustomerMaster._create` puts them."""
        key = (kind, region, terms)
        found = self._details.get(key)
        if found is None:
            limit = str(terms.credit_limit) if terms.credit_limit else "none"
            found = self._details[key] = (
                f"type {kind.value} ({kind.reason}); region {region.value} ({region.reason}); "
                f"credit limit {limit}, terms {terms.payment_terms_days} days"
            )
        return found
