"""Planning the CRM fields the push writes: the type each figure needs, and what exists or is missing."""

from __future__ import annotations

import pytest

from adapters.zoho.fields_setup import (
    FIGURE_NEEDS,
    ExistingField,
    FieldNeed,
    WantedField,
    field_need,
    incompatibility,
    outbound_modules,
    plan_fields,
    wanted_fields,
)
from adapters.zoho.sandbox.fields import build_modules, field_metadata
from connector.mapping.files import load_mapping_set
from connector.mapping.model import FIGURES, Step
from tests.conftest import REPO


def steps(*items: dict[str, object]) -> tuple[Step, ...]:
    return tuple(Step.model_validate(item) for item in items)


def shipped_wanted() -> dict[str, WantedField]:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    modules = outbound_modules(mappings)
    assert list(modules) == ["Accounts"]
    return {w.api_name: w for w in wanted_fields("Accounts", modules["Accounts"])}


def test_every_figure_has_a_field_type() -> None:
    assert set(FIGURE_NEEDS) == set(FIGURES)


def test_dates_need_date_fields_as_the_push_writes_them_without_a_time() -> None:
    assert field_need("as_of") == field_need("last_payment_date") == FieldNeed("date", as_text=True)


def test_amounts_need_currency_fields_with_the_number_converters_places() -> None:
    assert field_need("balance") == FieldNeed("currency", places=2)
    assert field_need("overdue", steps({"name": "number", "places": 3})) == FieldNeed("currency", places=3)


def test_scores_need_decimal_fields_that_an_integer_field_also_satisfies() -> None:
    need = field_need("credit_score")
    assert (need.data_type, need.places) == ("double", 2)
    assert incompatibility(need, ExistingField("Credit_Score", "Credit Score", "integer")) is None
    assert incompatibility(need, ExistingField("Credit_Score", "Credit Score", "double", 2)) is None
    with_places = field_need("credit_score", steps({"name": "number", "places": 1}))
    assert incompatibility(with_places, ExistingField("Credit_Score", "Credit Score", "integer")) is not None


def test_a_map_converter_makes_a_picklist_of_its_values_without_the_blank_default() -> None:
    status = field_need(
        "credit_status", steps({"name": "map", "values": {"OK": "正常 OK", "HOLD": "暂停 Hold"}})
    )
    assert (status.data_type, status.picklist) == ("picklist", ("正常 OK", "暂停 Hold"))
    tier = field_need(
        "value_tier", steps({"name": "map", "values": {"high": "High", "low": "Low"}, "default": ""})
    )
    assert tier.picklist == ("High", "Low")
    assert field_need("credit_status").picklist == ("OK", "WATCH", "HOLD", "BLOCKED")


def test_iso_format_date_keeps_a_date_field_and_other_formats_need_text() -> None:
    assert (
        field_need("last_payment_date", steps({"name": "format_date", "format": "%Y-%m-%d"})).data_type
        == "date"
    )
    chinese = field_need("last_payment_date", steps({"name": "format_date", "format": "%Y年%m月%d日"}))
    assert chinese.data_type == "text"


def test_templates_and_account_numbers_are_text() -> None:
    assert (
        field_need("payment_terms_days", steps({"name": "template", "template": "Net {value}"})).data_type
        == "text"
    )
    assert field_need("payment_terms_days").data_type == "integer"
    assert field_need("account_number").data_type == "text"


def test_the_shipped_outbound_mapping_needs_the_documented_types() -> None:
    wanted = shipped_wanted()
    assert wanted["Outstanding_Balance"].need == FieldNeed("currency", places=2)
    assert wanted["Credit_Score"].need.data_type == "double"
    assert wanted["Credit_Status"].need.picklist == ("正常 OK", "关注 Watch", "暂停 Hold", "冻结 Blocked")
    assert wanted["Value_Tier"].need.picklist == ("High", "Medium", "Low")
    assert wanted["Last_Payment_Date"].need.data_type == "date"
    assert wanted["Figures_As_Of"].need.data_type == "date"
    assert wanted["Payment_Terms"].need.data_type == "text"
    assert wanted["Account_Number"].need.data_type == "text"
    assert wanted["Aging_1_30"].label == "Aging 1 30"


def test_a_missing_field_is_created_labelled_as_its_api_name_with_its_type() -> None:
    wanted = shipped_wanted()
    assert wanted["Outstanding_Balance"].create_body() == {
        "field_label": "Outstanding Balance",
        "data_type": "currency",
        "decimal_place": 2,
        "currency": {"rounding_option": "normal", "precision": 2},
    }
    body = wanted["Value_Tier"].create_body()
    assert body["data_type"] == "picklist"
    assert [v["actual_value"] for v in body["pick_list_values"]] == ["High", "Medium", "Low"]
    assert wanted["Credit_Score"].create_body() == {
        "field_label": "Credit Score",
        "data_type": "double",
        "decimal_place": 2,
    }


def test_the_plan_separates_fields_in_place_missing_and_incompatible() -> None:
    wanted = list(shipped_wanted().values())
    existing = [
        ExistingField("Account_Name", "Account Name", "text"),
        ExistingField("Account_Number", "Account Number", "text"),
        ExistingField("Outstanding_Balance", "Outstanding Balance", "currency", 2),
        ExistingField("Overdue_Amount", "Overdue Amount", "text"),
        ExistingField("Credit_Limit", "Credit Limit", "currency", 0),
        ExistingField("Credit_Status", "Credit Status", "text"),
        ExistingField("Last_Payment_Date", "Last Payment Date", "datetime"),
        ExistingField("Credit_Score", "Credit Score", "double", 0),  # a whole number fits
    ]
    plan = plan_fields(wanted, existing)
    assert [w.api_name for w in plan.present] == [
        "Account_Number",
        "Outstanding_Balance",
        "Credit_Score",
        "Credit_Status",
    ]
    assert {p.api_name: p.message for p in plan.problems} == {
        "Overdue_Amount": "is a text field; the connector sends currency (2 decimals): make it currency",
        "Credit_Limit": "rounds to 0 decimal place(s); the connector sends 2",
        "Last_Payment_Date": "is a datetime field; the connector sends date: make it date",
    }
    assert len(plan.missing) == len(wanted) - 7
    assert "Outstanding_Balance" not in {w.api_name for w in plan.missing}


def test_a_label_taken_by_another_field_or_a_name_zoho_cannot_derive_is_a_problem_not_a_creation() -> None:
    need = FieldNeed("currency", places=2)
    clash = WantedField("Accounts", "Outstanding_Balance", need)
    odd = WantedField("Accounts", "Balance__c", need)
    plan = plan_fields([clash, odd], [ExistingField("Balance_Due", "Outstanding Balance", "currency", 2)])
    assert plan.missing == []
    messages = {p.api_name: p.message for p in plan.problems}
    assert "exists as 'Balance_Due'" in messages["Outstanding_Balance"]
    assert "would be named 'Balance_c'" in messages["Balance__c"]


@pytest.mark.parametrize(
    ("need", "kind"),
    [
        (FieldNeed("currency", places=2), "double"),
        (FieldNeed("integer", integral=True), "bigint"),
        (FieldNeed("picklist", picklist=("A",), as_text=True), "textarea"),
        (FieldNeed("date", as_text=True), "text"),
    ],
)
def test_fields_that_can_hold_the_values_are_accepted(need: FieldNeed, kind: str) -> None:
    assert incompatibility(need, ExistingField("X", "X", kind)) is None


def test_numbers_are_never_accepted_into_text_fields() -> None:
    assert incompatibility(FieldNeed("currency", places=2), ExistingField("X", "X", "text")) is not None
    assert (
        incompatibility(FieldNeed("integer", integral=True), ExistingField("X", "X", "picklist")) is not None
    )


def test_the_sandbox_orgs_ledger_fields_as_their_metadata_reads_hold_what_the_shipped_mapping_sends() -> None:
    accounts = build_modules(5725767, ledger_fields=True)["Accounts"]
    existing = [ExistingField.from_metadata(field_metadata(f)) for f in accounts.fields]
    plan = plan_fields(shipped_wanted().values(), existing)
    assert (len(plan.present), plan.problems, plan.missing) == (20, [], [])
    reason = next(f for f in existing if f.api_name == "Credit_Status_Reason")
    assert (reason.length, reason.read_only) == (255, False)
    assert next(f for f in existing if f.api_name == "Created_Time").read_only
