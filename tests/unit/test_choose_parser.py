"""Which parser reads a file: the one named, or the first that recognises the file's head, or, for a
workbook whose header text lies past the head, the one that finds its columns in the file itself."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook  # type: ignore[import-untyped]

from adapters.exports.mapped import MappedExport
from adapters.statements.camt053 import Camt053Parser
from connector.documents import DocumentParser
from connector.errors import FileFormatError
from connector.imports.pipeline import HEAD_BYTES, choose_parser
from connector.mapping.files import load_mapping_set
from tests.conftest import REPO


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
