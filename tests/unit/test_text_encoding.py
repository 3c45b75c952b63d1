from __future__ import annotations

import io
from pathlib import Path

import pytest

from adapters.exports.reading import rows
from adapters.statements.mt940 import Mt940Parser
from adapters.statements.ofx import OfxParser
from connector.documents import Document, Parsed
from connector.errors import FileFormatError
from connector.text_encoding import detect_encoding
from tests.unit.test_ofx import SGML

EXPORTS = Path(__file__).parents[1] / "fixtures" / "exports"
MT940 = """:20:STMT
:25:NL91ABNA0417164300
:28C:7/1
:60F:C260310EUR100,00
:61:2603110311CR200,00NTRFNONREF
:86:166?00SEPA-GUTSCHRIFT?20SVWZ+{text}
:62F:C260311EUR300,00
"""
OFX = SGML.format(
    transactions="<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260311<TRNAMT>200.00<FITID>F1<MEMO>{text}\n</STMTTRN>"
)
# Text each detector read alike, and text the statements' former one read otherwise (Shift-JIS for
# CONSTRUÇÃO and USB线, Windows-1252 for PVC管): one module now decides for every reader.
SAMPLES = [
    ("Abschlag März Schäfer", "cp1252"),
    ("CONSTRUÇÃO CIVIL", "cp1252"),
    ("Größenwahn GmbH", "cp1252"),
    ("Factura Nº 12 Calle Mayor 3º 1ª Señor Muñoz Envío", "cp1252"),  # not Señor Muńoz (cp1250)
    ("Rua São João 1º andar 2ª via Açúcar Nº 3", "cp1252"),
    ("货款 上海华东机电设备有限公司", "gbk"),
    ("PVC管DN50", "gbk"),
    ("USB线Type-C", "gbk"),
]


def _references(items: list[Parsed]) -> list[str]:
    return [text for item in items if isinstance(item, Document) for text in item.references]


@pytest.mark.parametrize(("text", "encoding"), SAMPLES)
def test_the_same_western_or_chinese_text_is_read_alike_from_a_statement_and_an_export(
    tmp_path: Path, text: str, encoding: str
) -> None:
    export = tmp_path / "export.csv"
    export.write_bytes(f"Date,Memo,Amount\n2026-03-11,{text},200.00\n".encode(encoding))
    mt940 = tmp_path / "statement.sta"
    mt940.write_bytes(MT940.format(text=text).encode(encoding))
    ofx = tmp_path / "statement.ofx"
    ofx.write_bytes(OFX.format(text=text).encode(encoding))
    assert [row.cells[1] for row in rows(export, export.name)][1:] == [text]
    assert _references(list(Mt940Parser().parse(str(mt940), mt940.name))) == [text]
    assert _references(list(OfxParser().parse(str(ofx), ofx.name))) == [text]


def test_a_statement_no_encoding_fits_is_refused_naming_the_first_bad_byte_of_the_file() -> None:
    data = b":20:STMT\n:25:NL91ABNA0417164300\n" + (EXPORTS / "kingdee_receipts.csv").read_bytes()
    for text in ("上海星辰贸易有限公司", "深圳海川电子有限公司", "北京北辰科技有限公司", "人民币", "已审核"):
        whole = text.encode("gbk")
        data = data.replace(whole, whole[:-1])  # too many characters cut short to be stray bytes
    first = next(at for at, byte in enumerate(data) if byte > 0x7F)
    at = data.index("已审".encode("gbk")) + 4
    with pytest.raises(FileFormatError) as refused:
        detect_encoding(io.BytesIO(data), "cut.sta", lines=True, remedy="is it a text file?")
    assert str(refused.value) == (
        f"cut.sta: cannot tell the text encoding (not UTF-8: byte {first} is 0x{data[first]:02x}; not "
        f"GB18030: byte {at} is 0x{data[at]:02x}; and too many others like it); is it a text file?"
    )


def test_a_polish_cp1250_export_is_read_as_cp1250_its_names_whole(tmp_path: Path) -> None:
    names = [
        ("Zakład Usługowy Łukasz Wróbel", "Usługa serwisowa"),
        ("Spółdzielnia Mleczarska Żywiec", "Opłata za transport"),
    ]
    export = tmp_path / "export.csv"
    lines = [f"2026-03-1{day},{name},{memo},200.00" for day, (name, memo) in enumerate(names)]
    export.write_bytes("\n".join(["Date,Name,Memo,Amount", *lines, ""]).encode("cp1250"))
    assert [tuple(row.cells[1:3]) for row in rows(export, export.name)][1:] == names  # not Zak³ad
