from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from connector.mapping.apply import map_record
from connector.mapping.converters import REGISTRY, ConversionError
from connector.mapping.files import load_mapping_set
from connector.mapping.model import MappingFile
from connector.money import Money
from connector.sync.push import priced
from tests.conftest import REPO


def convert(name: str, current: object, **options: object) -> object:
    return REGISTRY[name].function(current, **options)


def test_number_gives_the_crm_fields_places_rounding_half_up_only_when_told_to() -> None:
    assert convert("number", Money.of("1234.565", "KWD"), places=2, rounding="half_up") == Decimal("1234.57")
    assert convert("number", Decimal("-0.005"), rounding="half_up") == Decimal("-0.01")
    assert convert("number", Money.of("1234.560", "KWD"), places=2) == Decimal("1234.56")
    assert convert("number", 7, places=0) == Decimal(7)
    assert convert("number", None) is None


def test_number_refuses_floats_and_text_that_is_not_an_amount() -> None:
    with pytest.raises(ConversionError, match="not an exact number"):
        convert("number", 0.1)
    with pytest.raises(ConversionError, match="not an amount"):
        convert("number", "abc")


@pytest.mark.parametrize(
    ("style", "text"),
    [
        ("en", "1,234.50"),
        ("de", "1.234,50"),
        ("fr", "1 234,50"),
        ("cn", "¥1,234.50"),
        ("accounting", "1,234.50"),
    ],
)
def test_format_decimal_writes_each_export_style(style: str, text: str) -> None:
    assert convert("format_decimal", Decimal("1234.5"), style=style) == text


def test_format_decimal_shows_negatives_in_parentheses_for_accountants() -> None:
    assert convert("format_decimal", Decimal("-12"), style="accounting") == "(12.00)"


def test_format_date_writes_dates_and_refuses_other_values() -> None:
    assert convert("format_date", date(2026, 3, 1), format="%Y年%m月%d日") == "2026年03月01日"
    with pytest.raises(ConversionError, match="not a date"):
        convert("format_date", "2026-03-01")


def test_the_shipped_outbound_map_turns_figures_into_zoho_fields() -> None:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert problems == []
    assert mappings is not None
    outbound = mappings.for_source("zoho.Accounts", "outbound")
    assert outbound is not None
    figures = {
        "account_number": "KASH00001",
        "balance": Money.of("12345.68", "CNY"),
        "overdue": Decimal("100"),
        "credit_status": "HOLD",
        "payment_terms_days": 60,
        "last_payment_date": date(2026, 11, 2),
        "value_tier": "high",
        "credit_score": 72,
    }
    mapped = map_record(outbound, figures)
    assert mapped.ok, mapped.errors
    assert mapped.values["Account_Number"] == "KASH00001"
    assert mapped.values["Outstanding_Balance"] == Decimal("12345.68")
    assert mapped.values["Credit_Status"] == "暂停 Hold"
    assert mapped.values["Payment_Terms"] == "Net 60"
    assert mapped.values["Last_Payment_Date"] == "2026-11-02"
    assert (mapped.values["Value_Tier"], mapped.values["Credit_Score"]) == ("High", 72)


def test_yen_amounts_go_to_the_crm_with_no_decimals_as_yen_have_none() -> None:
    mappings, _ = load_mapping_set(REPO / "mappings")
    assert mappings is not None
    outbound = mappings.for_source("zoho.Accounts", "outbound")
    assert outbound is not None
    figures = {"currency": "JPY", "balance": Decimal(120000), "last_payment_amount": Decimal(50000)}
    mapped = map_record(outbound, priced(figures))
    assert mapped.ok, mapped.errors
    sent = (mapped.values["Outstanding_Balance"], mapped.values["Last_Payment_Amount"])
    assert tuple(map(str, sent)) == ("120000", "50000")
    usd = map_record(outbound, priced({"currency": "USD", "balance": Decimal("120000.00")}))
    assert str(usd.values["Outstanding_Balance"]) == "120000.00"
    assert convert("format_decimal", Money.of("120000", "JPY"), style="en") == "120,000"


def test_the_shipped_outbound_map_refuses_a_three_decimal_amount_rather_than_round_it() -> None:
    mappings, _ = load_mapping_set(REPO / "mappings")
    assert mappings is not None
    outbound = mappings.for_source("zoho.Accounts", "outbound")
    assert outbound is not None
    mapped = map_record(outbound, {"account_number": "KAKW00001", "balance": Money.of("2.015", "KWD")})
    assert "2.015 has more decimal places than 2" in mapped.errors["Outstanding_Balance"]


def test_an_outbound_map_naming_an_unknown_figure_gets_a_hint(tmp_path: Path) -> None:
    text = (
        'kind = "outbound"\nsource = "zoho.Accounts"\n\n[[fields]]\ntarget = "Balance"\nsource = "balanse"\n'
    )
    (tmp_path / "out.toml").write_text(text, encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert [(p.line, p.key, p.message) for p in problems] == [
        (6, "fields[0].source", "unknown figure 'balanse' — did you mean 'balance'?")
    ]


def test_an_outbound_converter_that_cannot_read_its_figure_is_refused_when_loaded(tmp_path: Path) -> None:
    text = 'kind = "outbound"\nsource = "zoho.Accounts"\n'
    for target, figure, step in [
        ("Paid", "last_payment_amount", "format_date"),
        ("Status", "credit_status", "number"),
        ("Score", "credit_score", "format_decimal"),  # a number: fine
        ("Day", "last_payment_date", "format_date"),
    ]:
        text += f'[[fields]]\ntarget = "{target}"\nsource = "{figure}"\nconvert = ["{step}"]\n'
    (tmp_path / "out.toml").write_text(text, encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert [(p.key, p.message.split(" (it reads")[0]) for p in problems] == [
        ("fields[0].convert[0]", "format_date reads a date; last_payment_amount is not one"),
        ("fields[1].convert[0]", "number reads an amount; credit_status is not one"),
    ]


def test_an_inbound_and_an_outbound_map_may_serve_the_same_module_but_not_two_of_a_kind(
    tmp_path: Path,
) -> None:
    inbound = 'kind = "inbound"\nsource = "zoho.Accounts"\n'
    inbound += '[[fields]]\ntarget = "external_id"\nsource = "id"\n'
    (tmp_path / "a_in.toml").write_text(inbound, encoding="utf-8")
    (tmp_path / "b_out.toml").write_text(inbound.replace("inbound", "outbound").replace('"id"', '"balance"'))
    assert load_mapping_set(tmp_path)[1] == []
    (tmp_path / "c_in.toml").write_text(inbound, encoding="utf-8")
    [problem] = load_mapping_set(tmp_path)[1]
    assert problem.message == "inbound 'zoho.Accounts' is also mapped by a_in.toml"


@pytest.mark.parametrize(
    ("currency", "shown"), [("CNY", "¥1,234.50"), ("JPY", "¥1,234.50"), ("USD", "USD 1,234.50")]
)
def test_an_amount_written_in_the_cn_style_carries_the_customers_own_currency(
    tmp_path: Path, currency: str, shown: str
) -> None:
    text = (
        'kind = "outbound"\nsource = "zoho.Accounts"\n[[fields]]\ntarget = "Balance_Text"\n'
        'source = "balance"\nconvert = [{ name = "format_decimal", style = "cn" }]\n'
    )
    (tmp_path / "out.toml").write_text(text, encoding="utf-8")
    mappings, problems = load_mapping_set(tmp_path)
    assert (mappings is not None, problems) == (True, [])
    assert mappings is not None
    outbound = mappings.for_source("zoho.Accounts", "outbound")
    assert outbound is not None
    figures = {"balance": Decimal("1234.50"), "currency": currency}
    assert map_record(outbound, priced(figures)).values == {"Balance_Text": shown}


def test_a_number_step_before_the_cn_style_keeps_the_customers_currency() -> None:
    steps = [
        {"name": "number", "places": 0, "rounding": "half_up"},
        {"name": "format_decimal", "style": "cn", "places": 0},
    ]
    mapping = MappingFile.model_validate(
        {
            "kind": "outbound",
            "source": "zoho.Accounts",
            "fields": [{"target": "B", "source": "balance", "convert": steps}],
        }
    )
    assert map_record(mapping, priced({"balance": Decimal("1234.40"), "currency": "USD"})).values == {
        "B": "USD 1,234"
    }


def test_an_outbound_map_of_the_credit_status_lacking_a_status_and_a_default_is_refused_when_loaded(
    tmp_path: Path,
) -> None:
    text = 'kind = "outbound"\nsource = "zoho.Accounts"\n'
    for target, values in [
        ("Status", '{ OK = "OK", WATCH = "Watch", HOLD = "Hold" }'),
        ("Every", '{ OK = "OK", WATCH = "Watch", HOLD = "Hold", BLOCKED = "Blocked" }'),
        ("Defaulted", '{ OK = "OK" }, default = "Other"'),
    ]:
        text += f'[[fields]]\ntarget = "{target}"\nsource = "credit_status"\n'
        text += f'convert = [{{ name = "map", values = {values} }}]\n'
    (tmp_path / "out.toml").write_text(text, encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert [(p.key, p.message.split(" and no default")[0]) for p in problems] == [
        ("fields[0].convert[0]", "map has no value for credit status BLOCKED"),
    ]
