from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from adapters.statements.common import composite_id
from adapters.statements.mt940 import Mt940Parser
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
GERMAN = "sparkasse_two_statements_latin1.sta"
CHINESE = "icbc_statement_gbk.sta"
ACCOUNT = "60050101/7405500001"
GUESSED = "the text encoding was guessed as cp1252: check that accented letters read right"

MINIMAL = """:20:STMT
:25:NL91ABNA0417164300
:28C:7/1
:60F:C260310EUR100,00
{lines}
:62F:C260311EUR{closing}
"""


def parse(name: str) -> list[Parsed]:
    return list(Mt940Parser().parse(str(FIXTURES / name), name))


def parse_text(tmp_path: Path, text: str, encoding: str = "utf-8") -> list[Parsed]:
    path = tmp_path / "statement.sta"
    path.write_bytes(text.encode(encoding))
    return list(Mt940Parser().parse(str(path), "statement.sta"))


def lines(items: list[Parsed]) -> list[Document]:
    return [item for item in items if isinstance(item, Document)]


def problems(items: list[Parsed]) -> list[Problem]:
    return [item for item in items if isinstance(item, Problem)]


def statements(items: list[Parsed]) -> list[Statement]:
    return [item for item in items if isinstance(item, Statement)]


def test_the_parser_fits_the_document_parser_port() -> None:
    parser: DocumentParser = Mt940Parser()  # checked by mypy
    assert parser.format == "mt940"


@pytest.mark.parametrize("name", [GERMAN, CHINESE])
def test_the_parser_recognises_mt940_by_its_field_tags(name: str) -> None:
    assert Mt940Parser().sniff((FIXTURES / name).read_bytes()[:4096], name)


@pytest.mark.parametrize(
    "head",
    [
        b"Date;Amount;Payee\n2026-03-01;12.50;ACME\n",
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">',
        b"OFXHEADER:100\n<OFX>",
        b"note: the :20: field is described below\n",
    ],
)
def test_other_files_are_not_sniffed_as_mt940(head: bytes) -> None:
    assert not Mt940Parser().sniff(head, "statement.txt")


def test_each_statement_of_a_file_has_its_own_header_and_balances() -> None:
    first, second = statements(parse(GERMAN))
    assert first == Statement(
        source="mt940",
        account=ACCOUNT,
        currency="EUR",
        origin=first.origin,
        statement_id="00057/001",
        period_start=dt.date(2026, 3, 2),
        period_end=dt.date(2026, 3, 4),
        opening=Money(1234567, "EUR"),
        closing=Money(1209532, "EUR"),
        period_from_balances=True,
    )
    assert (second.statement_id, second.opening, second.closing) == (
        "00058/001",
        Money(1209532, "EUR"),
        Money(1314232, "EUR"),
    )
    assert (first.origin.row, second.origin.row) == (2, 16)
    assert first.origin.raw.startswith(":20:STARTUMSE\n:25:60050101/7405500001")


def test_a_credit_line_reads_the_german_structured_details_into_party_and_references() -> None:
    credit = lines(parse(GERMAN))[0]
    assert credit.amount == Money(150000, "EUR")
    assert credit.date == dt.date(2026, 3, 3)
    assert credit.value_date == dt.date(2026, 3, 3)
    assert credit.account == ACCOUNT
    assert credit.party == Party(
        name="Müller Maschinenbau GmbH & Co. KG", bank_account="DE89370400440532013000"
    )
    # SVWZ split across ?21/?22 is joined; the EREF follows; NONREF is no reference
    assert credit.references == ("Rechnung RE-2026-0142 Kd.-Nr. 10042", "RE-2026-0142")
    assert credit.origin.row == 6
    assert credit.origin.raw.startswith(":61:2603030303CR1500,00NTRFNONREF//TR2603030001\n:86:166?00")


def test_a_direct_debit_is_negative_and_keeps_end_to_end_customer_and_mandate_references() -> None:
    debit = lines(parse(GERMAN))[1]
    assert debit.amount == Money(-25035, "EUR")
    assert debit.party == Party(name="Stadtwerke Köln AG", bank_account="DE02120300000000202051")
    assert debit.references == ("Strom Februar 2026", "LS-77821", "KREF-88812", "MAND-2019-004")
    assert debit.origin.row == 8


def test_an_rc_reversal_takes_the_money_back_out_and_is_marked_rvsl() -> None:
    reversal = lines(parse(GERMAN))[2]
    assert reversal.amount == Money(-150000, "EUR")
    assert reversal.date == dt.date(2026, 3, 4)
    assert reversal.reverses is None
    assert reversal.references == ("Rueckbuchung falsche Empfaengerdaten", "RE-2026-0142", "RVSL")


def test_an_rd_reversal_brings_the_money_back_in(tmp_path: Path) -> None:
    text = MINIMAL.format(
        lines=":61:2603110311RD25,00NDDTNONREF//B1\n:86:Rueckgabe Lastschrift", closing="125,00"
    )
    (line,) = lines(parse_text(tmp_path, text))
    assert line.amount == Money(2500, "EUR")
    assert line.references == ("Rueckgabe Lastschrift", "RVSL")


@pytest.mark.parametrize("kind", ["NRTI", "FRTI"])
def test_a_returned_item_of_either_transaction_type_is_a_return(tmp_path: Path, kind: str) -> None:
    text = MINIMAL.format(lines=f":61:2603110311DR25,00{kind}NONREF//B1\n:86:Rueckgabe", closing="75,00")
    (line,) = lines(parse_text(tmp_path, text))
    assert (line.amount, line.bank_reversal) == (Money(-2500, "EUR"), True)


def test_an_amount_longer_than_swift_allows_is_refused_never_cut_short(tmp_path: Path) -> None:
    line = ":61:2603100310CR1,00000000000000000000000000001NTRFNONREF//B-1\n:86:Zahlung"
    (problem,) = problems(parse_text(tmp_path, MINIMAL.format(lines=line, closing="101,00")))
    assert "at most 15 characters" in problem.reason


def test_a_malformed_statement_line_becomes_a_problem_and_the_rest_of_the_statement_parses() -> None:
    items = parse(GERMAN)
    reported = {problem.origin.row: problem.reason for problem in problems(items)}
    assert reported == {
        20: "statement line :61: not readable: does not match the MT940 layout of :61:",
        24: "statement line :61: not readable: month must be in 1..12",
    }
    (bad,) = [problem for problem in problems(items) if problem.origin.row == 20]
    assert (
        bad.origin.raw
        == ":61:2603050305XR99,00NTRFNONREF//TR2603050001\n:86:166?00SEPA-GUTSCHRIFT?20SVWZ+kaputte Zeile"
    )
    after = [line for line in lines(items) if (line.origin.row or 0) > 20]
    assert [line.amount for line in after] == [Money(98000, "EUR"), Money(-4200, "EUR")]
    assert after[1].references == ("Kontofuehrung Februar",)
    assert after[1].party == Party()


def test_a_latin1_file_is_decoded_without_mojibake() -> None:
    line = next(line for line in lines(parse(GERMAN)) if line.amount == Money(98000, "EUR"))
    assert line.party == Party(name="Schäfer & Söhne OHG", bank_account="DE75512108001245126199")
    assert line.references == ("Kd-Nr. 10077 Abschlag März",)


def test_a_central_european_cp1250_statement_is_read_as_cp1250_not_windows_1252(tmp_path: Path) -> None:
    german = (FIXTURES / GERMAN).read_bytes().decode("cp1252")
    for western, czech in [
        ("Müller Maschinenbau GmbH", "Dvořák Strojírny s.r.o."),
        ("Stadtwerke Köln AG", "Kovář a synové"),
        ("Schäfer & Söhne OHG", "Kovář a synové"),
        ("M?22ärz", "M?22ěsíc"),
    ]:
        german = german.replace(western, czech)
    items = parse_text(tmp_path, german, "cp1250")
    line = next(line for line in lines(items) if line.amount == Money(98000, "EUR"))
    assert (line.party.name, line.references) == ("Kovář a synové", ("Kd-Nr. 10077 Abschlag Měsíc",))
    assert lines(items)[0].party.name == "Dvořák Strojírny s.r.o. & Co. KG"  # not "Dvoøák"


def test_a_statement_whose_encoding_was_guessed_says_so_before_its_lines() -> None:
    items = parse(GERMAN)
    assert items[0] == Notice(Origin(GERMAN), GUESSED)
    assert not [item for item in parse(CHINESE) if isinstance(item, Notice)]  # GBK: no guess


def test_a_gbk_file_from_a_chinese_bank_is_decoded_and_its_free_text_kept_whole() -> None:
    items = parse(CHINESE)
    assert [line.amount for line in lines(items)] == [
        Money(5800000, "CNY"),
        Money(-120050, "CNY"),
        Money(350000, "CNY"),
    ]
    first = lines(items)[0]
    assert first.references == (
        "货款 上海华东机电设备有限公司 合同HT-2026-0031 发票号INV-2026-0311",
        "HT-2026-0031",
    )
    (statement,) = statements(items)
    assert (statement.account, statement.statement_id, statement.closing) == (
        "310066726018010123456",
        "68/1",
        Money(106029950, "CNY"),
    )


def test_a_short_latin1_statement_is_read_as_windows_1252_not_a_rarer_code_page(tmp_path: Path) -> None:
    details = ":86:166?00SEPA-GUTSCHRIFT?20SVWZ+Abschlag März?32Schäfer Söhne"
    text = MINIMAL.format(lines=f":61:2603040304CR200,00NTRFNONREF\n{details}", closing="300,00")
    path = tmp_path / "week.sta"
    path.write_bytes(text.encode("latin-1"))
    (line,) = lines(list(Mt940Parser().parse(str(path), "week.sta")))
    assert (line.references, line.party.name) == (("Abschlag März",), "Schäfer Söhne")


def test_an_explicit_encoding_overrides_detection(tmp_path: Path) -> None:
    text = MINIMAL.format(lines=":61:2603110311C5,00NTRFNONREF\n:86:Büro", closing="105,00")
    path = tmp_path / "statement.sta"
    path.write_bytes(text.encode("cp850"))
    (line,) = lines(list(Mt940Parser(encoding="cp850").parse(str(path), "statement.sta")))
    assert line.references == ("Büro",)


def test_external_ids_follow_the_documented_composite_recipe() -> None:
    credit = lines(parse(GERMAN))[0]  # a bank reference names it: its text is left out
    assert credit.external_id == composite_id(
        "mt940", ACCOUNT, "2026-03-03", "2026-03-03", 150000, "EUR", "C", "NONREF", "TR2603030001", "", 1
    )
    assert not credit.content_id


def test_a_line_with_a_bank_reference_keeps_its_id_when_its_text_changes(tmp_path: Path) -> None:
    line = (
        ":61:2603030303CR1500,00NTRFNONREF//TR2603030001\n:86:166?00GUTSCHRIFT?20SVWZ+RE-0142{more}?32Mueller"
    )
    first = lines(parse_text(tmp_path, MINIMAL.format(lines=line.format(more=""), closing="1600,00")))
    again = lines(
        parse_text(tmp_path, MINIMAL.format(lines=line.format(more="?21 Danke"), closing="1600,00"))
    )
    assert first[0].external_id == again[0].external_id
    assert first[0].references != again[0].references


def test_a_placeholder_reference_is_no_reference(tmp_path: Path) -> None:
    line = ":61:2603030303CR1500,00NTRF\n:86:166?00GUTSCHRIFT?20EREF+NOTPROVIDED?21SVWZ+Abschlag Maerz"
    (credit,) = lines(parse_text(tmp_path, MINIMAL.format(lines=line, closing="1600,00")))
    assert credit.references == ("Abschlag Maerz",)
    assert credit.content_id  # no bank reference: its id is made of its content


def test_a_line_in_overlapping_exports_keeps_its_id_wherever_it_stands(tmp_path: Path) -> None:
    first = ":61:2603020302C100,00NTRFNONREF\n:86:166?00GUTSCHRIFT?20SVWZ+RE 1001?32Alpha"
    second = ":61:2603030303C200,00NTRFNONREF\n:86:166?00GUTSCHRIFT?20SVWZ+RE 1002?32Beta"
    third = ":61:2603050305C50,00NTRFNONREF\n:86:166?00GUTSCHRIFT?20SVWZ+RE 1003?32Gamma"
    week = parse_text(tmp_path, MINIMAL.format(lines=f"{first}\n{second}", closing="400,00"))
    later = parse_text(tmp_path, MINIMAL.format(lines=f"{second}\n{third}", closing="350,00"))
    assert lines(week)[1].external_id == lines(later)[0].external_id
    assert lines(week)[0].external_id != lines(later)[1].external_id


def test_the_remittance_continued_in_subfields_60_to_63_is_one_reference(tmp_path: Path) -> None:
    details = (
        ":86:166?00SEPA-GUTSCHRIFT?20EREF+E2E-99?21SVWZ+Rechnungen RE-3001?22 RE-3005?32ACME GmbH"
        "?60RE-3006 RE-3007"
    )
    items = parse_text(
        tmp_path, MINIMAL.format(lines=f":61:2603110311C5,00NTRFNONREF\n{details}", closing="105,00")
    )
    (line,) = lines(items)
    assert line.references == ("Rechnungen RE-3001 RE-3005 RE-3006 RE-3007", "E2E-99")


@pytest.mark.parametrize("name", [GERMAN, CHINESE])
def test_external_ids_are_unique_and_the_same_on_every_read(name: str) -> None:
    first = [line.external_id for line in lines(parse(name))]
    assert first == [line.external_id for line in lines(parse(name))]
    assert len(set(first)) == len(first)


def test_two_identical_payments_on_one_day_stay_two_lines(tmp_path: Path) -> None:
    same = ":61:2603110311C10,00NTRFNONREF\n:86:Spende"
    items = parse_text(tmp_path, MINIMAL.format(lines=f"{same}\n{same}", closing="120,00"))
    first, second = lines(items)
    assert first.amount == second.amount == Money(1000, "EUR")
    assert first.external_id != second.external_id


def test_a_line_without_details_and_a_non_swift_field_are_read(tmp_path: Path) -> None:
    text = MINIMAL.format(
        lines=":61:2603110311D7,50NCHGNONREF//FEE1\n:NS:22Gebuehr\n:61:2603110311C1,00NTRF",
        closing="93,50",
    )
    fee, other = lines(parse_text(tmp_path, text))
    assert fee.amount == Money(-750, "EUR")
    assert other.amount == Money(100, "EUR")
    assert fee.references == ()


def test_text_before_the_first_field_is_reported_and_the_statement_still_read(tmp_path: Path) -> None:
    text = "BANK EXPORT 2026-03-11\n" + MINIMAL.format(
        lines=":61:2603110311C1,00NTRFNONREF", closing="101,00"
    )
    items = parse_text(tmp_path, text)
    (stray,) = problems(items)
    assert (stray.origin.row, stray.origin.raw, stray.reason) == (
        1,
        "BANK EXPORT 2026-03-11",
        "text outside any MT940 field, ignored",
    )
    assert len(lines(items)) == 1


def test_a_file_cut_short_before_its_closing_balance_says_so_and_keeps_its_lines(tmp_path: Path) -> None:
    text = (FIXTURES / GERMAN).read_text(encoding="latin-1")
    cut = text[: text.rindex(":62F:")]
    items = parse_text(tmp_path, cut, encoding="latin-1")
    (last_header,) = [p for p in items if isinstance(p, Problem) and p.header]
    assert "has no closing balance (:62F: or :62M:): was the file cut short?" in last_header.reason
    assert len([d for d in items if isinstance(d, Document)]) == len(
        [d for d in parse(GERMAN) if isinstance(d, Document)]
    )


def test_a_utf8_file_with_a_byte_order_mark_is_read_from_its_first_field(tmp_path: Path) -> None:
    text = MINIMAL.format(lines=":61:2603110311C1,00NTRFNONREF", closing="101,00")
    items = parse_text(tmp_path, text, encoding="utf-8-sig")
    assert problems(items) == []
    assert statements(items)[0].statement_id == "7/1"


def test_a_file_without_mt940_fields_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="no MT940 fields"):
        parse_text(tmp_path, "Date;Amount\n2026-03-01;12.50\n")


def test_lines_of_a_statement_without_an_opening_balance_are_problems_not_guesses(tmp_path: Path) -> None:
    text = ":20:STMT\n:25:NL91ABNA0417164300\n:28C:8/1\n:61:2603110311C1,00NTRFNONREF\n:86:x\n"
    items = parse_text(tmp_path, text)
    assert [(problem.origin.row, problem.reason) for problem in problems(items)] == [
        (4, "statement line :61: not readable: no currency (the statement's :60F: is missing or unreadable)"),
        (1, "statement without an account (:25:) or a balance with a currency (:60F:)"),
    ]


def test_an_amount_off_swifts_layout_is_a_problem_never_a_shorter_amount(tmp_path: Path) -> None:
    text = (
        ":20:STMT7\n:25:6222021000001234\n:28C:7/1\n:60F:C260301CNY0,00\n"
        ":61:2603050305C1.500,00NTRFNONREF\n:86:KASH00001 货款\n"
        ":61:2603060306C1200.50NTRFNONREF\n:86:SMEZJ00001 货款\n"
        ":61:2603070307C12O0,00NTRFNONREF\n"
        ":61:2603080308C1200,50NTRFNONREF\n:62F:C260308CNY1200,50\n-\n"
    )
    items = parse_text(tmp_path, text)
    assert [line.amount for line in lines(items)] == [Money(120050, "CNY")]
    assert [problem.origin.row for problem in problems(items)] == [5, 7, 9]
    assert all("decimal comma" in problem.reason for problem in problems(items))


def test_a_returned_direct_debit_carries_the_return_reason_its_remittance_names_with_its_meaning() -> None:
    (line,) = lines(parse("mt940_direct_debit_returned.sta"))  # GVC 109, SVWZ+INV-55 AM04
    assert (line.bank_reversal, line.return_reason) == (True, "AM04 insufficient funds")


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        ("/EREF/E2E-1//RTRN/MS03/NAME/Klant B/REMI/INV 7", "MS03 reason not specified by the agent"),
        ("109?00RUECKLASTSCHRIFT?20RTRN+MD06?21SVWZ+INV 7", "MD06 refund requested by the end customer"),
        ("/RTRN/XY99/REMI/INV 7", "XY99"),  # a code the table does not know: shown as given
        ("109?00SEPA-DD SOLL RUECKBEL. CORE?20EREF+E2E-9?32MAX MUSTERMANN?34912", "return key 912 (?34)"),
        ("109?00RUECKLASTSCHRIFT?20SVWZ+INV 7?32Kunde Z", None),  # no reason given
    ],
)
def test_a_return_carries_the_reason_its_details_give(
    tmp_path: Path, details: str, reason: str | None
) -> None:
    text = MINIMAL.format(lines=f":61:2603110311DR25,00NRTINONREF//B1\n:86:{details}", closing="75,00")
    (line,) = lines(parse_text(tmp_path, text))
    assert (line.bank_reversal, line.return_reason, line.return_words) == (True, reason, None)


def test_a_return_key_that_is_no_number_is_the_banks_words_apart_from_its_code(tmp_path: Path) -> None:
    details = "109?00RUECKLASTSCHRIFT?20RTRN+MD07?34Inhaber verstorben"
    text = MINIMAL.format(lines=f":61:2603110311DR25,00NRTINONREF//B1\n:86:{details}", closing="75,00")
    (line,) = lines(parse_text(tmp_path, text))
    assert (line.return_reason, line.return_words) == ("MD07 end customer deceased", "Inhaber verstorben")


@pytest.mark.parametrize(
    ("details", "reason", "words"),
    [
        ("/EREF/E2E-1//RTRN/ERBE verstorben/REMI/INV 7", None, "ERBE verstorben"),
        ("109?00RUECKLASTSCHRIFT?20RTRN+Tod?21SVWZ+INV 7", None, "Tod"),
        ("/RTRN/Erbe AM04/REMI/INV 7", "AM04 insufficient funds", "Erbe AM04"),  # a known code in the words
    ],
)
def test_a_return_reason_in_words_after_rtrn_is_the_banks_words_not_a_code(
    tmp_path: Path, details: str, reason: str | None, words: str
) -> None:
    text = MINIMAL.format(lines=f":61:2603110311DR25,00NRTINONREF//B1\n:86:{details}", closing="75,00")
    (line,) = lines(parse_text(tmp_path, text))
    assert (line.return_reason, line.return_words) == (reason, words)


def test_a_line_that_is_no_return_carries_no_return_reason(tmp_path: Path) -> None:
    transfer = ":61:2603110311D25,00NTRFNONREF//B1\n:86:/RTRN/MS03/REMI/AM04"
    text = MINIMAL.format(lines=transfer, closing="75,00")
    (line,) = lines(parse_text(tmp_path, text))
    assert (line.bank_reversal, line.return_reason) == (False, None)


def test_an_amount_written_with_more_decimals_than_its_currency_has_is_a_problem_even_in_zeros(
    tmp_path: Path,
) -> None:
    text = (
        ":20:STMT8\n:25:JP12345/678\n:28C:8/1\n:60F:C260301JPY0,\n"
        ":61:2603020302CR1,000NTRFNONREF//J-1\n"
        ":61:2603020302CR1000,NTRFNONREF//J-2\n"
        ":61:2603020302CR1000,00NTRFNONREF//J-3\n:62F:C260302JPY2000,\n-\n"
    )
    items = parse_text(tmp_path, text)
    assert [(problem.origin.row, problem.reason) for problem in problems(items)] == [
        (
            5,
            "statement line :61: not readable: 1.000 JPY is written with 3 decimals, JPY has 0: a separator "
            "grouping thousands, or decimals that are not there; never rounded, correct it at the source",
        )
    ]
    assert [line.amount for line in lines(items)] == [Money(1000, "JPY"), Money(1000, "JPY")]
