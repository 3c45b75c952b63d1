from __future__ import annotations

import random
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.mapping.apply import compiled
from connector.mapping.files import load_mapping_set
from connector.master import classify
from connector.master.classify import PaymentHistory
from connector.master.policy import Condition, CustomerPolicy, TypeRule
from connector.money import Money
from tests.conftest import REPO


def shipped_policy() -> CustomerPolicy:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert problems == []
    assert mappings is not None
    return mappings.policy


POLICY = shipped_policy()


@pytest.mark.parametrize(
    ("record", "expected", "reason"),
    [
        ({"customer_type": "KA", "company": "x"}, "KA", "customer_type is 'KA'"),
        ({"customer_type": "中小企业 SME", "employees": "9000"}, "SME", "customer_type is '中小企业 SME'"),
        ({"employees": "1,200", "company": "Acme"}, "KA", "rule 2: employees '1,200' at_least 500"),
        ({"annual_revenue": Decimal("250000000"), "company": "Acme"}, "KA", "rule 1: "),
        ({"name": "王小明"}, "IND", "rule 3: company None present False"),
        ({"company": "Acme", "employees": "12"}, "SME", "default type"),
        ({"company": "Acme", "customer_type": "Partner"}, "SME", "'Partner' is not a declared type"),
    ],
)
def test_customer_type_comes_from_the_crm_field_then_the_rules_then_the_default(
    record: dict[str, Any], expected: str, reason: str
) -> None:
    decision = classify.customer_type(record, POLICY)
    assert decision.value == expected
    assert reason in decision.reason


def test_a_reason_names_a_personal_fields_test_never_its_value() -> None:
    by_mail = TypeRule(type="IND", when=(Condition(field="email", matches=r"@(qq|163)\.com$"),))
    rules = POLICY.classification.model_copy(update={"rules": (by_mail,)})
    policy = POLICY.model_copy(update={"classification": rules})
    decision = classify.customer_type({"email": "lina+crm@qq.com", "company": "x"}, policy)
    assert decision.value == "IND"
    assert r"email matches @(qq|163)\.com$" in decision.reason
    assert "lina" not in decision.reason


def test_a_reason_never_shows_a_text_fields_value_only_a_numbers() -> None:
    by_form = TypeRule(type="SME", when=(Condition(field="company", matches="(?i)ltd$"),))
    by_size = TypeRule(type="KA", when=(Condition(field="employees", at_least=Decimal(500)),))
    rules = POLICY.classification.model_copy(update={"rules": (by_size, by_form)})
    policy = POLICY.model_copy(update={"classification": rules})
    small = classify.customer_type({"company": "Wilson Family Bakery Ltd", "employees": "12"}, policy)
    assert (small.value, small.reason) == ("SME", "rule 2: company matches (?i)ltd$")
    large = classify.customer_type({"company": "Wilson Family Bakery Ltd", "employees": "1,200"}, policy)
    assert large.reason == "rule 1: employees '1,200' at_least 500"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"city": "深圳", "province": "广东", "country": "China"}, "SZ"),
        ({"city": "Guangzhou", "province": "广东", "country": "China"}, "GD"),
        ({"province": "ＳＨＡＮＧＨＡＩ"}, "SH"),
        ({"country": "japan"}, "JP"),
        ({"country": "Atlantis"}, "00"),
        ({}, "00"),
    ],
)
def test_the_most_specific_known_place_gives_the_region(record: dict[str, str], expected: str) -> None:
    assert classify.region(record, POLICY.regions).value == expected


@pytest.mark.parametrize("module", ["zoho_contacts", "zoho_accounts"])
def test_a_zoho_records_city_and_province_reach_the_region_through_the_shipped_mapping(module: str) -> None:
    mappings, _ = load_mapping_set(REPO / "mappings")
    assert mappings is not None
    prefix = "Mailing" if module == "zoho_contacts" else "Billing"
    record = {"id": "1", f"{prefix}_City": "深圳", f"{prefix}_State": "广东", f"{prefix}_Country": "China"}
    mapped = compiled(mappings.files[module]).map(record)
    assert classify.region(mapped.values, POLICY.regions).value == "SZ"


@pytest.mark.parametrize(
    ("paid", "payments", "tier"),
    [
        (Money.of("1500000", "CNY"), 8, "high"),
        (Money.of("1500000", "CNY"), 3, "medium"),
        (Money.of("99999.99", "CNY"), 40, "low"),
        (Money.of("0", "CHF"), 0, "low"),
        (Money.of("900000", "CHF"), 9, "low"),  # no CHF thresholds: the amount tiers cannot be earned in CHF
    ],
)
def test_value_tier_needs_every_threshold_of_the_tier(paid: Money, payments: int, tier: str) -> None:
    decision = classify.value_tier(PaymentHistory(paid, payments), POLICY)
    assert decision is not None
    assert decision.value == tier


def test_without_a_catch_all_tier_a_small_payer_has_none() -> None:
    policy = CustomerPolicy.model_validate(
        {"value_tiers": [{"tier": "high", "paid_at_least": {"CNY": "10"}, "payments_at_least": 1}]}
    )
    assert classify.value_tier(PaymentHistory(Money.of("1", "CNY"), 1), policy) is None


def test_each_class_starts_with_its_own_credit_terms() -> None:
    ka = classify.credit_terms(POLICY, "KA", "CNY")
    assert (ka.credit_limit, ka.payment_terms_days) == (Money.of("500000.00", "CNY"), 60)
    assert classify.credit_terms(POLICY, "IND", "GBP").credit_limit is None


def test_the_policy_defaults_apply_without_a_policy_file(tmp_path: Path) -> None:
    only = 'kind = "inbound"\nsource = "s"\n[[fields]]\ntarget = "external_id"\nsource = "id"\n'
    (tmp_path / "only.toml").write_text(only)
    mappings, _ = load_mapping_set(tmp_path)
    assert mappings is not None
    assert [t.code for t in mappings.policy.types] == ["KA", "SME", "IND"]


POLICY_MISTAKES = """kind = "customer_master"
[identity]
order = ["email", "external_id"]

[[types]]
code = "K-A"

[[types]]
code = "SME"
credit_limit = { CNY = "10.001" }

[classification]
default_type = "SMB"

[[classification.rules]]
type = "SME"
when = [{ field = "employees", at_least = "5", below = "10" }]
"""


def test_policy_mistakes_are_each_reported_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(POLICY_MISTAKES, encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    found = sorted((p.line, p.key, p.message.split(":")[0].split(" —")[0]) for p in problems)
    assert [(line, key) for line, key, _ in found] == [
        (3, "identity.order"),
        (6, "types[0].code"),
        (10, "types[1].credit_limit"),
        (13, "classification.default_type"),
        (17, "classification.rules[0].when[0]"),
    ]
    messages = " | ".join(p.message for p in problems)
    assert "did you mean 'SME'?" in messages
    assert "exactly one of" in messages


record_values = st.one_of(st.none(), st.text(max_size=12), st.integers(-(10**6), 10**9).map(str))
records = st.dictionaries(
    st.sampled_from(
        ["customer_type", "employees", "annual_revenue", "company", "city", "province", "country"]
    ),
    record_values,
)


@given(records, st.randoms())
def test_classification_is_deterministic_whatever_the_field_order(
    record: dict[str, Any], rnd: random.Random
) -> None:
    items = list(record.items())
    rnd.shuffle(items)
    shuffled = dict(items)
    first = (classify.customer_type(record, POLICY), classify.region(record, POLICY.regions))
    again = (classify.customer_type(shuffled, POLICY), classify.region(shuffled, POLICY.regions))
    assert first == again
    assert first[0].value in {t.code for t in POLICY.types}


@given(st.integers(0, 10**12), st.integers(0, 100), st.sampled_from(["CNY", "USD", "JPY", "CHF"]))
def test_value_tiers_are_deterministic_and_monotonic_in_the_amount_paid(
    minor: int, count: int, currency: str
) -> None:
    ranks = {"high": 3, "medium": 2, "low": 1}
    lower = classify.value_tier(PaymentHistory(Money(minor, currency), count), POLICY)
    higher = classify.value_tier(PaymentHistory(Money(minor * 2 + 1, currency), count), POLICY)
    assert lower == classify.value_tier(PaymentHistory(Money(minor, currency), count), POLICY)
    assert lower is not None
    assert higher is not None
    assert ranks[higher.value] >= ranks[lower.value]


def test_the_shipped_policy_file_parses_as_plain_toml() -> None:
    data = tomllib.loads((REPO / "mappings" / "customer_master.toml").read_text(encoding="utf-8"))
    assert data["kind"] == "customer_master"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("1,000.5", "JPY = '1,000.5': not a plain decimal amount (write 1000.5 without thousands"),
        ("¥1000", "JPY = '¥1000': not a plain decimal amount (write 1000.50 without thousands"),
    ],
)
def test_an_amount_with_separators_in_the_policy_says_it_is_not_a_plain_decimal(
    tmp_path: Path, written: str, reason: str
) -> None:
    policy = f"""kind = "customer_master"
[[types]]
code = "SME"
credit_limit = {{ JPY = "{written}" }}

[[value_tiers]]
tier = "high"
paid_at_least = {{ JPY = "{written}" }}
"""
    (tmp_path / "policy.toml").write_text(policy, encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert [(p.key, reason in p.message) for p in problems] == [
        ("types[0].credit_limit", True),
        ("value_tiers[0].paid_at_least", True),
    ]
    assert all("ConversionSyntax" not in p.message for p in problems)
