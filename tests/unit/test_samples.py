from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from connector.mapping.samples import SampleFile, SampleFileError, read_records


def test_a_zoho_api_response_yields_its_data_records(tmp_path: Path) -> None:
    path = tmp_path / "contacts.json"
    path.write_text(json.dumps({"data": [{"id": "1"}, {"id": "2"}], "info": {"more_records": False}}))
    assert list(read_records(path)) == [
        ("contacts.json [0]", {"id": "1"}),
        ("contacts.json [1]", {"id": "2"}),
    ]


def test_numbers_in_a_saved_api_response_are_read_exactly_as_the_live_client_reads_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "accounts.json"
    path.write_text('{"data": [{"id": "2010", "Annual_Revenue": 150000000.10, "Employees": 800}]}')
    [(_, record)] = list(read_records(path))
    assert record == {"id": "2010", "Annual_Revenue": Decimal("150000000.10"), "Employees": 800}


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_a_lone_surrogate_in_json_text_is_read_as_a_replacement_character(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"contacts{suffix}"
    path.write_text(
        '{"id": "1", "Full_Name": "Li \\ud83d", "Note": "\\ud83d\\ude00 \\uDE00"}', encoding="utf-8"
    )
    [(_, record)] = list(read_records(path))
    assert record == {
        "id": "1",
        "Full_Name": "Li \ufffd",
        "Note": "\U0001f600 \ufffd",
    }  # a whole pair is kept


def test_csv_rows_are_named_by_their_line_and_gb18030_exports_are_read(tmp_path: Path) -> None:
    path = tmp_path / "kingdee.csv"
    path.write_bytes("客户编号,客户名称\nC001,上海明远贸易有限公司\n".encode("gb18030"))
    assert list(read_records(path)) == [
        ("kingdee.csv row 2", {"客户编号": "C001", "客户名称": "上海明远贸易有限公司"})
    ]


def test_a_byte_order_mark_does_not_end_up_in_the_first_column_name(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffid,name\n1,A\n".encode())
    assert next(read_records(path))[1] == {"id": "1", "name": "A"}


def test_json_lines_skip_blank_lines_and_limit_stops_early(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": 3}\n')
    assert list(read_records(path, limit=2)) == [
        ("events.jsonl line 1", {"a": 1}),
        ("events.jsonl line 3", {"a": 2}),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"a": 1}\n{oops\n', "bad.jsonl: line 2 is not valid JSON"),
        ("bad.json", '"just text"', "expected a list of records, found str"),
        ("data.xml", "<a/>", "unsupported file type .xml"),
    ],
)
def test_unreadable_files_are_refused_naming_the_file_and_place(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SampleFileError, match=message):
        list(read_records(path))


def test_a_repeated_column_name_keeps_each_columns_value_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("id,Name,Name,Email\n7,Li,Wei,li@acme.cn\n8,Wang\n", encoding="utf-8")
    (_, first), (_, short) = read_records(path)
    assert first == {"id": "7", "Name": "Li", "Name#2": "Wei", "Email": "li@acme.cn"}
    assert list(first.values())[2] == "Wei"  # a column index reads its own column
    assert short == {"id": "8", "Name": "Wang", "Name#2": None, "Email": None}


def test_a_western_european_windows_csv_is_read_as_cp1252_with_a_note_that_it_was_guessed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "contacts1252.csv"
    path.write_bytes("id,Full_Name\n1,Hans Müller\n2,Eva Süß\n3,Otto Öko\n".encode("cp1252"))
    sample = SampleFile.read(path)
    assert [record["Full_Name"] for _, record in sample.records()] == ["Hans Müller", "Eva Süß", "Otto Öko"]
    assert sample.note is not None
    assert sample.note.startswith("the text encoding was guessed as cp1252")


def test_a_utf8_or_gbk_csv_is_read_without_a_note(tmp_path: Path) -> None:
    for encoding in ("utf-8", "gb18030"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes("客户编号,客户名称\nC001,上海明远贸易有限公司\n".encode(encoding))
        assert SampleFile.read(path).note is None


def test_a_stray_byte_in_a_detected_encoding_is_read_as_a_replacement_character_and_its_row_named(
    tmp_path: Path,
) -> None:
    rows = "".join(f"{n},José Pérez {n}\n" for n in range(1, 41)).encode()
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"id,Full_Name\n" + rows.replace("José Pérez 17\n".encode(), b"Jos\xc3\xa9 Pe\xc3\n"))
    sample = SampleFile.read(path)
    names = [record["Full_Name"] for _, record in sample.records()]
    assert names[15:18] == ["José Pérez 16", "José Pe\ufffd", "José Pérez 18"]
    assert sample.notes == [
        "row 18 holds bytes that are not UTF-8 text (a stray byte, or a character cut short), read as "
        "\ufffd: check those rows' values against the source"
    ]
    with pytest.raises(SampleFileError, match="byte 310 \\(0xc3\\) is not UTF-8 text, the encoding its"):
        SampleFile.read(path, "utf-8")  # a declared encoding stays strict


def test_a_declared_encoding_is_read_strictly_and_a_byte_it_cannot_decode_refuses_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes("id,Full_Name\n1,Eva Süß\n".encode("cp1252"))
    assert next(read_records(path, encoding="cp1252"))[1]["Full_Name"] == "Eva Süß"
    with pytest.raises(SampleFileError) as refused:
        SampleFile.read(path, "utf-8")
    assert str(refused.value) == (
        f"{path}: byte 20 (0xfc) is not UTF-8 text, the encoding its mapping declares: fix `encoding` "
        "in the mapping, or remove it to have the encoding detected"
    )


def test_a_utf8_file_with_a_bom_under_a_declared_cp1252_is_read_as_utf8_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes("\ufeffid,Full_Name\n1,Hans Müller\n".encode())
    sample = SampleFile.read(path, "cp1252")
    assert [record for _, record in sample.records()] == [{"id": "1", "Full_Name": "Hans Müller"}]
    assert sample.note is not None
    assert sample.note.startswith("the file starts with a UTF-8 byte order mark, so it was read as UTF-8")
