from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from connector.mapping.apply import map_record, read_source
from connector.mapping.detection import detection_overlaps
from connector.mapping.files import load_mapping_set
from tests.conftest import REPO

FIVE_MISTAKES = """kind = "inbound"
source = "zoho.Contacts"
descripton = "typo"

[[fields]]
target = "name"
source = "Full_Name"
convert = ["strip", "deciml"]

[[fields]]
target = "phone"
source = "Phone"
convert = [{ name = "phone", regoin = "CN" }]

[[fields]]
target = "created"
source = "Created_Time"
convert = [{ name = "date" }]

[[fields]]
target = "balance"
sorce = "Other"

[[fields]]
target = "external_id"
source = "id"
"""


def test_a_file_with_five_mistakes_yields_five_precise_errors(tmp_path: Path) -> None:
    (tmp_path / "contacts.toml").write_text(FIVE_MISTAKES, encoding="utf-8")
    mappings, problems = load_mapping_set(tmp_path)
    assert mappings is None
    assert sorted((p.line, p.key, p.message) for p in problems) == [
        (3, "descripton", "unknown key 'descripton' — did you mean 'description'?"),
        (8, "fields[0].convert[1]", "unknown converter 'deciml' — did you mean 'decimal'?"),
        (13, "fields[1].convert[0]", "converter 'phone' has no option 'regoin' (options: region)"),
        (18, "fields[2].convert[0]", "converter 'date' needs option(s) format"),
        (22, "fields[3].sorce", "unknown key 'sorce' — did you mean 'source'?"),
    ]
    assert str(problems[0]).startswith(f"{tmp_path / 'contacts.toml'}:")


def test_an_inbound_mapping_may_declare_a_known_encoding_as_export_mappings_do(tmp_path: Path) -> None:
    inbound = 'kind = "inbound"\nsource = "zoho.Contacts"\nencoding = "{}"\n\n'
    inbound += '[[fields]]\ntarget = "external_id"\nsource = "id"\n'
    (tmp_path / "contacts.toml").write_text(inbound.format("cp1252"), encoding="utf-8")
    mappings, problems = load_mapping_set(tmp_path)
    assert mappings is not None, problems
    assert mappings.files["contacts"].encoding == "cp1252"
    (tmp_path / "contacts.toml").write_text(inbound.format("latin-9x"), encoding="utf-8")
    outbound = inbound.format("cp1252").replace("inbound", "outbound").replace('"id"', '"balance"')
    (tmp_path / "out.toml").write_text(outbound.replace("external_id", "Balance"), encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert sorted((p.key, p.message) for p in problems) == [
        ("encoding", "an outbound mapping reads no file: `encoding` is for inbound ones"),
        ("encoding", "unknown encoding 'latin-9x' (e.g. utf-8, gb18030, cp1252)"),
    ]


def test_a_key_a_table_lacks_is_at_its_header_and_a_quoted_value_is_never_taken_for_a_key(
    tmp_path: Path,
) -> None:
    text = (
        'kind = "inbound"\nsource = "zoho.Contacts"\n\n'
        '[[fields]]\nsource = "Full_Name"\n\n'  # no target: line 4, not the next table's target
        '[[fields]]\ntarget = "external_id"\nsource = "id"\n\n'
        '[[fields]]\ntarget = "source"\nsource = 5.5\n'  # the value "source" is no key
    )
    (tmp_path / "contacts.toml").write_text(text, encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert {(p.line, p.key) for p in problems} == {
        (4, "fields[0].target"),
        (13, "fields[2].source.str"),
        (13, "fields[2].source.int"),
    }


def test_a_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('kind = "inbound"\nsource = \n', encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert [(p.key, p.line) for p in problems] == [("(syntax)", 2)]


def test_a_file_saved_in_another_encoding_is_refused_not_read_mangled(tmp_path: Path) -> None:
    text = 'kind = "outbound"\nsource = "zoho.Accounts"\n[[fields]]\ntarget = "Credit_Status"\n'
    text += 'source = "credit_status"\nconvert = [{ name = "map", values = { HOLD = "暂停 Hold" } }]\n'
    (tmp_path / "outbound.toml").write_bytes(text.encode("gb18030"))
    mappings, problems = load_mapping_set(tmp_path)
    assert mappings is None
    assert [(p.line, p.key, p.message) for p in problems] == [
        (6, "(file)", "not UTF-8 text: save the file as UTF-8")
    ]


def test_an_editors_lock_file_is_passed_over_and_a_folder_named_toml_is_a_problem_not_a_crash(
    tmp_path: Path,
) -> None:
    (tmp_path / ".#customers.toml").symlink_to(tmp_path / "nowhere")  # what emacs leaves while editing
    (tmp_path / "old.toml").mkdir()
    mappings, problems = load_mapping_set(tmp_path)
    assert mappings is None
    assert [(p.file.name, p.key) for p in problems] == [("old.toml", "(file)")]
    assert "cannot be read" in problems[0].message


def test_an_inbound_mapping_without_the_records_id_is_refused(tmp_path: Path) -> None:
    text = 'kind = "inbound"\nsource = "x"\n[[fields]]\ntarget = "name"\nsource = "Full_Name"\n'
    (tmp_path / "noid.toml").write_text(text, encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert [(p.key, p.message) for p in problems] == [
        ("fields", "an inbound mapping needs a field for external_id (the record's own id)")
    ]


def test_a_misspelt_target_is_reported_beside_the_files_other_mistakes(tmp_path: Path) -> None:
    text = 'kind = "inbound"\nsource = "x"\n[[fields]]\ntarget = "external_id"\nsource = "id"\n'
    text += '[[fields]]\ntarget = "e_mail"\nsource = "Email"\nconvert = ["stirp"]\n'
    (tmp_path / "contacts.toml").write_text(text, encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert sorted(p.message.split(" — ")[0] for p in problems) == [
        "target 'e_mail' is read by nothing",
        "unknown converter 'stirp'",
    ]


def test_a_field_without_a_source_is_refused_naming_its_file_line_and_key(tmp_path: Path) -> None:
    contacts = (REPO / "mappings" / "zoho_contacts.toml").read_text(encoding="utf-8")
    (tmp_path / "zoho_contacts.toml").write_text(contacts.replace('source = "Email"\n', ""), encoding="utf-8")
    export = (REPO / "mappings" / "export_xero_payments.toml").read_text(encoding="utf-8")
    (tmp_path / "export_xero_payments.toml").write_text(
        export.replace('source = "Reference"\n', ""), encoding="utf-8"
    )

    mappings, problems = load_mapping_set(tmp_path)

    assert mappings is None
    assert [(p.file.name, p.line, p.key) for p in problems] == [
        ("export_xero_payments.toml", 46, "fields[5].source"),
        ("zoho_contacts.toml", 25, "fields[3].source"),
    ]
    assert problems[1].message == (
        "no source: target 'email' would be empty in every record — add source = the field or column it "
        "reads, or a step that gives a value without one (default, template, map with a default)"
    )


@pytest.mark.parametrize(
    "steps",
    [
        '[{ name = "default", value = "CN" }]',
        '["strip", { name = "template", template = "{external_id}" }]',
        '[{ name = "map", values = { x = "y" }, default = "CN" }]',
    ],
)
def test_a_field_without_a_source_is_kept_when_a_step_gives_its_value(tmp_path: Path, steps: str) -> None:
    text = f"""kind = "inbound"
source = "zoho.Contacts"

[[fields]]
target = "external_id"
source = "id"

[[fields]]
target = "country"
convert = {steps}
"""
    (tmp_path / "contacts.toml").write_text(text, encoding="utf-8")
    mappings, problems = load_mapping_set(tmp_path)
    assert (mappings is not None, problems) == (True, [])


@pytest.mark.parametrize(
    ("convert", "message"),
    [
        ('"email"', 'convert is a list of steps: write convert = ["email"]'),
        ('{ name = "phone" }', 'convert is a list of steps: write convert = [{ name = "…", … }]'),
    ],
)
def test_a_convert_written_as_one_step_says_it_is_a_list(tmp_path: Path, convert: str, message: str) -> None:
    text = 'kind = "inbound"\nsource = "x"\n[[fields]]\ntarget = "external_id"\nsource = "id"\n'
    text += f"convert = {convert}\n"
    (tmp_path / "one.toml").write_text(text, encoding="utf-8")
    [problem] = load_mapping_set(tmp_path)[1]
    assert (problem.line, problem.key, problem.message) == (6, "fields[0].convert", message)


def test_a_group_by_a_letter_from_a_target_is_refused_naming_it(tmp_path: Path) -> None:
    receipts = (REPO / "mappings" / "export_kingdee_receipts.toml").read_text(encoding="utf-8")
    typo = receipts.replace('group_by = "external_id"', 'group_by = "externalid"')
    (tmp_path / "export_kingdee_receipts.toml").write_text(typo, encoding="utf-8")
    [problem] = load_mapping_set(tmp_path)[1]
    assert (problem.line, problem.key) == (receipts[: receipts.index("group_by")].count("\n") + 1, "group_by")
    assert problem.message == (
        "group_by 'externalid' is neither a target of this mapping nor a column its fields read — "
        "did you mean 'external_id'?"
    )


def test_a_target_mapped_twice_is_refused(tmp_path: Path) -> None:
    text = 'kind = "inbound"\nsource = "x"\n[[fields]]\ntarget = "a"\nsource = "A"\n'
    text += '[[fields]]\ntarget = "a"\nsource = "B"\n'
    (tmp_path / "twice.toml").write_text(text, encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert "target 'a' is mapped twice" in problems[0].message


def test_the_shipped_mappings_are_valid_and_the_set_has_a_stable_digest() -> None:
    first, problems = load_mapping_set(REPO / "mappings")
    assert problems == []
    assert first is not None
    again, _ = load_mapping_set(REPO / "mappings")
    assert again is not None
    assert again.digest == first.digest


def test_a_zoho_contact_maps_to_canonical_fields_and_bad_fields_are_reported_not_dropped() -> None:
    mappings, _ = load_mapping_set(REPO / "mappings")
    assert mappings is not None
    contacts = mappings.files["zoho_contacts"]
    record = {
        "id": "4876876000000624001",
        "Full_Name": "  王　小明 ",
        "Account_Name": {"name": "上海明远贸易有限公司", "id": "4876876000000300001"},
        "Email": "Xiaoming.Wang@Example.com",
        "Phone": "138 0013 8000",
        "Mailing_Country": None,
        "Modified_Time": "2026-03-05T14:30:00+05:30",
    }
    mapped = map_record(contacts, record)
    assert mapped.ok, mapped.errors
    assert mapped.values["name"] == "王 小明"
    assert mapped.values["company"] == "上海明远贸易有限公司"
    assert mapped.values["email"] == "xiaoming.wang@example.com"
    assert mapped.values["phone"] == "+8613800138000"
    assert mapped.values["country"] == "China"
    assert mapped.values["modified_at"].utcoffset().total_seconds() == 5.5 * 3600
    broken = map_record(contacts, {**record, "Email": "not-an-address", "id": None})
    assert set(broken.errors) == {"email", "external_id"}
    assert "not an e-mail address" in broken.errors["email"]
    assert broken.values["phone"] == "+8613800138000"


@pytest.mark.parametrize(
    ("record", "path", "value"),
    [
        ({"a": {"b": 1}}, "a.b", 1),
        ({"a.b": 2, "a": {"b": 1}}, "a.b", 2),
        (["x", "1,234.50"], 1, "1,234.50"),
        ({"a": None}, "a.b", None),
        (["x"], 5, None),
    ],
)
def test_source_paths_read_json_paths_column_names_and_indexes(
    record: object, path: str | int, value: object
) -> None:
    assert read_source(record, path) == value  # type: ignore[arg-type]


def test_decimal_columns_of_a_csv_row_are_exact() -> None:
    from connector.mapping.model import MappingFile

    mapping = MappingFile.model_validate(
        {
            "kind": "inbound",
            "source": "csv",
            "fields": [{"target": "amount", "source": 1, "convert": ["decimal"]}],
        }
    )
    assert map_record(mapping, ["PAY-1", "¥1,234.50"]).values == {"amount": Decimal("1234.50")}


def test_an_invalid_regex_is_refused_when_the_file_is_loaded(tmp_path: Path) -> None:
    text = 'kind = "inbound"\nsource = "x"\n[[fields]]\ntarget = "external_id"\nsource = "id"\n'
    text += 'convert = [{ name = "regex", pattern = "(" }]\n'
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    [problem] = load_mapping_set(tmp_path)[1]
    assert (problem.line, problem.key) == (6, "fields[0].convert[0]")
    assert problem.message.startswith("converter 'regex': invalid pattern '(':")


def test_a_class_template_with_a_misspelt_placeholder_is_refused_with_its_file_and_line(
    tmp_path: Path,
) -> None:
    shutil.copytree(REPO / "mappings", tmp_path / "mappings")
    policy = tmp_path / "mappings" / "customer_master.toml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(
        text.replace(
            '# account_number_template = "P{region}{seq:06}"', 'account_number_template = "P{regoin}{seq:06}"'
        ),
        encoding="utf-8",
    )

    mappings, problems = load_mapping_set(tmp_path / "mappings")

    assert mappings is None
    [problem] = problems
    assert str(problem).startswith(f"{policy}:")
    assert "unknown placeholder(s) ['regoin']; allowed: type, region, seq" in str(problem)


def test_an_export_mapping_whose_detect_headers_are_all_among_anothers_is_warned_of(tmp_path: Path) -> None:
    shipped, _ = load_mapping_set(REPO / "mappings")
    assert shipped is not None
    assert detection_overlaps(REPO / "mappings", shipped) == []
    shutil.copytree(REPO / "mappings", tmp_path, dirs_exist_ok=True)
    text = (tmp_path / "export_kingdee_receipts.toml").read_text(encoding="utf-8")
    acme = text.replace('"kingdee.receipts"', '"acme.kd_receipts"').replace(
        '"收款金额"]', '"收款金额", "实收金额"]'
    )
    (tmp_path / "export_kingdee_receipts_acme.toml").write_text(acme, encoding="utf-8")
    (tmp_path / "export_kingdee_receipts_copy.toml").write_text(  # the same headers: said of one file
        acme.replace('"acme.kd_receipts"', '"copy.kd_receipts"'), encoding="utf-8"
    )
    mappings, problems = load_mapping_set(tmp_path)
    assert mappings is not None, problems
    warnings = detection_overlaps(tmp_path, mappings)
    assert [(w.file.name, w.message.split(" (")[0]) for w in warnings] == [
        ("export_kingdee_receipts.toml", "every header is among those of export_kingdee_receipts_acme.toml"),
        ("export_kingdee_receipts.toml", "every header is among those of export_kingdee_receipts_copy.toml"),
        (
            "export_kingdee_receipts_copy.toml",
            "every header is among those of export_kingdee_receipts_acme.toml",
        ),
    ]
    assert str(warnings[0]) == (
        f"{tmp_path / 'export_kingdee_receipts.toml'}:14: detect.headers: every header is among those of "
        "export_kingdee_receipts_acme.toml (acme.kd_receipts): a file that mapping recognises is recognised "
        "by this one (kingdee.receipts) too, and an import without --format (the inbox) refuses it; add to "
        "this one a header only its exports have, or remove one of the two"
    )


def test_a_skip_rules_optional_that_is_not_true_or_false_is_refused_with_its_line(tmp_path: Path) -> None:
    shutil.copy(REPO / "mappings" / "export_kingdee_receipts.toml", tmp_path)
    path = tmp_path / "export_kingdee_receipts.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("optional = true", 'optional = "yes"', 1), encoding="utf-8")
    _, problems = load_mapping_set(tmp_path)
    assert [(p.line, p.key, p.message) for p in problems] == [
        (41, "skip[3].optional", "Input should be a valid boolean")
    ]
