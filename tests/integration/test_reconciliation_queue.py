"""The reconciliation queue and the tiers that fill it, on SQLite and PostgreSQL: what a person applies
pays what the receipt names, a changed receipt is applied anew, and an amount matches only an invoice
still wholly open."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from unittest.mock import ANY

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from connector.bootstrap import Container
from connector.credit.figures import customer_figures
from connector.db import unit_of_work
from connector.errors import ReconcileError
from connector.imports import reconcile
from connector.imports.models import ImportedDocument, ReconciliationItem
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.ledger.models import Customer, JournalEntry
from connector.ledger.queries import customer_balances
from connector.money import Money
from tests.integration.test_imports import PARSERS, assert_ledger_verifies, invoice, open_invoices, write
from tests.integration.test_master import master
from tests.integration.test_same_receipt import line, owes, payment

ON = date(2026, 3, 20)


def items(container: Container) -> list[tuple[int, str, list[dict[str, object]]]]:
    with unit_of_work(container.sessions) as session:
        found = session.scalars(select(ReconciliationItem).order_by(ReconciliationItem.id))
        return [(item.id, item.status, json.loads(item.candidates_json)) for item in found]


def apply(container: Container, item_id: int, account_no: str | None) -> str:
    accounts = Accounts.of(container.settings.ledger.chart)
    with unit_of_work(container.sessions) as session:
        return reconcile.apply(session, item_id, account_no, accounts, "finance", ON)


def auto_post_tiers(container: Container, monkeypatch: pytest.MonkeyPatch, tiers: int) -> None:
    settings = container.settings
    matching = settings.imports.matching.model_copy(update={"auto_post_tiers": tiers})
    imports = settings.imports.model_copy(update={"matching": matching})
    monkeypatch.setattr(container, "settings", settings.model_copy(update={"imports": imports}))


def test_a_receipt_whose_amount_changed_after_a_person_applied_it_waits_for_a_person_again(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    first = line("B-1", "777.00", "2026-03-10", payer="Somebody Unknown", references=["misc"])
    import_file(container, write(tmp_path / "a.jsonl", first), PARSERS)
    [(item_id, _, _)] = items(container)
    apply(container, item_id, acme)
    assert owes(container, acme).minor == -77700
    import_file(container, write(tmp_path / "b.jsonl", {**first, "amount": "770.00"}), PARSERS)
    assert items(container)[0][1] == "open"  # its application was reversed with it
    assert owes(container, acme).minor == 0
    apply(container, item_id, acme)
    assert owes(container, acme).minor == -77000
    with unit_of_work(container.sessions) as session:
        item = session.get_one(ReconciliationItem, item_id)
        document = session.get_one(ImportedDocument, item.document_id)
        assert (item.status, document.status, document.revision) == ("applied", "posted", 2)
    assert_ledger_verifies(container)


def test_a_receipt_resent_with_other_text_stays_applied_by_the_person_who_applied_it(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-7", acme, "500.00")), PARSERS)
    first = line("B-1", "777.00", "2026-03-10", payer="Somebody Unknown", references=["misc"])
    import_file(container, write(tmp_path / "a.jsonl", first), PARSERS)
    [(item_id, _, _)] = items(container)
    apply(container, item_id, acme)

    again = import_file(
        container, write(tmp_path / "b.jsonl", {**first, "references": ["misc, wrapped anew"]}), PARSERS
    )

    assert (again.counts["reposted"], again.counts["receipts_reapplied"]) == (1, 1)
    assert again.counts["receipts_unapplied"] == 0
    assert items(container)[0][1] == "applied"
    assert owes(container, acme).minor == -27700  # the invoice paid, the rest its credit, once
    assert open_invoices(container, acme, ON) == []
    with unit_of_work(container.sessions) as session:
        item = session.get_one(ReconciliationItem, item_id)
        document = session.get_one(ImportedDocument, item.document_id)
        application = session.get_one(JournalEntry, item.entry_id)
        assert (item.resolved_by, document.status, document.revision) == ("finance", "posted", 2)
        assert (application.revision, application.is_reversal) == (2, False)
    assert_ledger_verifies(container)


def test_a_decision_a_later_revision_did_not_wait_for_is_superseded_and_never_comes_back(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    first = line("B-1", "777.00", "2026-03-10", payer="Somebody Unknown", references=["misc"])
    import_file(container, write(tmp_path / "a.jsonl", first), PARSERS)
    [(item_id, _, _)] = items(container)
    apply(container, item_id, acme)
    named = write(tmp_path / "b.jsonl", {**first, "references": [f"misc {qinghe}"]})  # now names its payer
    assert import_file(container, named, PARSERS).counts["receipts_posted"] == 1
    assert items(container)[0][1] == "superseded"
    assert (owes(container, acme).minor, owes(container, qinghe).minor) == (0, -77700)

    again = import_file(
        container, write(tmp_path / "c.jsonl", {**first, "references": ["misc again"]}), PARSERS
    )

    assert again.counts["receipts_reapplied"] == 0  # the old decision is not brought back
    assert again.counts["receipts_unapplied"] == 1
    assert (owes(container, acme).minor, owes(container, qinghe).minor) == (0, 0)
    assert_ledger_verifies(container)


def test_who_decided_is_kept_to_its_columns_length_on_every_database(
    container: Container, tmp_path: Path
) -> None:
    import_file(
        container, write(tmp_path / "a.jsonl", line("B-1", "12.34", "2026-03-31", payer="本行")), PARSERS
    )
    [(item_id, _, _)] = items(container)
    with unit_of_work(container.sessions) as session:
        reconcile.reject(session, item_id, "bank interest", "finance-" + "x" * 200)
    with unit_of_work(container.sessions) as session:
        resolved_by = session.get_one(ReconciliationItem, item_id).resolved_by
    assert resolved_by is not None
    assert (len(resolved_by), resolved_by[:8]) == (100, "finance-")


def test_a_receipt_resent_with_other_text_stays_rejected_with_the_persons_note(
    container: Container, tmp_path: Path
) -> None:
    first = line("B-1", "12.34", "2026-03-31", payer="本行", references=["利息"])
    import_file(container, write(tmp_path / "a.jsonl", first), PARSERS)
    [(item_id, _, _)] = items(container)
    with unit_of_work(container.sessions) as session:
        reconcile.reject(session, item_id, "bank interest", "finance")

    again = import_file(container, write(tmp_path / "b.jsonl", {**first, "references": ["利息 Q1"]}), PARSERS)

    assert again.counts["receipts_rejected_again"] == 1
    with unit_of_work(container.sessions) as session:
        item = session.get_one(ReconciliationItem, item_id)
        assert (item.status, item.note, item.resolved_by) == ("rejected", "bank interest", "finance")
    assert_ledger_verifies(container)


def test_applying_a_receipt_to_a_customer_merged_away_names_the_one_it_went_into(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    import_file(
        container, write(tmp_path / "a.jsonl", line("B-1", "50.00", "2026-03-10", payer="Somebody")), PARSERS
    )
    [(item_id, _, _)] = items(container)
    with master(container) as m:
        m.merge(acme, qinghe, "same company")

    with pytest.raises(ReconcileError, match=f"{qinghe} was merged into {acme}: apply it to that one"):
        apply(container, item_id, qinghe)


def test_a_receipt_a_person_applies_pays_the_invoice_its_reference_names_before_older_ones(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    path = write(
        tmp_path / "a.jsonl",
        invoice("INV-OLD", acme, "100.00", date="2026-01-05"),
        invoice("INV-NEW", acme, "300.00", date="2026-03-01"),
        # acme's invoice and qinghe's account number: two customers, so a person decides
        payment("P-1", "", "300.00", "2026-03-10", references=[f"INV-NEW {qinghe}"]),
    )
    import_file(container, path, PARSERS)
    [(item_id, _, candidates)] = items(container)
    assert {c["account_no"] for c in candidates} == {acme, qinghe}
    apply(container, item_id, acme)
    assert open_invoices(container, acme, date(2026, 3, 25)) == [("INV-OLD", 10000)]
    with unit_of_work(container.sessions) as session:  # a payment, dated the day the money came
        customer_id = session.scalars(select(Customer.id).where(Customer.account_no == acme)).one()
        chart, rules = container.settings.ledger.chart, container.settings.credit
        paid = customer_figures(session, [customer_id], date(2026, 3, 25), chart, rules)[customer_id]
    assert (paid["last_payment_date"], paid["last_payment_amount"]) == (date(2026, 3, 10), Decimal("300.00"))
    assert_ledger_verifies(container)


def test_applying_an_item_whose_best_candidates_are_alike_needs_the_customer_named(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    path = write(
        tmp_path / "a.jsonl",
        invoice("INV-Q", qinghe, "5.00"),
        line("B-1", "30.00", "2026-03-10", references=[f"INV-Q {acme}"]),
    )
    import_file(container, path, PARSERS)
    [(item_id, _, _)] = items(container)
    with pytest.raises(ReconcileError, match="may each be the payer: name the customer's account number"):
        apply(container, item_id, None)
    assert apply(container, item_id, qinghe.lower()) == qinghe  # an account number in any case
    assert owes(container, qinghe).minor == -2500


def test_applying_an_item_whose_candidates_are_two_customers_of_two_tiers_needs_the_customer_named(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    with unit_of_work(container.sessions) as session:
        name = session.scalars(select(Customer).where(Customer.account_no == qinghe)).one()
        qinghe_name = container.customers(session).view(name.id).name
    path = write(  # the memo's number is acme's invoice, the payer's name is qinghe's exactly
        tmp_path / "a.jsonl",
        invoice("2026", acme, "5.00"),
        line("B-1", "30.00", "2026-03-10", payer=qinghe_name, references=["March 2026 payment"]),
    )
    import_file(container, path, PARSERS)
    [(item_id, _, candidates)] = items(container)
    assert [(c["account_no"], c["tier"]) for c in candidates] == [(acme, 1), (qinghe, 3)]
    with pytest.raises(ReconcileError, match=f"{acme}, {qinghe} may each be the payer"):
        apply(container, item_id, None)


def test_a_receipt_dated_after_the_day_it_is_applied_is_applied_on_its_own_date(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    later = line("B-1", "40.00", "2026-04-02", payer="X")  # dated after ON, the day it is applied
    import_file(container, write(tmp_path / "a.jsonl", later), PARSERS)
    [(item_id, _, _)] = items(container)
    apply(container, item_id, customers["acme"])
    with unit_of_work(container.sessions) as session:
        dates = session.scalars(select(JournalEntry.posting_date).order_by(JournalEntry.id)).all()
    assert dates == [date(2026, 4, 2), date(2026, 4, 2)]  # the receipt, then its application


def test_an_invoice_named_in_other_case_is_the_one_a_receipt_pays_first(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    path = write(
        tmp_path / "a.jsonl",
        invoice("INV-OLD", acme, "100.00", date="2026-01-05"),
        invoice("Re-101", acme, "300.00", date="2026-03-01"),
        payment("P-1", "", "300.00", "2026-03-10", references=["RE-101"]),
    )
    import_file(container, path, PARSERS)
    assert open_invoices(container, acme, date(2026, 3, 15)) == [("INV-OLD", 10000)]


def test_an_amount_matches_no_invoice_a_receipt_already_paid(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    books = write(
        tmp_path / "a.jsonl",
        invoice("INV-A1", acme, "100.00", date="2026-03-01"),
        invoice("INV-A2", acme, "500.00", date="2026-03-02"),
        payment("P-A1", "", "100.00", "2026-03-03", references=["INV-A1"]),
        invoice("INV-Q1", qinghe, "100.00", date="2026-03-04"),
    )
    import_file(container, books, PARSERS)
    bank = write(tmp_path / "b.jsonl", line("B-1", "100.00", "2026-03-20", payer="X"))
    import_file(container, bank, PARSERS)
    [(_, _, candidates)] = items(container)
    assert [(c["account_no"], c["tier"]) for c in candidates] == [(qinghe, 4)]


def test_an_amount_matches_no_invoice_a_receipt_earlier_in_the_same_file_paid(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auto_post_tiers(container, monkeypatch, 4)
    acme = customers["acme"]
    import_file(container, write(tmp_path / "a.jsonl", invoice("INV-1", acme, "123.45")), PARSERS)
    bank = write(
        tmp_path / "b.jsonl",
        line("B-1", "123.45", "2026-03-10", references=["INV-1"]),  # pays INV-1
        line("B-2", "123.45", "2026-03-10", payer="Li Si"),  # another's money of that amount
    )
    assert import_file(container, bank, PARSERS).counts["receipts_posted"] == 1
    [(_, _, candidates)] = items(container)
    assert candidates == []  # no invoice of that amount is open any more
    assert owes(container, acme).minor == 0


@pytest.mark.parametrize(
    ("older", "paid", "named", "older_open"),
    [
        ("300.00", "500.00", "INV-NEW", True),  # it pays the invoice of its own file: INV-OLD stays open
        ("800.00", "1300.00", "INV-NEW INV-OLD", False),  # it pays both
    ],
)
def test_a_receipt_naming_invoices_of_its_own_file_pays_those_first_in_tier_4s_view(
    container: Container,
    customers: dict[str, str],
    tmp_path: Path,
    older: str,
    paid: str,
    named: str,
    older_open: bool,
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "a.jsonl", invoice("INV-OLD", acme, older)), PARSERS)
    both = write(
        tmp_path / "b.jsonl",
        invoice("INV-NEW", acme, "500.00"),
        line("B-1", paid, "2026-03-10", references=[named]),
        line("B-2", older, "2026-03-10", payer="Li Si"),  # another's money of INV-OLD's amount
    )
    import_file(container, both, PARSERS)
    [(_, _, candidates)] = items(container)
    assert [(c["account_no"], c["tier"]) for c in candidates] == ([(acme, 4)] if older_open else [])


def test_a_bank_line_of_a_payment_imported_before_pays_nothing_again_for_the_amounts_after_it(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    books = write(
        tmp_path / "a.jsonl",
        invoice("INV-1", acme, "100.00", date="2026-03-01"),
        invoice("INV-2", acme, "100.00", date="2026-03-02"),
        payment("P-1", acme, "100.00", "2026-03-05", references=["INV-1"]),
    )
    import_file(container, books, PARSERS)
    bank = write(
        tmp_path / "b.jsonl",
        line("B-1", "100.00", "2026-03-06", references=[acme]),  # P-1's bank line: linked to it
        line("B-2", "100.00", "2026-03-06", payer="Li Si"),
    )
    assert import_file(container, bank, PARSERS).counts["receipts_linked"] == 1
    [(_, _, candidates)] = items(container)
    assert [(c["account_no"], c["tier"]) for c in candidates] == [(acme, 4)]  # INV-2 is still open


def test_an_amount_paid_on_a_merged_customers_invoice_opens_it_to_nobody_else(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    import_file(container, write(tmp_path / "a.jsonl", invoice("INV-72", qinghe, "123.45")), PARSERS)
    with master(container) as m:
        m.merge(acme, qinghe, "the same company")
    bank = write(
        tmp_path / "b.jsonl",
        line("B-1", "123.45", "2026-03-10", references=["INV-72"]),
        line("B-2", "123.45", "2026-03-10", payer="Li Si"),
    )
    assert import_file(container, bank, PARSERS).counts["receipts_posted"] == 1
    [(_, _, candidates)] = items(container)
    assert candidates == []


def test_an_amount_matches_an_invoice_of_the_same_file(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    books = write(
        tmp_path / "a.jsonl",
        invoice("INV-1", acme, "123.45", date="2026-03-01"),
        line("B-2", "123.45", "2026-03-10", payer="Li Si"),
    )
    import_file(container, books, PARSERS)
    [(_, _, candidates)] = items(container)
    assert [(c["account_no"], c["tier"], c["why"]) for c in candidates] == [
        (acme, 4, "same amount as open invoice INV-1")
    ]


def test_a_receipt_posted_by_its_amount_pays_the_oldest_of_two_equal_invoices(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auto_post_tiers(container, monkeypatch, 4)
    acme = customers["acme"]
    books = write(
        tmp_path / "a.jsonl",
        invoice("INV-B", acme, "100.00", date="2026-03-05"),
        invoice("INV-A", acme, "100.00", date="2026-02-01"),
    )
    import_file(container, books, PARSERS)
    bank = write(tmp_path / "b.jsonl", line("B-1", "100.00", "2026-03-10", payer="X"))
    assert import_file(container, bank, PARSERS).counts["receipts_posted"] == 1
    assert open_invoices(container, acme, date(2026, 3, 15)) == [("INV-B", 10000)]


def test_a_payer_writing_its_legal_form_otherwise_is_a_name_candidate(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    bank = write(tmp_path / "b.jsonl", line("B-1", "50.00", "2026-03-10", payer="杭州青禾科技公司"))
    import_file(container, bank, PARSERS)
    [(_, _, candidates)] = items(container)
    assert [(c["account_no"], c["tier"], c["score"]) for c in candidates] == [(customers["qinghe"], 3, 100)]


def test_a_payment_applying_a_waiting_bank_line_pays_the_invoices_the_payment_names(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    qinghe = customers["qinghe"]
    books = write(
        tmp_path / "inv.jsonl",
        invoice("INV-1", qinghe, "100.00", date="2026-01-05"),
        invoice("INV-2", qinghe, "120.00", date="2026-02-05"),
    )
    import_file(container, books, PARSERS)
    bank = write(tmp_path / "statement.jsonl", line("B-9", "120.00", "2026-03-10", payer="张三"))
    assert import_file(container, bank, PARSERS).counts["receipts_unapplied"] == 1
    paid = payment("P-9", qinghe, "120.00", "2026-03-09", applied={"INV-2": "120.00"})
    assert import_file(container, write(tmp_path / "p.jsonl", paid), PARSERS).counts["receipts_linked"] == 1
    assert open_invoices(container, qinghe, date(2026, 3, 15)) == [("INV-1", 10000)]
    assert_ledger_verifies(container)


def test_a_return_of_a_receipt_applied_after_it_is_never_dated_before_the_application(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(
        container, write(tmp_path / "a.jsonl", line("B-1", "777.00", "2026-03-10", payer="X")), PARSERS
    )
    [(item_id, _, _)] = items(container)
    apply(container, item_id, acme)  # on 03-20
    returned = line("R-1", "-777.00", "2026-03-15", bank_reversal=True)
    assert import_file(container, write(tmp_path / "r.jsonl", returned), PARSERS).counts["reversed"] == 1
    with unit_of_work(container.sessions) as session:
        original = aliased(JournalEntry)
        pairs = session.execute(
            select(JournalEntry.posting_date, original.posting_date)
            .join(original, original.id == JournalEntry.reverses_id)
            .where(JournalEntry.is_reversal)
        ).all()
    assert sorted(pairs) == [(date(2026, 3, 15), date(2026, 3, 10)), (ON, ON)]
    assert owes(container, acme).minor == 0
    with unit_of_work(container.sessions) as session:  # the decision no longer stands: it says why
        item = session.get_one(ReconciliationItem, item_id)
    assert (item.status, item.note) == ("superseded", "returned: reversed by test R-1")
    assert_ledger_verifies(container)


def test_a_receipt_naming_an_invoice_in_another_currency_waits_for_a_person_saying_so(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    qinghe = customers["qinghe"]  # its figures are in CNY; one invoice of it is in USD
    billed = [invoice("INV-1", qinghe, "1000.00"), invoice("INV-2", qinghe, "100.00", currency="USD")]
    import_file(container, write(tmp_path / "invoices.jsonl", *billed), PARSERS)
    receipts = [
        {
            "kind": "payment",
            "id": "P-1",
            "amount": "100.00",
            "currency": "USD",
            "applied": {"INV-1": "100.00"},
        },
        {
            "kind": "payment",
            "id": "P-2",
            "amount": "100.00",
            "currency": "USD",
            "applied": {"INV-2": "100.00"},
        },
        line("B-3", "300.00", "2026-03-02", references=["INV-2"]),  # CNY
    ]

    result = import_file(container, write(tmp_path / "receipts.jsonl", *receipts), PARSERS)

    assert (result.counts["payments_posted"], result.counts["receipts_unapplied"]) == (1, 2)
    assert open_invoices(container, qinghe, ON) == [("INV-1", 100000)]  # neither settled, nor touched
    assert open_invoices(container, qinghe, ON, "USD") == []  # P-2 paid it, in its currency
    with unit_of_work(container.sessions) as session:
        waiting = reconcile.queue(session, container.cipher)
    why = (
        "names invoice {} of {}, in {}: a {} receipt does not settle an invoice in another currency "
        "(applied to {}, it counts in its {} balance and {} stays open): waiting for a person"
    )
    assert [(item.external_id, item.why) for item in waiting] == [
        ("P-1", why.format("INV-1", qinghe, "CNY", "USD", qinghe, "USD", "INV-1")),
        ("B-3", why.format("INV-2", qinghe, "USD", "CNY", qinghe, "CNY", "INV-2")),
    ]
    assert [candidate["account_no"] for candidate in waiting[0].candidates] == [qinghe]
    assert apply(container, waiting[0].id, None) == qinghe  # its one candidate
    assert_ledger_verifies(container)


def test_a_receipt_waiting_for_naming_an_invoice_in_another_currency_stays_waiting_once_its_bank_line_comes(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]  # its figures are in CNY; it pays from a known bank account
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-1", acme, "1000.00")), PARSERS)
    paid = {
        "kind": "payment",
        "id": "P-1",
        "amount": "100.00",
        "currency": "USD",
        "applied": {"INV-1": "100.00"},
    }
    import_file(container, write(tmp_path / "payments.jsonl", paid), PARSERS)
    [(item_id, status, _)] = items(container)
    assert status == "open"

    statement = line("B-1", "100.00", "2026-03-01", currency="USD", bank_account="6222021000001234")
    result = import_file(container, write(tmp_path / "bank.jsonl", statement), PARSERS)

    assert result.counts["receipts_linked"] == 1  # the same money: it posts nothing of its own
    assert items(container) == [(item_id, "open", ANY)]  # still a person's to decide
    with unit_of_work(container.sessions) as session:
        balances = [held.balance for held in customer_balances(session, acme)]
        [waiting] = reconcile.queue(session, container.cipher)
        why = session.scalars(
            select(ImportedDocument.match_rule).where(ImportedDocument.external_id == "B-1")
        ).one()
    assert balances == [Money.of("1000.00", "CNY")]  # no USD credit, INV-1 untouched
    assert open_invoices(container, acme, ON) == [("INV-1", 100000)]
    assert waiting.why.startswith(f"names invoice INV-1 of {acme}, in CNY: a USD receipt does not settle")
    assert why.endswith(
        f"which posted it and waits for a person: it names invoice INV-1 of {acme}, in CNY, and a USD "
        "receipt does not settle an invoice in another currency"
    )
    assert apply(container, item_id, None) == acme  # a person may still apply it
    assert_ledger_verifies(container)


def test_a_receipt_its_bank_line_applied_changed_to_name_an_invoice_in_another_currency_waits_again(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]  # its figures are in CNY; it pays from a known bank account
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-1", acme, "1000.00")), PARSERS)
    paid = {"kind": "payment", "id": "P-1", "amount": "100.00", "currency": "USD", "payer": "Somebody"}
    import_file(container, write(tmp_path / "payments.jsonl", paid), PARSERS)
    statement = line("B-1", "100.00", "2026-03-01", currency="USD", bank_account="6222021000001234")
    import_file(container, write(tmp_path / "bank.jsonl", statement), PARSERS)
    [(item_id, status, _)] = items(container)
    assert status == "applied"  # by the import of its bank line, which named acme

    named = {**paid, "applied": {"INV-1": "100.00"}}  # the same money, now naming a CNY invoice
    again = import_file(container, write(tmp_path / "payments-again.jsonl", named), PARSERS)

    assert (again.counts["receipts_unapplied"], again.counts["receipts_reapplied"]) == (1, 0)
    assert items(container) == [(item_id, "open", ANY)]
    with unit_of_work(container.sessions) as session:
        balances = [held.balance for held in customer_balances(session, acme)]
    assert balances == [Money.of("1000.00", "CNY"), Money.zero("USD")]
    assert_ledger_verifies(container)
