from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from adapters.statements.camt053 import Camt053Parser
from adapters.statements.common import composite_id, money_suffix
from connector.documents import Document, DocumentParser, Parsed, Party, Problem, Statement
from connector.errors import FileFormatError
from connector.imports.statement_check import Period, statement_period
from connector.money import Money

FIXTURES = Path(__file__).parent.parent / "fixtures" / "statements"
V02 = "camt053_v02_two_statements.xml"
V08 = "camt053_v08_batches.xml"
V10 = "camt053_v10_batches.xml"
V08_ENVELOPED = "camt053_v08_enveloped.xml"  # the .08 file in a CBPR+ envelope, after its AppHdr
EUR_ACCOUNT = "DE89370400440532013000"


def parse(name: str) -> list[Parsed]:
    return list(Camt053Parser().parse(str(FIXTURES / name), name))


def lines(items: list[Parsed]) -> list[Document]:
    return [item for item in items if isinstance(item, Document)]


def line(items: list[Parsed], external_id: str) -> Document:
    (found,) = [item for item in lines(items) if item.external_id == external_id]
    return found


def problems(items: list[Parsed]) -> list[Problem]:
    return [item for item in items if isinstance(item, Problem)]


def statements(items: list[Parsed]) -> list[Statement]:
    return [item for item in items if isinstance(item, Statement)]


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "statement.xml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_parser_fits_the_document_parser_port() -> None:
    parser: DocumentParser = Camt053Parser()  # checked by mypy
    assert parser.format == "camt053"


@pytest.mark.parametrize("name", [V02, V08, V10, V08_ENVELOPED])
def test_the_parser_recognises_camt053_by_its_namespace(name: str) -> None:
    assert Camt053Parser().sniff((FIXTURES / name).read_bytes()[:4096], name)


@pytest.mark.parametrize(
    "head",
    [
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02">',
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">',
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.14">',
        b":20:STARTUMSE\n:25:60050101/7405500001\n",
        b"OFXHEADER:100\nDATA:OFXSGML\n<OFX>",
    ],
)
def test_other_formats_and_other_camt_messages_are_not_sniffed_as_camt053(head: bytes) -> None:
    assert not Camt053Parser().sniff(head, "statement.xml")


def test_a_credit_entry_is_a_positive_line_with_its_debtor_and_remittance() -> None:
    credit = line(parse(V02), "2026030400001")
    assert credit.kind == "bank_line"
    assert credit.source == "camt053"
    assert credit.amount == Money(150000, "EUR")
    assert credit.date == dt.date(2026, 3, 4)
    assert credit.value_date == dt.date(2026, 3, 4)
    assert credit.account == EUR_ACCOUNT
    assert credit.party == Party(
        name="Müller Maschinenbau GmbH & Co. KG", bank_account="DE02120300000000202051"
    )
    assert credit.references == ("Rechnung RE-2026-0142", "Kd-Nr. 10042", "E2E-RE-2026-0142")
    assert credit.reverses is None
    assert credit.origin.file == V02
    assert credit.origin.row == 1
    assert "<AcctSvcrRef>2026030400001</AcctSvcrRef>" in credit.origin.raw


def test_a_debit_entry_is_negative_and_names_the_creditor_and_its_other_account_id() -> None:
    debit = line(parse(V02), "2026030400002")
    assert debit.amount == Money(-25035, "EUR")
    assert debit.value_date == dt.date(2026, 3, 5)
    assert debit.party == Party(name="Stadtwerke Köln AG", bank_account="020205177")
    # the structured creditor reference first; NOTPROVIDED is not a reference
    assert debit.references == ("RF18539007547034", "SEPA-LASTSCHRIFT Strom Februar")


def test_a_batched_entry_becomes_one_line_per_transaction_with_numbered_ids() -> None:
    items = parse(V02)
    batch = [line(items, f"2026030400003#{n}") for n in (1, 2, 3)]
    assert [part.amount for part in batch] == [Money(50000, "EUR"), Money(45000, "EUR"), Money(25000, "EUR")]
    assert sum(part.amount.minor for part in batch) == 120000  # what the bank booked for the entry
    assert [part.party.name for part in batch] == ["Alpha Logistik AG", "Beta Bau KG", "Gamma Service e.K."]
    assert batch[1].party.bank_account == "AT611904300234573201"
    assert batch[0].references == ("INV-7001", "E2E-INV-7001")
    assert {part.origin.row for part in batch} == {3}
    assert batch[2].origin.raw.startswith("<TxDtls>")


def test_a_reversal_is_signed_by_its_own_indicator_and_marked_because_the_original_cannot_be_named() -> None:
    reversal = line(parse(V02), "2026030400004")
    assert reversal.amount == Money(-150000, "EUR")
    assert (reversal.reverses, reversal.bank_reversal) == (None, True)
    assert reversal.references[-1] == "RVSL"
    assert "E2E-RE-2026-0142" in reversal.references  # what the import links the original by
    # the parties are those of the payment it reverses: the debtor of the returned credit
    assert reversal.party.name == "Müller Maschinenbau GmbH & Co. KG"


def test_a_reversed_debit_comes_back_as_a_positive_line_naming_the_creditor() -> None:
    (reversal,) = [item for item in lines(parse(V08)) if "RVSL" in item.references]
    assert reversal.amount == Money(120000, "CHF")
    assert reversal.party.name == "Lieferant Zwei SA"
    assert reversal.references == ("Retour: compte inconnu", "PAYRUN-0310-2", "RVSL")


def test_a_pending_entry_is_not_booked_but_reported_so_nothing_vanishes() -> None:
    items = parse(V02)
    pending = [problem for problem in problems(items) if problem.origin.row == 5]
    assert [problem.reason for problem in pending] == ["pending entry, not booked"]
    assert "<Sts>PDNG</Sts>" in pending[0].origin.raw
    assert all(item.amount != Money(7500, "EUR") for item in lines(items))


def test_information_entries_and_entries_without_an_indicator_are_problems_with_their_entry_number() -> None:
    reported = {problem.origin.row: problem.reason for problem in problems(parse(V08))}
    assert reported == {
        4: "entry status INFO, not booked",
        7: "entry not readable: credit/debit indicator is None, expected CRDT or DBIT",
    }


def test_entries_keep_their_own_currency_in_a_multi_currency_statement() -> None:
    usd = [item for item in lines(parse(V02)) if item.amount.currency == "USD"]
    assert [item.amount for item in usd] == [Money(9999, "USD")]
    assert usd[0].account == EUR_ACCOUNT
    gbp = line(parse(V08), "CH-20260310-0006")
    assert gbp.amount == Money(15025, "GBP")
    assert gbp.value_date == dt.date(2026, 3, 12)
    assert gbp.party == Party(name="Brighton Tools Ltd", bank_account="40-47-8412345678")


def test_an_entry_without_acctsvcrref_gets_the_documented_composite_id() -> None:
    (usd,) = [item for item in lines(parse(V02)) if item.amount.currency == "USD"]
    expected = composite_id(
        "camt053", EUR_ACCOUNT, "2026-03-04", 9999, "USD", "CRDT", "PO-55-US", "Invoice RE-2026-0150", "1"
    )
    assert usd.external_id == expected
    assert expected.startswith("sha256:")
    assert len(expected) == len("sha256:") + 64


def test_a_batch_without_acctsvcrref_hashes_each_transaction_by_entry_and_its_place_in_the_batch() -> None:
    debits = [item for item in lines(parse(V08)) if item.origin.row == 2]
    shared = ("camt053", "CH9300762011623852957", "2026-03-10")
    assert [item.amount for item in debits] == [Money(-180000, "CHF"), Money(-120000, "CHF")]
    assert [item.external_id for item in debits] == [
        composite_id(*shared, 180000, "CHF", "DBIT", "PAYRUN-0310-1", "Rechnung L1-2026-88", "1.1"),
        composite_id(*shared, 120000, "CHF", "DBIT", "PAYRUN-0310-2", "Facture L2-551", "1.2"),
    ]
    assert debits[0].party == Party(name="Lieferant Eins GmbH", bank_account="CH4431999123000889012")


def test_a_batch_whose_transactions_have_no_amounts_stays_one_line_with_all_references() -> None:
    batch = line(parse(V08), "CH-20260310-0003")
    assert batch.amount == Money(70000, "CHF")
    assert batch.references == ("RE-900", "RE-901", "QR-A", "QR-B")
    assert batch.party == Party()  # two different payers: none is the line's


def test_camt_08_reads_parties_under_pty_and_the_date_of_a_booking_date_time() -> None:
    first = line(parse(V08), "CH-20260310-0001")
    assert first.date == dt.date(2026, 3, 10)
    assert first.amount == Money(240000, "CHF")
    assert first.party == Party(name="Zürcher Feinmechanik AG", bank_account="CH5604835012345678009")
    assert first.references == ("210000000003139471430009017", "ORDER-4711")


def test_a_bad_amount_is_a_problem_and_the_entries_after_it_are_still_read() -> None:
    items = parse(V02)
    (bad,) = [problem for problem in problems(items) if problem.origin.row == 7]
    assert "12.345 EUR has more decimals than EUR allows" in bad.reason
    (yen,) = [item for item in lines(items) if item.amount.currency == "JPY"]
    assert yen.amount == Money(120000, "JPY")
    assert yen.origin.row == 8
    assert yen.account == "0012-3456789"
    assert yen.party.name == "株式会社サンプル商事"


def test_a_negative_amount_is_a_problem_not_a_line_in_the_other_direction(tmp_path: Path) -> None:
    entry = (
        '<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>'
        "<BookgDt><Dt>2026-03-04</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef></Ntry>"
    )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><GrpHdr>'
        "<MsgId>M</MsgId><CreDtTm>2026-03-05T00:00:00</CreDtTm></GrpHdr><Stmt><Id>A1</Id><Acct><Id>"
        "<IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        + entry.format(amount="-250.35", ref="N1")
        + entry.format(amount="80.00", ref="N2")
        + "</Stmt></BkToCstmrStmt></Document>"
    )
    items = list(Camt053Parser().parse(write(tmp_path, text), "neg.xml"))
    (bad,) = problems(items)
    assert (bad.origin.row, bad.reason) == (
        1,
        "entry not readable: Amt is -250.35: an amount is never negative, CdtDbtInd signs it",
    )
    assert [line.amount for line in lines(items)] == [Money.of("-80.00", "EUR")]


def test_each_statement_carries_account_period_and_signed_balances_after_its_lines() -> None:
    items = parse(V02)
    eur, jpy = statements(items)
    assert eur == Statement(
        source="camt053",
        account=EUR_ACCOUNT,
        currency="EUR",
        origin=eur.origin,
        statement_id="2026-03-04-EUR-057",
        period_start=dt.date(2026, 3, 4),
        period_end=dt.date(2026, 3, 4),
        opening=Money(-125000, "EUR"),
        closing=Money(-30035, "EUR"),
    )
    assert (jpy.account, jpy.currency, jpy.opening, jpy.closing) == (
        "0012-3456789",
        "JPY",
        Money(500000, "JPY"),
        Money(620000, "JPY"),
    )
    assert eur.origin.row is None
    assert "<Ntry>" not in eur.origin.raw
    assert "<Id>2026-03-04-EUR-057</Id>" in eur.origin.raw
    assert items.index(eur) == 9  # after the statement's nine lines and problems
    (chf,) = statements(parse(V08))
    assert (chf.opening, chf.closing) == (Money(1000000, "CHF"), Money(1130000, "CHF"))


@pytest.mark.parametrize("name", [V02, V08])
def test_external_ids_are_unique_and_the_same_on_every_read(name: str) -> None:
    first = [item.external_id for item in lines(parse(name))]
    again = [item.external_id for item in lines(parse(name))]
    assert first == again
    assert len(set(first)) == len(first)


def test_a_document_of_another_message_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"><x/></Document>')
    with pytest.raises(FileFormatError, match=r"not a camt\.053 document"):
        list(Camt053Parser().parse(path, "statement.xml"))


def test_a_dtd_is_refused_before_any_entity_is_expanded(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol2;</Document>',
    )
    with pytest.raises(FileFormatError, match="broken"):
        list(Camt053Parser().parse(path, "statement.xml"))


def test_xml_broken_part_way_keeps_the_entries_before_and_reports_the_rest(tmp_path: Path) -> None:
    text = (FIXTURES / V02).read_text(encoding="utf-8")
    path = write(tmp_path, text[: text.index("<NtryRef>3</NtryRef>")])
    items = list(Camt053Parser().parse(path, "cut.xml"))
    assert [item.external_id for item in lines(items)] == ["2026030400001", "2026030400002"]
    (cut,) = problems(items)
    assert cut.reason.startswith("the XML is broken")
    assert cut.reason.endswith("nothing after entry 2 could be read")
    assert cut.origin.row == 3  # the first entry not read: entry 2 may be a problem of its own


def test_a_file_broken_before_any_entry_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>')
    with pytest.raises(FileFormatError, match="the XML is broken"):
        list(Camt053Parser().parse(path, "statement.xml"))


def _entries(tmp_path: Path, currency: str, *amounts: str) -> list[Parsed]:
    entry = (
        '<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        "<BookgDt><Dt>2026-03-04</Dt></BookgDt><AcctSvcrRef>N{number}</AcctSvcrRef></Ntry>"
    )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><GrpHdr>'
        "<MsgId>M</MsgId><CreDtTm>2026-03-05T00:00:00</CreDtTm></GrpHdr><Stmt><Id>A1</Id><Acct><Id>"
        f"<IBAN>KW81CBKU0000000000001234560101</IBAN></Id><Ccy>{currency}</Ccy></Acct>"
        + "".join(
            entry.format(currency=currency, amount=amount, number=number)
            for number, amount in enumerate(amounts, start=1)
        )
        + "</Stmt></BkToCstmrStmt></Document>"
    )
    return list(Camt053Parser().parse(write(tmp_path, text), "kwd.xml"))


def test_an_amount_with_a_comma_is_no_iso_20022_amount_and_its_entry_is_a_problem(tmp_path: Path) -> None:
    items = _entries(tmp_path, "KWD", "1,500", "1.500", "1,000.000", " 2500 ")
    unreadable = "is not an amount: ISO 20022 writes digits with an optional '.' fraction"
    assert [(problem.origin.row, problem.reason) for problem in problems(items)] == [
        (1, f"entry not readable: Amt '1,500' {unreadable}"),
        (3, f"entry not readable: Amt '1,000.000' {unreadable}"),
    ]
    assert [(line.external_id, line.amount) for line in lines(items)] == [
        ("N2", Money(1500, "KWD")),
        ("N4", Money(2500000, "KWD")),
    ]


CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04"><BkToCstmrStmt><Stmt><Id>S1</Id>
{account}
<Ntry><Amt Ccy="EUR">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-03-04</Dt></BookgDt><AcctSvcrRef>B-1</AcctSvcrRef><NtryDtls>
<TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">60.00</Amt></TxAmt></AmtDtls>
<RmtInf><Ustrd>A-1</Ustrd></RmtInf></TxDtls>
<TxDtls><AmtDtls><TxAmt><Amt Ccy="{second_currency}">{second}</Amt></TxAmt></AmtDtls>
<RmtInf><Ustrd>A-2</Ustrd></RmtInf></TxDtls>
</NtryDtls></Ntry></Stmt></BkToCstmrStmt></Document>
"""
ACCOUNT_XML = "<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>"


@pytest.mark.parametrize(
    ("second_currency", "second"),
    [("EUR", "30.00"), ("USD", "40.00")],
    ids=["amounts-do-not-add-up", "another-currency"],
)
def test_a_batch_that_cannot_be_split_exactly_stays_one_line_for_the_booked_amount(
    tmp_path: Path, second_currency: str, second: str
) -> None:
    text = CAMT.format(account=ACCOUNT_XML, second_currency=second_currency, second=second)
    (batch,) = lines(list(Camt053Parser().parse(write(tmp_path, text), "statement.xml")))
    assert (batch.external_id, batch.amount) == ("B-1", Money(10000, "EUR"))
    assert batch.references == ("A-1", "A-2")


def test_a_batch_that_adds_up_is_split_in_any_camt_version(tmp_path: Path) -> None:
    text = CAMT.format(account=ACCOUNT_XML, second_currency="EUR", second="40.00")
    items = list(Camt053Parser().parse(write(tmp_path, text), "statement.xml"))
    assert [(item.external_id, item.amount.minor) for item in lines(items)] == [
        ("B-1#1", 6000),
        ("B-1#2", 4000),
    ]


def test_a_batch_holding_one_returned_transfer_makes_only_that_transaction_a_return(tmp_path: Path) -> None:
    text = CAMT.format(account=ACCOUNT_XML, second_currency="EUR", second="40.00").replace(
        "<RmtInf><Ustrd>A-2</Ustrd></RmtInf>",
        "<RmtInf><Ustrd>A-2</Ustrd></RmtInf><RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf>",
    )
    items = list(Camt053Parser().parse(write(tmp_path, text), "statement.xml"))
    assert [(item.external_id, item.bank_reversal) for item in lines(items)] == [
        ("B-1#1", False),
        ("B-1#2", True),
    ]


@pytest.mark.parametrize("placeholder", ["NOTPROVIDED", "NONREF"])
def test_a_placeholder_account_servicer_reference_is_no_id_two_entries_share(
    tmp_path: Path, placeholder: str
) -> None:
    entries = "".join(
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>2026-03-04</Dt></BookgDt><AcctSvcrRef>{placeholder}</AcctSvcrRef>"
        f"<NtryDtls><TxDtls><RmtInf><Ustrd>{payer}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for amount, payer in (("100.00", "Alpha"), ("150.00", "Beta"))
    )
    text = (
        CAMT.split("<Ntry>")[0].format(account=ACCOUNT_XML) + entries + "</Stmt></BkToCstmrStmt></Document>"
    )
    alpha, beta = lines(list(Camt053Parser().parse(write(tmp_path, text), "statement.xml")))
    assert alpha.external_id.startswith("sha256:")
    assert beta.external_id.startswith("sha256:")
    assert alpha.external_id != beta.external_id


def test_a_statement_without_an_account_is_a_problem_but_its_entries_are_read(tmp_path: Path) -> None:
    text = CAMT.format(account="", second_currency="EUR", second="40.00")
    items = list(Camt053Parser().parse(write(tmp_path, text), "statement.xml"))
    assert [item.account for item in lines(items)] == [None, None]
    (problem,) = problems(items)
    assert problem.reason == "statement without an account id (Acct/Id) or a currency (Acct/Ccy)"
    assert problem.origin.raw.startswith("<Stmt>")


def test_a_statement_stating_no_period_has_its_balances_dates_as_its_period(tmp_path: Path) -> None:
    def balance(code: str, amount: str, day: str) -> str:
        return (
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>{amount}</Amt>"
            f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
        )

    text = CAMT.format(
        account=ACCOUNT_XML + balance("OPBD", "0.00", "2026-02-28") + balance("CLBD", "100.00", "2026-03-31"),
        second_currency="EUR",
        second="40.00",
    )
    (statement,) = statements(list(Camt053Parser().parse(write(tmp_path, text), "statement.xml")))
    assert (statement.period_start, statement.period_end) == (dt.date(2026, 2, 28), dt.date(2026, 3, 31))
    assert statement.period_from_balances
    assert statement_period(statement, []) == Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def _statement(tmp_path: Path, name: str, *amounts_and_refs: tuple[str, str]) -> list[Document]:
    entries = "".join(
        f'<Ntry><Amt Ccy="USD">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>2026-03-06</Dt></BookgDt><NtryDtls><TxDtls><RmtInf><Ustrd>{ref}</Ustrd></RmtInf>"
        "</TxDtls></NtryDtls></Ntry>"
        for amount, ref in amounts_and_refs
    )
    path = tmp_path / name
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        "<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr><Stmt><Id>S</Id><Acct><Id><IBAN>DE44500105175407324931"
        f"</IBAN></Id><Ccy>USD</Ccy></Acct>{entries}</Stmt></BkToCstmrStmt></Document>",
        encoding="utf-8",
    )
    return lines(list(Camt053Parser().parse(str(path), name)))


def test_an_entry_without_acctsvcrref_has_one_id_in_overlapping_statements_and_twins_stay_apart(
    tmp_path: Path,
) -> None:
    day = _statement(tmp_path, "day.xml", ("300.00", "INV-3"))
    month = _statement(tmp_path, "month.xml", ("1200.00", "INV-1"), ("300.00", "INV-3"), ("300.00", "INV-3"))
    assert month[1].external_id == day[0].external_id
    assert len({line.external_id for line in month}) == 3


PAGE = """<Stmt><Id>S1-p{page}</Id>{account}
<Ntry><Amt Ccy="CNY">50.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-03-02</Dt></BookgDt><NtryDtls><TxDtls><RmtInf><Ustrd>card settlement</Ustrd></RmtInf>
</TxDtls></NtryDtls></Ntry></Stmt>"""


def camt(statements: str) -> str:
    head = '<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
    return f"{head}<BkToCstmrStmt>{statements}</BkToCstmrStmt></Document>"


def test_identical_payments_on_a_statements_two_pages_stay_two_lines(tmp_path: Path) -> None:
    account = "<Acct><Id><IBAN>CN1234567890</IBAN></Id><Ccy>CNY</Ccy></Acct>"
    other = "<Acct><Id><IBAN>CN9999999999</IBAN></Id><Ccy>CNY</Ccy></Acct>"
    pages = [PAGE.format(page=1, account=account), PAGE.format(page=2, account=account)]
    elsewhere = PAGE.format(page=3, account=other)
    found = lines(list(Camt053Parser().parse(write(tmp_path, camt("".join([*pages, elsewhere]))), "s.xml")))
    ids = [d.external_id for d in found]
    assert len(set(ids)) == 3
    only = lines(list(Camt053Parser().parse(write(tmp_path, camt(elsewhere)), "s.xml")))
    assert only[0].external_id == ids[2]  # another account's line is numbered on its own


def test_a_statement_with_balances_in_two_currencies_keeps_those_of_its_own() -> None:
    (statement,) = statements(parse("camt053_two_currencies.xml"))  # no Acct/Ccy: EUR, its first balance's
    assert (statement.currency, statement.opening, statement.closing) == (
        "EUR",
        Money.of("1000.00", "EUR"),
        Money.of("1500.00", "EUR"),
    )


def test_a_debit_with_return_information_is_a_return_of_a_receipt() -> None:
    (line,) = lines(parse("camt053_direct_debit_returned.xml"))
    assert (line.amount, line.bank_reversal) == (Money.of("-500.00", "EUR"), True)


def test_a_return_carries_its_reason_code_with_its_meaning_and_apart_the_banks_words() -> None:
    (line,) = lines(parse("camt053_direct_debit_returned.xml"))  # RtrInf: Rsn/Cd AM04, AddtlInf
    assert (line.return_reason, line.return_words) == ("AM04 insufficient funds", "RUECKLASTSCHRIFT")


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        ("<Rsn><Cd>MD06</Cd></Rsn>", ("MD06 refund requested by the end customer", None)),
        ("<Rsn><Prtry>R17</Prtry></Rsn><AddtlInf>Konto erloschen</AddtlInf>", ("R17", "Konto erloschen")),
        ("<Rsn><Prtry>Inhaber verstorben</Prtry></Rsn>", (None, "Inhaber verstorben")),  # words, no code
        (
            "<Rsn><Prtry>Died</Prtry></Rsn><AddtlInf>Hans Meier</AddtlInf>",
            (None, "Died; Hans Meier"),
        ),  # a word
        ("<Rsn><Prtry>MD07</Prtry></Rsn>", ("MD07 end customer deceased", None)),  # a code the table knows
        ("<AddtlInf>AC04</AddtlInf><AddtlInf>closed</AddtlInf>", (None, "AC04; closed")),  # words only
        ("", (None, None)),  # return information without a reason
    ],
)
def test_a_returned_transfer_of_a_batch_carries_its_own_return_reason(
    tmp_path: Path, info: str, reason: tuple[str | None, str | None]
) -> None:
    text = CAMT.format(account=ACCOUNT_XML, second_currency="EUR", second="40.00").replace(
        "<RmtInf><Ustrd>A-2</Ustrd></RmtInf>", f"<RmtInf><Ustrd>A-2</Ustrd></RmtInf><RtrInf>{info}</RtrInf>"
    )
    items = list(Camt053Parser().parse(write(tmp_path, text), "statement.xml"))
    assert [(item.bank_reversal, item.return_reason, item.return_words) for item in lines(items)] == [
        (False, None, None),
        (True, *reason),
    ]


def test_an_amount_written_with_more_decimals_than_its_currency_has_is_a_problem_even_in_zeros(
    tmp_path: Path,
) -> None:
    items = _entries(tmp_path, "JPY", "1.000", "1000.00", "1000")
    (refused,) = problems(items)
    assert (refused.origin.row, refused.reason) == (
        1,
        "entry not readable: 1.000 JPY is written with 3 decimals, JPY has 0: a separator grouping "
        "thousands, or decimals that are not there; never rounded, correct it at the source",
    )
    assert [line.amount for line in lines(items)] == [Money(1000, "JPY"), Money(1000, "JPY")]
    (dinars,) = problems(_entries(tmp_path, "KWD", "1.5000", "1.500"))
    assert "1.5000 KWD is written with 4 decimals, KWD has 3" in dinars.reason


def test_a_line_with_a_bank_reference_has_an_alias_for_that_reference_reused_with_other_money() -> None:
    (alpha,) = lines(parse("camt053_reused_ref_day1.xml"))
    (beta,) = lines(parse("camt053_reused_ref_day2.xml"))

    assert alpha.external_id == beta.external_id == "000001"  # the bank numbers its references per day
    assert alpha.alias == "000001" + money_suffix(dt.date(2026, 4, 1), Money.of("100.00", "EUR"))
    assert beta.alias == "000001" + money_suffix(dt.date(2026, 4, 2), Money.of("250.00", "EUR"))
    assert alpha.alias != beta.alias


def _as_read(items: list[Parsed]) -> list[Parsed]:
    """What a file's items say, its name and raw XML aside (an envelope indents the Document)."""
    return [
        dataclasses.replace(item, origin=dataclasses.replace(item.origin, file="", raw="")) for item in items
    ]


@pytest.mark.parametrize("name", [V10, V08_ENVELOPED])
def test_camt_09_to_13_and_a_document_inside_an_envelope_are_read_as_camt_08_is(name: str) -> None:
    read = parse(name)

    assert _as_read(read) == _as_read(parse(V08))
    assert len(lines(read)) == len(lines(parse(V08))) > 1  # its lines, as the .08 file's problem


@pytest.mark.parametrize("version", ["02", "09", "11", "12", "13"])
def test_every_camt053_version_from_02_to_13_is_read(tmp_path: Path, version: str) -> None:
    text = (FIXTURES / V08).read_text(encoding="utf-8").replace("camt.053.001.08", f"camt.053.001.{version}")

    read = list(Camt053Parser().parse(write(tmp_path, text), "statement.xml"))

    assert len(lines(read)) == len(lines(parse(V08)))


def test_an_envelope_holding_another_message_or_none_is_refused_naming_its_root(tmp_path: Path) -> None:
    namespace = "urn:iso:std:iso:20022:tech:xsd:nvlp.001.001.01"
    envelope = f'<BizMsgEnvlp xmlns="{namespace}"><Hdr/><Doc>{{}}</Doc></BizMsgEnvlp>'
    other = '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08"><x/></Document>'
    with pytest.raises(
        FileFormatError, match=r"not a camt\.053 document \('\{.*camt\.052.*\}Document' in root"
    ):
        list(Camt053Parser().parse(write(tmp_path, envelope.format(other)), "statement.xml"))
    with pytest.raises(FileFormatError, match=r"not a camt\.053 document \(root '\{.*nvlp.*\}BizMsgEnvlp'\)"):
        list(Camt053Parser().parse(write(tmp_path, envelope.format("")), "statement.xml"))
