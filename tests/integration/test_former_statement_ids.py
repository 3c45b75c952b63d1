"""Statements imported by an earlier version, under the ids its recipe gave their lines, downloaded again
after an upgrade: on SQLite and PostgreSQL, nothing is posted twice and the statement report finds them.

The old ids are pinned as the old code gave them (MT940: commits 81af49b, by position, and 1bdd1c4, by
text; OFX: 81af49b, a re-issued FITID's later line under the digest of its whole content; CAMT.053:
82496f1, by position, and 07ebd81, placeholders as text). A line is keyed by its row, or by its row and
its place among the row's lines (a CAMT entry split into its transactions)."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.statements.camt053 import Camt053Parser
from adapters.statements.mt940 import Mt940Parser
from adapters.statements.ofx import OfxParser
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.documents import Document, DocumentParser, Parsed
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.imports.statement_reconcile import reconcile_file
from connector.ledger.models import JournalEntry
from tests.conftest import REPO
from tests.integration.test_imports import assert_ledger_verifies

STATEMENTS = REPO / "tests" / "fixtures" / "statements"
Key = int | tuple[int, int]  # a line's row, or its row and its place among the row's lines
SPARKASSE = STATEMENTS / "sparkasse_two_statements_latin1.sta"
OFX = STATEMENTS / "bank_sgml_v1.ofx"
CAMT = STATEMENTS / "camt053_v02_two_statements.xml"
CAMT_BATCHES = STATEMENTS / "camt053_v08_batches.xml"
# The ids of the lines of `SPARKASSE` by the row of their :61:, as the old code gave them.
MT940_BY_POSITION = {
    6: "sha256:f11f7ecee8e44e3ccfd318dd1acd2459c8d775746f5e750ce5528e3c26deb8bc",
    8: "sha256:c60648db6499d097b539b91cfa117b7d4e2c5228818ac2227beb292bec9a3af8",
    11: "sha256:081c35b25770b352eea2b6f0c3ee410b28d785bc0dd71d935b2d83cff320294a",
    22: "sha256:3d124ef1aa78a10dc79598f9c1b40929851ee5d7e85286c34b979d106276cac8",
    26: "sha256:e6935e49255c8ad04b43bce00315b1f630930d5b6f12257d05a2ac52a2c472f0",
}
MT940_BY_TEXT = {
    6: "sha256:1c39cf0f6d35f61d06c2ec5385b0f6a567374b9e2e30c6e13ea3144127a464bd",
    8: "sha256:255684ea64b6fc5aa459d0c4b2980724b70981fa53c719c8a2b3ffe617e1604a",
    11: "sha256:39b2721a56ee0b6eeb433c3d05ae4db3c5446c8478fa209a95823c5088ad4fa4",
    22: "sha256:65931aa4fbd16cbcf43dd7040cd18ec6a17fb10f23b0d6625b5df7f293fe6518",
    26: "sha256:9712818eff6a4b490d6ea42dc95e7bcda3e495d8c7b06868873ca5c0a9609ad7",
}
OFX_BY_CONTENT = {  # by STMTTRN record: its FITID's first line the plain id, a later one its content's digest
    row: f"4417-0099-22:{fitid}"
    for row, fitid in {
        1: "202603020001",
        2: "202603030001",
        3: "202603030002",
        5: "202603040001",
        6: "202603040001#a7b59417173e",
        7: "202603050009",
        8: "202603050010",
        10: "202603050012",
    }.items()
}
# CAMT.053 entries without AcctSvcrRef by position in their Stmt (82496f1); those with one as today.
CAMT_BY_POSITION: dict[Key, str] = {
    1: "2026030400001",
    2: "2026030400002",
    (3, 1): "2026030400003#1",
    (3, 2): "2026030400003#2",
    (3, 3): "2026030400003#3",
    4: "2026030400004",
    6: "sha256:488f9eab5986133d75fd9f650258088cb8032fccf3815ea43cf3495473768b7b",
    8: "sha256:a2bb6501d55bfa73a2800b04b6864e30a9a986b0fad7d80ff81d7be068cecf5a",
}
CAMT_BATCHES_BY_POSITION: dict[Key, str] = {
    1: "CH-20260310-0001",
    (2, 1): "sha256:be905e67b603bc2d7e31b0e4037598f50b3032bbca9ca5bd4df97dccd2726690",
    (2, 2): "sha256:ff0fec51e4c2d1340e9ce7a540d3c28996ec0bdc2613e3e9f9b6dd8795107f4a",
    3: "CH-20260310-0003",
    5: "sha256:b87b4855e4c61d2b395d92509ea66ecb909dff451ff421c39e926daaf96b46a5",
    6: "CH-20260310-0006",
}


class AsImportedBefore:
    """`parser` as an earlier version: each line under the id it gave the line (`ids`, by `Key`), with
    the references it read there when they were others (`references`)."""

    def __init__(
        self,
        parser: DocumentParser,
        ids: Mapping[Key, str],
        references: Mapping[Key, tuple[str, ...]] | None = None,
    ) -> None:
        self.parser, self.ids, self.format = parser, ids, parser.format
        self.references = references or {}

    def sniff(self, head: bytes, name: str) -> bool:
        return self.parser.sniff(head, name)

    def parse(self, path: str, name: str) -> Iterator[Parsed]:
        keys: list[Key] = []
        lines_of = Counter[int]()
        for item in self.parser.parse(path, name):
            if isinstance(item, Document):
                row = item.origin.row
                assert row is not None
                lines_of[row] += 1
                key: Key = row if row in self.ids else (row, lines_of[row])
                keys.append(key)
                read = self.references.get(key, item.references)
                item = dataclasses.replace(
                    item, external_id=self.ids[key], references=read, alias=None, known_as=()
                )
            yield item
        assert sorted(map(str, keys)) == sorted(map(str, self.ids))


def entries(container: Container) -> int:
    with unit_of_work(container.sessions) as session:
        return session.scalar(select(func.count()).select_from(JournalEntry)) or 0


@pytest.mark.parametrize(
    ("fixture", "parser", "old_ids"),
    [
        pytest.param(SPARKASSE, Mt940Parser(), MT940_BY_POSITION, id="mt940-by-position"),
        pytest.param(SPARKASSE, Mt940Parser(), MT940_BY_TEXT, id="mt940-by-text"),
        pytest.param(OFX, OfxParser(), OFX_BY_CONTENT, id="ofx-by-content"),
        pytest.param(CAMT, Camt053Parser(), CAMT_BY_POSITION, id="camt053-by-position"),
        pytest.param(
            CAMT_BATCHES, Camt053Parser(), CAMT_BATCHES_BY_POSITION, id="camt053-batches-by-position"
        ),
    ],
)
def test_a_statement_imported_under_an_earlier_versions_ids_downloaded_again_changes_nothing(
    container: Container, tmp_path: Path, fixture: Path, parser: DocumentParser, old_ids: Mapping[Key, str]
) -> None:
    before = import_file(container, fixture, [AsImportedBefore(parser, old_ids)])
    posted = entries(container)
    assert posted
    again = tmp_path / fixture.name  # a download again: its bytes differ by one line break
    shutil.copyfile(fixture, again)
    with again.open("ab") as handle:
        handle.write(b"\n")

    after = import_file(container, again, [parser])

    assert after.status == "imported"
    assert after.counts["unchanged"] == after.counts["documents"] == before.counts["documents"], after.counts
    assert set(after.counts) <= {"documents", "unchanged", "quarantined", "statements"}, after.counts
    assert after.counts["quarantined"] == before.counts["quarantined"]  # the file's unreadable lines
    assert entries(container) == posted
    assert_ledger_verifies(container)


@pytest.mark.parametrize(
    ("fixture", "parser", "old_ids"),
    [
        pytest.param(SPARKASSE, Mt940Parser(), MT940_BY_POSITION, id="mt940-by-position"),
        pytest.param(SPARKASSE, Mt940Parser(), MT940_BY_TEXT, id="mt940-by-text"),
        pytest.param(OFX, OfxParser(), OFX_BY_CONTENT, id="ofx-by-content"),
        pytest.param(CAMT, Camt053Parser(), CAMT_BY_POSITION, id="camt053-by-position"),
        pytest.param(
            CAMT_BATCHES, Camt053Parser(), CAMT_BATCHES_BY_POSITION, id="camt053-batches-by-position"
        ),
    ],
)
def test_the_statement_report_finds_lines_imported_under_an_earlier_versions_ids(
    container: Container, fixture: Path, parser: DocumentParser, old_ids: Mapping[Key, str]
) -> None:
    import_file(container, fixture, [AsImportedBefore(parser, old_ids)])

    with unit_of_work(container.sessions) as session:
        accounts = Accounts.of(container.settings.ledger.chart)
        report = reconcile_file(session, fixture, parser, accounts, 3, lambda: container.cipher)

    lines = [m.line for s in report.statements for m in (*s.matched, *s.other_matched)]
    missing = [
        (m.line.origin.row, m.reason) for s in report.statements for m in (*s.missing_lines, *s.other_missing)
    ]
    replaced = [m.line for s in report.statements for m in s.replaced]  # by a later line (OFX REPLACE)
    assert len(lines) + len(missing) + len(replaced) == len(old_ids)
    assert lines  # the receipts standing
    assert not [(row, reason) for row, reason in missing if "never imported" in reason], missing


# Two lines whose references an earlier version read otherwise: EREF+NOTPROVIDED was text, and the
# version giving ids by position read no ?60 continuation of the remittance.
PLACEHOLDERS = "\n".join(
    [
        ":20:STMT",
        ":25:60050101/7405500001",
        ":28C:0",
        ":60F:C260301EUR100,00",
        ":61:2603020302CR120,00NTRFNONREF//TR77",
        ":86:166?00SEPA-GUTSCHRIFT?20EREF+NOTPROVIDED?21SVWZ+Rechnung 4711 Kunde?2277 Teil"
        "?60Fortsetzung Text?32Hans Meier",
        ":61:2603020302CR80,00NTRFNONREF",
        ":86:166?00SEPA-GUTSCHRIFT?20EREF+NOTPROVIDED?21SVWZ+Rechnung 4712?60weiter?32Eva Kunz",
        ":62F:C260331EUR300,00",
        "",
    ]
)


@pytest.mark.parametrize(
    ("old_ids", "old_references"),
    [
        pytest.param(
            {
                5: "sha256:53927a126dbeb6da1317a3fb16d576fd1b56de1feef3ce1a318737e05e3603ee",
                7: "sha256:5edb9395d0f0a37c7506ddd9547e4639b16ee5c571dc444c4b14be3aefc30c58",
            },
            {5: ("Rechnung 4711 Kunde77 Teil", "NOTPROVIDED"), 7: ("Rechnung 4712", "NOTPROVIDED")},
            id="by-position",
        ),
        pytest.param(
            {
                5: "sha256:d9cdd37b0f4c227ff4c1d94ad51dbc2f8ce4775cdb9310a4ab6f8821934faf04",
                7: "sha256:38b91707bb42b025a373a10f1d38153f023cee24ac1c9dacbda19616603cb0ee",
            },
            {
                5: ("Rechnung 4711 Kunde77 Teil Fortsetzung Text", "NOTPROVIDED"),
                7: ("Rechnung 4712 weiter", "NOTPROVIDED"),
            },
            id="by-text",
        ),
    ],
)
def test_an_mt940_line_an_earlier_version_read_other_references_of_is_unchanged_downloaded_again(
    container: Container,
    tmp_path: Path,
    old_ids: Mapping[Key, str],
    old_references: Mapping[Key, tuple[str, ...]],
) -> None:
    first, again = tmp_path / "march.sta", tmp_path / "march-again.sta"
    first.write_text(PLACEHOLDERS, encoding="utf-8")
    again.write_text(PLACEHOLDERS + "\n", encoding="utf-8")
    import_file(container, first, [AsImportedBefore(Mt940Parser(), old_ids, old_references)])
    posted = entries(container)

    after = import_file(container, again, [Mt940Parser()])

    assert (after.counts["unchanged"], after.counts["documents"]) == (2, 2), after.counts
    assert entries(container) == posted == 2
    assert_ledger_verifies(container)


# CAMT entries whose references the versions before 29187ec read as references: a placeholder AcctSvcrRef
# was the line's id (split: `#n`), an EndToEndId NONREF or N/A was part of its id and its references.
CAMT_PLACEHOLDERS = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>PH-1</MsgId><CreDtTm>2026-03-03T06:00:00+01:00</CreDtTm></GrpHdr>
<Stmt><Id>PH-2026-03-02</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<Dt><Dt>2026-03-02</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">500.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<Dt><Dt>2026-03-02</Dt></Dt></Bal>
<Ntry><Amt Ccy="EUR">120.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-03-02</Dt></BookgDt><ValDt><Dt>2026-03-02</Dt></ValDt><AcctSvcrRef>NOTPROVIDED</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><EndToEndId>E2E-4711</EndToEndId></Refs><RltdPties><Dbtr><Nm>Hans Meier</Nm></Dbtr>
</RltdPties><RmtInf><Ustrd>Rechnung 4711</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="EUR">80.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-03-02</Dt></BookgDt><ValDt><Dt>2026-03-02</Dt></ValDt>
<NtryDtls><TxDtls><Refs><EndToEndId>NONREF</EndToEndId></Refs><RltdPties><Dbtr><Nm>Eva Kunz</Nm></Dbtr>
</RltdPties><RmtInf><Ustrd>Rechnung 4712</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="EUR">200.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-03-02</Dt></BookgDt><ValDt><Dt>2026-03-02</Dt></ValDt><AcctSvcrRef>NOTPROVIDED</AcctSvcrRef>
<NtryDtls>
<TxDtls><Refs><EndToEndId>E2E-4713</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">150.00</Amt></TxAmt>
</AmtDtls><RltdPties><Dbtr><Nm>Alpha Logistik AG</Nm></Dbtr></RltdPties><RmtInf><Ustrd>Rechnung 4713</Ustrd>
</RmtInf></TxDtls>
<TxDtls><Refs><EndToEndId>N/A</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">50.00</Amt></TxAmt></AmtDtls>
<RltdPties><Dbtr><Nm>Beta Bau KG</Nm></Dbtr></RltdPties><RmtInf><Ustrd>Rechnung 4714</Ustrd></RmtInf></TxDtls>
</NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>
"""
CAMT_PLACEHOLDERS_READ: dict[Key, tuple[str, ...]] = {
    2: ("Rechnung 4712", "NONREF"),
    (3, 2): ("Rechnung 4714", "N/A"),
}


@pytest.mark.parametrize(
    "old_ids",
    [
        pytest.param(
            {
                1: "NOTPROVIDED",
                2: "sha256:9b5df46749e9ed3c6de82f721a823862f2cef06cf751ab64a90543a1d408fcb0",
                (3, 1): "NOTPROVIDED#1",
                (3, 2): "NOTPROVIDED#2",
            },
            id="by-position",
        ),
        pytest.param(
            {
                1: "NOTPROVIDED",
                2: "sha256:919181f7d9ce0a9844ca5824a32d13426eb2d2e450e506fdbf200bd1118dcbe6",
                (3, 1): "NOTPROVIDED#1",
                (3, 2): "NOTPROVIDED#2",
            },
            id="placeholders-as-text",
        ),
    ],
)
def test_a_camt_line_an_earlier_version_read_a_placeholder_of_is_unchanged_downloaded_again(
    container: Container, tmp_path: Path, old_ids: dict[Key, str]
) -> None:
    first, again = tmp_path / "march.xml", tmp_path / "march-again.xml"
    first.write_text(CAMT_PLACEHOLDERS, encoding="utf-8")
    again.write_text(CAMT_PLACEHOLDERS + "\n", encoding="utf-8")
    import_file(container, first, [AsImportedBefore(Camt053Parser(), old_ids, CAMT_PLACEHOLDERS_READ)])
    posted = entries(container)

    after = import_file(container, again, [Camt053Parser()])

    assert (after.counts["unchanged"], after.counts["documents"]) == (4, 4), after.counts
    assert entries(container) == posted == 4
    assert_ledger_verifies(container)
