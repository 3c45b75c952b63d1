"""The matcher's pure functions: identifiers read out of free text, names compared by their core, and
the tier that decides."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import pytest

from connector.documents import Allocation, Document, Origin, Party
from connector.imports.matching import match_document, tokens
from connector.master.identity import name_core
from connector.money import Money


class Known:
    """What a matcher may know: identifiers as written, and open invoices by amount."""

    def __init__(
        self,
        written: dict[str, tuple[str, str]],
        open_invoices: Sequence[tuple[str, str]] = (),
        names: dict[str, str] | None = None,
    ) -> None:
        self.written = written  # identifier as written → (account number, what it is)
        self.open_invoices = list(open_invoices)
        self.names = names or {}  # name core → account number

    def by_token(self, token: str) -> Sequence[tuple[str, str, str]]:
        return [(a, why, w) for w, (a, why) in self.written.items() if w.upper() == token]

    def by_bank_account(self, account: str) -> Sequence[str]:
        return []

    def by_name(self, name: str, threshold: int) -> Sequence[tuple[str, int]]:
        return []

    def by_exact_name(self, name: str) -> Sequence[str]:
        found = self.names.get(name_core(name))
        return [found] if found is not None else []

    def by_open_invoice(self, amount: Money, on: date, window_days: int) -> Sequence[tuple[str, str]]:
        return self.open_invoices


def receipt(*references: str, amount: str = "100.00") -> Document:
    return Document(
        kind="bank_line",
        source="test",
        external_id="B-1",
        date=date(2026, 3, 1),
        amount=Money.of(amount, "CNY"),
        origin=Origin("statement", 1, ""),
        party=Party(name="张三"),
        references=references,
    )


def match(known: Known, *references: str) -> tuple[list[tuple[str, int, str]], tuple[str, ...]]:
    found = match_document(receipt(*references), known, name_threshold=90, window_days=60)
    return [(c.account_no, c.tier, c.why) for c in found.candidates], found.invoices


def test_a_card_number_printed_in_groups_of_four_is_one_identifier_not_four() -> None:
    assert tokens(["转账 付款卡号 6217 0000 1111 1234"]) == ["6217000011111234"]
    assert tokens(["IBAN DE89 3704 0044 0532 0130 00 INV-7"]) == ["IBAN", "DE89370400440532013000", "INV-7"]
    assert tokens(["GB29 NWBK 6016 1331 9268 19"]) == ["GB29NWBK60161331926819"]
    assert tokens(["INV 1234", "INV1 INV2 INV3"]) == ["INV", "1234", "INV1", "INV2", "INV3"]
    assert tokens(["BE68 5390 0754 7034 INV-0042"]) == ["BE68539007547034", "INV-0042"]


def test_three_numeric_invoice_numbers_in_a_row_stay_three() -> None:
    known = Known({n: ("KA001", "invoice") for n in ("1001", "1002", "1003")})
    assert match(known, "Inv 1001 1002 1003")[1] == ("1001", "1002", "1003")


def test_a_group_of_a_card_number_does_not_pass_for_a_numeric_invoice() -> None:
    known = Known({"1234": ("KA001", "invoice")})
    assert match(known, "转账 付款卡号 6217 0000 1111 1234") == ([], ())
    assert match(known, "货款 1234")[0] == [
        ("KA001", 1, "invoice 1234 in the document; but the payer's name is not like the customer's")
    ]


def test_an_invoice_number_of_digits_in_the_text_of_a_payer_like_none_of_its_customers_is_in_doubt() -> None:
    known = Known({"1002": ("KA001", "invoice")})
    found = match_document(receipt("Partial, inv 1002"), known, name_threshold=90, window_days=60)
    assert (found.sure, found.invoices) == (None, ("1002",))
    assert (
        found.candidates[0].why
        == "invoice 1002 in the document; but the payer's name is not like the customer's"
    )


def test_a_record_id_of_a_few_digits_in_the_text_of_a_payer_like_none_of_its_customers_is_in_doubt() -> None:
    known = Known({"2026": ("KA001", "record"), "INV-2026-7": ("KA002", "invoice")})
    rent = match_document(receipt("Rent March 2026"), known, name_threshold=90, window_days=60)
    assert (rent.sure, rent.doubted) == (None, True)
    assert match(known, "INV-2026-7")[0] == [("KA002", 1, "invoice INV-2026-7 in the document")]  # letters


def test_a_number_of_a_few_digits_in_the_text_of_a_payment_naming_no_payer_is_in_doubt() -> None:
    known = Known({"2026": ("KA001", "invoice")})
    nameless = dataclasses.replace(receipt("Rent March 2026"), party=Party())
    found = match_document(nameless, known, name_threshold=90, window_days=60)
    assert found.sure is None
    assert found.candidates[0].why == "invoice 2026 in the document; but no payer is named"


def test_full_width_references_are_read_as_their_ascii() -> None:
    assert tokens(["货款ＩＮＶ－００１"]) == ["INV-001"]


def test_identifiers_joined_by_a_slash_are_each_tried_when_each_has_letters_and_digits() -> None:
    assert tokens(["INV-001/INV-002"]) == ["INV-001/INV-002", "INV-001", "INV-002"]
    assert tokens(["INV/2026/001"]) == ["INV/2026/001"]  # one number written with slashes
    known = Known({"INV-001": ("KA001", "invoice"), "INV-002": ("KA001", "invoice")})
    assert match(known, "INV-001/INV-002")[1] == ("INV-001", "INV-002")


def test_an_invoice_named_in_other_case_is_recorded_as_the_invoice_is_written() -> None:
    known = Known({"Re-101": ("KA001", "invoice")})
    assert match(known, "paying RE-101") == ([("KA001", 1, "invoice Re-101 in the document")], ("Re-101",))


def test_an_amount_equal_to_an_open_invoice_names_no_invoice_so_the_oldest_are_paid_first() -> None:
    known = Known({}, open_invoices=[("KA001", "INV-B"), ("KA001", "INV-A")])
    assert match(known, "transfer") == ([("KA001", 4, "same amount as open invoice INV-B")], ())


@pytest.mark.parametrize(
    ("payer", "customer"),
    [
        ("北京青禾科技公司", "北京青禾科技有限公司"),
        ("ACME Pte. Ltd.", "ACME Co., Ltd."),
        ("Acme AG", "Acme GmbH"),
        ("ＡＣＭＥ　有限公司", "acme"),
        ("Müller & Co. KG", "MÜLLER"),
        ("株式会社トヨタ", "トヨタ株式会社"),
        ("KK Co., Ltd.", "KK Ltd"),  # a name's first word is its own, whatever it spells
        ("Acme S.A.", "Acme SA"),
        ("ACME S.A.", "acme s.a."),  # dotted, in any case
    ],
)
def test_names_differing_in_legal_form_width_or_case_have_one_core(payer: str, customer: str) -> None:
    assert name_core(payer) == name_core(customer)


def test_a_legal_form_is_left_out_only_as_a_whole_word() -> None:
    assert name_core("Zinc Ltd") == "zinc"
    assert name_core("Zinc") != name_core("Z")
    assert name_core("Limited") == "limited"  # nothing but a legal form: kept, not emptied


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Wang Sa", "Wang Se"),
        ("WANG SA", "WANG SE"),
        ("WANG SA", "Wang Se"),
        ("Grand Hotel & Spa", "Grand Hotel"),
    ],
)
def test_a_syllable_or_word_spelt_like_a_legal_form_is_part_of_the_name(one: str, other: str) -> None:
    assert name_core(one) != name_core(other)


def test_a_number_in_the_memo_does_not_outweigh_the_customer_the_document_names_both_wait() -> None:
    known = Known({"2026": ("MUELLER", "invoice")}, names={name_core("Acme Trading Co."): "ACME"})
    paid = receipt("March 2026 payment")
    by_acme = replace(paid, party=Party(name="ACME Trading Co., Ltd."))

    found = match_document(by_acme, known, name_threshold=90, window_days=60)

    assert [(c.account_no, c.tier) for c in found.candidates] == [("MUELLER", 1), ("ACME", 3)]
    assert found.sure is None
    alone = match_document(paid, known, name_threshold=90, window_days=60)  # 张三 is nobody known
    assert alone.sure is None  # "2026" alone, from a payer unlike MUELLER: in doubt
    assert [c.account_no for c in alone.candidates] == ["MUELLER"]
    longer = Known({"20261234": ("MUELLER", "invoice")})  # a fapiao's 8 digits tell it apart
    assert (
        match_document(receipt("发票 20261234"), longer, name_threshold=90, window_days=60).sure is not None
    )


def test_an_identifier_of_the_documents_own_fields_decides_whatever_its_name() -> None:
    known = Known({"C-7": ("MUELLER", "record id")}, names={name_core("Acme"): "ACME"})
    stated = replace(receipt(), party=Party(name="Acme", external_id="C-7"))

    found = match_document(stated, known, name_threshold=90, window_days=60)

    assert found.sure is not None
    assert found.sure.account_no == "MUELLER"


def test_an_allocation_to_another_customers_invoice_does_not_outweigh_the_payer_named_both_wait() -> None:
    known = Known(
        {"AR1004": ("HUARUN", "invoice"), "AR1005": ("XINGCHEN", "invoice")},
        names={name_core("上海星辰贸易有限公司"): "XINGCHEN"},
    )
    paid = Document(
        kind="payment",
        source="kingdee.receipts",
        external_id="SKD502",
        date=date(2026, 3, 5),
        amount=Money.of("8000.00", "CNY"),
        origin=Origin("收款单.csv", 3, ""),
        party=Party(name="上海星辰贸易有限公司", external_id="C0001"),  # C0001: no id the connector knows
        allocations=(Allocation("AR1004", Money.of("8000.00", "CNY")),),
    )

    found = match_document(paid, known, name_threshold=90, window_days=60)

    assert [(c.account_no, c.tier, c.why) for c in found.candidates] == [
        ("HUARUN", 1, "invoice AR1004 in the document"),
        ("XINGCHEN", 3, "named in the document (its name exactly)"),
    ]
    assert found.sure is None
    own = replace(paid, allocations=(Allocation("AR1005", Money.of("8000.00", "CNY")),))
    assert (sure := match_document(own, known, name_threshold=90, window_days=60).sure) is not None
    assert (sure.account_no, sure.why) == ("XINGCHEN", "invoice AR1005 in the document")
    by_id = replace(paid, party=Party(name="上海星辰贸易有限公司", external_id="K-9"))
    with_id = Known({**known.written, "K-9": ("HUARUN", "record id")}, names=known.names)
    assert match_document(by_id, with_id, name_threshold=90, window_days=60).sure is not None  # its own id
