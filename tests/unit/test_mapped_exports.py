from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest

from adapters.exports.mapped import MappedExport
from connector.documents import (
    Allocation,
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
from connector.mapping.converters import ConversionError, bind
from connector.mapping.files import MappingSet, load_mapping_set, parse_mapping_texts
from connector.mapping.model import DocumentMapping, FieldMap
from connector.money import Money
from connector.sync.runs import without_its_values

REPO = Path(__file__).parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "exports"
FORMATS = {
    "zoho_books.payments": "zoho_books_payments.csv",
    "zoho_books.invoices": "zoho_books_invoices.csv",
    "zoho_books.credit_notes": "zoho_books_credit_notes.csv",
    "quickbooks_online.payments": "quickbooks_online_payments.csv",
    "quickbooks_online.invoices": "quickbooks_online_invoices.xlsx",
    "xero.payments": "xero_payments.csv",
    "xero.invoices": "xero_invoices.csv",
    "xero.bank_statement": "xero_bank_statement.csv",
    "kingdee.receipts": "kingdee_receipts.csv",
    "yonyou.receipts": "yonyou_receipts.xlsx",
    "kingdee.invoices": "kingdee_invoices.csv",
    "yonyou.invoices": "yonyou_invoices.xlsx",
}


@pytest.fixture(scope="module")
def shipped() -> MappingSet:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    return mappings


def _parser(shipped: MappingSet, source: str) -> MappedExport:
    mapping = shipped.document_format(source)
    assert mapping is not None
    return MappedExport(mapping)


def _parse(shipped: MappingSet, source: str) -> list[Parsed]:
    file = FORMATS[source]
    return list(_parser(shipped, source).parse(FIXTURES / file, file))


def _documents(found: list[Parsed]) -> dict[str, Document]:
    return {item.external_id: item for item in found if isinstance(item, Document)}


def _problems(found: list[Parsed]) -> list[Problem]:
    return [item for item in found if isinstance(item, Problem)]


def _mapping(**overrides: Any) -> DocumentMapping:
    data: dict[str, Any] = {
        "kind": "document",
        "source": "test.payments",
        "document": "payment",
        "detect": {"headers": ["id", "amount"]},
        "default_currency": "CNY",
        "fields": [
            {"target": "external_id", "source": "id"},
            {"target": "date", "source": "date"},
            {"target": "amount", "source": "amount", "convert": ["decimal"]},
        ],
    }
    data.update(overrides)
    return DocumentMapping.model_validate(data)


def _run(tmp_path: Path, mapping: DocumentMapping, text: str) -> list[Parsed]:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    return list(MappedExport(mapping).parse(path, "in.csv"))


# --- the mapping kind ------------------------------------------------------------------------------------


def test_the_shipped_set_loads_every_export_mapping(shipped: MappingSet) -> None:
    assert {mapping.source for mapping in shipped.documents.values()} == set(FORMATS)
    assert shipped.document_format("export_kingdee_receipts") is shipped.document_format("kingdee.receipts")
    assert all(file.kind in ("inbound", "outbound") for file in shipped.files.values())


DOCUMENT_MISTAKES = """kind = "document"
source = "acme.payments"
delimeter = ";"
default_currency = "RMB"

[detect]
headers = []

[[fields]]
target = "external_id"
source = "ID"

[[fields]]
target = "amonut"
source = "Amount"
convert = [{ name = "date", format = 5 }]
"""


def test_a_document_mapping_reports_each_mistake_with_its_key(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(DOCUMENT_MISTAKES, encoding="utf-8")
    mappings, problems = load_mapping_set(tmp_path)
    assert mappings is None
    found = {(problem.key, problem.message) for problem in problems}
    assert ("delimeter", "unknown key 'delimeter' — did you mean 'delimiter'?") in found
    assert any(key == "default_currency" and "unknown currency code 'RMB'" in text for key, text in found)
    assert any(key == "detect.headers" for key, _ in found)
    assert any(
        key == "fields[1].convert[0]" and "format must be a format or a non-empty list" in text
        for key, text in found
    )
    assert ("fields[1].target", "unknown target 'amonut' — did you mean 'amount'?") in found
    assert ("fields", "a document mapping needs a field for date, amount") in found
    assert any(key == "document" and "exactly one of them" in text for key, text in found)
    assert {problem.line for problem in problems if problem.key == "delimeter"} == {3}


def test_two_mappings_of_one_export_format_are_refused(tmp_path: Path) -> None:
    text = (REPO / "mappings" / "export_xero_payments.toml").read_text(encoding="utf-8")
    _, problems = parse_mapping_texts(tmp_path, {"a.toml": text, "b.toml": text})
    assert [(problem.key, problem.message) for problem in problems] == [
        ("source", "document format 'xero.payments' is also mapped by a.toml")
    ]


def test_number_duplicates_is_refused_on_an_id_the_source_gives_and_kept_for_a_composite_one(
    tmp_path: Path, shipped: MappingSet
) -> None:
    text = (REPO / "mappings" / "export_xero_payments.toml").read_text(encoding="utf-8")
    numbered = text.replace('document = "payment"\n', 'document = "payment"\nnumber_duplicates = true\n')

    _, problems = parse_mapping_texts(tmp_path, {"a.toml": numbered})

    assert [(problem.line, problem.key, problem.message) for problem in problems] == [
        (
            10,
            "number_duplicates",
            "number_duplicates is for composite ids (external_id made by `template` and `digest` from the "
            "row's columns), where two identical rows are two documents; external_id reads 'Payment ID' as "
            "the source's own id, so a repeated one is the same document again: remove number_duplicates",
        )
    ]
    composite = [m for m in shipped.documents.values() if m.number_duplicates]  # the shipped ones load
    assert {m.source for m in composite} == {"quickbooks_online.payments", "xero.bank_statement"}


def test_reference_may_repeat_but_other_targets_may_not() -> None:
    fields = [{"target": "reference", "source": "a"}, {"target": "reference", "source": "b"}]
    needs = (
        "a document mapping needs a field for external_id, date, amount, currency (or set default_currency)"
    )
    assert DocumentMapping.cross_check({"document": "payment", "fields": fields}) == [("fields", needs)]
    twice = [{"target": "amount", "source": "a"}, {"target": "amount", "source": "b"}]
    assert ("fields[1].target", "target 'amount' is mapped twice") in DocumentMapping.cross_check(
        {"fields": twice}
    )


# --- converters the exports need ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-05", dt.date(2026, 3, 5)),
        ("03/05/26", dt.date(2026, 3, 5)),
        ("05.03.2026", dt.date(2026, 3, 5)),
        ("2026年3月5日", dt.date(2026, 3, 5)),
    ],
)
def test_a_date_field_may_list_the_formats_an_export_mixes(text: str, expected: dt.date) -> None:
    read = bind("date", {"format": ["%Y-%m-%d", "%m/%d/%y", "%d.%m.%Y", "%Y年%m月%d日"]})
    assert read(text) == expected


CN_EXPORTS = [
    f"export_{product}_{kind}"
    for product in ("kingdee", "yonyou")
    for kind in ("invoices", "receipts", "vouchers")
]


@pytest.mark.parametrize("stem", CN_EXPORTS)
@pytest.mark.parametrize(
    "text", ["2026-03-05 00:00:00", "2026-03-05 00:00", "2026/3/5 0:00", "2026/3/5 0:00:00"]
)
def test_a_chinese_export_reads_a_date_written_with_a_time_as_excel_saves_it_in_a_csv(
    shipped: MappingSet, stem: str, text: str
) -> None:
    mapping = shipped.documents.get(stem) or shipped.vouchers[stem]
    dates = [field for field in mapping.fields if field.target in ("date", "due_date")]
    assert dates
    for field in dates:
        (step,) = field.convert
        assert bind(step.name, step.options)(text) == dt.date(2026, 3, 5)


def test_a_date_matching_none_of_the_formats_names_them_all() -> None:
    read = bind("date", {"format": ["%Y-%m-%d", "%d.%m.%Y"]})
    with pytest.raises(
        ConversionError, match=r"does not match any of the date formats '%Y-%m-%d', '%d\.%m\.%Y'"
    ):
        read("5 March")


@pytest.mark.parametrize("stem", CN_EXPORTS)
def test_a_chinese_export_reads_a_date_written_with_points_and_says_how_an_unread_one_is_written(
    shipped: MappingSet, stem: str
) -> None:
    mapping = shipped.documents.get(stem) or shipped.vouchers[stem]
    for field in (field for field in mapping.fields if field.target in ("date", "due_date")):
        (step,) = field.convert
        read = bind(step.name, step.options)
        assert read("2026.03.05") == dt.date(2026, 3, 5)
        with pytest.raises(ConversionError, match=r"^the value, written 9999\.99\.99\.99, does not match"):
            read("2026.03.05.01")
        with pytest.raises(ConversionError, match=r"written 99999, .*: format the column as a date"):
            read("46091")  # 2026-03-10 as a workbook stores it


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("(1,234.56)", "-1234.56", "CNY"),
        ("1,234.56-", "-1234.56", "CNY"),
        ("¥1,234.56", "1234.56", "CNY"),
        ("$1,234.56", "1234.56", "CNY"),
        ("€1.234,56", "1234.56", "EUR"),
        ("-45.50", "-45.50", "CNY"),
    ],
)
def test_bank_line_amounts_in_every_export_style_keep_their_sign(
    tmp_path: Path, text: str, amount: str, currency: str
) -> None:
    mapping = _mapping(document="bank_line", default_currency=currency)
    (line, statement) = _run(tmp_path, mapping, f'id,date,amount\n1,2026-03-05,"{text}"\n')
    assert isinstance(line, Document)
    assert line.amount == Money.of(amount, currency)
    assert statement == Statement(mapping.source, "", currency, Origin("in.csv"))  # no balances, no period


def test_digest_gives_a_short_stable_id() -> None:
    digest = bind("digest", {"length": 12})
    assert digest("a|b") == digest("a|b") != digest("a|c")
    assert len(digest("a|b")) == 12


def test_digest_of_text_holding_a_lone_surrogate_is_an_id_too() -> None:
    digest = bind("digest", {"length": 12})
    assert digest("Li \ud83d") == digest("Li \ud83d") != digest("Li \ufffd")


@pytest.mark.parametrize(
    ("source", "ids"),
    [
        (
            "quickbooks_online.payments",
            ["06eb3eab8ad353e44fb9fe18", "6183d054ac4ad199c40ed51c", "6183d054ac4ad199c40ed51c#2"],
        ),
        (
            "xero.bank_statement",
            [
                "eeea0fbddf9c3fe386595733",
                "2f489c8bed017d6d6b633684",
                "2f489c8bed017d6d6b633684#2",
                "dae47a740a1389682190bfda",
                "5cce8c3244da776287fe659d",
            ],
        ),
    ],
)
def test_composite_ids_of_rows_with_empty_columns_stay_those_of_earlier_imports(
    shipped: MappingSet, source: str, ids: list[str]
) -> None:
    assert list(_documents(_parse(shipped, source)))[: len(ids)] == ids


# --- documents from rows --------------------------------------------------------------------------------


def test_every_parser_is_a_document_parser_named_after_its_format(shipped: MappingSet) -> None:
    parser: DocumentParser = _parser(shipped, "zoho_books.payments")
    assert parser.format == "zoho_books.payments"


def test_a_payment_across_several_invoices_is_one_document_with_an_allocation_each(
    shipped: MappingSet,
) -> None:
    payment = _documents(_parse(shipped, "zoho_books.payments"))["2954000000112001"]
    assert (payment.kind, payment.source, payment.number) == ("payment", "zoho_books.payments", "PMT-00041")
    assert payment.amount == Money.of("5000", "USD")
    assert payment.allocations == (
        Allocation("INV-000101", Money.of("2000", "USD")),
        Allocation("INV-000102", Money.of("1800", "USD")),
        Allocation("INV-000103", Money.of("1200", "USD")),
    )
    assert payment.party.name == "Acme Trading Co."
    assert payment.party.external_id == "2954000000045001"
    assert payment.references == ("TT-20260302-01", "March settlement")
    assert payment.origin.row == 2
    assert len(payment.origin.raw.splitlines()) == 3


def test_a_partial_payment_applies_less_than_the_invoice_total(shipped: MappingSet) -> None:
    invoice = _documents(_parse(shipped, "zoho_books.invoices"))["2954000000090110"]
    payment = _documents(_parse(shipped, "zoho_books.payments"))["2954000000112002"]
    assert invoice.amount == Money.of("3000", "EUR")
    assert payment.allocations == (Allocation("INV-000110", Money.of("1500", "EUR")),)


def test_rows_in_several_currencies_keep_their_own(shipped: MappingSet) -> None:
    payments = _documents(_parse(shipped, "zoho_books.payments"))
    currencies = {payment.amount.currency for payment in payments.values()}
    assert currencies == {"USD", "EUR", "CNY"}
    assert payments["2954000000112003"].amount == Money.of("12800", "CNY")


def test_a_row_with_an_unparseable_amount_is_a_problem_and_the_rest_imports(shipped: MappingSet) -> None:
    found = _parse(shipped, "zoho_books.payments")
    bad = _problems(found)[0]
    assert bad.origin.file == "zoho_books_payments.csv"
    assert bad.origin.row == 7
    assert bad.origin.raw.startswith("PMT-00044,2954000000112004")
    assert bad.reason.startswith("amount (Amount):")
    assert "7,5OO.00" in bad.reason
    assert "2954000000112007" in _documents(found)


def test_an_amount_written_in_another_currency_than_its_rows_is_a_problem_naming_its_column(
    tmp_path: Path,
) -> None:
    fields = [*_mapping().model_dump()["fields"], {"target": "currency", "source": "币种"}]
    text = (
        "id,date,amount,币种\n"
        "A,2026-03-05,USD 100.00,CNY\n"
        "B,2026-03-05,€5.00,USD\n"
        "C,2026-03-05,¥100.00,CNY\n"  # yuan or yen
        "D,2026-03-05,$5.00,CNY\n"  # dollars of too many countries to tell
        "E,2026-03-05,100.00 cny,CNY\n"
    )
    found = _run(tmp_path, _mapping(default_currency=None, fields=fields), text)

    assert [(p.origin.row, p.reason) for p in _problems(found)] == [
        (2, "amount (amount): 'USD' beside the amount is not CNY, the currency it is taken in: the amount or "
         "the currency is wrong"),
        (3, "amount (amount): '€' beside the amount is not USD, the currency it is taken in: the amount or "
         "the currency is wrong"),
    ]  # fmt: skip
    assert {d.external_id: d.amount for d in _documents(found).values()} == {
        "C": Money.of("100", "CNY"),
        "D": Money.of("5", "CNY"),
        "E": Money.of("100", "CNY"),
    }


def test_a_payment_whose_rows_disagree_is_one_problem_for_all_its_rows(shipped: MappingSet) -> None:
    problem = _problems(_parse(shipped, "zoho_books.payments"))[1]
    assert problem.reason == "rows 9–10 are one payment 2954000000112006 but differ in date"
    assert problem.origin.row == 9
    assert len(problem.origin.raw.splitlines()) == 2


def test_an_unapplied_payment_has_no_allocation(shipped: MappingSet) -> None:
    advance = _documents(_parse(shipped, "zoho_books.payments"))["2954000000112005"]
    assert advance.allocations == ()
    assert advance.amount == Money.of("300", "USD")


def test_invoice_item_rows_are_one_invoice_a_draft_is_skipped_and_a_void_one_withdraws_its_invoice(
    shipped: MappingSet,
) -> None:
    found = _parse(shipped, "zoho_books.invoices")
    withdrawals = [d for d in found if isinstance(d, Document) and d.withdrawn]
    invoices = {k: d for k, d in _documents(found).items() if not d.withdrawn}
    assert not _problems(found)
    (void,) = withdrawals  # INV-000099: it reverses the invoice imported under its id, if any was
    assert (void.external_id, void.reverses, void.number) == (
        "2954000000090099:withdrawn",
        "2954000000090099",
        "INV-000099",
    )
    assert sorted(invoice.number or "" for invoice in invoices.values()) == [
        "INV-000101",
        "INV-000102",
        "INV-000110",
        "INV-000120",
    ]
    first = invoices["2954000000090101"]
    assert (first.amount, first.due_date, first.references) == (
        Money.of("2000", "USD"),
        dt.date(2026, 3, 1),
        ("PO-7781",),
    )


def test_a_xero_invoice_export_gives_each_invoice_once_its_credit_notes_and_withdraws_voided_and_deleted_ones(
    shipped: MappingSet,
) -> None:
    found = _parse(shipped, "xero.invoices")
    documents = _documents(found)
    assert not _problems(found)
    live = {d.external_id: (d.kind, d.amount) for d in documents.values() if not d.withdrawn}
    assert live == {  # INV-0046 (DRAFT) and INV-0047 (SUBMITTED) are not issued yet: skipped
        "INV-0041": ("invoice", Money.of("1150", "NZD")),  # three line items, its total once
        "INV-0043": ("invoice", Money.of("920", "NZD")),
        "CN-0007": ("credit_note", Money.of("115", "NZD")),  # ACCRECCREDIT
        "INV-0050": ("invoice", Money.of("2200", "AUD")),  # two line items in AUD
    }
    withdrawn = sorted((d.external_id, d.reverses) for d in documents.values() if d.withdrawn)
    assert withdrawn == [("INV-0045:withdrawn", "INV-0045"), ("INV-0048:withdrawn", "INV-0048")]
    first = documents["INV-0041"]
    assert (first.number, first.date, first.due_date, first.party.name, first.references) == (
        "INV-0041",
        dt.date(2026, 2, 2),
        dt.date(2026, 2, 20),
        "Harbour Cafe Ltd",
        ("Order 5531",),
    )
    assert documents["CN-0007"].references == ("INV-0043",)  # the invoice it credits, for matching


def test_a_xero_credit_note_written_with_its_sign_is_the_same_credit_note_and_a_bill_is_a_bad_row(
    shipped: MappingSet, tmp_path: Path
) -> None:
    lines = (FIXTURES / FORMATS["xero.invoices"]).read_text("utf-8").splitlines()
    header, rows = lines[0], [line for line in lines if ",CN-0007," in line or ",INV-0043," in line]
    signed = [row.replace(",115.00,15.00,", ",-115.00,-15.00,") for row in rows]
    bill = rows[0].replace("ACCREC,", "ACCPAY,").replace("INV-0043", "BILL-9")
    path = tmp_path / "signed.csv"
    path.write_text("\n".join([header, *signed, bill]) + "\n", encoding="utf-8")

    found = list(_parser(shipped, "xero.invoices").parse(path, path.name))

    credit = _documents(found)["CN-0007"]
    assert (credit.kind, credit.amount) == ("credit_note", Money.of("115", "NZD"))
    (problem,) = _problems(found)  # a purchase bill is no sale: never read as an invoice
    assert problem.origin.row == 4
    assert problem.reason.startswith("kind (Type): ")


def test_zoho_books_credit_notes_are_read_once_per_note_a_draft_skipped_and_a_void_one_withdrawn(
    shipped: MappingSet,
) -> None:
    found = _parse(shipped, "zoho_books.credit_notes")
    documents = _documents(found)
    assert not _problems(found)
    live = {d.number: (d.kind, d.amount) for d in documents.values() if not d.withdrawn}
    assert live == {  # CN-00014, a draft, credits nobody yet; Open and Closed ones post
        "CN-00011": ("credit_note", Money.of("350", "USD")),  # two item rows, its total once
        "CN-00012": ("credit_note", Money.of("600", "EUR")),
        "CN-00015": ("credit_note", Money.of("3200", "CNY")),
    }
    (void,) = [d for d in documents.values() if d.withdrawn]
    assert (void.external_id, void.reverses, void.number) == (
        "2954000000130013:withdrawn",
        "2954000000130013",
        "CN-00013",
    )
    first = documents["2954000000130011"]
    assert (first.date, first.party.name, first.party.external_id) == (
        dt.date(2026, 2, 20),
        "Acme Trading Co.",
        "2954000000045001",
    )


def test_a_zoho_books_invoice_or_credit_note_pending_approval_is_not_issued_yet_and_skipped(
    shipped: MappingSet, tmp_path: Path
) -> None:
    for source, status in (("zoho_books.invoices", "Draft"), ("zoho_books.credit_notes", "Draft")):
        text = (FIXTURES / FORMATS[source]).read_text(encoding="utf-8-sig")
        assert f",{status}," in text
        pending = tmp_path / FORMATS[source]
        pending.write_text(text.replace(f",{status},", ",Pending Approval,"), encoding="utf-8")
        found = list(_parser(shipped, source).parse(pending, pending.name))
        assert not _problems(found), source
        assert _documents(found).keys() == _documents(_parse(shipped, source)).keys(), source


def test_a_kingdee_bill_in_audit_un_audited_or_void_withdraws_its_invoice_if_imported_and_a_draft_is_skipped(
    shipped: MappingSet, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["单据编号", "业务日期", "客户编码", "客户", "币别", "价税合计", "单据状态", "作废状态"])
    for number, status, void in (
        ("AR1", "已审核", "未作废"),
        ("AR2", "重新审核", "已作废"),
        ("AR3", "审核中", "未作废"),
        ("AR4", "已审核", "已作废"),
        ("AR5", "暂存", "未作废"),
    ):
        sheet.append([number, "2026-03-10", "C0003", "北京青禾科技有限公司", "人民币", 800, status, void])
    path = tmp_path / "kd_ar.xlsx"
    book.save(path)

    found = list(_parser(shipped, "kingdee.invoices").parse(path, path.name))

    assert not _problems(found)
    read = [(d.external_id, d.reverses, d.withdrawn_if_imported) for d in _documents(found).values()]
    assert sorted(read) == [
        ("AR1", None, False),
        ("AR2:withdrawn", "AR2", True),
        ("AR3:withdrawn", "AR3", True),
        ("AR4:withdrawn", "AR4", True),
    ]  # AR5, a draft never audited, is skipped
    book.active.delete_cols(8)  # an export without 作废状态: read, its bills as not void
    book.save(path)
    notice, *documents = _parser(shipped, "kingdee.invoices").parse(path, path.name)
    assert isinstance(notice, Notice)
    assert "'作废状态' (a [[skip]] rule's column: the rows it withdraws read as live)" in notice.text
    assert sorted(_documents(documents)) == ["AR1", "AR2:withdrawn", "AR3:withdrawn", "AR4"]  # AR5: a draft
    book.active.delete_cols(7)  # nor 单据状态: its drafts would post
    book.save(path)
    with pytest.raises(
        FileFormatError, match="no column '单据状态', which a \\[\\[skip\\]\\] rule of the mapping"
    ):
        list(_parser(shipped, "kingdee.invoices").parse(path, path.name))


def test_a_composite_id_is_the_same_however_the_export_writes_the_amount(
    shipped: MappingSet, tmp_path: Path
) -> None:
    fixture = (FIXTURES / FORMATS["quickbooks_online.payments"]).read_text(encoding="utf-8")
    resaved = fixture.replace('"1,250.00"', "1250")  # as a workbook's number cell, or Excel re-saving it
    path = tmp_path / "resaved.csv"
    path.write_text(resaved, encoding="utf-8")
    parser = _parser(shipped, "quickbooks_online.payments")
    again = [item for item in parser.parse(path, path.name) if isinstance(item, Document)]
    assert [d.external_id for d in again] == list(_documents(_parse(shipped, "quickbooks_online.payments")))


def test_a_report_export_under_title_lines_reads_its_table_only(shipped: MappingSet) -> None:
    found = _parse(shipped, "quickbooks_online.payments")
    payments = [item for item in found if isinstance(item, Document)]
    assert [payment.origin.row for payment in payments] == [6, 7, 8, 9]
    assert payments[0].amount == Money.of("1250", "USD")
    assert payments[3].amount == Money.of("3400", "CAD")
    (deposit,) = _problems(found)
    assert deposit.origin.row == 10
    assert "the value is not one of 'Payment', 'Receive Payment'" in deposit.reason
    assert "Deposit" not in deposit.reason  # a value may be personal data: the reason never quotes it


def test_a_composite_id_is_the_same_on_every_read_and_numbered_when_repeated(shipped: MappingSet) -> None:
    first = [
        doc.external_id for doc in _parse(shipped, "quickbooks_online.payments") if isinstance(doc, Document)
    ]
    again = [
        doc.external_id for doc in _parse(shipped, "quickbooks_online.payments") if isinstance(doc, Document)
    ]
    assert first == again
    assert first[2] == first[1] + "#2"
    assert len(set(first)) == 4


def test_a_workbook_report_gives_invoices_and_positive_credit_notes(shipped: MappingSet) -> None:
    found = _parse(shipped, "quickbooks_online.invoices")
    documents = _documents(found)
    assert not _problems(found)
    assert [doc.kind for doc in documents.values()] == ["invoice", "invoice", "credit_note", "invoice"]
    assert documents["CM-7"].amount == Money.of("250", "USD")
    assert documents["1002"].due_date == dt.date(2026, 3, 5)  # a number cell read as its text
    assert documents["1010"].amount == Money.of("3400.30", "CAD")  # 3400.2999999999997 in the cell


def test_a_xero_payment_is_allocated_in_full_to_its_invoice_and_a_deleted_one_is_skipped(
    shipped: MappingSet,
) -> None:
    found = _parse(shipped, "xero.payments")
    payments = _documents(found)
    payment = payments["8f1c2a7e-55d4-4b8e-9a51-0d6f3c2b9e11"]
    assert payment.allocations == (Allocation("INV-0041", Money.of("1150", "NZD")),)
    assert payment.date == dt.date(2026, 3, 2)
    part = payments["1b7e9d40-2c3a-4f5e-8d61-7a9c0b1e2f33"]  # part of INV-0043: the rest stays open
    assert part.allocations == (Allocation("INV-0043", Money.of("500", "NZD")),)
    assert payments["5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"].amount == Money.of("2200", "AUD")
    deleted = payments[
        "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a:withdrawn"
    ]  # Status DELETED: no longer a payment
    assert (deleted.withdrawn, deleted.reverses) == (True, "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a")
    (bad_date,) = _problems(found)
    assert bad_date.reason.startswith(  # 31 Feb 2026, as it is written
        "date (Date): the value, written 99 aaa 9999, does not match any of the date formats"
    )


def test_a_deleted_row_that_cannot_be_read_is_a_problem_never_passed_over(
    shipped: MappingSet, tmp_path: Path
) -> None:
    text = (FIXTURES / FORMATS["xero.payments"]).read_text("utf-8")
    lines = text.splitlines()
    [deleted] = [number for number, line in enumerate(lines) if line.endswith(",DELETED")]
    lines[deleted] = lines[deleted].replace("6 Mar 2026", "31 Feb 2026")
    (path := tmp_path / "payments.csv").write_text("\n".join(lines) + "\n", "utf-8")
    found = list(_parser(shipped, "xero.payments").parse(path, path.name))
    assert not [d for d in _documents(found).values() if d.withdrawn]
    unread = [p for p in _problems(found) if p.origin.row == deleted + 1]
    assert [
        p.reason.startswith("a row its source withdrew (void, deleted) cannot be read (") for p in unread
    ] == [True]


def test_an_export_without_the_column_that_tells_deleted_payments_is_refused_not_read_as_all_live(
    shipped: MappingSet, tmp_path: Path
) -> None:
    renamed = (
        (FIXTURES / FORMATS["xero.payments"])
        .read_text(encoding="utf-8-sig")
        .replace("Status", "Payment Status", 1)
    )
    (tmp_path / "payments.csv").write_text(renamed, encoding="utf-8")
    with pytest.raises(FileFormatError, match="no column 'Status'"):
        list(_parser(shipped, "xero.payments").parse(tmp_path / "payments.csv", "payments.csv"))


def test_a_file_without_a_skip_rules_column_is_refused_naming_the_column_and_the_mapping(
    tmp_path: Path,
) -> None:
    drafts = {"column": "状态", "matches": "^草稿$"}
    mapping = _mapping(skip=[{"column": "id", "matches": "^合计"}, drafts])
    text = "id,date,amount,状态\nP1,2026-03-05,100,草稿\nP2,2026-03-05,200,已审核\n"
    assert [d.external_id for d in _documents(_run(tmp_path, mapping, text)).values()] == ["P2"]
    with pytest.raises(FileFormatError) as refused:  # misspelt, or an export without it: the draft posted
        _run(tmp_path, mapping, text.replace("状态", "单据状态", 1))
    assert str(refused.value) == (
        "in.csv: no column '状态', which a [[skip]] rule of the mapping test.payments reads (it skips the "
        "rows matching ^草稿$): read without it, those rows would post; its columns: id, date, amount, "
        "单据状态; if the export names it otherwise, rename the rule's `column`; if its exports may lack "
        "it, set `optional = true` on the rule"
    )


def test_a_file_without_an_optional_skip_rules_column_is_read_saying_so(tmp_path: Path) -> None:
    mapping = _mapping(skip=[{"column": "状态", "matches": "^草稿$", "optional": True}])
    notice, *documents = _run(tmp_path, mapping, "id,date,amount\nP1,2026-03-05,100\n")
    assert isinstance(notice, Notice)
    assert "'状态' (a [[skip]] rule's column: the rows it skips are read)" in notice.text
    assert [d.external_id for d in documents if isinstance(d, Document)] == ["P1"]


def test_a_kingdee_receipt_whose_memo_is_cut_mid_character_is_read_and_the_file_names_its_row(
    shipped: MappingSet, tmp_path: Path
) -> None:
    whole = "部分付款".encode("gbk")  # the memo of SKD00000102, row 5, cut by bytes before its last character
    path = tmp_path / "cut.csv"
    path.write_bytes((FIXTURES / "kingdee_receipts.csv").read_bytes().replace(whole, whole[:-1]))
    found = list(_parser(shipped, "kingdee.receipts").parse(path, path.name))
    receipt = _documents(found)["SKD00000102"]
    assert receipt.amount == Money.of("5000", "CNY")
    assert receipt.allocations == (Allocation("AR00000210", Money.of("5000", "CNY")),)
    assert receipt.references == ("部分付\ufffd",)
    assert [p.origin.row for p in _problems(found)] == [
        p.origin.row for p in _parse(shipped, "kingdee.receipts") if isinstance(p, Problem)
    ]
    notes = [item.text for item in found if isinstance(item, Notice)]
    assert any(note.startswith("row 5 holds bytes that are not GB18030 text") for note in notes)


def test_bank_statement_lines_are_signed_and_identical_lines_get_numbered_ids(shipped: MappingSet) -> None:
    lines = [item for item in _parse(shipped, "xero.bank_statement") if isinstance(item, Document)]
    assert [line.kind for line in lines] == ["bank_line"] * 5
    assert [line.amount.amount for line in lines] == [
        Decimal("1150.00"),
        Decimal("-45.50"),
        Decimal("-45.50"),
        Decimal("500.00"),
        Decimal("-1200.00"),
    ]
    assert lines[2].external_id == lines[1].external_id + "#2"
    assert lines[0].references == ("INV-0041", "Direct Credit")
    assert lines[4].number == "000123"


@pytest.mark.parametrize(
    ("source", "row", "amount"),
    [("xero.bank_statement", 2, ",1150.00,"), ("quickbooks_online.payments", 6, ',"1,250.00",')],
)
def test_a_line_with_a_blank_amount_is_held_as_lacking_its_amount(
    shipped: MappingSet, tmp_path: Path, source: str, row: int, amount: str
) -> None:
    lines = (FIXTURES / FORMATS[source]).read_text(encoding="utf-8-sig").splitlines()
    assert amount in lines[row - 1]
    lines[row - 1] = lines[row - 1].replace(amount, ",,")
    path = tmp_path / "blank.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    held = [
        p for p in _problems(list(_parser(shipped, source).parse(path, path.name))) if p.origin.row == row
    ]
    assert [p.reason for p in held] == [
        "amount (Amount): a value is required here but the source has none; external_id: `{amount}` is empty"
    ]


def test_a_statement_file_that_does_not_name_its_account_takes_the_one_its_mapping_gives(
    shipped: MappingSet,
) -> None:
    """Xero's statement CSV names no account: a constant `account` field keeps it apart in the ledger."""
    mapping = shipped.document_format("xero.bank_statement")
    assert mapping is not None
    named = FieldMap.model_validate(
        {"target": "account", "convert": [{"name": "default", "value": "ICBC Basic"}]}
    )
    file = FORMATS["xero.bank_statement"]
    found = MappedExport(mapping.model_copy(update={"fields": (*mapping.fields, named)})).parse(
        FIXTURES / file, file
    )
    assert {item.account for item in found if isinstance(item, Document)} == {"ICBC Basic"}


def test_rows_under_merged_cells_continue_their_document_skipped_or_not_and_a_differing_one_stands_alone(
    shipped: MappingSet, tmp_path: Path
) -> None:
    header = "单据编号,日期,单据状态,往来单位类型,往来单位编码,往来单位,币别,收款金额,结算方式,备注"
    header += ",源单编号,本次结算金额"
    head = "SKD101,2026/3/2,已审核,客户,C0001,上海星辰贸易有限公司,人民币,50000.00,电汇,3月货款"
    text = "\n".join(
        [
            header,
            f"{head},AR201,30000.00",
            ",,,,,,,,,,AR202,20000.00",  # the merged cells' blanks, as Excel saves them
            ",2026/3/9,,,,,,,,,AR203,100.00",  # another date: not the receipt above
            f"{head.replace('已审核', '暂存').replace('SKD101', 'SKD102')},AR205,10000.00",  # skipped: 暂存
            ",,,,,,,,,,AR206,5000.00",  # the skipped receipt's too: skipped with it, not a problem
            ",2026/3/9,,,,,,,,,AR207,100.00",  # another date: not the skipped receipt's, not the one before's
        ]
    )
    path = tmp_path / "merged.csv"
    path.write_text(text + "\n", encoding="utf-8")
    found = list(_parser(shipped, "kingdee.receipts").parse(path, path.name))
    (receipt,) = _documents(found).values()
    assert [(a.invoice_number, a.amount.minor) for a in receipt.allocations] == [
        ("AR201", 3000000),
        ("AR202", 2000000),
    ]
    assert receipt.origin.raw.splitlines()[1] == ",,,,,,,,,,AR202,20000.00"
    assert [problem.origin.row for problem in _problems(found)] == [4, 7]
    assert {problem.reason for problem in _problems(found)} == {
        "amount (收款金额): a value is required here but the source has none; "
        "external_id (单据编号): a value is required here but the source has none"
    }


KINGDEE_RECEIPTS = (
    "序号,单据编号,日期,单据状态,往来单位类型,往来单位编码,往来单位,币别,收款金额,结算方式,备注"
    ",源单编号,本次结算金额"
)


def test_a_totals_row_under_a_receipt_is_not_a_further_allocation_of_the_invoice_above(
    shipped: MappingSet, tmp_path: Path
) -> None:
    receipt = (
        "1,SKD301,2026/3/2,已审核,客户,C0001,上海星辰贸易有限公司,人民币,5000.00,电汇,3月货款,AR210,2000.00"
    )
    path = tmp_path / "receipts.csv"
    path.write_text("\n".join([KINGDEE_RECEIPTS, receipt, "合计,,,,,,,,5000.00,,,,2000.00"]) + "\n", "utf-8")
    found = list(_parser(shipped, "kingdee.receipts").parse(path, path.name))
    (document,) = _documents(found).values()
    assert [(a.invoice_number, a.amount.minor) for a in document.allocations] == [("AR210", 200000)]
    assert not _problems(found)  # its word in the first column (序号): skipped


@pytest.mark.parametrize("grouped", [True, False], ids=["kingdee-grouped", "yonyou-single-rows"])
def test_a_totals_row_whose_formula_was_never_calculated_is_skipped_and_a_data_row_with_one_is_held(
    shipped: MappingSet, tmp_path: Path, grouped: bool
) -> None:
    book = openpyxl.Workbook()  # written by a program: formulas saved without their values
    sheet = book.active
    on = dt.date(2026, 3, 5)
    if grouped:  # a receipt's rows grouped: an unreadable row holds the documents beside it
        sheet.append(["收款单列表"])
        sheet.append(
            ["单据编号", "日期", "单据状态", "往来单位编码", "往来单位", "币别", "收款金额", "源单编号"]
        )
        sheet.append(["SKD1", on, "已审核", "C0001", "上海星辰贸易有限公司", "人民币", "=100*3", "AR1"])
        sheet.append(["SKD2", on, "已审核", "C0002", "深圳海川电子有限公司", "人民币", 500, "AR2"])
        sheet.append(["SKD3", on, "已审核", "C0002", "深圳海川电子有限公司", "人民币", 800, "AR3"])
        sheet.append(["合计", None, None, None, None, None, "=SUM(G3:G5)"])
        posted = ["SKD3"]
    else:
        sheet.append(["单据编号", "单据日期", "客户编码", "客户名称", "币种", "金额"])
        sheet.append(["0000000031", on, "010001", "上海星辰贸易有限公司", "人民币", "=100*3"])
        sheet.append(["0000000032", on, "010002", "深圳海川电子有限公司", "人民币", 500])
        sheet.append(["0000000033", on, "010002", "深圳海川电子有限公司", "人民币", 800])
        sheet.append(["合计", None, None, None, None, "=SUM(F2:F4)"])
        posted = ["0000000032", "0000000033"]
    path = tmp_path / "receipts.xlsx"
    book.save(path)
    parser = _parser(shipped, "kingdee.receipts" if grouped else "yonyou.receipts")
    found = list(parser.parse(path, path.name))
    assert sorted(_documents(found)) == posted  # the one above the totals row is not held with it
    (problem,) = _problems(found)
    assert "holds a formula never calculated: open the file" in problem.reason
    assert "合计" not in problem.origin.raw


def test_a_further_allocation_written_in_its_row_to_the_invoice_above_stays_the_receipts(
    shipped: MappingSet, tmp_path: Path
) -> None:
    receipt = (
        "1,SKD301,2026/3/2,已审核,客户,C0001,上海星辰贸易有限公司,人民币,5000.00,电汇,3月货款,AR210,2000.00"
    )
    further = ["2,,,,,,,,,,,AR210,1000.00", "3,,,,,,,,,,,AR211,2000.00"]
    path = tmp_path / "receipts.csv"
    path.write_text("\n".join([KINGDEE_RECEIPTS, receipt, *further]) + "\n", "utf-8")
    found = list(_parser(shipped, "kingdee.receipts").parse(path, path.name))
    (document,) = _documents(found).values()
    assert [(a.invoice_number, a.amount.minor) for a in document.allocations] == [
        ("AR210", 200000),
        ("AR210", 100000),
        ("AR211", 200000),
    ]


def test_an_unreadable_row_holds_the_documents_beside_it_which_may_have_a_row_in_it(
    shipped: MappingSet, tmp_path: Path
) -> None:
    lines = (FIXTURES / FORMATS["zoho_books.payments"]).read_text(encoding="utf-8-sig").splitlines()
    header = lines[0]
    columns = header.split(",")
    row = dict.fromkeys(columns, "")
    row |= {"Date": "2026-03-02", "CustomerPayment ID": "7001", "Payment Number": "7001"}
    row |= {"Customer Name": "Acme", "Amount": "5000.00", "Currency Code": "CNY"}

    def line(invoice: str, applied: str, description: str = "", payment: str = "7001") -> str:
        cells = row | {"Invoice Number": invoice, "Amount Applied to Invoice": applied}
        cells |= {"Description": description, "CustomerPayment ID": payment, "Payment Number": payment}
        return ",".join(cells[column] for column in columns)

    text = [
        header,
        line("INV-101", "1000.00"),
        line("INV-102", "1800.00", "March, thanks"),  # an unquoted comma: one cell too many
        line("INV-103", "2200.00"),
        line("INV-104", "5000.00", payment="7002"),
        header,  # a page's header, printed again
        line("INV-105", "5000.00", payment="7003"),
    ]
    path = tmp_path / "payments.csv"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    found = list(_parser(shipped, "zoho_books.payments").parse(path, path.name))
    assert sorted(_documents(found)) == ["7002", "7003"]
    (held,) = _problems(found)
    assert (held.origin.row, len(held.origin.raw.splitlines())) == (2, 3)
    assert held.reason.startswith("row 3 cannot be read")
    assert "the documents beside it (rows 2–4) may have a row in it" in held.reason


def test_an_unreadable_row_between_two_documents_holds_both(shipped: MappingSet, tmp_path: Path) -> None:
    text = (FIXTURES / FORMATS["zoho_books.payments"]).read_text(encoding="utf-8-sig").splitlines()
    header, first = text[0], text[1]
    second = first.replace("PMT-00041", "PMT-00042").replace("2954000000112001", "2954000000112002")
    third = first.replace("PMT-00041", "PMT-00043").replace("2954000000112001", "2954000000112003")
    path = tmp_path / "payments.csv"
    broken = first.replace("March settlement", "March, settled")  # one cell too many
    path.write_text("\n".join([header, first, broken, second, third]) + "\n", encoding="utf-8")
    found = list(_parser(shipped, "zoho_books.payments").parse(path, path.name))
    assert list(_documents(found)) == ["2954000000112003"]
    (held,) = _problems(found)
    assert "the documents beside it (rows 2–4)" in held.reason


def test_an_invoices_item_rows_under_merged_cells_are_its_own_not_problems(
    shipped: MappingSet, tmp_path: Path
) -> None:
    header = "Invoice Date,Invoice ID,Invoice Number,Invoice Status,Customer ID,Customer Name,Due Date"
    header += ",Currency Code,Item Name,Item Total,Total"
    text = "\n".join(
        [
            header,
            "2026-01-30,90101,INV-101,Sent,45001,Acme,2026-03-01,USD,Widget A,1500.00,2000.00",
            ",,,,,,,,Widget B,500.00,",  # the invoice's cells merged over its items
            ",,,,,,,,Installation,0.00,",
            "2026-02-06,90102,INV-102,Sent,45001,Acme,2026-03-08,USD,Service,90.00,90.00",
        ]
    )
    path = tmp_path / "invoices.csv"
    path.write_text(text + "\n", encoding="utf-8")
    found = list(_parser(shipped, "zoho_books.invoices").parse(path, path.name))
    assert _problems(found) == []
    first, second = _documents(found).values()
    assert (first.external_id, first.amount, first.origin.row) == ("90101", Money.of("2000.00", "USD"), 2)
    assert first.origin.raw.splitlines()[2] == ",,,,,,,,Installation,0.00,"
    assert second.external_id == "90102"


def test_a_blank_row_applying_more_than_the_payment_above_is_not_part_of_it(
    shipped: MappingSet, tmp_path: Path
) -> None:
    header = "Date,CustomerPayment ID,Payment Number,Customer Name,Amount,Currency Code,Invoice Number"
    header += ",Amount Applied to Invoice"
    text = header + "\n2026-03-02,46001,PMT-1,Acme,80.00,USD,INV-1,80.00\n,,,,,,INV-2,80.00\n"
    path = tmp_path / "payments.csv"
    path.write_text(text, encoding="utf-8")
    found = list(_parser(shipped, "zoho_books.payments").parse(path, path.name))
    (payment,) = _documents(found).values()
    assert payment.allocations == (Allocation("INV-1", Money.of("80.00", "USD")),)
    assert [problem.origin.row for problem in _problems(found)] == [3]


@pytest.mark.parametrize("file", ["kingdee_receipts.csv", "kingdee_receipts_utf8_bom.csv"])
def test_a_kingdee_receipt_list_with_a_title_line_and_a_totals_line_in_gbk_or_utf8_with_a_bom(
    shipped: MappingSet, file: str
) -> None:
    found = list(_parser(shipped, "kingdee.receipts").parse(FIXTURES / file, file))
    receipts = _documents(found)
    assert list(receipts) == [
        "SKD00000101",
        "SKD00000102",
        "SKD00000103",
        "SKD00000106",
        "SKD00000107",
    ]  # 暂存 and 合计 skipped
    first = receipts["SKD00000101"]
    assert first.amount == Money.of("50000", "CNY")
    assert first.party.name == "上海星辰贸易有限公司"
    assert first.allocations == (
        Allocation("AR00000201", Money.of("30000", "CNY")),
        Allocation("AR00000202", Money.of("20000", "CNY")),
    )
    assert receipts["SKD00000103"].amount == Money.of("3250", "USD")  # 美元
    assert receipts["SKD00000106"].date == dt.date(2026, 3, 9)  # 2026年3月9日
    assert receipts["SKD00000102"].allocations == (Allocation("AR00000210", Money.of("5000", "CNY")),)
    # A red receipt (红字 退预收款): 600 of SKD00000106's advance paid back, a refund.
    assert (receipts["SKD00000107"].kind, receipts["SKD00000107"].amount) == (
        "refund",
        Money.of("600", "CNY"),
    )
    (unreadable,) = _problems(found)
    assert (unreadable.origin.row, unreadable.reason) == (7, "amount (收款金额): not an amount: '一万二'")


def test_the_rows_each_skip_rule_passed_over_are_counted_in_a_note_after_the_documents(
    shipped: MappingSet,
) -> None:
    *_, last = _parse(shipped, "kingdee.receipts")
    assert last == Notice(
        Origin("kingdee_receipts.csv"),
        "rows the mapping's [[skip]] rules passed over: 1 whose '单据编号' matches ^(合计|总计|小计); "
        "1 whose '单据状态' matches ^(创建|暂存)$",
    )
    *_, last = _parse(shipped, "zoho_books.invoices")
    assert isinstance(last, Notice)
    assert last.text.endswith("1 whose 'Invoice Status' matches (?i)^void$ (withdrawing their documents)")


def test_a_receipt_whose_rows_stand_apart_in_a_resorted_export_waits_whole_and_never_posts_in_part(
    shipped: MappingSet, tmp_path: Path
) -> None:
    path = tmp_path / "kd_sk_resorted.csv"
    path.write_bytes(
        "单据编号,日期,往来单位编码,往来单位,币别,收款金额,单据状态,源单编号,本次结算金额\r\n"
        "SKD1,2026/3/20,C0001,上海星辰贸易有限公司,人民币,1234.50,已审核,AR1,1234.50\r\n"
        "SKD2,2026/3/21,C0002,深圳华南电子科技有限公司,人民币,11300.00,已审核,AR2,10000.00\r\n"
        "SKD3,2026/3/22,C0003,北京青禾科技有限公司,人民币,5000.00,已审核,,\r\n"
        "SKD2,2026/3/21,C0002,深圳华南电子科技有限公司,人民币,11300.00,已审核,AR7,1300.00\r\n".encode("gbk")
    )

    found = list(_parser(shipped, "kingdee.receipts").parse(path, path.name))

    assert list(_documents(found)) == ["SKD1", "SKD3"]
    assert [(p.origin.row, p.reason) for p in _problems(found)] == [
        (
            row,
            "the rows of payment SKD2 stand apart in the file (row 3, row 5; here row "
            f"{row}): posted part by part, a part would lack the others' allocations, so every part waits "
            "here; import an export listing each payment's rows together (sorted by its number), or "
            "resolve these records",
        )
        for row in (3, 5)
    ]
    bills = tmp_path / "kd_ar.csv"  # an invoice's detail rows apart: each part is the whole invoice
    bills.write_text(
        "单据编号,业务日期,客户编码,客户,币别,价税合计,单据状态\n"
        "AR201,2026-03-05,C0001,上海星辰贸易有限公司,人民币,3000,已审核\n"
        "AR202,2026-03-05,C0002,深圳华南电子科技有限公司,人民币,500,已审核\n"
        "AR201,2026-03-05,C0001,上海星辰贸易有限公司,人民币,3000,已审核\n",
        encoding="utf-8",
    )
    invoices = list(_parser(shipped, "kingdee.invoices").parse(bills, bills.name))
    assert [d.external_id for d in invoices if isinstance(d, Document)] == ["AR201", "AR202", "AR201"]


def test_a_yonyou_workbook_with_title_rows(shipped: MappingSet) -> None:
    found = _parse(shipped, "yonyou.receipts")
    receipts = _documents(found)
    assert list(receipts) == ["0000000031", "0000000032", "0000000033", "0000000035"]
    assert receipts["0000000031"].origin.row == 4
    assert receipts["0000000032"].amount == Money.of("1000.30", "CNY")
    assert receipts["0000000033"].amount == Money.of("15000", "HKD")
    assert receipts["0000000035"].date == dt.date(2026, 3, 6)  # a text cell
    (bad,) = _problems(found)
    assert bad.reason == "amount (金额): not an amount: '壹万元整'"


@pytest.mark.parametrize("source", ["quickbooks_online.payments", "quickbooks_online.invoices"])
def test_quickbooks_dates_written_with_a_two_digit_year_are_read(
    shipped: MappingSet, tmp_path: Path, source: str
) -> None:
    original = FIXTURES / FORMATS[source]
    path = tmp_path / original.name
    if original.suffix == ".xlsx":
        book = openpyxl.load_workbook(original)
        for row in book.active.iter_rows():
            for cell in row:
                if isinstance(cell.value, dt.datetime):
                    cell.value = cell.value.strftime("%m/%d/%y")
        book.save(path)
    else:
        text = original.read_text(encoding="utf-8-sig")
        path.write_text(re.sub(r"\b(\d\d)/(\d\d)/20(\d\d)\b", r"\1/\2/\3", text), encoding="utf-8")
    short = [item for item in _parser(shipped, source).parse(path, path.name) if isinstance(item, Document)]
    full = [
        item for item in _parser(shipped, source).parse(original, original.name) if isinstance(item, Document)
    ]
    assert short
    assert [item.date for item in short] == [item.date for item in full]


@pytest.mark.parametrize("source", sorted(FORMATS))
def test_each_export_is_recognised_by_its_own_mapping_only(shipped: MappingSet, source: str) -> None:
    head = (FIXTURES / FORMATS[source]).read_bytes()[:65536]
    recognised = [other for other in FORMATS if _parser(shipped, other).sniff(head, FORMATS[source])]
    assert recognised == [source]


def test_a_workbook_whose_header_lies_past_the_head_is_recognised_from_the_file(shipped: MappingSet) -> None:
    parser = _parser(shipped, "yonyou.receipts")
    path = FIXTURES / FORMATS["yonyou.receipts"]
    assert not parser.sniff(path.read_bytes()[:600], path.name)
    assert parser.sniff_path(path, path.name)
    assert not _parser(shipped, "kingdee.receipts").sniff_path(path, path.name)


# --- what a mapping can and cannot do without ----------------------------------------------------------


def test_a_missing_column_the_documents_need_is_a_file_format_error(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="no column 'date'"):
        _run(tmp_path, _mapping(), "id,amount\n1,2\n")


def test_an_id_a_spreadsheet_rewrote_in_scientific_notation_is_refused_not_taken_for_another(
    tmp_path: Path,
) -> None:
    text = "id,date,amount\n2.954E+15,2026-03-05,2\n3e+15,2026-03-05,2\n2954000000090101,2026-03-05,2\n"
    mangled, short, kept = _run(tmp_path, _mapping(), text)
    assert isinstance(mangled, Problem)
    assert mangled.reason.startswith(
        "external_id (id): '2.954E+15' is a long number a spreadsheet rewrote in scientific notation"
    )
    assert isinstance(short, Problem)
    assert isinstance(kept, Document)
    assert kept.external_id == "2954000000090101"


def test_a_workbook_id_stored_as_a_number_too_long_for_its_digits_is_refused_not_taken_for_another(
    tmp_path: Path,
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "date", "amount"])
    for number in (24442000000012340000, 24442000000012349000, 2954000000090101):  # 数电票 numbers, a Zoho id
        sheet.append([float(number), "2026-03-05", 2])
    path = tmp_path / "in.xlsx"
    book.save(path)
    first, second, kept = MappedExport(_mapping()).parse(path, "in.xlsx")
    assert isinstance(first, Problem)
    assert first.reason.startswith("external_id (id): '2.44420000000123E+19' is a long number")
    assert isinstance(second, Problem)
    assert isinstance(kept, Document)
    assert kept.external_id == "2954000000090101"


def test_a_workbook_number_cell_is_read_exactly_whatever_separator_the_mapping_declares_for_text(
    tmp_path: Path,
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "date", "amount"])
    for number, amount in enumerate((12.345, "12,345", 250.5, 7), start=1):
        sheet.append([number, "2026-03-05", amount])
    path = tmp_path / "in.xlsx"
    book.save(path)
    amount = {
        "target": "amount",
        "source": "amount",
        "convert": ["strip", {"name": "decimal", "separator": ","}],
    }
    mapping = _mapping(default_currency="TND", fields=[*_mapping().model_dump()["fields"][:2], amount])

    found = list(MappedExport(mapping).parse(path, "in.xlsx"))

    assert {d.external_id: d.amount for d in found if isinstance(d, Document)} == {
        "1": Money.of("12.345", "TND"),
        "2": Money.of("12.345", "TND"),
        "3": Money.of("250.5", "TND"),
        "4": Money.of("7", "TND"),
    }


def test_an_amount_of_three_decimals_in_a_currency_of_two_may_be_thousands_refused_unless_declared(
    tmp_path: Path,
) -> None:
    text = 'id;date;amount\n1;2026-03-05;"5.000,00"\n2;2026-03-05;1.500\n3;2026-03-05;0.500\n'
    found = _run(tmp_path, _mapping(), text)
    assert {d.external_id: d.amount for d in found if isinstance(d, Document)} == {
        "1": Money.of("5000.00", "CNY"),
    }
    refused, padded = _problems(found)
    assert (refused.origin.row, refused.reason) == (
        3,
        "amount (amount): 1.500 may be 1,500 (a '.' grouping thousands) or 1.5: CNY has 2 decimals, the file "
        'writes three; say which with the decimal converter\'s separator (separator = "," for 1.500,00, "." '
        "for 1,500.00)",
    )
    assert (padded.origin.row, padded.reason) == (  # never fifteen hundred, nor a third decimal dropped
        4,
        "amount (amount): '0.500' in the file: 0.500 CNY is written with 3 decimals, CNY has 2: "
        + NEVER_ROUNDED,
    )
    fields = [
        {"target": "external_id", "source": "id"},
        {"target": "date", "source": "date"},
        {"target": "amount", "source": "amount", "convert": [{"name": "decimal", "separator": ","}]},
    ]
    declared = _run(tmp_path, _mapping(fields=fields), text)
    assert [d.amount.minor for d in declared if isinstance(d, Document)] == [500000, 150000]  # as meant
    (grouped,) = _problems(declared)  # no group of thousands starts with a zero: 0,500 would be meant
    assert (grouped.origin.row, grouped.reason) == (
        4,
        "amount (amount): digit groups of '0.500' are not thousands",
    )


def test_one_separator_before_three_digits_in_a_currency_of_three_decimals_is_refused_unless_declared(
    tmp_path: Path,
) -> None:
    text = (
        "id;date;amount\n"
        '1;2026-03-05;"2,500"\n2;2026-03-05;2.500\n3;2026-03-05;"2,500.000"\n4;2026-03-05;"2.500,000"\n'
        '5;2026-03-05;"1,234,567.890"\n6;2026-03-05;"-BHD 2,500"\n7;2026-03-05;0.500\n'
    )
    found = _run(tmp_path, _mapping(default_currency="BHD"), text)
    assert {d.external_id: d.amount.minor for d in found if isinstance(d, Document)} == {
        "3": 2500000,
        "4": 2500000,
        "5": 1234567890,
        "7": 500,
    }
    either = (
        ": BHD has 3 decimals, and one separator before three digits may be either; say which with the "
        'decimal converter\'s separator (separator = "," for 1.500,000, "." for 1,500.000)'
    )
    comma = "amount (amount): 2,500 may be 2,500 (a ',' grouping thousands) or 2.500 (a decimal comma)"
    point = "amount (amount): 2.500 may be 2,500 (a '.' grouping thousands) or 2.500"
    assert [(p.origin.row, p.reason) for p in _problems(found)] == [
        (2, comma + either),
        (3, point + either),
        (7, comma + either),  # with its currency beside it
    ]
    fields = [
        {"target": "external_id", "source": "id"},
        {"target": "date", "source": "date"},
        {"target": "amount", "source": "amount", "convert": [{"name": "decimal", "separator": ","}]},
    ]
    declared = _run(tmp_path, _mapping(default_currency="BHD", fields=fields), text)
    assert {d.external_id: d.amount.minor for d in declared if isinstance(d, Document)}["1"] == 2500


NEVER_ROUNDED = (
    "a separator grouping thousands, or decimals that are not there; never rounded, correct it at the source"
)


@pytest.mark.parametrize(
    ("separator", "currency", "written", "reason"),
    [
        (
            ",",
            "JPY",
            "1,000",
            f"'1,000' in the file: 1.000 JPY is written with 3 decimals, JPY has 0: {NEVER_ROUNDED}",
        ),
        (
            ".",
            "JPY",
            "1.000",
            f"'1.000' in the file: 1.000 JPY is written with 3 decimals, JPY has 0: {NEVER_ROUNDED}",
        ),
        (
            None,
            "JPY",
            "1000.000",
            f"'1000.000' in the file: 1000.000 JPY is written with 3 decimals, JPY has 0: {NEVER_ROUNDED}",
        ),
        (
            ",",
            "USD",
            "12,500",
            f"'12,500' in the file: 12.500 USD is written with 3 decimals, USD has 2: {NEVER_ROUNDED}",
        ),
        (
            ".",
            "KWD",
            "1.2340",
            f"'1.2340' in the file: 1.2340 KWD is written with 4 decimals, KWD has 3: {NEVER_ROUNDED}",
        ),
        (
            ".",
            "KWD",
            "1.2345",
            "'1.2345' in the file: 1.2345 KWD has more decimals than KWD allows (3); round it explicitly at "
            "the source",
        ),
        (
            ",",
            "KWD",
            "1.000,2345",
            "'1.000,2345' in the file: 1000.2345 KWD has more decimals than KWD allows (3); round it "
            "explicitly at the source",
        ),
    ],
)
def test_an_amount_written_with_more_decimals_than_its_currency_is_refused_whatever_the_separator(
    tmp_path: Path, separator: str | None, currency: str, written: str, reason: str
) -> None:
    decimal: dict[str, Any] = {"name": "decimal"} | ({"separator": separator} if separator else {})
    fields = [
        {"target": "external_id", "source": "id"},
        {"target": "date", "source": "date"},
        {"target": "amount", "source": "amount", "convert": [decimal]},
        {"target": "allocation_invoice", "source": "invoice"},
        {"target": "allocation_amount", "source": "applied", "convert": [decimal]},
    ]
    padded = f"1000{separator or '.'}00"  # the payment's own amount is read: its row is refused for the other
    text = (
        "id;date;amount;invoice;applied\n"
        f'1;2026-03-05;"{written}";;\n2;2026-03-05;"{padded}";INV-1;"{written}"\n'
    )
    found = _run(tmp_path, _mapping(default_currency=currency, fields=fields), text)
    assert _documents(found) == {}
    assert [(p.origin.file, p.origin.row, p.reason) for p in _problems(found)] == [
        ("in.csv", 2, f"amount (amount): {reason}"),
        ("in.csv", 3, f"allocation_amount (applied): {reason}"),
    ]


def test_an_amount_with_as_many_decimals_as_its_currency_or_two_zeros_is_read_whatever_the_separator(
    tmp_path: Path,
) -> None:
    cases = [(",", "JPY", "1.000", 1000), (",", "JPY", "1000,00", 1000), (".", "JPY", "1,000.00", 1000)]
    cases += [(".", "KWD", "1,234", 1234000), (".", "KWD", "1.234", 1234), (",", "KWD", "1,234", 1234)]
    cases += [(",", "KWD", "1.234,500", 1234500), (".", "USD", "12.50", 1250), (",", "USD", "12,5", 1250)]
    for separator, currency, written, minor in cases:
        fields = [
            {"target": "external_id", "source": "id"},
            {"target": "date", "source": "date"},
            {
                "target": "amount",
                "source": "amount",
                "convert": [{"name": "decimal", "separator": separator}],
            },
        ]
        found = _run(
            tmp_path,
            _mapping(default_currency=currency, fields=fields),
            f'id;date;amount\n1;2026-03-05;"{written}"\n',
        )
        assert _documents(found)["1"].amount == Money(minor, currency), (separator, currency, written)


def test_a_missing_optional_column_reads_as_empty_and_the_file_says_so_first(tmp_path: Path) -> None:
    fields = [*_mapping().model_dump()["fields"], {"target": "party_name", "source": "Payer"}]
    notice, payment = _run(tmp_path, _mapping(fields=fields), "id,date,amount\n1,2026-03-05,2\n")
    assert isinstance(notice, Notice)
    assert notice.origin == Origin("in.csv")
    assert "not in the file, so read as empty: 'Payer' (party_name)" in notice.text
    assert isinstance(payment, Document)
    assert payment.party.name is None


@pytest.mark.parametrize("payer", ["Müller GmbH", "Köln", "Peña", "Año", "Cádiz", "Smørrebrød", "Größe"])
def test_a_western_european_windows_export_is_read_as_cp1252_with_a_note_that_it_was_guessed(
    tmp_path: Path, payer: str
) -> None:
    fields = [*_mapping().model_dump()["fields"], {"target": "party_name", "source": "Payer"}]
    path = tmp_path / "in.csv"
    path.write_bytes(f"id,date,amount,Payer\n1,2026-03-05,2,{payer}\n".encode("cp1252"))
    notice, payment = MappedExport(_mapping(fields=fields)).parse(path, "in.csv")
    assert isinstance(payment, Document)
    assert payment.party.name == payer
    assert notice == Notice(
        Origin("in.csv"),
        "the text encoding was guessed as cp1252: check that accented letters read right, and declare "
        '`encoding = "cp1252"` in the mapping (or the file\'s own encoding)',
    )


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_utf8_or_gbk_export_is_read_without_an_encoding_note(tmp_path: Path, encoding: str) -> None:
    fields = [*_mapping().model_dump()["fields"], {"target": "party_name", "source": "Payer"}]
    path = tmp_path / "in.csv"
    path.write_bytes("id,date,amount,Payer\n1,2026-03-05,2,上海星辰贸易有限公司\n".encode(encoding))
    (payment,) = MappedExport(_mapping(fields=fields)).parse(path, "in.csv")
    assert isinstance(payment, Document)
    assert payment.party.name == "上海星辰贸易有限公司"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (
            "\ufeffid,date,amount,Payer\n1,2026-03-05,2,Müller GmbH\n".encode(),
            "the file starts with a UTF-8 byte order mark",
        ),
        (
            "id,date,amount,Payer\n1,2026-03-05,2,Müller GmbH\n".encode(),
            "the file is UTF-8 text (cp1252 would read ü as Ã¼)",
        ),
    ],
)
def test_a_utf8_file_under_a_declared_single_byte_encoding_is_recognised_and_read_as_utf8_with_a_note(
    tmp_path: Path, data: bytes, said: str
) -> None:
    fields = [*_mapping().model_dump()["fields"], {"target": "party_name", "source": "Payer"}]
    parser = MappedExport(_mapping(fields=fields, encoding="cp1252"))
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    assert parser.sniff(data, "in.csv")
    notice, payment = parser.parse(path, "in.csv")
    assert isinstance(payment, Document)
    assert payment.party.name == "Müller GmbH"
    assert notice == Notice(
        Origin("in.csv"),
        f"{said}, so it was read as UTF-8, not as cp1252, the encoding the mapping declares: remove "
        "`encoding` from the mapping to have each file's encoding detected, or save the file as cp1252",
    )


def test_a_file_in_the_single_byte_encoding_its_mapping_declares_is_read_in_it_without_a_note(
    tmp_path: Path,
) -> None:
    fields = [*_mapping().model_dump()["fields"], {"target": "party_name", "source": "Payer"}]
    path = tmp_path / "in.csv"
    path.write_bytes("id,date,amount,Payer\n1,2026-03-05,2,Eva Süß\n".encode("cp1252"))
    (payment,) = MappedExport(_mapping(fields=fields, encoding="cp1252")).parse(path, "in.csv")
    assert isinstance(payment, Document)
    assert payment.party.name == "Eva Süß"


def test_a_file_with_every_mapped_column_has_no_notice(tmp_path: Path) -> None:
    fields = [*_mapping().model_dump()["fields"], {"target": "party_name", "source": "Payer"}]
    parsed = _run(tmp_path, _mapping(fields=fields), "id,date,amount,Payer\n1,2026-03-05,2,Acme\n")
    assert not any(isinstance(item, Notice) for item in parsed)


def test_a_negative_payment_is_a_refund_of_its_amount_unless_the_mapping_takes_absolute_amounts(
    tmp_path: Path,
) -> None:
    text = "id,date,amount\n1,2026-03-05,(12.00)\n"
    (refund,) = _run(tmp_path, _mapping(), text)
    assert isinstance(refund, Document)
    assert (refund.kind, refund.amount) == ("refund", Money.of("12", "CNY"))
    (taken,) = _run(tmp_path, _mapping(negative_amounts="absolute"), text)
    assert isinstance(taken, Document)
    assert (taken.kind, taken.amount) == ("payment", Money.of("12", "CNY"))


def test_a_negative_payment_applied_to_an_invoice_is_no_refund_and_never_says_to_reverse_a_receipt(
    tmp_path: Path,
) -> None:
    fields = [
        *_mapping().model_dump()["fields"],
        {"target": "allocation_invoice", "source": "invoice"},
        {"target": "allocation_amount", "source": "applied", "convert": ["decimal"]},
    ]
    text = "id,date,amount,invoice,applied\n1,2026-03-05,-12.00,INV-1,-12.00\n"
    (refused,) = _run(tmp_path, _mapping(fields=fields), text)
    assert isinstance(refused, Problem)
    assert refused.reason.startswith(
        "allocation_amount (applied): -12.00 applied to invoice INV-1: a negative payment is a refund, which "
        "pays back the customer's credit and settles no invoice"
    )
    assert "ledger reverse" not in refused.reason


def test_allocations_beyond_the_payment_make_its_group_a_problem(tmp_path: Path) -> None:
    fields = [
        *_mapping().model_dump()["fields"],
        {"target": "allocation_invoice", "source": "inv"},
        {"target": "allocation_amount", "source": "applied"},
    ]
    mapping = _mapping(fields=fields, group_by="external_id")
    text = "id,date,amount,inv,applied\n1,2026-03-05,100,A,60\n1,2026-03-05,100,B,50\n"
    (problem,) = _run(tmp_path, mapping, text)
    assert isinstance(problem, Problem)
    assert problem.reason == (
        "rows 2–3 (payment 1): the amounts applied (110.00 CNY) exceed the document's amount (100.00 CNY)"
    )


def test_a_bad_row_inside_a_group_makes_the_whole_group_a_problem(tmp_path: Path) -> None:
    fields = [*_mapping().model_dump()["fields"], {"target": "allocation_invoice", "source": "inv"}]
    fields.append({"target": "allocation_amount", "source": "applied", "convert": ["decimal"]})
    mapping = _mapping(fields=fields, group_by="id")  # a column: the group is known even for a bad row
    text = "id,date,amount,inv,applied\n1,2026-03-05,100,A,60\n1,2026-03-05,100,B,x\n2,2026-03-06,5,,\n"
    problem, after = _run(tmp_path, mapping, text)
    assert isinstance(problem, Problem)
    assert problem.reason == (
        "rows 2–3 are one document and cannot be read: row 3: allocation_amount (applied): not an amount: 'x'"
    )
    assert isinstance(after, Document)
    assert after.external_id == "2"


def test_an_external_id_composed_from_several_columns_uses_the_template(tmp_path: Path) -> None:
    fields = [
        {"target": "date", "source": "date"},
        {"target": "amount", "source": "amount"},
        {"target": "number", "source": "voucher"},
        {"target": "external_id", "convert": [{"name": "template", "template": "{date}/{number}"}]},
    ]
    mapping = _mapping(fields=fields, detect={"headers": ["voucher", "amount"]})
    (document,) = _run(tmp_path, mapping, "voucher,date,amount\n记-12,2026-03-05,1.00\n")
    assert isinstance(document, Document)
    assert document.external_id == "2026-03-05/记-12"


def test_an_external_id_too_long_for_the_ledger_is_a_problem(tmp_path: Path) -> None:
    (problem,) = _run(tmp_path, _mapping(), f"id,date,amount\n{'x' * 201},2026-03-05,1\n")
    assert isinstance(problem, Problem)
    assert "longer than 200 characters" in problem.reason


def test_the_kind_may_come_from_a_column(tmp_path: Path) -> None:
    fields = [
        *_mapping().model_dump()["fields"],
        {
            "target": "kind",
            "source": "type",
            "convert": [{"name": "map", "values": {"INV": "invoice", "CN": "credit_note"}}],
        },
    ]
    mapping = _mapping(fields=fields, document=None)
    found = _run(
        tmp_path, mapping, "id,date,amount,type\n1,2026-03-05,1,INV\n2,2026-03-05,1,CN\n3,2026-03-05,1,X\n"
    )
    assert [getattr(item, "kind", None) for item in found] == ["invoice", "credit_note", None]


def test_a_single_row_applying_more_than_its_amount_is_a_problem(tmp_path: Path) -> None:
    fields = [
        *_mapping().model_dump()["fields"],
        {"target": "allocation_invoice", "source": "inv"},
        {"target": "allocation_amount", "source": "applied"},
    ]
    (problem,) = _run(tmp_path, _mapping(fields=fields), "id,date,amount,inv,applied\n7,2026-03-05,10,A,12\n")
    assert isinstance(problem, Problem)
    assert problem.reason == (
        "payment 7: the amounts applied (12.00 CNY) exceed the document's amount (10.00 CNY)"
    )


def test_a_payment_applied_to_an_invoice_without_an_amount_takes_all_of_it(tmp_path: Path) -> None:
    fields = [*_mapping().model_dump()["fields"], {"target": "allocation_invoice", "source": "inv"}]
    (payment,) = _run(tmp_path, _mapping(fields=fields), "id,date,amount,inv\n7,2026-03-05,10,A\n")
    assert isinstance(payment, Document)
    assert payment.allocations == (Allocation("A", Money.of("10", "CNY")),)


def test_a_kingdee_receivable_bill_of_several_lines_is_one_invoice_and_a_red_bill_a_credit_note(
    shipped: MappingSet,
) -> None:
    found = _parse(shipped, "kingdee.invoices")
    bills = _documents(found)
    assert {k: (d.kind, d.amount, d.due_date) for k, d in bills.items()} == {
        "AR00000201": ("invoice", Money.of("30000.00", "CNY"), dt.date(2026, 4, 1)),  # two detail lines
        "AR00000202": ("invoice", Money.of("20000.00", "CNY"), dt.date(2026, 4, 2)),
        "AR00000210": ("invoice", Money.of("8000.00", "CNY"), dt.date(2026, 5, 3)),
        "AR00000220": ("invoice", Money.of("3250.00", "USD"), dt.date(2026, 4, 4)),
        "AR00000231": ("credit_note", Money.of("800.00", "CNY"), dt.date(2026, 3, 9)),  # 红字: negative
    }  # 暂存 and 合计 skipped
    assert bills["AR00000201"].party == Party("上海星辰贸易有限公司", None, "C0001")
    assert not _problems(found)


def test_a_yonyou_sales_invoice_list_with_a_red_invoice_and_one_in_us_dollars(shipped: MappingSet) -> None:
    found = _parse(shipped, "yonyou.invoices")
    invoices = _documents(found)
    assert {k: (d.kind, d.amount) for k, d in invoices.items()} == {
        "XS2026030": ("invoice", Money.of("22600", "CNY")),
        "XS2026031": ("invoice", Money.of("11300", "CNY")),
        "XS2026032": ("credit_note", Money.of("1130", "CNY")),
        "XS2026033": ("invoice", Money.of("4520.50", "USD")),  # 美元, a float cell read exactly
    }
    assert invoices["XS2026030"].due_date == dt.date(2026, 4, 2)
    assert not _problems(found)


def test_a_yonyou_list_saved_again_by_excel_without_its_ids_leading_zeros_names_the_same_documents(
    shipped: MappingSet, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()  # as U8 exports it: title rows, ids in 10 digits as text
    sheet = book.active
    star, bright = ["001", "上海星辰贸易有限公司", "人民币"], ["004", "明远国际贸易（香港）有限公司", "美元"]
    sheet.append(["收款单列表"])
    sheet.append(
        ["单据类型", "单据编号", "单据日期", "客户编码", "客户名称", "币种", "金额", "票据号", "摘要"]
    )
    sheet.append(["收款单", "0000000001", dt.date(2026, 3, 20), *star, 1234.5, None, None])
    sheet.append(["收款单", "0000000002", dt.date(2026, 3, 25), *bright, 1000, "TT20260325", "美元货款"])
    exported = tmp_path / "yy_sk.xlsx"
    book.save(exported)
    resaved = tmp_path / "yy_sk_resaved.csv"  # opened in Excel and saved as CSV: the ids became numbers
    resaved.write_bytes(
        "单据编号,单据日期,客户编码,客户名称,币种,金额,票据号,摘要\r\n"
        "1,2026/3/20,001,上海星辰贸易有限公司,人民币,1234.5,,\r\n"
        "2,2026/3/25,004,明远国际贸易（香港）有限公司,美元,1000,TT20260325,美元货款\r\n".encode("gbk")
    )

    def read(path: Path, source: str) -> list[tuple[str, str | None, dt.date, Money, tuple[str, ...]]]:
        found = list(_parser(shipped, source).parse(path, path.name))
        assert not _problems(found)
        return [(d.external_id, d.number, d.date, d.amount, d.references) for d in _documents(found).values()]

    receipts = read(exported, "yonyou.receipts")
    assert [(external_id, number) for external_id, number, *_ in receipts] == [
        ("0000000001", "0000000001"),
        ("0000000002", "0000000002"),
    ]
    assert read(resaved, "yonyou.receipts") == receipts
    invoices = tmp_path / "yy_fp.csv"
    invoices.write_text(
        "发票号,开票日期,客户名称,原币价税合计,币种\n12,2026-03-03,杭州明远商贸有限公司,226,人民币\n",
        encoding="utf-8",
    )
    assert [d[:2] for d in read(invoices, "yonyou.invoices")] == [("0000000012", "0000000012")]


@pytest.mark.parametrize("source", ["yonyou.receipts", "yonyou.invoices"])
def test_a_yonyou_totals_row_with_its_word_in_the_first_column_and_no_id_is_skipped_not_quarantined(
    shipped: MappingSet, tmp_path: Path, source: str
) -> None:
    columns = (
        ["单据编号", "单据日期", "金额"]
        if source == "yonyou.receipts"
        else ["发票号", "开票日期", "原币价税合计"]
    )
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["单据类型", *columns[:2], "客户名称", "币种", columns[2]])
    sheet.append(["收款单", "0000000001", dt.date(2026, 3, 20), "上海星辰贸易有限公司", "人民币", 1234.5])
    sheet.append(["合计", None, None, None, None, 1234.5])
    path = tmp_path / "yy.xlsx"
    book.save(path)
    found = list(_parser(shipped, source).parse(path, path.name))
    assert list(_documents(found)) == ["0000000001"]
    assert not _problems(found)
    assert isinstance(found[-1], Notice)
    assert found[-1].text.endswith("1 whose '单据类型' matches ^(合计|总计|小计)")


@pytest.mark.parametrize(
    ("target", "refused"),
    [
        ("e_mail", "email"),
        ("nmae", "name"),
        ("adress", "address"),
        ("phone2", None),
        ("company_id", None),
        ("country_id", None),
        ("industry", None),
        ("annual_revenue_usd", None),
    ],
)
def test_an_inbound_target_a_typo_away_from_a_field_read_is_refused_and_one_of_its_own_kept(
    target: str, refused: str | None
) -> None:
    inbound = f'kind = "inbound"\nsource = "x.y"\n[[fields]]\ntarget = "{target}"\nsource = "A"\n'
    inbound += '[[fields]]\ntarget = "external_id"\nsource = "id"\n'
    mappings, problems = parse_mapping_texts(Path("mappings"), {"x.toml": inbound})
    messages = [problem.message for problem in problems]
    if refused is None:
        assert (mappings is not None, messages) == (True, [])
    else:
        assert messages == [f"target '{target}' is read by nothing — did you mean '{refused}'?"]


@pytest.mark.parametrize(
    ("source", "file", "posted", "first"),
    [
        ("kingdee.receipts", "kingdee_receipts_date_first.csv", "SKD00000108", "日期"),
        ("kingdee.invoices", "kingdee_invoices_date_first.csv", "AR00000240", "业务日期"),
    ],
)
def test_a_kingdee_lists_totals_line_with_its_word_in_the_first_column_not_the_ids_is_skipped(
    shipped: MappingSet, source: str, file: str, posted: str, first: str
) -> None:
    found = list(_parser(shipped, source).parse(FIXTURES / file, file))
    assert list(_documents(found)) == [posted]
    assert not _problems(found)
    skipped = f"rows the mapping's [[skip]] rules passed over: 1 whose '{first}' matches ^(合计|总计|小计)"
    assert found[-1] == Notice(Origin(file), skipped)


def test_a_whole_amount_grouped_by_points_is_shown_with_the_separator_that_reads_it(tmp_path: Path) -> None:
    [problem] = _problems(_run(tmp_path, _mapping(), "id,date,amount\nA,2026-03-05,1.234.567\n"))
    shown = without_its_values(problem.reason, problem.origin.raw)  # as stored and shown in clear
    assert shown == (
        "amount (amount): misplaced separators in 1.234.567: '.' is read as the decimal point; if the "
        'export groups thousands with it, set the decimal step\'s separator = "," in the mapping, e.g. '
        'convert = [{ name = "decimal", separator = "," }]'
    )
    point = {"target": "amount", "source": "amount", "convert": [{"name": "decimal", "separator": ","}]}
    grouped = _mapping(
        fields=[{"target": "external_id", "source": "id"}, {"target": "date", "source": "date"}, point]
    )
    [document] = _run(tmp_path, grouped, "id,date,amount\nA,2026-03-05,1.234.567\n")
    assert isinstance(document, Document)
    assert document.amount == Money.of("1234567", "CNY")


def test_a_workbooks_date_cells_are_read_as_the_dates_they_hold_whatever_the_text_date_format(
    tmp_path: Path,
) -> None:
    date = {"target": "date", "source": "date", "convert": [{"name": "date", "format": "%d.%m.%Y"}]}
    amount = {"target": "amount", "source": "amount", "convert": ["decimal"]}
    mapping = _mapping(fields=[{"target": "external_id", "source": "id"}, date, amount])
    book = openpyxl.Workbook()
    for row in (
        ["id", "date", "amount"],
        ["A", dt.date(2026, 3, 5), "12.00"],
        ["B", dt.datetime(2026, 3, 6, 10, 30), "12.00"],  # noqa: DTZ001  (a workbook holds no zone)
        ["C", "07.03.2026", "12.00"],  # a date typed as text: read by the format
    ):
        book.active.append(row)
    book.save(tmp_path / "in.xlsx")
    found = list(MappedExport(mapping).parse(tmp_path / "in.xlsx", "in.xlsx"))
    assert [(item.external_id, item.date) for item in found if isinstance(item, Document)] == [
        ("A", dt.date(2026, 3, 5)),
        ("B", dt.date(2026, 3, 6)),
        ("C", dt.date(2026, 3, 7)),
    ]
