from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest

from adapters.exports.heads import head_has_columns, xlsx_head_strings
from adapters.exports.reading import rows
from adapters.exports.tabular import Header, StrayBytes
from adapters.exports.workbooks import cell_text
from connector.errors import FileFormatError
from connector.mapping.detection import normalise
from connector.text_encoding import encoding_of

FIXTURES = Path(__file__).parents[1] / "fixtures" / "exports"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_gbk_csv_without_bom_is_decoded_and_its_title_line_skipped() -> None:
    found = list(rows(FIXTURES / "kingdee_receipts.csv", "k.csv", headers=["单据编号", "收款金额"]))
    header, first = found[0], found[1]
    assert header.number == 2  # the title line 收款单列表 is row 1
    assert header.cells[:3] == ["单据编号", "日期", "单据状态"]
    assert first.number == 3
    assert first.cells[5] == "上海星辰贸易有限公司"
    assert first.raw.startswith("SKD00000101,2026/3/2,已审核")


def test_a_utf8_bom_is_not_part_of_the_first_header() -> None:
    header = next(rows(FIXTURES / "zoho_books_payments.csv", "z.csv"))
    assert header.cells[0] == "Payment Number"
    assert Header.of(header).index("payment number") == 0


def test_a_gbk_name_below_64_kb_of_ascii_is_still_read_as_gbk(tmp_path: Path) -> None:
    ascii_rows = "".join(f"{n},Customer {n},100.00\n" for n in range(5000))
    assert len(ascii_rows) > 64 * 1024
    text = "no,name,amount\n" + ascii_rows + "5000,北京北辰科技有限公司,6600.00\n"
    path = _write(tmp_path, "late.csv", text.encode("gbk"))
    last = list(rows(path, "late.csv"))[-1]
    assert last.cells[1] == "北京北辰科技有限公司"
    assert last.number == 5002


def test_windows_1252_text_falls_through_to_charset_detection(tmp_path: Path) -> None:
    text = "Name;Amount\n" + "".join(f"Müller Größe Straße {n};12\n" for n in range(1, 9))
    path = _write(tmp_path, "latin.csv", text.encode("cp1252"))
    assert [row.cells[0] for row in rows(path, "latin.csv")][1] == "Müller Größe Straße 1"


def test_utf16_with_a_bom_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, "unicode.txt", "Date\tAmount\n2026-03-05\t12.50\n".encode("utf-16"))
    assert [row.cells for row in rows(path, "unicode.txt")] == [["Date", "Amount"], ["2026-03-05", "12.50"]]


def test_a_declared_encoding_wins_over_detection(tmp_path: Path) -> None:
    path = _write(tmp_path, "big5.csv", "名稱,金額\n台北商行,100\n".encode("big5"))
    assert list(rows(path, "big5.csv", encoding="big5"))[1].cells == ["台北商行", "100"]


def test_a_declared_encoding_that_cannot_decode_the_file_refuses_it_naming_the_byte(tmp_path: Path) -> None:
    ascii_rows = "".join(f"{n};Kunde {n}\n" for n in range(2000))  # past the first chunk read
    path = _write(tmp_path, "b.csv", f"id;name\n{ascii_rows}9;Müller\n".encode("cp1252"))
    at = len(f"id;name\n{ascii_rows}9;M")
    with pytest.raises(FileFormatError) as refused:
        list(rows(path, "b.csv", encoding="utf-8"))
    assert str(refused.value) == (
        f"b.csv: byte {at} (0xfc) is not utf-8 text, the encoding its mapping declares: fix `encoding` in "
        "the mapping, or remove it to have the encoding detected"
    )


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed_from_the_header_line(tmp_path: Path, delimiter: str) -> None:
    text = (
        delimiter.join(["Date", "Amount", "Payee"])
        + "\n"
        + delimiter.join(["2026-03-05", "12", "A B"])
        + "\n"
    )
    path = _write(tmp_path, "d.csv", text.encode())
    assert list(rows(path, "d.csv"))[1].cells == ["2026-03-05", "12", "A B"]


def test_a_quoted_line_break_is_one_row_with_its_raw_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "q.csv", b'id,memo\r\n1,"two\r\nlines"\r\n2,plain\r\n')
    found = list(rows(path, "q.csv"))
    assert [(row.number, row.cells) for row in found[1:]] == [(2, ["1", "two\r\nlines"]), (3, ["2", "plain"])]
    assert found[1].raw == '1,"two\r\nlines"'


def test_a_quote_never_closed_is_one_unreadable_row_and_the_lines_it_swallowed_are_read(
    tmp_path: Path,
) -> None:
    data = 'no,memo,amount\nSKD1,"KASH00001 加急,500.00\nSKD2,ok,200.00\nSKD3,"a, b",300.00\n'
    found = list(rows(_write(tmp_path, "k.csv", data.encode()), "k.csv"))
    assert [(row.number, row.cells, row.error is None) for row in found[1:]] == [
        (2, [], False),
        (3, ["SKD2", "ok", "200.00"], True),
        (4, ["SKD3", "a, b", "300.00"], True),
    ]
    assert found[1].raw == 'SKD1,"KASH00001 加急,500.00'
    assert "never closed" in (found[1].error or "")


def test_a_quote_never_closed_that_a_later_inch_mark_closes_is_caught_and_the_rows_after_it_read(
    tmp_path: Path,
) -> None:
    data = 'id,memo,amount\nP1,"urgent,100.00\nP2,March,250.00\nP3,6" pipe,75.00\nP4,ok,80.00\n'
    found = list(rows(_write(tmp_path, "x.csv", data.encode()), "x.csv"))
    assert [(row.number, row.cells) for row in found[1:]] == [
        (2, []),
        (3, ["P2", "March", "250.00"]),
        (4, ["P3", '6" pipe', "75.00"]),
        (5, ["P4", "ok", "80.00"]),
    ]
    assert "never closed" in (found[1].error or "")


def test_a_quote_never_closed_to_the_end_of_the_file_hands_back_every_row_after_it(tmp_path: Path) -> None:
    found = list(rows(_write(tmp_path, "u.csv", b'A,B,C\n1,"x,2\n3,y,4\n5,z,6\n'), "u.csv"))
    assert [(row.number, row.cells, row.error is None) for row in found[1:]] == [
        (2, [], False),
        (3, ["3", "y", "4"], True),
        (4, ["5", "z", "6"], True),
    ]


def test_a_quote_never_closed_before_more_than_a_fields_limit_of_rows_hands_them_all_back(
    tmp_path: Path,
) -> None:
    body = "".join(f"P{n},ok,{n}.00\n" for n in range(3, 9003))  # far over csv's 128 KiB field limit
    found = list(
        rows(
            _write(tmp_path, "big.csv", f'id,memo,amount\nP2,"urgent, see note,1.00\n{body}'.encode()),
            "big.csv",
        )
    )
    assert (found[1].number, found[1].error is not None) == (2, True)
    assert len(found) == 2 + 9000
    assert (found[-1].number, found[-1].cells) == (9002, ["P9002", "ok", "9002.00"])


def test_one_stray_byte_in_a_utf8_file_leaves_the_rest_utf8(tmp_path: Path) -> None:
    text = "name,amount\nMüller Maschinenbau,1\n上海星辰贸易有限公司,2\n".encode() + b"Caf\xe9,3\n"
    found = list(rows(_write(tmp_path, "stray.csv", text), "stray.csv"))
    assert [row.cells[0] for row in found[1:]] == ["Müller Maschinenbau", "上海星辰贸易有限公司", "Caf\ufffd"]


def _cut_short(data: bytes, text: str) -> bytes:
    """`text` in GBK cut to the lead byte of its last character, as a field truncated by bytes leaves it."""
    whole = text.encode("gbk")
    assert whole in data
    return data.replace(whole, whole[:-1])


def test_a_gbk_file_with_a_character_cut_short_is_read_as_gbk_and_its_row_noted(tmp_path: Path) -> None:
    data = _cut_short(
        (FIXTURES / "kingdee_receipts.csv").read_bytes(), "部分付款"
    )  # 款's lead byte, then ","
    path = _write(tmp_path, "cut.csv", data)
    strays = StrayBytes()
    found = {row.number: row for row in rows(path, "cut.csv", headers=["单据编号"], strays=strays)}
    assert found[5].cells[5] == "深圳海川电子有限公司"
    assert found[5].cells[9:] == ["部分付\ufffd", "AR00000210", "5,000.00"]  # the comma after it kept
    assert found[3].cells[5] == "上海星辰贸易有限公司"
    assert (strays.encoding, strays.rows) == ("gb18030", [5])
    notice = strays.notice("cut.csv")
    assert notice is not None
    assert notice.text.startswith("row 5 holds bytes that are not GB18030 text (a stray byte, or a character")


def test_a_declared_encoding_notes_no_stray_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, "ok.csv", "name,amount\n上海星辰\ufffd,1\n".encode("gb18030"))
    strays = StrayBytes()
    assert list(rows(path, "ok.csv", encoding="gb18030", strays=strays))[1].cells[0] == "上海星辰\ufffd"
    assert strays.notice("ok.csv") is None


def test_a_file_no_encoding_fits_is_refused_naming_the_first_byte_each_cannot_decode() -> None:
    data = (FIXTURES / "kingdee_receipts.csv").read_bytes()
    for text in ("上海星辰贸易有限公司", "深圳海川电子有限公司", "北京北辰科技有限公司", "人民币", "已审核"):
        data = _cut_short(data, text)  # too many to be stray: no longer plausibly GBK
    at = data.index("已审".encode("gbk")) + 4  # 已审核 of the first row, before its customer's name
    with pytest.raises(FileFormatError) as refused:
        encoding_of(data, "cut.csv")
    assert str(refused.value) == (
        f"cut.csv: cannot tell the text encoding (not UTF-8: byte 0 is 0x{data[0]:02x}; not GB18030: byte "
        f"{at} is 0x{data[at]:02x}; and too many others like it); declare `encoding` in its mapping"
    )


def test_dates_in_east_asian_built_in_formats_are_read_as_dates() -> None:
    # 用友 as zh-CN Excel saves it: 单据日期 in format id 31 (yyyy"年"m"月"d"日"), undeclared.
    found = list(rows(FIXTURES / "yonyou_receipts_cn_date_format.xlsx", "y.xlsx"))
    assert found[1].cells[1] == "2026-03-02"


def test_blank_rows_are_not_yielded_but_keep_their_row_number(tmp_path: Path) -> None:
    path = _write(tmp_path, "b.csv", b"a,b\n\n1,2\n,,\n3,4\n")
    assert [(row.number, row.cells) for row in rows(path, "b.csv")] == [
        (1, ["a", "b"]),
        (3, ["1", "2"]),
        (5, ["3", "4"]),
    ]


def test_an_explicit_header_row_is_taken_as_is(tmp_path: Path) -> None:
    path = _write(tmp_path, "h.csv", b"Report\nperiod: March\nx;y\n1;2\n")
    assert [row.cells for row in rows(path, "h.csv", header_row=3)] == [["x", "y"], ["1", "2"]]


def test_no_header_with_the_wanted_columns_is_a_file_format_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "n.csv", b"a,b\n1,2\n")
    with pytest.raises(FileFormatError, match="no header with the columns Amount"):
        list(rows(path, "n.csv", headers=["Amount"]))


def test_a_row_the_csv_module_refuses_is_marked_and_the_rest_goes_on(tmp_path: Path) -> None:
    oversized = b"x" * 200_000  # over the csv module's field size limit
    path = _write(tmp_path, "big.csv", b"a,b\n1," + oversized + b"\n2,ok\n")
    found = list(rows(path, "big.csv"))
    assert found[1].number == 2
    assert found[1].error is not None
    assert "unreadable CSV row" in found[1].error
    assert (found[2].number, found[2].cells) == (3, ["2", "ok"])


def test_a_row_with_values_beyond_the_header_is_unreadable_but_trailing_empty_cells_are_not(
    tmp_path: Path,
) -> None:
    text = b"Date,Amount,Payee\n02/04/2026,1,150.00,Harbour Cafe\n03/04/2026,90.00,Acme,,\n"
    moved, trailing = list(rows(_write(tmp_path, "x.csv", text), "x.csv"))[1:]
    assert (moved.number, moved.cells, moved.raw) == (2, [], "02/04/2026,1,150.00,Harbour Cafe")
    assert moved.error == (
        "4 cells where the header has 3: a value holds an unquoted ',' (a thousands separator, as in "
        "1,150.00?), which moves every cell after it"
    )
    assert (trailing.cells, trailing.error) == (["03/04/2026", "90.00", "Acme", "", ""], None)


@pytest.mark.parametrize("amount", ["1,500.00", "(1,500.00)", "$12,000.5"])
def test_an_amount_cut_at_its_thousands_separator_into_an_empty_last_column_is_unreadable(
    tmp_path: Path, amount: str
) -> None:
    text = f"Date,Customer,Amount,Memo\n03/09/2026,Globex Inc,{amount},\n03/10/2026,Acme,90.00,\n".encode()
    cut, whole = list(rows(_write(tmp_path, "x.csv", text), "x.csv"))[1:]
    assert cut.cells == []
    assert cut.error is not None
    assert cut.error.startswith("5 cells where the header has 4")
    assert (whole.cells, whole.error) == (["03/10/2026", "Acme", "90.00", ""], None)


def test_a_formula_no_spreadsheet_calculated_is_an_unreadable_row_not_an_empty_cell(tmp_path: Path) -> None:
    book = openpyxl.Workbook()  # written by a program: formulas saved without their values
    sheet = book.active
    for row in (["id", "amount", "memo"], ["1", "=100*2", "x"], ["2", 5, None], ["3", 7, "=A3"]):
        sheet.append(row)
    path = tmp_path / "export.xlsx"
    book.save(path)
    _, first, second, third = rows(path, "export.xlsx")
    assert first.cells == ["1", "", "x"]  # as read: a skip rule may still pass a totals row over
    assert first.error == (
        "cell B2 holds a formula never calculated: open the file in a spreadsheet and save it "
        "(or export its values), then import it again"
    )
    assert (second.cells, second.error) == (["2", "5"], None)  # an empty cell is just empty
    assert third.error is not None
    assert third.error.startswith("cell C4 holds a formula never calculated: ")


def test_a_formula_never_calculated_is_named_by_its_cell_and_function_never_its_arguments(
    tmp_path: Path,
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "amount", "customer"])
    sheet.append(["1", 5, '=HYPERLINK("mailto:helga@private.example","Helga Privatperson")'])
    path = tmp_path / "export.xlsx"
    book.save(path)
    _, row = rows(path, "export.xlsx")
    assert row.error is not None
    assert row.error.startswith("cell C2 holds a formula never calculated (=HYPERLINK(…)): open the file")
    assert "helga" not in row.error.casefold()


def test_an_old_binary_xls_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64)
    with pytest.raises(FileFormatError, match=r"save it as \.xlsx or \.csv"):
        list(rows(path, "old.xls"))


def test_a_missing_file_is_a_file_format_error(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="cannot open"):
        list(rows(tmp_path / "gone.csv", "gone.csv"))


def test_xlsx_cells_become_canonical_text_under_title_rows() -> None:
    found = list(rows(FIXTURES / "yonyou_receipts.xlsx", "y.xlsx", headers=["单据编号", "金额"]))
    header, first, artefact = found[0], found[1], found[2]
    assert header.number == 3
    assert first.cells[:3] == ["0000000031", "2026-03-02", "010001"]
    assert first.cells[6] == "23800"
    assert artefact.cells[6] == "1000.3"  # stored as 1000.3000000000001
    assert first.raw.split("\t")[3] == "杭州明远商贸有限公司"


def test_an_xlsx_sheet_is_chosen_by_name_or_position() -> None:
    by_name = list(rows(FIXTURES / "yonyou_receipts.xlsx", "y.xlsx", sheet="收款单", header_row=3))
    by_position = list(rows(FIXTURES / "yonyou_receipts.xlsx", "y.xlsx", sheet=1, header_row=3))
    assert by_name == by_position
    with pytest.raises(FileFormatError, match="no sheet 'Sheet9'"):
        list(rows(FIXTURES / "yonyou_receipts.xlsx", "y.xlsx", sheet="Sheet9"))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (dt.datetime(2026, 3, 5), "2026-03-05"),  # noqa: DTZ001 - Excel's datetimes are naive
        (dt.datetime(2026, 3, 5, 9, 30), "2026-03-05T09:30:00"),  # noqa: DTZ001
        (dt.date(2026, 3, 5), "2026-03-05"),
        (0.1 + 0.2, "0.3"),
        (1e-7, "0.0000001"),
        (1.5e16, "1.5E+16"),  # past a float's exact integers: its digits may be lost, and it says so
        (-250.0, "-250"),
        (2954000000090101.0, "2954000000090101"),  # an id cell a writer stored as a float
        (1234, "1234"),
        (True, "TRUE"),
    ],
)
def test_xlsx_values_are_written_as_canonical_text(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_header_names_match_across_width_case_spacing_and_required_marks() -> None:
    assert normalise("＊Ｄａｔｅ  Paid ") == normalise("date paid") == "date paid"
    assert normalise("\ufeff单据编号") == "单据编号"


def test_a_csv_head_shows_its_columns_even_under_a_title_line() -> None:
    head = (FIXTURES / "kingdee_receipts.csv").read_bytes()
    assert head_has_columns(head, ["单据编号", "收款金额"])
    assert not head_has_columns(head, ["单据编号", "Amount"])


def test_a_small_workbook_head_shows_its_strings() -> None:
    strings = xlsx_head_strings((FIXTURES / "quickbooks_online_invoices.xlsx").read_bytes())
    assert {"date", "transaction type", "open balance"} <= strings


@pytest.mark.parametrize(
    "text",
    [
        "交易日期,摘要,金额,对方户名\n" + "2026-03-01,TT汇款REF100,100.00,ACME Trading Ltd\n" * 5,
        "编号,品名\n" + "X1,PVC管DN50\n" * 5,  # one common character between Latin letters
        "品名,规格\n" + "Wi-Fi模块A,USB线Type-C\n" * 5,
        "客户,金额\nABC有限公司,100\n",
        "Memo\n" + "Ref：ABC，DEF\nPayment（USD）for order\nZhang、Li\n" * 3,  # full-width punctuation only
    ],
)
def test_chinese_written_among_latin_letters_and_codes_is_read_as_gbk(text: str) -> None:
    assert encoding_of(text.encode("gbk"), "x.csv") == "gb18030"


@pytest.mark.parametrize(
    "text", ["Construção Civil Ltda", "CONSTRUÇÃO CIVIL", "Süßwaren Müller", "Größenwahn GmbH"]
)
def test_two_accented_letters_side_by_side_are_not_read_as_chinese(text: str) -> None:
    assert encoding_of(f"name\n{text}\n".encode("cp1252"), "x.csv", ("gb18030", "cp1252")) == "cp1252"


@pytest.mark.parametrize(
    "text", ["Müller GmbH", "Köln", "Peña", "Año", "Cádiz", "Smørrebrød", "Hans Müller; Eva Süß; Otto Öko"]
)
def test_western_european_text_is_read_as_cp1252_not_another_code_page(text: str) -> None:
    assert encoding_of(f"Date,Customer\n2026-03-01,{text}\n".encode("cp1252"), "x.csv") == "cp1252"


@pytest.mark.parametrize(("text", "encoding"), [("Москва Торг", "cp1251"), ("台北商行,新竹電子", "big5")])
def test_text_of_other_scripts_is_not_taken_for_cp1252(text: str, encoding: str) -> None:
    assert encoding_of(f"name\n{text}\n".encode(encoding), "x.csv") != "cp1252"
