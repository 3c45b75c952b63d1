from __future__ import annotations

import gc
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from connector.mapping import apply
from connector.mapping.apply import MappedRecord, compile_mapping, compiled, map_record, read_source
from connector.mapping.converters import REGISTRY, ConversionError, template
from connector.mapping.files import load_mapping_set, parse_mapping_texts
from connector.mapping.model import MappingFile
from tests.conftest import REPO


def step_by_step(mapping: MappingFile, record: Mapping[str, Any] | Sequence[Any]) -> MappedRecord:
    """The mapping applied as before compilation: registry look-ups and options per step and record."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field_map in mapping.fields:
        value = read_source(record, field_map.source)
        try:
            for step in field_map.convert:
                function = REGISTRY[step.name].function
                if step.name == "template":
                    value = function(value, **{**values, **step.options})
                else:
                    value = function(value, **step.options)
        except ConversionError as exc:
            errors[field_map.target] = f"{field_map.source!s}: {exc}"
            continue
        values[field_map.target] = value
    return MappedRecord(values, errors)


def same(mapping: MappingFile, record: Mapping[str, Any] | Sequence[Any]) -> MappedRecord:
    """The compiled result, checked against step-by-step application (repr: zones and exponents too)."""
    mapped = compile_mapping(mapping).map(record)
    expected = step_by_step(mapping, record)
    assert (repr(mapped.values), mapped.errors) == (repr(expected.values), expected.errors)
    return mapped


def mapping_of(*fields: dict[str, Any]) -> MappingFile:
    return MappingFile.model_validate({"kind": "inbound", "source": "test", "fields": list(fields)})


CONTACTS = mapping_of(
    {"target": "id", "source": "id", "convert": ["required"]},
    {"target": "last", "source": "Last_Name", "convert": ["fullwidth_to_halfwidth", "strip"]},
    {"target": "first", "source": "First_Name", "convert": ["strip"]},
    {
        "target": "name",
        "source": "First_Name",
        "convert": [{"name": "template", "template": "{last}{value}"}],
    },
    {"target": "company", "source": "Account_Name.name", "convert": ["collapse_spaces"]},
    {"target": "email", "source": "Email", "convert": ["email"]},
    {"target": "phone", "source": "Phone", "convert": [{"name": "phone", "region": "CN"}]},
    {
        "target": "modified_at",
        "source": "Modified_Time",
        "convert": [{"name": "datetime", "format": "%Y-%m-%dT%H:%M:%S%z", "tz": "Asia/Shanghai"}],
    },
    {
        "target": "tier",
        "source": "Tier",
        "convert": [{"name": "map", "values": {"Key": "KA"}, "default": "SME"}],
    },
)

GOOD = {
    "id": "4876876000000624001",
    "Last_Name": "王",
    "First_Name": " 小明 ",
    "Account_Name": {"name": "上海明远  贸易有限公司", "id": "1"},
    "Email": "Xiaoming.Wang@Example.com",
    "Phone": "+86 138-0013-8000",
    "Modified_Time": "2026-03-05T14:30:00+05:30",
    "Tier": "Key",
}


def test_a_good_record_maps_every_field_as_step_by_step_application_does() -> None:
    mapped = same(CONTACTS, GOOD)
    assert mapped.ok
    assert mapped.values["name"] == "王 小明 "  # the template sees the raw source value and earlier fields
    assert mapped.values["phone"] == "+8613800138000"


def test_a_failing_field_is_reported_and_the_others_still_map() -> None:
    broken = {**GOOD, "id": None, "Email": "no-at-sign", "Phone": "12", "Modified_Time": "05/03/2026"}
    mapped = same(CONTACTS, broken)
    assert set(mapped.errors) == {"id", "email", "phone", "modified_at"}
    assert mapped.errors["email"] == "Email: not an e-mail address (expected name@domain)"
    assert mapped.errors["id"].startswith("id: a value is required")
    assert "does not match the datetime format" in mapped.errors["modified_at"]
    assert mapped.values["company"] == "上海明远 贸易有限公司"
    assert set(mapped.values) == {"last", "first", "name", "company", "tier"}


def test_missing_sources_pass_through_converters_that_accept_nothing() -> None:
    mapped = same(CONTACTS, {"id": "1"})
    assert mapped.ok
    assert mapped.values == {
        "id": "1",
        "last": None,
        "first": None,
        "name": "",  # the earlier field's None and no value alike are written as nothing
        "company": None,
        "email": None,
        "phone": None,
        "modified_at": None,
        "tier": "SME",
    }


def test_a_template_fills_in_from_fields_mapped_before_it_but_not_after() -> None:
    mapping = mapping_of(
        {"target": "greeting", "source": "x", "convert": [{"name": "template", "template": "{later}"}]},
        {"target": "first", "source": "first"},
        {
            "target": "full",
            "source": "last",
            "convert": ["strip", {"name": "template", "template": "{value}{first}"}],
        },
        {"target": "later", "source": "x"},
    )
    mapped = same(mapping, {"first": "明", "last": " 王 ", "x": "hi"})
    assert mapped.values["full"] == "王明"
    assert "cannot be filled" in mapped.errors["greeting"]


def test_a_template_writes_a_field_the_record_leaves_empty_as_nothing() -> None:
    mapping = mapping_of(
        {"target": "first_name", "source": "First_Name", "convert": ["strip"]},
        {
            "target": "name",
            "source": "Last_Name",
            "convert": [{"name": "template", "template": "{value}{first_name}"}],
        },
    )
    assert same(mapping, {"Last_Name": "李", "First_Name": " "}).values["name"] == "李"
    assert same(mapping, {"Last_Name": "李"}).values["name"] == "李"


def test_an_id_template_writes_an_empty_field_as_none_as_ids_were_first_made_unless_told() -> None:
    def id_of(template: dict[str, str]) -> object:
        mapping = mapping_of(
            {"target": "number", "source": "Num"},
            {"target": "external_id", "source": "Date", "convert": [{"name": "template", **template}]},
        )
        return compile_mapping(mapping).map({"Date": "03/09/2026"}).values["external_id"]

    assert id_of({"template": "{value}|{number}"}) == "03/09/2026|None"
    assert id_of({"template": "{value}|{number}", "empty": ""}) == "03/09/2026|"
    voucher = mapping_of(
        {"target": "period", "source": "P"},
        {
            "target": "voucher_number",
            "source": "N",
            "convert": [{"name": "template", "template": "{period}-{value}"}],
        },
    )
    assert (
        compile_mapping(voucher).map({"N": "12"}).values["voucher_number"] == "None-12"
    )  # a voucher's id too


def test_a_template_empty_option_wins_over_a_field_of_that_name() -> None:
    mapping = mapping_of(
        {"target": "empty", "source": "a"},
        {"target": "b", "source": "b"},
        {"target": "out", "source": "x", "convert": [{"name": "template", "template": "<{b}>"}]},
    )
    assert compile_mapping(mapping).map({"a": "field"}).values["out"] == "<>"


def test_a_template_option_wins_over_a_field_of_the_same_name() -> None:
    mapping = mapping_of(
        {"target": "template", "source": "a"},
        {"target": "out", "source": "b", "convert": [{"name": "template", "template": "<{value}>"}]},
    )
    assert same(mapping, {"a": "field", "b": "x"}).values["out"] == "<x>"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"a": {"b": {"c": 1}}}, 1),
        ({"a.b.c": 2, "a": {"b": {"c": 1}}}, 2),  # a column whose name has dots wins
        ({"a": {"b.c": 3}}, None),  # only the whole path is a column name
        ({"a": None}, None),
        ({"a": {"b": "text"}}, None),
        ({"a": {"b": ["c"]}}, None),
        (["a.b.c"], None),  # a list row has no named columns
        ("abc", None),
    ],
)
def test_dotted_paths_read_nested_json_and_a_column_named_with_dots_wins(
    record: Any, expected: object
) -> None:
    mapped = same(mapping_of({"target": "v", "source": "a.b.c"}), record)
    assert mapped.values["v"] == expected


@pytest.mark.parametrize(
    ("record", "index", "expected"),
    [
        (["PAY-1", "¥1,234.50"], 1, Decimal("1234.50")),
        (("PAY-1", "1.5"), -1, Decimal("1.5")),
        (["PAY-1"], 1, None),
        (["PAY-1"], -2, None),
        ("PAY-1", 1, None),  # text is not a row
        ({"1": "1.5"}, 1, None),  # nor is a JSON object, whatever its keys
    ],
)
def test_list_rows_are_read_by_index_and_an_index_past_the_end_is_missing(
    record: Any, index: int, expected: object
) -> None:
    mapped = same(mapping_of({"target": "amount", "source": index, "convert": ["decimal"]}), record)
    assert mapped.values["amount"] == expected


def test_a_column_index_reads_a_csv_row_read_by_its_header_in_file_order() -> None:
    mapping = mapping_of({"target": "external_id", "source": 0}, {"target": "name", "source": -1})
    assert same(mapping, {"id": "7", "Email": "a@b.cn", "Full_Name": "Li Wei"}).values == {
        "external_id": "7",
        "name": "Li Wei",
    }


def test_a_field_without_a_source_starts_from_nothing() -> None:
    mapping = mapping_of({"target": "currency", "convert": [{"name": "default", "value": "CNY"}]})
    assert same(mapping, {"currency": "USD"}).values == {"currency": "CNY"}


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ({"name": "datetime", "format": "%Y-%m-%d", "tz": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
        ({"name": "datetime", "format": []}, "format must be a format or a non-empty list of formats"),
        (
            {"name": "datetime", "format": "%Y-%m-%d %H:%M:%S %Z", "tz": "Asia/Shanghai"},
            "(%Z), which is ignored: use %z",
        ),
        (
            {"name": "datetime", "format": "%Y-%m-%d %H:%S"},
            "14:37:09 comes back as 14:00:09 (a time of day is %H:%M:%S)",
        ),
        ({"name": "datetime", "format": ["%Y-%m-%d", "%Y-%m-%d %I:%M"]}, "(%I is the 12-hour clock: add %p"),
        ({"name": "datetime", "format": ["%Y-%m-%d", "%Y-%M-%d %H"]}, "(%M is minutes: the month is %m)"),
        ({"name": "number", "places": 11}, "places must be a whole number from 0 to 10"),
        ({"name": "decimal", "separator": ";"}, "separator must be '.' or ','"),
        ({"name": "digest", "length": 100}, "length must be a whole number from 8 to 64"),
        ({"name": "regex", "pattern": "^(\\w+)", "group": 3}, "has no group 3 (it has 1)"),
        ({"name": "format_decimal", "style": "se"}, "unknown decimal style 'se'"),
        ({"name": "phone", "region": "XX"}, "unknown region 'XX'"),
        ({"name": "date", "format": "%Y-%M-%d"}, "2026-03-05 comes back as 2026-01-05 (%M is minutes"),
        ({"name": "date", "format": ["%d.%m.%Y", "%Y-%m-%D"]}, "format '%Y-%m-%D' cannot be read"),
        ({"name": "map", "values": ["USD", "INR"]}, "values must be a table"),
        ({"name": "template", "template": 5}, "template must be text"),
        ({"name": "template", "template": "{value}", "empty": None}, "empty must be text"),
        ({"name": "regex", "pattern": []}, "pattern must be text"),
        ({"name": "phone", "region": []}, "unknown region []"),
    ],
)
def test_options_that_cannot_work_are_refused_when_the_mapping_is_loaded(
    step: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        mapping_of({"target": "x", "source": "x", "convert": [step]})


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        (
            {"name": "date", "format": ["%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y"]},
            "formats '%m/%d/%Y' and '%d/%m/%Y' read 03/05/2026 differently: list one of them",
        ),
        (
            {"name": "datetime", "format": ["%d.%m.%y %H:%M", "%y.%m.%d %H:%M"]},
            "formats '%d.%m.%y %H:%M' and '%y.%m.%d %H:%M' read 05.03.26 14:37 differently",
        ),
    ],
)
def test_a_list_of_formats_reading_one_date_two_ways_is_refused_when_the_mapping_is_loaded(
    step: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        mapping_of({"target": "x", "source": "x", "convert": [step]})
    unambiguous = {"name": "date", "format": ["%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d"]}  # %Y is four digits
    mapping_of({"target": "x", "source": "x", "convert": [unambiguous]})


def test_a_template_naming_a_field_not_mapped_before_it_is_refused_when_the_mapping_is_loaded() -> None:
    text = (
        'kind = "inbound"\nsource = "zoho.Contacts"\n'
        '[[fields]]\ntarget = "external_id"\nsource = "id"\n'
        '[[fields]]\ntarget = "name"\nsource = "Last_Name"\n'
        '[[fields]]\ntarget = "company"\nsource = "x"\n'
        'convert = [{ name = "template", template = "{nmae} {value}" }]\n'
    )
    mappings, problems = parse_mapping_texts(REPO, {"contacts.toml": text})
    assert mappings is None
    assert [problem.message for problem in problems] == [
        "{nmae} is neither value nor a field mapped before it — did you mean 'name'?"
    ]


def test_a_template_in_an_export_mapping_or_reading_an_attribute_is_checked_when_the_mapping_is_loaded() -> (
    None
):
    payments = (REPO / "mappings" / "export_quickbooks_online_payments.toml").read_text(encoding="utf-8")
    assert "|{party_name}|" in payments
    contacts = (
        'kind = "inbound"\nsource = "zoho.Contacts"\n'
        '[[fields]]\ntarget = "external_id"\nsource = "id"\n'
        '[[fields]]\ntarget = "company"\nsource = "Account_Name"\n'
        'convert = [{ name = "template", template = "{value.name}" }]\n'
    )
    texts = {"payments.toml": payments.replace("|{party_name}|", "|{party}|"), "contacts.toml": contacts}
    mappings, problems = parse_mapping_texts(REPO, texts)
    assert mappings is None
    assert sorted(problem.message for problem in problems) == [
        "{party} is neither value nor a field mapped before it — did you mean 'party_name'?",
        "{value.name}: a template reads a key as {value[name]}, never with a point",
    ]
    with pytest.raises(ConversionError, match="cannot be filled"):  # a record's error, not a crash
        template({"name": "Acme"}, template="{value.name}")


def test_a_template_fills_in_a_field_named_current() -> None:
    mapping = mapping_of(
        {"target": "current", "source": "a"},
        {"target": "both", "source": "b", "convert": [{"name": "template", "template": "{current}/{value}"}]},
    )
    assert same(mapping, {"a": "x", "b": "y"}).values["both"] == "x/y"


def test_a_json_boolean_is_looked_up_in_a_map_as_json_writes_it() -> None:
    step = {"name": "map", "values": {"true": "KA", "false": "SME"}}
    mapping = mapping_of({"target": "customer_type", "source": "Key", "convert": [step]})
    assert [same(mapping, {"Key": flag}).values["customer_type"] for flag in (True, False)] == ["KA", "SME"]


@pytest.mark.parametrize(
    "format", ["%Y-%m-%d", "%Y-%m-%d %H", "%d.%m.%Y %H:%M", "%Y-%m-%d %I:%M:%S %p", "%H:%M %%Z %Y-%m-%d"]
)
def test_a_datetime_format_that_leaves_out_the_finer_parts_of_the_time_is_accepted(format: str) -> None:
    mapping_of({"target": "x", "source": "x", "convert": [{"name": "datetime", "format": format}]})


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2022-11-03T20:26:10.344522Z", datetime(2022, 11, 3, 20, 26, 10, 344522, tzinfo=UTC)),
        ("2026-03-05T10:00:00+08:00", datetime(2026, 3, 5, 2, tzinfo=UTC)),
        ("2026-03-05T10:00:00.5", datetime(2026, 3, 5, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-03-05T10:00:00", datetime(2026, 3, 5, 10, tzinfo=UTC)),  # no offset: read in UTC
    ],
)
def test_the_shipped_webhook_mapping_reads_standard_webhooks_timestamps(
    timestamp: str, expected: datetime
) -> None:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    payload = {"type": "customer.updated", "timestamp": timestamp, "data": {"id": "c1", "name": "Li"}}
    mapped = same(mappings.files["webhook_customers"], payload)
    assert mapped.errors == {}
    assert mapped.values["modified_at"] == expected


@pytest.mark.parametrize("name", ["zoho_contacts", "zoho_accounts"])
def test_the_shipped_zoho_mappings_read_the_offset_zoho_sends(name: str) -> None:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    moment = same(mappings.files[name], {"id": "1", "Modified_Time": "2026-03-05T10:00:00+08:00"})
    assert moment.values["modified_at"] == datetime(2026, 3, 5, 2, tzinfo=UTC)


def test_every_shipped_mapping_compiles_to_the_same_results() -> None:
    mappings, _ = load_mapping_set(REPO / "mappings")
    assert mappings is not None
    figures = {
        "account_number": "KASH00001",
        "balance": Decimal("1234.565"),
        "overdue": Decimal(-12),
        "last_payment_date": datetime(2026, 3, 1, tzinfo=UTC),
        "as_of": datetime(2026, 3, 5, 9, 30, tzinfo=UTC),
        "credit_status": "HOLD",
    }
    for mapping in mappings.files.values():
        if mapping.kind == "inbound":
            same(mapping, GOOD)
            same(mapping, {**GOOD, "Full_Name": "  ＡＢＣ　有限公司 ", "Mailing_Country": " ", "Phone": "12"})
        else:
            same(mapping, figures)
            same(mapping, {**figures, "balance": 0.5, "as_of": "2026-03-05"})


values = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["138 0013 8000", "2026-03-05T14:30:00+08:00", "1,234.56", "Key", " a@b.co "]),
    st.integers(-5, 5),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.floats(allow_nan=False),
    st.dictionaries(st.sampled_from(["name", "b"]), st.text(max_size=5), max_size=2),
)
records = st.dictionaries(
    st.sampled_from(
        ["id", "Last_Name", "First_Name", "Account_Name", "Email", "Phone", "Modified_Time", "Tier"]
    ),
    values,
) | st.lists(values, max_size=4)


@given(records)
def test_compiled_mappings_equal_step_by_step_application_on_any_record(record: Any) -> None:
    same(CONTACTS, record)


def test_map_record_compiles_a_mapping_once_and_forgets_it_with_the_mapping() -> None:
    mapping = mapping_of({"target": "a", "source": "a", "convert": [{"name": "map", "values": {"x": 1}}]})
    assert compiled(mapping) is compiled(mapping)
    assert map_record(mapping, {"a": "x"}).values == {"a": 1}
    key = id(mapping)
    assert key in apply._COMPILED
    del mapping
    gc.collect()
    assert key not in apply._COMPILED
