"""Voucher (凭证) exports: each customer's receivable line a document, each voucher checked whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest

from adapters.exports.mapped import MappedExport
from adapters.exports.vouchers import VoucherExport
from connector.documents import Document, Notice, Parsed, Problem
from connector.mapping.files import MappingSet, load_mapping_set
from connector.mapping.model import FieldMap, VoucherMapping
from connector.money import Money
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "exports"


@pytest.fixture(scope="module")
def shipped() -> MappingSet:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    return mappings


def parse(shipped: MappingSet, stem: str, path: Path) -> list[Parsed]:
    return list(VoucherExport(shipped.vouchers[stem]).parse(path, path.name))


def documents(found: list[Parsed]) -> list[tuple[str, str, Money, str | None, str | None]]:
    return [
        (d.kind, d.external_id, d.amount, d.party.external_id, d.account)
        for d in found
        if isinstance(d, Document)
    ]


def test_a_gbk_kingdee_voucher_export_gives_each_receivable_line_as_invoice_receipt_or_credit_note(
    shipped: MappingSet,
) -> None:
    found = parse(shipped, "export_kingdee_vouchers", FIXTURES / "kingdee_vouchers.csv")
    assert documents(found) == [
        ("invoice", "2026-03-记-1#1", Money.of("11300.00", "CNY"), "C0001", None),
        ("payment", "2026-03-收-2#1", Money.of("8000.00", "CNY"), "C0002", "100201"),  # the bank was debited
        ("credit_note", "2026-03-转-3#1", Money.of("500.00", "CNY"), "C0001", None),  # a sales return
        ("payment", "2026-03-收-6#1", Money.of("1000.00", "CNY"), "C0001", "100201"),
        ("payment", "2026-03-收-6#2", Money.of("2000.00", "CNY"), "C0002", "100201"),
        (
            "credit_note",
            "2026-03-记-7#1",
            Money.of("1130.00", "CNY"),
            "C0004",
            None,
        ),  # red ink: negative debit
        # numbers restart monthly; a US dollar line: its 原币金额, its 14,400.00 CNY balancing the voucher
        ("invoice", "2026-04-记-1#1", Money.of("2000.00", "USD"), "C0005", None),
    ]
    first = next(d for d in found if isinstance(d, Document))
    assert (first.party.name, first.number, first.references) == (
        "上海星辰贸易有限公司",
        "2026-03-记-1",
        ("销售商品 发票AR00000201",),
    )
    assert first.origin.row == 3
    [unbalanced] = [p for p in found if isinstance(p, Problem)]  # the totals line is skipped, and said so
    assert [n.text for n in found if isinstance(n, Notice)][-1] == (
        "rows the mapping's [[skip]] rules passed over: 1 whose '日期' matches ^(合计|总计|小计)"
    )
    assert (
        unbalanced.reason
        == "voucher 2026-03-记-4 (rows 10–11) does not balance: 100.00 CNY more debit than credit"
    )
    assert unbalanced.origin.raw.count("\n") == 1  # both its rows kept


def test_a_yonyou_voucher_workbook_reads_its_customer_from_the_auxiliary_columns(shipped: MappingSet) -> None:
    found = parse(shipped, "export_yonyou_vouchers", FIXTURES / "yonyou_vouchers.xlsx")
    assert documents(found) == [
        ("invoice", "2026-03-记-0012#1", Money.of("22600", "CNY"), "010001", None),
        ("payment", "2026-03-收-0003#1", Money.of("12000", "CNY"), "010001", "100201"),
        ("payment", "2026-03-收-0004#1", Money.of("1000", "USD"), "020001", "100202"),  # 外币金额
        ("credit_note", "2026-03-记-0013#1", Money.of("11300", "CNY"), "010002", None),  # red ink
    ]
    assert not [p for p in found if isinstance(p, Problem)]


def test_a_voucher_with_an_unreadable_line_is_refused_whole_and_the_next_one_read(
    shipped: MappingSet, tmp_path: Path
) -> None:
    path = tmp_path / "v.csv"
    path.write_text(
        "日期,凭证字,凭证号,摘要,科目代码,核算项目,币别,借方金额,贷方金额\n"
        "2026/3/2,记,1,销售,1122,C0001 上海星辰贸易有限公司,人民币,1O0.00,\n"  # letter O
        "2026/3/2,记,1,销售,6001,,人民币,,100.00\n"
        "2026/3/3,记,2,销售,1122,C0001 上海星辰贸易有限公司,人民币,50.00,50.00\n"
        "2026/3/3,记,2,销售,6001,,人民币,,\n"
        "2026/3/4,记,3,销售,1122,C0002 深圳海川电子有限公司,,80.00,\n"
        "2026/3/4,记,3,销售,6001,,,,80.00\n",
        encoding="utf-8",
    )
    found = parse(shipped, "export_kingdee_vouchers", path)
    problems = [p for p in found if isinstance(p, Problem)]
    assert [p.origin.row for p in problems] == [2, 4]
    assert problems[0].reason.startswith("the voucher of rows 2–3 cannot be read: row 2: debit (借方金额): ")
    assert (
        problems[1].reason
        == "the voucher of rows 4–5 cannot be read: row 4: a line is a debit or a credit, not both"
    )
    assert documents(found) == [("invoice", "2026-03-记-3#1", Money.of("80.00", "CNY"), "C0002", None)]


def test_each_voucher_export_is_recognised_by_its_own_mapping_alone(shipped: MappingSet) -> None:
    parsers = [
        *(MappedExport(mapping) for mapping in shipped.documents.values()),
        *(VoucherExport(mapping) for mapping in shipped.vouchers.values()),
    ]
    for file, source in (
        ("kingdee_vouchers.csv", "kingdee.vouchers"),
        ("yonyou_vouchers.xlsx", "yonyou.vouchers"),
    ):
        path = FIXTURES / file
        head = path.read_bytes()[:65536]
        recognised = [p.format for p in parsers if p.sniff(head, file) or p.sniff_path(path, file)]
        assert recognised == [source]


def test_a_voucher_mapping_names_its_unknown_and_missing_targets() -> None:
    data = {
        "kind": "voucher",
        "fields": [{"target": t, "source": t} for t in ("voucher_number", "debt", "date")],
    }
    missing = "ledger_account, debit, credit, currency (or set default_currency)"
    assert VoucherMapping.cross_check(data) == [
        ("fields[1].target", "unknown target 'debt' — did you mean 'debit'?"),
        ("fields", f"a voucher mapping needs a field for {missing}"),
    ]
    withdrawing = {**data, "skip": [{"column": "状态", "matches": "作废", "withdraws": True}]}
    assert VoucherMapping.cross_check(withdrawing)[-1] == (
        "skip",
        "withdraws is for document exports: a voucher is withdrawn by its red ink",
    )


VOUCHER_HEADER = "日期,凭证字,凭证号,摘要,科目代码,核算项目,币别,借方金额,贷方金额"


def write_vouchers(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "v.csv"
    path.write_text("\n".join([VOUCHER_HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_a_voucher_exported_again_with_its_lines_in_another_order_gives_the_same_documents(
    shipped: MappingSet, tmp_path: Path
) -> None:
    lines = [
        "2026/3/9,收,6,合并收款,100201,,人民币,3000.00,",
        "2026/3/9,收,6,合并收款,1122,C0001 上海星辰贸易有限公司,人民币,,1000.00",
        "2026/3/9,收,6,合并收款,1122,C0002 深圳海川电子有限公司,人民币,,2000.00",
    ]
    before = documents(parse(shipped, "export_kingdee_vouchers", write_vouchers(tmp_path, *lines)))
    after = documents(parse(shipped, "export_kingdee_vouchers", write_vouchers(tmp_path, *reversed(lines))))
    assert sorted(before) == sorted(after)
    assert [d[1] for d in before] == ["2026-03-收-6#1", "2026-03-收-6#2"]


def test_a_voucher_amount_written_1_500_is_refused_as_thousands_or_a_point_not_read_as_1_50(
    shipped: MappingSet, tmp_path: Path
) -> None:
    lines = [
        "2026/3/2,记,1,销售,1122,C0001 上海星辰贸易有限公司,人民币,1.500,",
        "2026/3/2,记,1,销售,6001,,人民币,,1.500",
    ]
    found = parse(shipped, "export_kingdee_vouchers", write_vouchers(tmp_path, *lines))
    (refused,) = [p for p in found if isinstance(p, Problem)]
    assert "1.500 may be 1,500 (a '.' grouping thousands) or 1.5" in refused.reason
    assert documents(found) == []


def test_a_voucher_amount_written_with_more_decimals_than_its_currency_is_refused_naming_its_row(
    shipped: MappingSet, tmp_path: Path
) -> None:
    kingdee = shipped.vouchers["export_kingdee_vouchers"]
    fields = tuple(
        FieldMap.model_validate(
            {"target": f.target, "source": f.source, "convert": [{"name": "decimal", "separator": ","}]}
        )
        if f.target in ("debit", "credit")
        else f
        for f in kingdee.fields
    )
    lines = [  # a thousand yen with a decimal comma declared: 1,000 reads as 1.000, never as one yen
        '2026/3/2,记,1,销售,1122,C0001 上海星辰贸易有限公司,日元,"1,000",',
        '2026/3/2,记,1,销售,6001,,日元,,"1,000"',
    ]
    path = write_vouchers(tmp_path, *lines)
    found = list(
        VoucherExport(kingdee.model_copy(update={"fields": fields, "default_currency": "JPY"})).parse(
            path, path.name
        )
    )
    (refused,) = [p for p in found if isinstance(p, Problem)]
    assert refused.reason == (
        "the voucher of rows 2–3 cannot be read: row 2: debit: 1.000 JPY is written with 3 decimals, JPY has "
        "0: a separator grouping thousands, or decimals that are not there; never rounded, correct it at the "
        "source"
    )
    assert documents(found) == []


def test_a_receipt_banked_less_a_fee_is_a_payment_of_the_money_banked_and_a_credit_note_of_the_fee(
    shipped: MappingSet, tmp_path: Path
) -> None:
    lines = [
        "2026/3/10,记,5,收款 INV-88,1002,,人民币,990.00,",
        "2026/3/10,记,5,手续费,6603,,人民币,10.00,",
        "2026/3/10,记,5,收款 INV-88,1122,C0001 上海星辰贸易有限公司,人民币,,1000.00",
    ]
    found = [
        d
        for d in parse(shipped, "export_kingdee_vouchers", write_vouchers(tmp_path, *lines))
        if isinstance(d, Document)
    ]
    assert [(d.kind, d.external_id, d.amount) for d in found] == [
        ("payment", "2026-03-记-5#1", Money.of("990.00", "CNY")),
        ("credit_note", "2026-03-记-5#1.kept", Money.of("10.00", "CNY")),
    ]
    assert found[0].account == "1002"
    assert found[1].party == found[0].party


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (  # 合并制单: a receipt and a sales return (a red 应收单) in one voucher
            [
                "2026/3/9,记,8,收款单 SKD1,100201,,人民币,1000.00,",
                "2026/3/9,记,8,收款单 SKD1,1122,C0001 上海星辰贸易有限公司,人民币,,1000.00",
                "2026/3/9,记,8,红字应收单 AR9,6001,,人民币,500.00,",
                "2026/3/9,记,8,红字应收单 AR9,1122,C0002 深圳海川电子有限公司,人民币,,500.00",
            ],
            [("payment", "2026-03-记-8#1", "1000.00"), ("credit_note", "2026-03-记-8#2", "500.00")],
        ),
        (  # each bank line pays the credit of its amount, whatever their order
            [
                "2026/3/9,记,8,退货,6001,,人民币,300.00,",
                "2026/3/9,记,8,收款,100201,,人民币,2000.00,",
                "2026/3/9,记,8,收款,100202,,人民币,1000.00,",
                "2026/3/9,记,8,收款,1122,C0001 上海星辰贸易有限公司,人民币,,1000.00",
                "2026/3/9,记,8,退货,1122,C0001 上海星辰贸易有限公司,人民币,,300.00",
                "2026/3/9,记,8,收款,1122,C0002 深圳海川电子有限公司,人民币,,2000.00",
            ],
            [
                ("credit_note", "2026-03-记-8#1", "300.00"),
                ("payment", "2026-03-记-8#2", "1000.00"),
                ("payment", "2026-03-记-8#3", "2000.00"),
            ],
        ),
        (  # money banked short of two credits: the last one paid in part, the rest kept back
            [
                "2026/3/9,记,8,收款,100201,,人民币,2900.00,",
                "2026/3/9,记,8,手续费,6603,,人民币,100.00,",
                "2026/3/9,记,8,收款,1122,C0001 上海星辰贸易有限公司,人民币,,1000.00",
                "2026/3/9,记,8,收款,1122,C0002 深圳海川电子有限公司,人民币,,2000.00",
            ],
            [
                ("payment", "2026-03-记-8#1", "1000.00"),
                ("payment", "2026-03-记-8#2", "1900.00"),
                ("credit_note", "2026-03-记-8#2.kept", "100.00"),
            ],
        ),
    ],
    ids=["receipt-and-sales-return", "exact-amounts-first", "short-of-two"],
)
def test_a_voucher_crediting_receivables_with_more_than_it_banks_has_receipts_of_the_money_banked_only(
    shipped: MappingSet, tmp_path: Path, lines: list[str], expected: list[tuple[str, str, str]]
) -> None:
    found = parse(shipped, "export_kingdee_vouchers", write_vouchers(tmp_path, *lines))
    assert [p for p in found if isinstance(p, Problem)] == []
    assert [(kind, external_id, amount) for kind, external_id, amount, *_ in documents(found)] == [
        (kind, external_id, Money.of(amount, "CNY")) for kind, external_id, amount in expected
    ]


@pytest.mark.parametrize(
    "outflow",
    [
        ["2026/3/10,记,5,手续费,6603,,人民币,10.00,", "2026/3/10,记,5,手续费,1002,,人民币,,10.00"],
        ["2026/3/10,记,5,付供应商,2202,,人民币,300.00,", "2026/3/10,记,5,付供应商,1002,,人民币,,300.00"],
    ],
    ids=["fee-booked-gross", "supplier-paid"],
)
def test_money_leaving_the_bank_in_the_same_voucher_keeps_nothing_back_from_the_receipt(
    shipped: MappingSet, tmp_path: Path, outflow: list[str]
) -> None:
    lines = [
        "2026/3/10,记,5,收款 INV-88,1002,,人民币,1000.00,",
        "2026/3/10,记,5,收款 INV-88,1122,C0001 上海星辰贸易有限公司,人民币,,1000.00",
        *outflow,
    ]
    parsed = parse(shipped, "export_kingdee_vouchers", write_vouchers(tmp_path, *lines))
    assert [(d.kind, d.amount) for d in parsed if isinstance(d, Document)] == [
        ("payment", Money.of("1000.00", "CNY"))
    ]


def test_a_voucher_export_without_an_optional_column_says_so_before_its_documents(
    shipped: MappingSet, tmp_path: Path
) -> None:
    path = write_vouchers(  # no 原币金额: a foreign currency line could not be read
        tmp_path,
        "2026/3/9,收,6,合并收款,100201,,人民币,1000.00,",
        "2026/3/9,收,6,合并收款,1122,C0001 上海星辰贸易有限公司,人民币,,1000.00",
    )
    notice, *rest = parse(shipped, "export_kingdee_vouchers", path)
    assert isinstance(notice, Notice)
    assert "read as empty: '原币金额' (amount_original)" in notice.text
    assert [type(item) for item in rest] == [Document]


def test_a_foreign_currency_line_is_its_original_amount_and_without_one_its_voucher_is_refused(
    shipped: MappingSet, tmp_path: Path
) -> None:
    header = "日期,凭证字,凭证号,摘要,科目代码,核算项目,币别,汇率,原币金额,借方金额,贷方金额"
    path = tmp_path / "fx.csv"
    lines = [
        "2026/3/5,收,5,美元回款,100202,,美元,7.2,1000.00,7200.00,",
        "2026/3/5,收,5,美元回款,1122,C0003 香港永利贸易公司,美元,7.2,1000.00,,7200.00",
        "2026/3/6,收,6,美元回款,100202,,美元,7.2,,3600.00,",
        "2026/3/6,收,6,美元回款,1122,C0003 香港永利贸易公司,美元,7.2,,,3600.00",
        "2026/3/31,转,9,期末调汇,1122,C0003 香港永利贸易公司,美元,7.25,0.00,50.00,",  # a revaluation
        "2026/3/31,转,9,期末调汇,6603,,人民币,,50.00,,50.00",
    ]
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")

    found = parse(shipped, "export_kingdee_vouchers", path)

    assert documents(found) == [("payment", "2026-03-收-5#1", Money.of("1000.00", "USD"), "C0003", "100202")]
    (refused,) = [p for p in found if isinstance(p, Problem)]
    assert refused.reason == (
        "the voucher of rows 4–5 cannot be read: row 4: a line in USD needs its amount in USD "
        "(amount_original, e.g. 原币金额): its debit and credit are in the books' CNY"
    )


def test_a_voucher_split_by_a_page_break_or_another_voucher_is_read_whole_and_totals_rows_are_skipped(
    shipped: MappingSet, tmp_path: Path
) -> None:
    path = write_vouchers(
        tmp_path,
        "2026/3/9,收,6,合并收款,100201,,人民币,1000.00,",
        "2026/3/9,收,6,合并收款,1122,C0001 上海星辰贸易有限公司,人民币,,1000.00",
        VOUCHER_HEADER,  # the next page's header
        "2026/3/9,记,7,办公费,6602,,人民币,50.00,",
        "2026/3/9,收,6,合并收款,100201,,人民币,1000.00,",
        "2026/3/9,收,6,合并收款,1122,C0001 上海星辰贸易有限公司,人民币,,1000.00",
        "2026/3/9,记,7,办公费,100201,,人民币,,50.00",
        ",,,合计,,,,2050.00,2050.00",
    )
    found = parse(shipped, "export_kingdee_vouchers", path)
    assert [p for p in found if isinstance(p, Problem)] == []
    assert documents(found) == [
        ("payment", "2026-03-收-6#1", Money.of("1000.00", "CNY"), "C0001", "100201"),
        ("payment", "2026-03-收-6#2", Money.of("1000.00", "CNY"), "C0001", "100201"),
    ]


def test_a_red_ink_reversal_of_a_receipt_goes_to_a_person_and_a_customer_named_on_the_bank_line_only_counts(
    shipped: MappingSet, tmp_path: Path
) -> None:
    path = write_vouchers(
        tmp_path,
        "2026/3/9,收,3,冲销 收-2 退票,100201,,人民币,-1000.00,",
        "2026/3/9,收,3,冲销 收-2 退票,1122,C0001 上海星辰贸易有限公司,人民币,,-1000.00",
        "2026/3/10,收,4,收款,100201,C0002 深圳海川电子有限公司,人民币,700.00,",
        "2026/3/10,收,4,收款,1122,,人民币,,700.00",
    )
    found = parse(shipped, "export_kingdee_vouchers", path)
    [returned] = [p for p in found if isinstance(p, Problem)]
    assert returned.origin.row == 3
    assert "a receivable raised as money leaves the bank" in returned.reason
    assert documents(found) == [("payment", "2026-03-收-4#1", Money.of("700.00", "CNY"), "C0002", "100201")]


def test_a_voucher_workbooks_totals_row_whose_formulas_were_never_calculated_is_skipped(
    shipped: MappingSet, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()  # written by a program: formulas saved without their values
    sheet = book.active
    sheet.append(
        ["制单日期", "凭证类别字", "凭证号", "摘要", "科目编码", "客户编码", "客户", "币种", "借方", "贷方"]
    )
    on = dt.date(2026, 3, 3)
    sheet.append([on, "记", "0012", "销售", "1122", "010001", "上海星辰贸易有限公司", "人民币", 226, None])
    sheet.append([on, "记", "0012", "销售", "6001", None, None, "人民币", None, 226])
    sheet.append(["合计", None, None, None, None, None, None, None, "=SUM(I2:I3)", "=SUM(J2:J3)"])
    path = tmp_path / "v.xlsx"
    book.save(path)
    found = parse(shipped, "export_yonyou_vouchers", path)
    assert [p for p in found if isinstance(p, Problem)] == []
    assert documents(found) == [("invoice", "2026-03-记-0012#1", Money.of("226", "CNY"), "010001", None)]


@pytest.mark.parametrize("merged", [False, True], ids=["blank-below-csv", "merged-xlsx"])
def test_a_voucher_naming_its_date_word_and_number_on_its_first_line_only_is_read_whole(
    shipped: MappingSet, tmp_path: Path, merged: bool
) -> None:
    lines = [
        "2026/3/2,记,1,销售 A,1122,C0001 上海星辰贸易有限公司,人民币,1000.00,",
        ",,,,6001,,人民币,,1000.00",
        "2026/3/3,收,1,收款,100201,,人民币,2000.00,",
        ",,,,1122,C0002 深圳海川电子有限公司,人民币,,2000.00",
        "合计,,,,,,,3000.00,3000.00",
        ",,,,6001,,人民币,,5.00",  # under a totals row: no voucher's line
    ]
    path = write_vouchers(tmp_path, *lines)
    if merged:
        book = openpyxl.Workbook()
        sheet = book.active
        for line in [VOUCHER_HEADER, *lines]:
            sheet.append(line.split(","))
        for top in (2, 4):
            for column in "ABCD":
                sheet.merge_cells(f"{column}{top}:{column}{top + 1}")
        path = tmp_path / "v.xlsx"
        book.save(path)
    found = parse(shipped, "export_kingdee_vouchers", path)
    assert documents(found) == [
        ("invoice", "2026-03-记-1#1", Money.of("1000.00", "CNY"), "C0001", None),
        ("payment", "2026-03-收-1#1", Money.of("2000.00", "CNY"), "C0002", "100201"),
    ]
    (stray,) = [p for p in found if isinstance(p, Problem)]
    assert stray.origin.row == 7
    assert "voucher_number" in stray.reason


def test_a_voucher_number_a_spreadsheet_saved_as_a_number_is_the_same_voucher_under_the_sources_own_id(
    shipped: MappingSet, tmp_path: Path
) -> None:
    header = [
        "制单日期",
        "凭证类别字",
        "凭证号",
        "摘要",
        "科目编码",
        "客户编码",
        "客户",
        "币种",
        "借方",
        "贷方",
    ]
    on = dt.date(2026, 3, 3)

    def yonyou(
        name: str, first: str | int, second: str | int
    ) -> list[tuple[str, str, Money, str | None, str | None]]:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(header)
        sheet.append([on, "记", first, "销售", "1122", "010001", "上海星辰贸易有限公司", "人民币", 226, None])
        sheet.append([on, "记", second, "销售", "6001", None, None, "人民币", None, 226])
        path = tmp_path / name
        book.save(path)
        found = parse(shipped, "export_yonyou_vouchers", path)
        assert [p for p in found if isinstance(p, Problem)] == []
        return documents(found)

    as_exported = yonyou("text.xlsx", "0012", "0012")
    assert as_exported == [("invoice", "2026-03-记-0012#1", Money.of("226", "CNY"), "010001", None)]
    assert yonyou("number.xlsx", 12, 12) == as_exported  # saved again by Excel: the zeros gone
    assert yonyou("both.xlsx", "0012", 12) == as_exported  # one voucher, balanced

    kingdee = write_vouchers(
        tmp_path,
        "2026/3/2,记,0012,销售,1122,C0001 上海星辰贸易有限公司,人民币,100.00,",
        "2026/3/2,记,12,销售,6001,,人民币,,100.00",
    )
    assert documents(parse(shipped, "export_kingdee_vouchers", kingdee)) == [
        ("invoice", "2026-03-记-12#1", Money.of("100.00", "CNY"), "C0001", None)  # as 金蝶 writes it
    ]


def test_a_voucher_number_typed_in_full_width_digits_is_the_voucher_of_its_ascii_number(
    shipped: MappingSet, tmp_path: Path
) -> None:
    def read(mapping: VoucherMapping, number: str) -> list[tuple[str, str, Money, str | None, str | None]]:
        path = write_vouchers(
            tmp_path,
            f'2026-03-12,记,{number},销售,1122,C0003 北京青禾科技有限公司,人民币,"1,130.00",',
            f'2026-03-12,记,{number},销售,6001,,人民币,,"1,000.00"',
            f"2026-03-12,记,{number},销售,2221.01,,人民币,,130.00",
        )
        found = list(VoucherExport(mapping).parse(path, path.name))
        assert [p for p in found if isinstance(p, Problem)] == []
        return documents(found)

    kingdee = shipped.vouchers["export_kingdee_vouchers"]
    typed = read(kingdee, "１２")
    assert typed == read(kingdee, "12")
    assert typed == [("invoice", "2026-03-记-12#1", Money.of("1130.00", "CNY"), "C0003", None)]
    # a mapping of its own that takes the number as written: in digits, the full-width ones still count
    as_written = FieldMap.model_validate(
        {"target": "voucher_number", "source": "凭证号", "convert": ["strip", "required"]}
    )
    fields = tuple(as_written if f.target == "voucher_number" else f for f in kingdee.fields)
    assert read(kingdee.model_copy(update={"fields": fields}), "１２") == typed


def test_a_department_as_accounting_item_of_a_line_off_the_receivable_names_no_customer_and_refuses_nothing(
    shipped: MappingSet, tmp_path: Path
) -> None:
    path = write_vouchers(
        tmp_path,
        "2026-04-02,记,1,报销差旅费,6601.02,销售部,人民币,800.00,",  # no receivable line at all
        "2026-04-02,记,1,报销差旅费,1001,,人民币,,800.00",
        "2026-04-03,记,2,销售,1122,C0003 北京青禾科技有限公司,人民币,5650.00,",
        "2026-04-03,记,2,销售,6001,销售部,人民币,,5000.00",
        "2026-04-03,记,2,销售,2221.01,,人民币,,650.00",
        "2026-04-04,记,3,销售,1122,销售部,人民币,100.00,",  # on the receivable: a customer it must name
        "2026-04-04,记,3,销售,6001,,人民币,,100.00",
    )
    found = parse(shipped, "export_kingdee_vouchers", path)
    assert documents(found) == [("invoice", "2026-04-记-2#1", Money.of("5650.00", "CNY"), "C0003", None)]
    (refused,) = [p for p in found if isinstance(p, Problem)]
    assert refused.reason.startswith(
        "the voucher of rows 7–8 cannot be read: row 7: party_external_id (核算项目): "
    )


def test_a_voucher_dated_on_its_first_line_only_its_word_and_number_on_each_is_read_whole(
    shipped: MappingSet, tmp_path: Path
) -> None:
    path = write_vouchers(
        tmp_path,
        "2026-03-12,记,7,销售,1122,C0003 北京青禾科技有限公司,人民币,1130.00,",
        ",记,7,销售,6001,,人民币,,1000.00",
        ",记,7,销售,2221.01,,人民币,,130.00",
        ",记,8,办公费,6602,,人民币,50.00,",  # another voucher's number: not the one above's, no date
        ",记,8,办公费,1001,,人民币,,50.00",
    )
    found = parse(shipped, "export_kingdee_vouchers", path)
    assert documents(found) == [("invoice", "2026-03-记-7#1", Money.of("1130.00", "CNY"), "C0003", None)]
    (undated,) = [p for p in found if isinstance(p, Problem)]
    assert (undated.origin.row, undated.reason) == (
        5,
        "the voucher of rows 5–6 cannot be read: date: a value is required here but the source has none",
    )


def test_a_voucher_whose_date_cannot_be_read_is_refused_with_the_dates_own_error(shipped: MappingSet) -> None:
    found = parse(shipped, "export_kingdee_vouchers", FIXTURES / "kingdee_vouchers_bad_dates.csv")
    reasons = [p.reason for p in found if isinstance(p, Problem)]
    assert [r.split(" the date formats")[0] for r in reasons] == [
        "the voucher of rows 2–3 cannot be read: row 2: date (日期): the value, written 9999/99/99, does not "
        "match any of",
        "the voucher of rows 4–5 cannot be read: row 4: date (日期): the value, written 99/99/9999, does not "
        "match any of",
    ]
    [serial] = [
        p.reason
        for p in parse(shipped, "export_yonyou_vouchers", FIXTURES / "yonyou_vouchers_serial_date.xlsx")
        if isinstance(p, Problem)
    ]
    assert serial.startswith("the voucher of rows 2–3 cannot be read: row 2: date (制单日期): the value, ")
    assert serial.endswith(
        "a number of five digits is a date as a spreadsheet stores it (days since 1899-12-30): format the "
        "column as a date, or export the file again"
    )


def test_a_receipt_into_alipay_or_by_a_customers_note_is_a_payment_the_note_posting_off_the_bank(
    shipped: MappingSet,
) -> None:
    for stem in ("export_kingdee_vouchers", "export_yonyou_vouchers"):
        assert (shipped.vouchers[stem].bank, shipped.vouchers[stem].notes) == ("^(100[12]|1012)", "^1121")
    found = parse(shipped, "export_kingdee_vouchers", FIXTURES / "kingdee_vouchers_alipay_and_notes.csv")
    read = [d for d in found if isinstance(d, Document)]
    assert [(*row, d.off_bank) for row, d in zip(documents(found), read, strict=True)] == [
        ("payment", "2026-03-收-11#1", Money.of("800.00", "CNY"), "C0002", "101202", False),  # 其他货币资金
        ("payment", "2026-03-收-12#1", Money.of("5000.00", "CNY"), "C0001", "112101", True),  # 承兑汇票
        ("payment", "2026-03-收-13#1", Money.of("1000.00", "CNY"), "C0001", "100201", False),
        ("payment", "2026-03-收-13#1.note", Money.of("2000.00", "CNY"), "C0001", "112101", True),
    ]
    assert not [p for p in found if isinstance(p, Problem)]
