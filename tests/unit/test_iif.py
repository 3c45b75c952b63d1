from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest

from adapters.exports.iif import IifParser
from connector.documents import Document, DocumentParser, Notice, Origin, Parsed, Problem
from connector.errors import FileFormatError
from connector.money import Money

INDEX_KEY = bytes(range(32))  # a key ring's index key
FIXTURE = Path(__file__).parents[1] / "fixtures" / "exports" / "quickbooks_desktop.iif"
GUESSED = "the text encoding was guessed as cp1252: check that accented letters read right"
COLUMNS = (
    "!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\n"
    "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\n"
    "!ENDTRNS\n"
)
PAYMENT = (
    "TRNS\t\tPAYMENT\t03/05/26\tUndeposited Funds\tBlue Sky Cafe\t80.00\t\t\n"
    "SPL\t\tPAYMENT\t03/05/26\tAccounts Receivable\tBlue Sky Cafe\t-80.00\t\t\n"
    "ENDTRNS\n"
)


def _parse(path: Path, name: str = "qb.iif", currency: str = "USD", **options: Any) -> list[Parsed]:
    return list(IifParser(currency, **{"index_key": lambda: INDEX_KEY, **options}).parse(path, name))


def _iif(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "qb.iif"
    path.write_bytes(text.encode(encoding))
    return path


def _documents(found: list[Parsed]) -> list[Document]:
    return [item for item in found if isinstance(item, Document)]


def _problems(found: list[Parsed]) -> list[Problem]:
    return [item for item in found if isinstance(item, Problem)]


def test_the_parser_is_a_document_parser() -> None:
    parser: DocumentParser = IifParser("USD", index_key=lambda: INDEX_KEY)
    assert parser.format == "qb_iif"


def test_an_invoice_block_is_an_invoice_of_its_receivable_line() -> None:
    invoice = _documents(_parse(FIXTURE))[0]
    assert (invoice.kind, invoice.source, invoice.external_id) == ("invoice", "qb_iif", "1201")
    assert invoice.amount == Money.of("1500.00", "USD")
    assert invoice.number == "1001"
    assert invoice.date == dt.date(2026, 3, 2)
    assert invoice.due_date == dt.date(2026, 4, 1)
    assert invoice.party.name == "Café Olé LLC"  # Windows-1252 in the file
    assert invoice.references == ("March consulting",)
    assert invoice.origin.row == 6
    assert invoice.origin.raw.splitlines()[0].startswith("TRNS\t1201\tINVOICE")


def test_a_payment_block_is_a_payment_of_its_deposit_line() -> None:
    payment = _documents(_parse(FIXTURE))[1]
    assert (payment.kind, payment.amount, payment.number) == ("payment", Money.of("1000", "USD"), "4471")
    assert payment.date == dt.date(2026, 3, 9)  # 3/9/26
    assert payment.references == ("Partial, inv 1001",)


def test_a_credit_memo_is_a_credit_note_with_a_positive_amount() -> None:
    credit = _documents(_parse(FIXTURE))[2]
    assert (credit.kind, credit.amount, credit.number) == ("credit_note", Money.of("200", "USD"), "CM-12")


def test_an_unbalanced_block_is_a_problem_naming_its_lines_and_the_rest_goes_on() -> None:
    found = _parse(FIXTURE)
    unbalanced = _problems(found)[0]
    assert unbalanced.reason == "lines 15–17: unbalanced: the amounts sum to 50.00, not 0"
    assert unbalanced.origin.row == 15
    assert len(unbalanced.origin.raw.splitlines()) == 3
    assert _documents(found)[-1].external_id == "1210"


def test_a_transaction_type_other_than_payment_invoice_or_credit_memo_is_a_problem() -> None:
    problem = _problems(_parse(FIXTURE))[1]
    assert problem.reason.startswith("lines 18–20: transaction type 'DEPOSIT' is not read")


def test_an_iif_file_whose_encoding_was_guessed_says_so_before_its_transactions() -> None:
    assert _parse(FIXTURE)[0] == Notice(Origin("qb.iif"), GUESSED)


def test_list_records_are_passed_over() -> None:
    found = _parse(FIXTURE)
    assert len([item for item in found if not isinstance(item, Notice)]) == 6
    assert not any("CUST" in item.reason for item in _problems(found))


def test_without_trnsid_the_id_is_a_stable_digest_numbered_when_a_transaction_repeats(tmp_path: Path) -> None:
    path = _iif(tmp_path, COLUMNS + PAYMENT + PAYMENT)
    first, second = _documents(_parse(path))
    assert first.external_id.startswith("iif-")
    assert len(first.external_id) == 28
    assert second.external_id == first.external_id + "#2"
    assert [doc.external_id for doc in _documents(_parse(path))] == [first.external_id, second.external_id]
    assert second.known_as == (first.known_as[0] + "#2",)


def test_without_trnsid_the_id_is_keyed_so_that_no_one_without_the_key_can_confirm_who_paid() -> None:
    text = "\x1f".join(
        [
            "PAYMENT",
            "2026-03-09",
            "Café Olé LLC",
            "4471",
            "Undeposited Funds=1000.00",
            "Accounts Receivable=-1000.00",
        ]
    ).encode()
    unkeyed = "iif-" + hashlib.sha256(text).hexdigest()[:20]
    keyed = "iif-" + hmac.new(INDEX_KEY, b"qb_iif\x00" + text, hashlib.sha256).hexdigest()[:24]

    payment = _documents(_parse(FIXTURE))[1]

    assert payment.external_id == keyed
    assert (
        _documents(_parse(FIXTURE, index_key=lambda: bytes(32)))[1].external_id != keyed
    )  # another key, another id
    # The former recipe's id is only looked up (a file imported before keeps its documents), never given.
    assert unkeyed == "iif-aa4336c8d8024b2f1f34"
    assert payment.known_as == (unkeyed,)
    assert unkeyed[4:] not in payment.external_id


def test_the_credit_note_of_a_discount_is_known_as_the_former_id_of_its_payments_note(tmp_path: Path) -> None:
    discounted = (
        "TRNS\t\tPAYMENT\t03/05/26\tUndeposited Funds\tBlue Sky Cafe\t76.00\t\t\n"
        "SPL\t\tPAYMENT\t03/05/26\tAccounts Receivable\tBlue Sky Cafe\t-80.00\t\t\n"
        "SPL\t\tPAYMENT\t03/05/26\tDiscounts Given\tBlue Sky Cafe\t4.00\t\t\n"
        "ENDTRNS\n"
    )
    payment, note = _documents(_parse(_iif(tmp_path, COLUMNS + discounted)))
    assert note.external_id == payment.external_id + ".kept"
    assert note.known_as == (payment.known_as[0] + ".kept",)


def test_a_voided_transaction_withdraws_the_one_of_its_trnsid_and_without_one_is_a_problem(
    tmp_path: Path,
) -> None:
    voided = (
        "TRNS\t101\tINVOICE\t03/05/26\tAccounts Receivable\tBlue Sky Cafe\t0.00\t7\tVOID: March\n"
        "SPL\t102\tINVOICE\t03/05/26\tSales\tBlue Sky Cafe\t0.00\t7\tVOID: March\n"
        "ENDTRNS\n"
    )
    unnamed = voided.replace("\t101\t", "\t\t")
    found = _parse(_iif(tmp_path, COLUMNS + voided + unnamed), currency="USD")
    (void,) = _documents(found)
    assert (void.external_id, void.reverses, void.withdrawn, void.kind) == (
        "101:withdrawn",
        "101",
        True,
        "invoice",
    )
    assert void.amount == Money(0, "USD")
    (problem,) = _problems(found)
    assert "a voided INVOICE (every amount 0) without a TRNSID" in problem.reason


def test_a_missing_endtrns_and_a_stray_split_are_problems(tmp_path: Path) -> None:
    stray = "SPL\t\tPAYMENT\t03/05/26\tAccounts Receivable\tX\t-1.00\t\t\n"
    unfinished = PAYMENT.removesuffix("ENDTRNS\n")
    found = _parse(_iif(tmp_path, COLUMNS + stray + unfinished + PAYMENT + unfinished))
    reasons = [problem.reason for problem in _problems(found)]
    assert reasons == [
        "line 4: SPL outside a transaction",
        "lines 5–6: no ENDTRNS before line 7",
        "lines 10–11: the file ends before ENDTRNS",
    ]
    assert len(_documents(found)) == 1


def test_an_unreadable_amount_or_date_is_a_problem(tmp_path: Path) -> None:
    bad_amount = PAYMENT.replace("\t80.00\t", "\t8O.00\t")
    bad_date = PAYMENT.replace("03/05/26", "2026.03.05")
    found = _parse(_iif(tmp_path, COLUMNS + bad_amount + bad_date))
    assert [problem.reason for problem in _problems(found)] == [
        "lines 4–6: line 4: AMOUNT '8O.00' is not an amount",
        "lines 7–9: DATE '2026.03.05' is not a date (MM/DD/YY or MM/DD/YYYY)",
    ]


def test_a_payment_with_the_deposit_side_negative_is_a_problem(tmp_path: Path) -> None:
    reversed_sides = (
        PAYMENT.replace("\t80.00\t", "\tX80.00\t").replace("-80.00", "80.00").replace("X80", "-80")
    )
    (problem,) = _parse(_iif(tmp_path, COLUMNS + reversed_sides))
    assert isinstance(problem, Problem)
    assert "TRNS amount is -80.00" in problem.reason


def test_a_currency_column_overrides_the_parser_currency(tmp_path: Path) -> None:
    columns = COLUMNS.replace("\tMEMO\n", "\tMEMO\tCURRENCY\n", 1)
    payment = PAYMENT.replace("\t80.00\t\t\n", "\t80.00\t\t\tCAD\n", 1)
    (document,) = _documents(_parse(_iif(tmp_path, columns + payment), currency="USD"))
    assert document.amount == Money.of("80", "CAD")


def test_the_parser_currency_is_used_without_a_currency_column(tmp_path: Path) -> None:
    (document,) = _documents(_parse(_iif(tmp_path, COLUMNS + PAYMENT), currency="CNY"))
    assert document.amount == Money.of("80", "CNY")


def test_a_file_that_is_not_iif_is_a_file_format_error(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="not an IIF file"):
        _parse(_iif(tmp_path, "Date,Amount\n2026-03-05,1.00\n"))


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"!TRNS\tTRNSID\tTRNSTYPE\r\n", True),
        (b"\xef\xbb\xbf!HDR\tPROD\tVER\n", True),
        (b"!ACCNT\tNAME\tACCNTTYPE\n", True),
        (b"Date,Amount\n", False),
        (b"!not iif\n", False),
    ],
)
def test_sniff_recognises_an_iif_head(head: bytes, expected: bool) -> None:
    assert IifParser("USD", index_key=lambda: INDEX_KEY).sniff(head, "x") is expected


def test_a_stray_quote_in_a_memo_is_text_and_swallows_no_following_line(tmp_path: Path) -> None:
    blocks = "".join(
        f"TRNS\t{n}\tINVOICE\t03/0{n}/26\tAccounts Receivable\tNorthwind\t{amount}\tQB-{n}\t\n"
        f"SPL\t{n}0\tINVOICE\t03/0{n}/26\tSales\t\t-{amount}\t\t{memo}\n"
        "ENDTRNS\n"
        for n, amount, memo in (
            (1, "1500.00", '"12 inch pipe'),
            (2, "700.00", '"Widgets, large"'),
            (3, "900.00", '6" pipe'),
        )
    )
    found = _parse(_iif(tmp_path, COLUMNS + blocks))
    assert _problems(found) == []
    assert [(d.number, d.references) for d in _documents(found)] == [
        ("QB-1", ('"12 inch pipe',)),
        ("QB-2", ("Widgets, large",)),
        ("QB-3", ('6" pipe',)),
    ]


def test_a_gbk_file_from_a_chinese_windows_is_read_as_chinese(tmp_path: Path) -> None:
    payment = PAYMENT.replace("Blue Sky Cafe", "杭州青禾科技有限公司")
    (document,) = _documents(_parse(_iif(tmp_path, COLUMNS + payment, "gbk"), currency="CNY"))
    assert document.party.name == "杭州青禾科技有限公司"


def test_a_windows_1252_file_of_latin_names_that_gb18030_would_decode_is_still_windows_1252(
    tmp_path: Path,
) -> None:
    payment = PAYMENT.replace("Blue Sky Cafe", "Müller Gärten")  # ü+l, ä+r: GB18030 pairs
    (document,) = _documents(_parse(_iif(tmp_path, COLUMNS + payment, "cp1252")))
    assert document.party.name == "Müller Gärten"


@pytest.mark.parametrize(
    "name", ["Construção Civil Ltda", "CONSTRUÇÃO CIVIL", "Süßwaren Müller", "Größenwahn"]
)
def test_accented_letters_side_by_side_in_a_windows_1252_file_are_not_read_as_chinese(
    tmp_path: Path, name: str
) -> None:
    payment = PAYMENT.replace("Blue Sky Cafe", name)  # two letters in a row: one would-be Chinese character
    (document,) = _documents(_parse(_iif(tmp_path, COLUMNS + payment, "cp1252")))
    assert document.party.name == name


DISCOUNTED = (
    "TRNS\t1301\tPAYMENT\t03/20/26\tUndeposited Funds\tBlue Sky Cafe\t1176.00\t512\tInv 1001\n"
    "SPL\t1302\tPAYMENT\t03/20/26\tAccounts Receivable\tBlue Sky Cafe\t-1200.00\t512\t\n"
    "SPL\t1303\tPAYMENT\t03/20/26\tDiscounts Given\tBlue Sky Cafe\t24.00\t512\t2% 10 days\n"
    "ENDTRNS\n"
)


def test_a_payment_with_a_discount_is_a_receipt_of_the_deposit_and_a_credit_note_of_the_discount(
    tmp_path: Path,
) -> None:
    receipt, kept = _documents(_parse(_iif(tmp_path, COLUMNS + DISCOUNTED)))
    assert (receipt.kind, receipt.external_id, receipt.amount) == ("payment", "1301", Money.of("1176", "USD"))
    assert (kept.kind, kept.external_id, kept.amount) == ("credit_note", "1301.kept", Money.of("24", "USD"))
    assert kept.party == receipt.party
    assert kept.references == receipt.references == ("Inv 1001", "2% 10 days")  # the invoice it names
    assert (receipt.number, kept.number) == ("512", None)  # the cheque's number is the payment's alone


def test_a_payment_crediting_another_account_beside_the_receivable_is_a_problem(tmp_path: Path) -> None:
    late_fee = (
        "TRNS\t\tPAYMENT\t03/20/26\tUndeposited Funds\tBlue Sky Cafe\t1250.00\t\t\n"
        "SPL\t\tPAYMENT\t03/20/26\tAccounts Receivable\tBlue Sky Cafe\t-1200.00\t\t\n"
        "SPL\t\tPAYMENT\t03/20/26\tLate Fee Income\tBlue Sky Cafe\t-50.00\t\t\n"
        "ENDTRNS\n"
    )
    (problem,) = _parse(_iif(tmp_path, COLUMNS + late_fee))
    assert isinstance(problem, Problem)
    assert problem.reason.startswith(
        "lines 4–7: a PAYMENT crediting more than one account (Accounts Receivable, Late Fee Income)"
    )


def test_a_voided_payment_with_a_discount_withdraws_its_credit_note_too(tmp_path: Path) -> None:
    voided = "".join(
        line.replace(amount, "0.00")
        for line, amount in zip(
            DISCOUNTED.splitlines(True), ("1176.00", "-1200.00", "24.00", "x"), strict=True
        )
    )
    void, kept = _documents(_parse(_iif(tmp_path, COLUMNS + voided)))
    assert (void.reverses, void.withdrawn) == ("1301", True)
    assert (kept.kind, kept.external_id, kept.reverses, kept.withdrawn) == (
        "credit_note",
        "1301.kept:withdrawn",
        "1301.kept",
        True,
    )


def test_a_voided_payment_on_two_invoices_withdraws_no_credit_note_it_never_had(tmp_path: Path) -> None:
    voided = (
        "TRNS\t1401\tPAYMENT\t03/20/26\tUndeposited Funds\tBlue Sky Cafe\t0.00\t513\tVOID: \n"
        "SPL\t1402\tPAYMENT\t03/20/26\tAccounts Receivable\tBlue Sky Cafe\t0.00\t513\t\n"
        "SPL\t1403\tPAYMENT\t03/20/26\tAccounts Receivable\tBlue Sky Cafe\t0.00\t513\t\n"
        "ENDTRNS\n"
    )
    (void,) = _documents(_parse(_iif(tmp_path, COLUMNS + voided)))
    assert (void.reverses, void.withdrawn) == ("1401", True)


def test_a_customer_job_name_names_the_customer(tmp_path: Path) -> None:
    payment = PAYMENT.replace("Blue Sky Cafe", "Acme Corp:Warehouse")
    (document,) = _documents(_parse(_iif(tmp_path, COLUMNS + payment)))
    assert document.party.name == "Acme Corp"
    assert "Acme Corp:Warehouse" in document.origin.raw


def test_an_amount_written_with_more_decimals_than_its_currency_has_is_refused_even_in_zeros(
    tmp_path: Path,
) -> None:
    blocks = "".join(
        f"TRNS\t{n}\tINVOICE\t03/0{n}/26\tAccounts Receivable\tNorthwind\t{amount}\tQB-{n}\t\n"
        f"SPL\t{n}0\tINVOICE\t03/0{n}/26\tSales\t\t-{amount}\t\t\n"
        "ENDTRNS\n"
        for n, amount in ((1, "1.000"), (2, "1000.00"), (3, "1000"))
    )
    found = _parse(_iif(tmp_path, COLUMNS + blocks), currency="JPY")
    assert [(problem.origin.row, problem.reason) for problem in _problems(found)] == [
        (
            4,
            "lines 4–6: line 4: AMOUNT 1.000 JPY is written with 3 decimals, JPY has 0: a separator grouping "
            "thousands, or decimals that are not there; never rounded, correct it at the source",
        )
    ]
    assert [d.amount for d in _documents(found)] == [Money(1000, "JPY"), Money(1000, "JPY")]


def _payment(date: str, amount: str) -> str:
    return (
        f"TRNS\t\tPAYMENT\t{date}\tUndeposited Funds\tBlue Sky Cafe\t{amount}\t\t\n"
        f"SPL\t\tPAYMENT\t{date}\tAccounts Receivable\tBlue Sky Cafe\t-{amount}\t\t\n"
        "ENDTRNS\n"
    )


def test_iif_dates_are_read_day_first_where_the_date_order_setting_says(tmp_path: Path) -> None:
    path = _iif(tmp_path, COLUMNS + _payment("03/05/2026", "80.00") + _payment("13/03/2026", "90.00"))
    (may, march) = _documents(_parse(path, date_order="dmy"))
    assert (may.date, march.date) == (dt.date(2026, 5, 3), dt.date(2026, 3, 13))


def test_a_day_first_iif_file_under_the_month_first_setting_posts_no_date_that_reads_either_way(
    tmp_path: Path,
) -> None:
    text = COLUMNS + _payment("03/05/2026", "80.00") + _payment("13/03/2026", "90.00")
    found = _parse(_iif(tmp_path, text + _payment("04/05/2026", "95.00")))
    assert _documents(found) == []
    held, shown, after = _problems(found)
    assert shown.reason == (
        "lines 7–9: DATE: day-first date under the month-first setting: if QuickBooks writes DD/MM/YYYY "
        'here (its Windows regional order), set imports.iif_date_order = "dmy"'
    )
    for kept in (held, after):
        assert "row 7 writes dates day-first (DD/MM/YYYY): not posted month-first" in kept.reason
        assert 'set imports.iif_date_order = "dmy"' in kept.reason
    assert any("2 document(s) whose date reads either way kept" in str(item) for item in found)
