"""A payment the bank kept a charge of (Zoho Books `Bank Charges`): the receipt of what the bank received
and a `.kept` credit note of the charge, so that the customer is credited the whole payment."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from adapters.exports.mapped import MappedExport
from connector.documents import Allocation, Document, Notice, Parsed, Problem
from connector.mapping.files import MappingSet, load_mapping_set
from connector.mapping.model import DocumentMapping
from connector.money import Money

REPO = Path(__file__).parents[2]
PAYMENTS = REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv"
HEADER = (
    "CustomerPayment ID,Payment Number,Date,Customer Name,Amount,Bank Charges,Currency Code,Reference Number"
)
HEADER += ",Invoice Number,Amount Applied to Invoice\n"


@pytest.fixture(scope="module")
def zoho() -> MappedExport:
    mappings, problems = load_mapping_set(REPO / "mappings")
    assert mappings is not None, problems
    return _parser(mappings)


def _parser(mappings: MappingSet) -> MappedExport:
    mapping = mappings.document_format("zoho_books.payments")
    assert mapping is not None
    return MappedExport(mapping)


def _read(parser: MappedExport, tmp_path: Path, text: str) -> list[Parsed]:
    """What `text` gives, without the notice of the columns it leaves out (CustomerID …)."""
    path = tmp_path / "payments.csv"
    path.write_text(text, encoding="utf-8")
    return [item for item in parser.parse(path, path.name) if not isinstance(item, Notice)]


def _documents(found: list[Parsed]) -> dict[str, Document]:
    return {item.external_id: item for item in found if isinstance(item, Document)}


def _eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def test_a_payment_with_bank_charges_is_a_receipt_of_what_the_bank_received_and_a_kept_credit_note(
    zoho: MappedExport, tmp_path: Path
) -> None:
    rows = HEADER + (
        "5003,PMT-3,2026-03-05,Müller Maschinenbau GmbH,1000.00,15.00,EUR,SEPA-1,INV-2001,600.00\n"
        "5003,PMT-3,2026-03-05,Müller Maschinenbau GmbH,1000.00,15.00,EUR,SEPA-1,INV-2002,400.00\n"
    )

    found = _read(zoho, tmp_path, rows)

    assert not [item for item in found if isinstance(item, Problem)]
    receipt, kept = _documents(found).values()
    assert (receipt.kind, receipt.external_id, receipt.amount, receipt.number) == (
        "payment",
        "5003",
        _eur("985.00"),
        "PMT-3",
    )
    # The money received pays the invoices in their order; the credit note the rest of them.
    assert receipt.allocations == (
        Allocation("INV-2001", _eur("600.00")),
        Allocation("INV-2002", _eur("385.00")),
    )
    assert (kept.kind, kept.external_id, kept.amount, kept.number) == (
        "credit_note",
        "5003.kept",
        _eur("15.00"),
        None,
    )
    assert kept.allocations == (Allocation("INV-2002", _eur("15.00")),)
    assert (kept.party, kept.references, kept.date, kept.origin) == (
        receipt.party,
        receipt.references,
        receipt.date,
        receipt.origin,
    )


def test_bank_charges_come_off_the_part_applied_to_no_invoice_first(
    zoho: MappedExport, tmp_path: Path
) -> None:
    rows = HEADER + "5004,PMT-4,2026-03-05,Müller Maschinenbau GmbH,1000.00,15.00,EUR,,INV-2001,600.00\n"

    receipt, kept = _documents(_read(zoho, tmp_path, rows)).values()

    assert (receipt.amount, receipt.allocations) == (
        _eur("985.00"),
        (Allocation("INV-2001", _eur("600.00")),),
    )
    assert (kept.amount, kept.allocations) == (_eur("15.00"), ())


def test_a_payment_without_bank_charges_is_one_receipt_of_its_whole_amount(
    zoho: MappedExport, tmp_path: Path
) -> None:
    rows = HEADER + (
        "5005,PMT-5,2026-03-05,Müller Maschinenbau GmbH,1000.00,,EUR,,INV-2001,1000.00\n"
        "5006,PMT-6,2026-03-06,Müller Maschinenbau GmbH,500.00,0.00,EUR,,INV-2002,500.00\n"
    )

    documents = _documents(_read(zoho, tmp_path, rows))

    assert {(d.external_id, d.kind, d.amount) for d in documents.values()} == {
        ("5005", "payment", _eur("1000.00")),
        ("5006", "payment", _eur("500.00")),
    }


def test_an_export_without_the_bank_charges_column_reads_as_before_and_says_so(
    zoho: MappedExport, tmp_path: Path
) -> None:
    lines = list(csv.reader(PAYMENTS.read_text(encoding="utf-8-sig").splitlines()))
    column = lines[0].index("Bank Charges")
    written = io.StringIO()
    csv.writer(written, lineterminator="\n").writerows(
        cells[:column] + cells[column + 1 :] for cells in lines
    )
    without = tmp_path / "without.csv"
    without.write_text(written.getvalue(), encoding="utf-8")

    before = list(zoho.parse(PAYMENTS, "payments.csv"))
    after = list(zoho.parse(without, "payments.csv"))

    notice, *rest = after
    assert isinstance(notice, Notice)
    assert "so read as empty: 'Bank Charges' (bank_charges);" in notice.text
    assert [(d.external_id, d.amount, d.allocations) for d in _documents(rest).values()] == [
        (d.external_id, d.amount, d.allocations) for d in _documents(before).values()
    ]


@pytest.mark.parametrize(
    ("charges", "reason"),
    [
        ("1000.00", "bank_charges (Bank Charges): 1000.00 is not less than the payment's amount 1000.00"),
        ("-15.00", "bank_charges (Bank Charges): -15.00 is negative: what the bank kept of a payment"),
    ],
)
def test_bank_charges_of_the_whole_payment_or_negative_are_a_problem(
    zoho: MappedExport, tmp_path: Path, charges: str, reason: str
) -> None:
    rows = HEADER + f"5007,PMT-7,2026-03-05,Müller,1000.00,{charges},EUR,,INV-2001,1000.00\n"

    (problem,) = _read(zoho, tmp_path, rows)

    assert isinstance(problem, Problem)
    assert problem.reason.startswith(reason)


def test_rows_of_one_payment_with_other_bank_charges_are_one_problem(
    zoho: MappedExport, tmp_path: Path
) -> None:
    rows = HEADER + (
        "5008,PMT-8,2026-03-05,Müller,1000.00,15.00,EUR,,INV-2001,600.00\n"
        "5008,PMT-8,2026-03-05,Müller,1000.00,10.00,EUR,,INV-2002,400.00\n"
    )

    (problem,) = _read(zoho, tmp_path, rows)

    assert isinstance(problem, Problem)
    assert problem.reason == "rows 2–3 are one payment 5008 but differ in bank_charges"


def _withdrawing_mapping() -> DocumentMapping:
    data: dict[str, Any] = {
        "kind": "document",
        "source": "test.payments",
        "document": "payment",
        "detect": {"headers": ["id", "amount"]},
        "default_currency": "EUR",
        "skip": [{"column": "status", "matches": "^VOID$", "withdraws": True}],
        "fields": [
            {"target": "external_id", "source": "id"},
            {"target": "date", "source": "date"},
            {"target": "amount", "source": "amount", "convert": ["decimal"]},
            {"target": "bank_charges", "source": "charges", "convert": ["decimal"]},
        ],
    }
    return DocumentMapping.model_validate(data)


def test_a_void_payment_with_bank_charges_withdraws_its_kept_credit_note_too(tmp_path: Path) -> None:
    text = "id,date,amount,charges,status\nP1,2026-03-05,1000.00,15.00,VOID\nP2,2026-03-05,200.00,,VOID\n"
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")

    found = list(MappedExport(_withdrawing_mapping()).parse(path, path.name))

    withdrawals = [(d.kind, d.external_id, d.reverses) for d in found if isinstance(d, Document)]
    assert withdrawals == [
        ("payment", "P1:withdrawn", "P1"),
        ("credit_note", "P1.kept:withdrawn", "P1.kept"),
        ("payment", "P2:withdrawn", "P2"),
    ]
