from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from adapters.statements.common import composite_id
from adapters.statements.ofx import OfxParser
from connector.documents import (
    Document,
    DocumentParser,
    Notice,
    Origin,
    Parsed,
    Party,
    Problem,
    Statement,
)
from connector.errors import FileFormatError
from connector.money import Money

FIXTURES = Path(__file__).parent.parent / "fixtures" / "statements"
BANK_V1 = "bank_sgml_v1.ofx"
CARD_V2 = "creditcard_v2.ofx"
QFX = "savings.qfx"
ACCOUNT = "4417-0099-22"
GUESSED = "the text encoding was guessed as cp1252: check that accented letters read right"

SGML = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
ENCODING:USASCII
CHARSET:1252

<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR
<BANKACCTFROM><BANKID>1<ACCTID>ACC-1</BANKACCTFROM>
<BANKTRANLIST>{transactions}</BANKTRANLIST>
<LEDGERBAL><BALAMT>10.00<DTASOF>20260311</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""


def parse(name: str) -> list[Parsed]:
    return list(OfxParser().parse(str(FIXTURES / name), name))


def parse_text(tmp_path: Path, text: str) -> list[Parsed]:
    path = tmp_path / "statement.ofx"
    path.write_text(text, encoding="utf-8")
    return list(OfxParser().parse(str(path), "statement.ofx"))


def lines(items: list[Parsed]) -> list[Document]:
    return [item for item in items if isinstance(item, Document)]


def line(items: list[Parsed], external_id: str) -> Document:
    (found,) = [item for item in lines(items) if item.external_id == external_id]
    return found


def problems(items: list[Parsed]) -> list[Problem]:
    return [item for item in items if isinstance(item, Problem)]


def statements(items: list[Parsed]) -> list[Statement]:
    return [item for item in items if isinstance(item, Statement)]


def test_the_parser_fits_the_document_parser_port() -> None:
    parser: DocumentParser = OfxParser()  # checked by mypy
    assert parser.format == "ofx"


@pytest.mark.parametrize("name", [BANK_V1, CARD_V2, QFX])
def test_the_parser_recognises_ofx_1_and_2_and_qfx(name: str) -> None:
    assert OfxParser().sniff((FIXTURES / name).read_bytes()[:4096], name)


@pytest.mark.parametrize(
    "head",
    [
        b":20:STARTUMSE\n:25:60050101/7405500001\n",
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">',
        b"Date,Amount,Payee\n",
    ],
)
def test_other_formats_are_not_sniffed_as_ofx(head: bytes) -> None:
    assert not OfxParser().sniff(head, "statement.ofx")


@pytest.mark.parametrize(("charset", "notes"), [("NONE", [GUESSED]), ("1252", [])])
def test_an_ofx_1_file_whose_encoding_was_guessed_says_so_and_one_its_header_names_does_not(
    tmp_path: Path, charset: str, notes: list[str]
) -> None:
    memo = "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260311<TRNAMT>5.00<FITID>F1<MEMO>Müller Köln\n</STMTTRN>"
    path = tmp_path / "statement.ofx"
    text = SGML.replace("CHARSET:1252", f"CHARSET:{charset}").format(transactions=memo)
    path.write_bytes(text.encode("cp1252"))
    items = list(OfxParser().parse(str(path), "statement.ofx"))
    said = [Notice(Origin("statement.ofx"), note) for note in notes]
    assert [item for item in items if isinstance(item, Notice)] == said
    assert lines(items)[0].references == ("Müller Köln",)


def test_an_sgml_credit_is_a_positive_line_dated_by_its_posting_date() -> None:
    credit = line(parse(BANK_V1), f"{ACCOUNT}:202603020001")
    assert credit.source == "ofx"
    assert credit.amount == Money(150000, "USD")
    assert credit.date == dt.date(2026, 3, 2)  # 20260302120000.000[-5:EST]
    assert credit.value_date == dt.date(2026, 3, 1)  # DTUSER
    assert credit.account == ACCOUNT
    # declared CHARSET:1252, and &amp; unescaped
    assert credit.party == Party(name="Café Müller & Söhne LLC")
    assert credit.references == ("INV-2026-0142 PAYMENT",)
    assert credit.origin.row == 1
    assert "<FITID>202603020001</FITID>" in credit.origin.raw


def test_a_check_is_negative_and_carries_its_number() -> None:
    check = line(parse(BANK_V1), f"{ACCOUNT}:202603030001")
    assert check.amount == Money(-25035, "USD")
    assert check.number == "1042"
    assert check.references == ("1042", "February electricity")


def test_a_fitid_repeated_with_identical_content_is_one_line_and_one_duplicate_problem() -> None:
    items = parse(BANK_V1)
    assert [item for item in lines(items) if "202603030002" in item.external_id] == [
        line(items, f"{ACCOUNT}:202603030002")
    ]
    duplicates = [problem for problem in problems(items) if problem.origin.row == 4]
    assert [problem.reason for problem in duplicates] == [
        "duplicate FITID with identical content in the same file"
    ]
    assert "<REFNUM>RF-88123</REFNUM>" in duplicates[0].origin.raw


def test_a_fitid_reissued_with_different_content_keeps_both_lines_each_with_its_money_suffix() -> None:
    items = parse(BANK_V1)
    reissued = [item for item in lines(items) if "202603040001" in item.external_id]
    assert [item.amount for item in reissued] == [Money(7500, "USD"), Money(12500, "USD")]
    for item in reissued:
        assert re.fullmatch(rf"{ACCOUNT}:202603040001#[0-9a-f]{{12}}", item.external_id)
        assert item.alias == f"{ACCOUNT}:202603040001"
    assert reissued[1].party.name == "Fabrikam Inc"


def test_the_ids_of_a_reissued_fitids_lines_are_the_same_in_any_order(tmp_path: Path) -> None:
    record = "<STMTTRN><TRNTYPE>DEP<DTPOSTED>20260311<TRNAMT>{}<FITID>F<NAME>{}</STMTTRN>"
    records = [record.format("5.00", "Ann"), record.format("5.00", "Bob"), record.format("7.00", "Cy")]

    def ids(*order: int) -> dict[str | None, tuple[str, str | None, tuple[str, ...]]]:
        text = SGML.format(transactions="".join(records[index] for index in order))
        read = lines(parse_text(tmp_path, text))
        return {item.party.name: (item.external_id, item.alias, item.known_as) for item in read}

    forward = ids(0, 1, 2)
    assert forward == ids(2, 1, 0) == ids(1, 2, 0)
    (ann, ann_alias, ann_known), (bob, _, _), (cy, cy_alias, _) = (
        forward["Ann"],
        forward["Bob"],
        forward["Cy"],
    )
    # One money, two payers: each under its content's digest, never another's id by its money alone.
    money = ann.rpartition(".")[0]
    assert re.fullmatch(r"ACC-1:F#[0-9a-f]{12}\.[0-9a-f]{12}", ann)
    assert bob.startswith(money + ".")
    assert bob != ann
    assert ann_alias is None
    assert ann_known[:3] == ("ACC-1:F", money, money + ".2")
    assert re.fullmatch(r"ACC-1:F#[0-9a-f]{12}", cy)
    assert cy_alias == "ACC-1:F"
    (alone,) = lines(parse_text(tmp_path, SGML.format(transactions=records[0])))
    assert (alone.external_id, alone.alias) == ("ACC-1:F", money)
    assert ann in alone.known_as


def test_a_reissued_fitid_long_enough_to_overflow_with_its_suffix_is_hashed(tmp_path: Path) -> None:
    fitid = "F" * 190  # "ACC-1:" + FITID fits the ledger's 200 characters, with a suffix it would not
    record = "<STMTTRN><TRNTYPE>DEP<DTPOSTED>20260311<TRNAMT>{}<FITID>{}</STMTTRN>"
    text = SGML.format(transactions=record.format("1.00", fitid) + record.format("2.00", fitid))
    for item in lines(parse_text(tmp_path, text)):
        assert item.external_id.startswith("ACC-1:" + composite_id("ofx", fitid) + "#")
        assert max(map(len, (item.external_id, item.alias or "", *item.known_as))) <= 200


def test_a_delete_correction_reverses_the_corrected_fitid_and_nets_it_to_zero() -> None:
    items = parse(BANK_V1)
    deletion = line(items, f"{ACCOUNT}:202603050009")
    original = line(items, deletion.reverses or "")
    assert deletion.reverses == f"{ACCOUNT}:202603020001"
    assert deletion.amount == Money(-150000, "USD")
    assert (original.amount + deletion.amount).minor == 0


def test_a_replace_correction_is_the_new_line_and_replaces_the_old_one() -> None:
    replacement = line(parse(BANK_V1), f"{ACCOUNT}:202603050010")
    assert (replacement.replaces, replacement.reverses) == (f"{ACCOUNT}:202603030001", None)
    assert replacement.amount == Money(-26035, "USD")  # TRNAMT -260,35: a comma decimal
    assert replacement.references == ("1042", "February electricity (corrected)")


def test_an_unreadable_amount_is_a_problem_with_its_record_number_and_the_rest_is_read() -> None:
    items = parse(BANK_V1)
    (bad,) = [problem for problem in problems(items) if problem.origin.row == 9]
    assert bad.reason == "transaction not readable: not an amount: '-1.000.00'"
    assert line(items, f"{ACCOUNT}:202603050012").origin.row == 10


def test_a_transaction_currency_overrides_the_statement_default() -> None:
    euro = line(parse(BANK_V1), f"{ACCOUNT}:202603050012")
    assert euro.amount == Money(20000, "EUR")


def test_the_statement_has_its_period_and_closing_balance_but_no_opening() -> None:
    items = parse(BANK_V1)
    (statement,) = statements(items)
    assert statement == Statement(
        source="ofx",
        account=ACCOUNT,
        currency="USD",
        origin=statement.origin,
        period_start=dt.date(2026, 3, 1),
        period_end=dt.date(2026, 3, 5),
        opening=None,
        closing=Money(-123456, "USD"),
    )
    assert items[-1] is statement
    assert "<STMTTRN>" not in statement.origin.raw


def as_bank_statement(card: str) -> str:
    """A credit-card statement's text as a bank account's statement."""
    for tag, bank in [
        ("CREDITCARDMSGSRSV1", "BANKMSGSRSV1"),
        ("CCSTMT", "STMT"),
        ("CCACCTFROM", "BANKACCTFROM"),
    ]:
        card = card.replace(tag, bank)
    return card


def test_an_xml_statement_reads_payee_names_availability_and_transaction_currencies(tmp_path: Path) -> None:
    items = parse_text(tmp_path, as_bank_statement((FIXTURES / CARD_V2).read_text(encoding="utf-8")))
    charge = line(items, "6225880012345678:CC20260302001")
    assert charge.amount == Money(-38800, "CNY")
    assert charge.party == Party(name="上海华东机电设备有限公司")  # PAYEE/NAME
    assert charge.references == ("办公用品",)
    payment = line(items, "6225880012345678:CC20260305001")
    assert payment.amount == Money(500000, "CNY")
    assert payment.value_date == dt.date(2026, 3, 6)  # DTAVAIL before DTUSER
    assert payment.references == ("HK-2026-0305",)
    assert line(items, "6225880012345678:CC20260308001").amount == Money(-4250, "USD")
    (missing_date,) = problems(items)
    assert (missing_date.origin.row, missing_date.reason) == (4, "transaction not readable: no DTPOSTED")
    (statement,) = statements(items)
    assert (statement.account, statement.currency, statement.closing) == (
        "6225880012345678",
        "CNY",
        Money(-456950, "CNY"),
    )


def test_a_credit_card_statement_is_refused_naming_the_card_by_its_last_digits() -> None:
    with pytest.raises(FileFormatError) as refused:
        parse(CARD_V2)
    assert str(refused.value).startswith(
        "creditcard_v2.ofx: a credit-card statement (card …5678), not a bank account's: its lines are card "
        "charges and repayments, not customers' payments, and none is imported"
    )
    assert "6225880012345678" not in str(refused.value)


def test_a_credit_card_statement_beside_a_bank_statement_is_left_out_with_a_notice(tmp_path: Path) -> None:
    card = (FIXTURES / CARD_V2).read_text(encoding="utf-8")
    bank = as_bank_statement(card).split("<OFX>")[1].split("</SIGNONMSGSRSV1>")[1].split("</OFX>")[0]
    items = parse_text(tmp_path, card.replace("<CREDITCARDMSGSRSV1>", bank + "<CREDITCARDMSGSRSV1>"))
    assert len(lines(items)) == 3
    assert {item.origin.row for item in lines(items)} == {1, 2, 3}  # the bank statement's, not the card's
    assert len(statements(items)) == 1
    (notice,) = [item for item in items if isinstance(item, Notice)]
    assert notice.text.startswith("the credit-card statement of card …5678 (4 transactions) is left out")


INVESTMENT = """OFXHEADER:100
DATA:OFXSGML
VERSION:102

<OFX>{bank}<INVSTMTMSGSRSV1><INVSTMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<INVSTMTRS><DTASOF>20260306<CURDEF>USD<INVACCTFROM><BROKERID>broker.example<ACCTID>99887766</INVACCTFROM>
<INVTRANLIST><DTSTART>20260301<DTEND>20260306
<BUYSTOCK><INVBUY><INVTRAN><FITID>T1<DTTRADE>20260302</INVTRAN><SECID><UNIQUEID>037833100
<UNIQUEIDTYPE>CUSIP</SECID><UNITS>10<UNITPRICE>5<TOTAL>-50<SUBACCTSEC>CASH<SUBACCTFUND>CASH</INVBUY>
<BUYTYPE>BUY</BUYSTOCK>
<INVBANKTRAN><STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260303<TRNAMT>1000.00<FITID>T2<NAME>Deposit</STMTTRN>
<SUBACCTFUND>CASH</INVBANKTRAN>
</INVTRANLIST></INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1></OFX>
"""


def test_an_investment_statement_is_refused_naming_the_account_by_its_last_digits(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError) as refused:
        parse_text(tmp_path, INVESTMENT.format(bank=""))
    assert str(refused.value).startswith(
        "statement.ofx: an investment statement (account …7766), not a bank account's: its lines are "
        "a brokerage account's trades, income and cash transfers, not customers' payments, and none is "
        "imported"
    )
    assert "99887766" not in str(refused.value)


def test_an_investment_statement_beside_a_bank_statement_is_left_out_with_a_notice(tmp_path: Path) -> None:
    record = "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260305<TRNAMT>12.50<FITID>F1<NAME>X</STMTTRN>"
    bank = SGML.format(transactions=record).split("<OFX>")[1].split("</OFX>")[0]
    items = parse_text(tmp_path, INVESTMENT.format(bank=bank))
    assert [item.external_id for item in lines(items)] == ["ACC-1:F1"]
    assert len(statements(items)) == 1
    (notice,) = [item for item in items if isinstance(item, Notice)]
    assert notice.text.startswith("the investment statement of account …7766 (2 transactions) is left out")


def test_a_qfx_on_one_line_with_intuit_tags_and_closed_leaves_is_read() -> None:
    items = parse(QFX)
    interest, transfer = lines(items)
    assert interest.external_id == "000123456789:INT202603"
    assert interest.amount == Money(317, "USD")  # +3.17
    assert transfer.amount == Money(-50000, "USD")
    assert transfer.party == Party(name="Transfer to checking", bank_account="000987654321")
    assert transfer.references == ("Ref QFX-INV-9",)
    assert statements(items)[0].closing == Money(1000317, "USD")
    assert problems(items) == []


@pytest.mark.parametrize("name", [BANK_V1, QFX])
def test_external_ids_are_unique_and_the_same_on_every_read(name: str) -> None:
    first = [item.external_id for item in lines(parse(name))]
    assert first == [item.external_id for item in lines(parse(name))]
    assert len(set(first)) == len(first)


def test_a_transaction_without_fitid_gets_the_documented_composite_id(tmp_path: Path) -> None:
    record = "<STMTTRN><TRNTYPE>DEP<DTPOSTED>20260311<TRNAMT>5,00<NAME>Cash<MEMO>Till</STMTTRN>"
    (deposit,) = lines(parse_text(tmp_path, SGML.format(transactions=record)))
    assert deposit.external_id == "ACC-1:" + composite_id(
        "ofx", "ACC-1", "2026-03-11", 500, "EUR", "Cash", "Till", 1
    )


def test_an_overlong_fitid_is_hashed_to_fit_the_ledger_column(tmp_path: Path) -> None:
    fitid = "F" * 250
    record = f"<STMTTRN><TRNTYPE>DEP<DTPOSTED>20260311<TRNAMT>1.00<FITID>{fitid}</STMTTRN>"
    (deposit,) = lines(parse_text(tmp_path, SGML.format(transactions=record)))
    assert deposit.external_id == "ACC-1:" + composite_id("ofx", fitid)
    assert len(deposit.external_id) <= 200


def test_a_correction_without_an_action_it_knows_is_a_problem(tmp_path: Path) -> None:
    record = (
        "<STMTTRN><TRNTYPE>DEP<DTPOSTED>20260311<TRNAMT>1.00<FITID>9"
        "<CORRECTFITID>8<CORRECTACTION>UNDO</STMTTRN>"
    )
    (problem,) = problems(parse_text(tmp_path, SGML.format(transactions=record)))
    assert problem.reason == "transaction not readable: CORRECTACTION 'UNDO' is neither DELETE nor REPLACE"


def test_a_correction_without_its_action_is_a_problem_never_a_new_line_beside_the_one_it_corrects(
    tmp_path: Path,
) -> None:
    record = "<STMTTRN><TRNTYPE>DEP<DTPOSTED>20260311<TRNAMT>1.00<FITID>9<CORRECTFITID>8</STMTTRN>"
    items = parse_text(tmp_path, SGML.format(transactions=record))
    assert lines(items) == []
    (problem,) = problems(items)
    assert problem.reason.startswith(
        "transaction not readable: CORRECTFITID '8' without a CORRECTACTION (DELETE or REPLACE), which "
        "the OFX spec requires with it"
    )


def test_an_sgml_file_cut_short_keeps_what_was_read_and_reports_the_rest(tmp_path: Path) -> None:
    text = (FIXTURES / BANK_V1).read_text(encoding="cp1252")
    items = parse_text(tmp_path, text[: text.index("<FITID>202603030002")])
    assert [item.external_id for item in lines(items)] == [
        f"{ACCOUNT}:202603020001",
        f"{ACCOUNT}:202603030001",
    ]
    assert problems(items)[-1].reason.startswith("the file ends with <OFX> still open")


def test_a_file_without_an_ofx_element_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="no <OFX> element"):
        parse_text(tmp_path, "OFXHEADER:100\nDATA:OFXSGML\n\nnothing here\n")


def test_ofx_2_with_a_dtd_is_refused(tmp_path: Path) -> None:
    text = '<?xml version="1.0"?>\n<!DOCTYPE OFX [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<OFX>&x;</OFX>'
    with pytest.raises(FileFormatError, match="broken"):
        parse_text(tmp_path, text)


@pytest.mark.parametrize(
    ("written", "minor"),
    [("1,234.56", 123456), ("1.234,56", 123456), ("-12,5", -1250), ("+3", 300), (" -0.07 ", -7)],
)
def test_amounts_are_read_with_either_decimal_separator(tmp_path: Path, written: str, minor: int) -> None:
    record = f"<STMTTRN><TRNTYPE>DEP<DTPOSTED>20260311<TRNAMT>{written}<FITID>1</STMTTRN>"
    (deposit,) = lines(parse_text(tmp_path, SGML.format(transactions=record)))
    assert deposit.amount == Money(minor, "EUR")


@pytest.mark.parametrize("written", ["1e3", "12.345", "--1", "1,234,567"])
def test_amounts_that_are_not_exact_money_are_problems(tmp_path: Path, written: str) -> None:
    record = f"<STMTTRN><TRNTYPE>DEP<DTPOSTED>20260311<TRNAMT>{written}<FITID>1</STMTTRN>"
    (problem,) = problems(parse_text(tmp_path, SGML.format(transactions=record)))
    assert problem.origin.row == 1
    assert problem.reason.startswith("transaction not readable:")


def test_one_accounts_error_answer_beside_anothers_statement_is_a_problem(tmp_path: Path) -> None:
    text = (
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS>"
        "<CODE>2003<SEVERITY>ERROR<MESSAGE>Account not found</STATUS></STMTTRNRS><STMTTRNRS><TRNUID>2"
        "<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>EUR<BANKACCTFROM><BANKID>1<ACCTID>DE1"
        "</BANKACCTFROM><BANKTRANLIST><STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260305<TRNAMT>12.50<FITID>F1"
        "<NAME>X</STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )
    items = parse_text(tmp_path, text)
    assert len(lines(items)) == 1
    (missing,) = problems(items)
    assert missing.header
    assert missing.reason.endswith("the bank answered with errors: code 2003 (Account not found)")


def test_a_card_statement_beside_the_banks_error_answer_for_the_bank_account_is_refused_with_its_code(
    tmp_path: Path,
) -> None:
    failed = (
        "<BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID><STATUS><CODE>2003</CODE><SEVERITY>ERROR</SEVERITY>"
        "<MESSAGE>Account not found</MESSAGE></STATUS></STMTTRNRS></BANKMSGSRSV1>"
    )
    card = (FIXTURES / CARD_V2).read_text(encoding="utf-8")
    with pytest.raises(FileFormatError) as refused:
        parse_text(tmp_path, card.replace("<CREDITCARDMSGSRSV1>", failed + "<CREDITCARDMSGSRSV1>"))
    assert str(refused.value).startswith(
        "statement.ofx: no bank statement, the bank answered with an error: code 2003 (Account not found); "
        "beside it a credit-card statement (card …5678), not a bank account's"
    )


def test_a_header_claiming_utf8_for_a_file_that_is_not_is_not_believed(tmp_path: Path) -> None:
    text = (
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nENCODING:UTF-8\nCHARSET:NONE\n\n<OFX><BANKMSGSRSV1>"
        "<STMTTRNRS><STMTRS><CURDEF>EUR<BANKACCTFROM><BANKID>1<ACCTID>DE1</BANKACCTFROM><BANKTRANLIST>"
        "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260305<TRNAMT>12.50<FITID>F1<NAME>Café Müller Bäckerei"
        "<MEMO>Rechnung für März, Grüße</STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )
    path = tmp_path / "statement.ofx"
    path.write_bytes(text.encode("cp1252"))
    (paid,) = lines(list(OfxParser().parse(str(path), path.name)))
    assert paid.party.name == "Café Müller Bäckerei"


def test_a_header_claiming_windows_1252_for_a_chinese_file_is_not_believed(tmp_path: Path) -> None:
    record = "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260305<TRNAMT>12.50<FITID>F1<NAME>上海华东机电设备有限公司"
    path = tmp_path / "statement.ofx"
    path.write_bytes(SGML.format(transactions=record + "<MEMO>货款 INV-1</STMTTRN>").encode("gbk"))
    (paid,) = lines(list(OfxParser().parse(str(path), path.name)))
    assert (paid.party.name, paid.references) == ("上海华东机电设备有限公司", ("货款 INV-1",))


def test_a_banks_error_answer_instead_of_a_statement_is_refused_with_its_code(tmp_path: Path) -> None:
    answer = (
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500"
        "<SEVERITY>ERROR<MESSAGE>Signon invalid</STATUS><DTSERVER>20260306083000<LANGUAGE>ENG</SONRS>"
        "</SIGNONMSGSRSV1></OFX>\n"
    )
    with pytest.raises(
        FileFormatError, match=r"the bank answered with an error: code 15500 \(Signon invalid\)"
    ):
        parse_text(tmp_path, answer)


def test_an_empty_sgml_element_keeps_the_elements_after_it_in_their_aggregate(tmp_path: Path) -> None:
    text = (
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD\n"
        "<BANKACCTFROM><BANKID>121000248<BRANCHID><ACCTID>9876543210<ACCTTYPE>CHECKING</BANKACCTFROM>\n"
        "<BANKTRANLIST><STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260305<TRNAMT>1200.00<FITID>F1001<CHECKNUM>\n"
        "<NAME>Northwind Traders Ltd<MEMO>INV-000101</STMTTRN></BANKTRANLIST>\n"
        "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )
    items = parse_text(tmp_path, text)
    assert problems(items) == []
    [credit] = lines(items)
    assert (credit.account, credit.party.name, credit.references) == (
        "9876543210",
        "Northwind Traders Ltd",
        ("INV-000101",),
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("<OFX>", '<OFX xmlns="http://ofx.net/types/2003/04">'),  # a default namespace
        ('<?xml version="1.0"', '\r\n<?xml version="1.0"'),  # a line break before the declaration
    ],
)
def test_an_ofx_2_file_is_read_whatever_namespace_its_elements_are_in(
    tmp_path: Path, before: str, after: str
) -> None:
    text = (FIXTURES / "checking_v2_corrections_bom.ofx").read_text("utf-8-sig").replace(before, after, 1)
    assert after in text
    read, plain = parse_text(tmp_path, text), parse("checking_v2_corrections_bom.ofx")
    assert [problem.reason for problem in problems(read)] == [problem.reason for problem in problems(plain)]
    assert [document.external_id for document in lines(read)] == [
        document.external_id for document in lines(plain)
    ]
    assert lines(read)


def test_an_amount_written_with_more_decimals_than_its_currency_has_is_a_problem_even_in_zeros(
    tmp_path: Path,
) -> None:
    record = "<STMTTRN><TRNTYPE>DEP<DTPOSTED>20260311<TRNAMT>{}<FITID>{}</STMTTRN>"
    amounts = ("1,000", "1000.00", "1000", "1,5")
    transactions = "".join(record.format(amount, number) for number, amount in enumerate(amounts))
    text = SGML.format(transactions=transactions).replace("EUR", "JPY").replace("10.00", "3000")
    items = parse_text(tmp_path, text)
    (refused, fraction) = problems(items)
    assert "1.000 JPY is written with 3 decimals, JPY has 0: a separator grouping thousands" in refused.reason
    assert "1.5 JPY has more decimals than JPY allows" in fraction.reason
    assert [line.amount for line in lines(items)] == [Money(1000, "JPY"), Money(1000, "JPY")]
    dinars = SGML.format(transactions=record.format("1,500", "K")).replace("EUR", "KWD")
    (dinar,) = lines(parse_text(tmp_path, dinars))
    assert dinar.amount == Money(1500, "KWD")  # OFX writes a decimal comma where the bank's locale does
