"""Which parser reads a file: the one named, or the one that recognises the file's head, or, for a
workbook whose header text lies past the head, the one that finds its columns in the file itself; a file
several recognise is refused."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook  # type: ignore[import-untyped]

from adapters.exports.mapped import MappedExport
from adapters.statements.camt053 import Camt053Parser
from connector.bootstrap import parsers_for
from connector.documents import DocumentParser
from connector.errors import FileFormatError
from connector.imports.pipeline import HEAD_BYTES, choose_parser
from connector.mapping.files import MappingSet, load_mapping_set
from connector.mapping.model import Detect, DocumentMapping
from tests.conftest import REPO
from tests.unit.test_iif import INDEX_KEY

FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="module")
def parsers() -> list[DocumentParser]:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    exports = [MappedExport(mapping) for _, mapping in sorted(mappings.documents.items())]
    return [Camt053Parser(), *exports]


def test_a_named_format_is_used_and_an_unknown_name_lists_the_known_ones(
    parsers: list[DocumentParser], tmp_path: Path
) -> None:
    path = tmp_path / "any.csv"
    path.write_text("a,b\n", encoding="utf-8")
    assert choose_parser(path, parsers, "camt053").format == "camt053"
    with pytest.raises(FileFormatError, match=r"unknown format 'mt9'.*camt053"):
        choose_parser(path, parsers, "mt9")


def test_a_large_workbook_whose_header_lies_past_the_head_is_recognised_from_the_file(
    parsers: list[DocumentParser], tmp_path: Path
) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("收款单")
    sheet.append(["单据编号", "单据日期", "客户名称", "币种", "金额"])
    sheet.append(["SKD0001", "2026-03-05", "杭州青禾科技", "人民币", 100])
    plain = tmp_path / "plain.xlsx"
    workbook.save(plain)
    path = tmp_path / "yonyou.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as padded:
        # An embedded picture stored first, as Excel may write one: the header text now starts past the head.
        padded.writestr("xl/media/image1.png", random.Random(7).randbytes(HEAD_BYTES + 1024))
        for entry in source.infolist():
            padded.writestr(entry, source.read(entry.filename), compress_type=zipfile.ZIP_DEFLATED)
    head = path.read_bytes()[:HEAD_BYTES]
    assert not any(parser.sniff(head, path.name) for parser in parsers)
    assert choose_parser(path, parsers).format == "yonyou.receipts"


def test_a_file_nobody_recognises_is_refused_with_a_hint(
    parsers: list[DocumentParser], tmp_path: Path
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("nothing here\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="not a format the connector knows; name one with --format"):
        choose_parser(path, parsers)


def test_a_file_no_text_encoding_fits_is_refused_for_that_naming_the_byte_not_as_an_unknown_format(
    parsers: list[DocumentParser], tmp_path: Path
) -> None:
    data = (FIXTURES / "exports" / "kingdee_receipts.csv").read_bytes()
    for text in ("上海星辰贸易有限公司", "深圳海川电子有限公司", "北京北辰科技有限公司", "人民币", "已审核"):
        whole = text.encode("gbk")
        data = data.replace(whole, whole[:-1])  # each cut to its last character's lead byte: too many
    path = tmp_path / "cut.csv"
    path.write_bytes(data)
    at = data.index("已审".encode("gbk")) + 4
    with pytest.raises(FileFormatError) as refused:
        choose_parser(path, parsers)
    said = f"(not UTF-8: byte 0 is 0x{data[0]:02x}; not GB18030: byte {at} is 0x{data[at]:02x}; "
    assert str(refused.value).startswith(f"cut.csv: cannot tell the text encoding {said}")
    assert str(refused.value).endswith("declare `encoding` in its mapping")


def test_a_gbk_file_with_one_character_cut_short_is_recognised(
    parsers: list[DocumentParser], tmp_path: Path
) -> None:
    path = tmp_path / "cut.csv"
    whole = "部分付款".encode("gbk")
    path.write_bytes((FIXTURES / "exports" / "kingdee_receipts.csv").read_bytes().replace(whole, whole[:-1]))
    assert choose_parser(path, parsers).format == "kingdee.receipts"


def _acme_receipts(shipped: MappingSet) -> DocumentMapping:
    """An admin's copy of the Kingdee receipts mapping reading the amount received (实收金额)."""
    kingdee = next(m for m in shipped.documents.values() if m.source == "kingdee.receipts")
    amount = next(f for f in kingdee.fields if f.target == "amount").model_copy(update={"source": "实收金额"})
    return kingdee.model_copy(
        update={
            "source": "acme.kd_receipts",
            "detect": Detect(headers=("单据编号", "日期", "往来单位", "币别", "实收金额")),
            "fields": tuple(amount if f.target == "amount" else f for f in kingdee.fields),
        }
    )


def test_a_file_two_mappings_recognise_is_refused_naming_both_and_how_to_choose(tmp_path: Path) -> None:
    shipped, problems = load_mapping_set(REPO / "mappings")
    assert shipped is not None, problems
    parsers = [
        *parsers_for(shipped, "CNY", index_key=lambda: INDEX_KEY),
        MappedExport(_acme_receipts(shipped)),
    ]
    path = tmp_path / "kd.csv"
    path.write_bytes(
        "单据编号,日期,往来单位,币别,收款金额,手续费,实收金额\n"
        'SKD101,2026-03-05,上海明远贸易有限公司,人民币,"1,234.56",34.56,"1,200.00"\n'.encode("gbk")
    )
    refused = "kd.csv: recognised by 2 formats (acme.kd_receipts, kingdee.receipts), so read by none; "
    with pytest.raises(FileFormatError) as raised:
        choose_parser(path, parsers)
    assert str(raised.value).startswith(refused + "name one with --format, or make one mapping's [detect]")
    assert "or remove the other" in str(raised.value)
    with pytest.raises(FileFormatError, match="; import it with"):
        choose_parser(path, parsers, format_hint="import it with `connector import FILE --format NAME`")
    assert choose_parser(path, parsers, "acme.kd_receipts").format == "acme.kd_receipts"
    path.write_bytes(path.read_bytes().replace("实收金额".encode("gbk"), "到账金额".encode("gbk")))
    assert choose_parser(path, parsers).format == "kingdee.receipts"  # the shipped mapping's alone


@pytest.mark.parametrize(
    "fixture",
    sorted(
        p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*") if p.is_file() and p.suffix != ".py"
    ),
)
def test_every_shipped_fixture_is_recognised_by_one_format_alone(fixture: str) -> None:
    shipped, problems = load_mapping_set(REPO / "mappings")
    assert shipped is not None, problems
    parsers = parsers_for(shipped, "USD", index_key=lambda: INDEX_KEY)
    path = FIXTURES / fixture
    head = path.read_bytes()[:HEAD_BYTES]
    recognising = [parser.format for parser in parsers if parser.sniff(head, path.name)]
    assert len(recognising) == 1
    assert choose_parser(path, parsers).format == recognising[0]
