"""A receipt imported as the accounting system's payment and as the bank's line is posted once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from adapters.statements.camt053 import Camt053Parser
from adapters.statements.ofx import OfxParser
from connector.bootstrap import Container
from connector.credit.figures import customer_figures
from connector.db import unit_of_work
from connector.documents import REVERSAL_MARKER
from connector.errors import LedgerError, ReconcileError
from connector.imports import reconcile
from connector.imports.corrections import reverse_entry
from connector.imports.models import ImportedDocument, ReconciliationItem
from connector.imports.payer import LINE_PAYER_FIELD, Payer
from connector.imports.pipeline import import_file
from connector.imports.rules import Accounts
from connector.imports.statement_reconcile import reconcile_file
from connector.ledger.customers import NewCustomer
from connector.ledger.models import AccountBalance, Customer, JournalEntry
from connector.ledger.queries import customer_balances
from connector.master.lifecycle import merge
from connector.money import Money
from connector.sync.models import QuarantinedRecord
from connector.sync.quarantine import resolve_records
from connector.sync.quarantine_retry import retry
from tests.integration.test_imports import (
    OFX,
    PARSERS,
    assert_ledger_verifies,
    invoice,
    no_mapping_set,
    ofx,
    open_invoices,
    write,
)
from tests.integration.test_master import master
from tests.integration.test_statement_reconcile import CAMT


def payment(ident: str, account_no: str, amount: str, on: str, **more: Any) -> dict[str, Any]:
    return {"kind": "payment", "id": ident, "account_no": account_no, "amount": amount, "date": on, **more}


def line(ident: str, amount: str, on: str, **more: Any) -> dict[str, Any]:
    return {"kind": "bank_line", "id": ident, "amount": amount, "date": on, **more}


def statuses(container: Container) -> dict[str, tuple[str, int | None]]:
    with unit_of_work(container.sessions) as session:
        rows = session.execute(
            select(ImportedDocument.external_id, ImportedDocument.status, ImportedDocument.entry_id)
        ).all()
    return {external_id: (status, entry_id) for external_id, status, entry_id in rows}


def waiting(container: Container) -> list[str]:
    """The external ids of the receipts waiting in the reconciliation queue."""
    with unit_of_work(container.sessions) as session:
        return [item.external_id for item in reconcile.queue(session, container.cipher)]


def owes(container: Container, account_no: str) -> Money:
    """What the customer owes over all its accounts (receivable less its credit), negative in credit."""
    with unit_of_work(container.sessions) as session:
        lines = customer_balances(session, account_no)
    return Money(sum(line.balance.minor for line in lines if line.balance.currency == "CNY"), "CNY")


def banked(container: Container, currency: str) -> int:
    """The bank role's balance in `currency`, in minor units."""
    with unit_of_work(container.sessions) as session:
        bank = container.settings.ledger.chart.bank.code
        return session.get_one(AccountBalance, (bank, currency)).balance_minor


def entries(container: Container) -> int:
    with unit_of_work(container.sessions) as session:
        return session.scalar(select(func.count()).select_from(JournalEntry)) or 0


def test_the_bank_line_of_a_payment_already_imported_is_linked_to_it_and_posts_nothing(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    books = write(
        tmp_path / "payments.jsonl",
        invoice("INV-1", acme, "500.00"),
        payment("P-1", acme, "500.00", "2026-03-02", references=["INV-1"]),
    )
    import_file(container, books, PARSERS)
    bank = write(
        tmp_path / "statement.jsonl",
        line("B-1", "500.00", "2026-03-04", payer="上海明远贸易有限公司"),
        line("B-2", "77.00", "2026-03-04", bank_account="6222021000001234"),  # paid without an invoice
    )
    result = import_file(container, bank, PARSERS)
    assert (result.counts["receipts_linked"], result.counts["receipts_posted"]) == (1, 1)
    found = statuses(container)
    assert found["B-1"] == ("linked", found["P-1"][1])
    assert owes(container, acme) == Money.of("-77.00", "CNY")  # B-2 is its credit; P-1 paid INV-1
    assert entries(container) == 3  # the invoice, P-1 and B-2
    with unit_of_work(container.sessions) as session:
        rule = session.scalars(
            select(ImportedDocument.match_rule).where(ImportedDocument.external_id == "B-1")
        )
        assert rule.one() == "the same receipt as test payment P-1 of 2026-03-02, which posted it"
    assert import_file(container, bank, PARSERS).status == "skipped"
    assert_ledger_verifies(container)


def test_the_payment_of_a_bank_line_already_imported_is_linked_to_it_whichever_comes_first(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    bank = write(tmp_path / "statement.jsonl", line("B-1", "300.00", "2026-03-05", references=[acme]))
    import_file(container, bank, PARSERS)
    books = write(tmp_path / "payments.jsonl", payment("P-1", acme, "300.00", "2026-03-03"))
    result = import_file(container, books, PARSERS)
    assert result.counts["receipts_linked"] == 1
    assert statuses(container)["P-1"] == ("linked", statuses(container)["B-1"][1])
    assert owes(container, acme) == Money.of("-300.00", "CNY")
    assert_ledger_verifies(container)


def test_a_linked_payment_changed_afterwards_is_linked_again_and_the_receipt_still_posts_once(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-4", acme, "1600.00")), PARSERS)
    import_file(
        container,
        write(tmp_path / "bank.jsonl", line("B-4", "1600.00", "2026-03-11", references=[acme])),
        PARSERS,
    )
    first = write(tmp_path / "p1.jsonl", payment("P-4", acme, "1600.00", "2026-03-10", references=["INV-4"]))
    assert import_file(container, first, PARSERS).counts["receipts_linked"] == 1
    edited = write(
        tmp_path / "p2.jsonl", payment("P-4", acme, "1600.00", "2026-03-10", references=["INV-4 edited note"])
    )

    result = import_file(container, edited, PARSERS)

    assert (result.counts["reposted"], result.counts["receipts_linked"]) == (1, 1)
    assert statuses(container)["P-4"] == ("linked", statuses(container)["B-4"][1])
    assert owes(container, acme) == Money.zero("CNY")
    assert entries(container) == 2  # the invoice and the bank line's receipt
    assert_ledger_verifies(container)


def test_a_bank_line_a_person_rejected_as_no_receipt_pairs_with_no_later_payment(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    qinghe = customers["qinghe"]
    bank = write(tmp_path / "bank.jsonl", line("B-T", "5000.00", "2026-03-20", payer="内部转账"))
    assert import_file(container, bank, PARSERS).counts["receipts_unapplied"] == 1
    with unit_of_work(container.sessions) as session:
        item_id = session.scalars(select(ReconciliationItem.id)).one()
        reconcile.reject(session, item_id, "a transfer from our other account", "finance")
    books = write(tmp_path / "p.jsonl", payment("P-T", qinghe, "5000.00", "2026-03-21"))

    result = import_file(container, books, PARSERS)

    assert (result.counts["receipts_linked"], result.counts["payments_posted"]) == (0, 1)
    assert owes(container, qinghe) == Money.of("-5000.00", "CNY")
    assert_ledger_verifies(container)


def test_a_statement_and_a_payments_export_imported_at_once_post_each_receipt_once(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    amounts = [f"{100 + n}.00" for n in range(300)]
    bank = write(
        tmp_path / "bank.jsonl", *(line(f"B-{a}", a, "2026-03-20", references=[acme]) for a in amounts)
    )
    books = write(tmp_path / "books.jsonl", *(payment(f"P-{a}", acme, a, "2026-03-19") for a in amounts))
    results: dict[str, Counter[str]] = {}

    def run(path: Path) -> None:
        results[path.name] = import_file(container, path, PARSERS).counts

    both = [threading.Thread(target=run, args=(path,)) for path in (bank, books)]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join()

    assert sum(counts["receipts_linked"] for counts in results.values()) == 300
    assert entries(container) == 300
    assert_ledger_verifies(container)


@pytest.mark.parametrize("by_a_person", [False, True])
def test_the_invoices_a_linked_payment_names_are_settled_by_the_entry_that_gave_its_line_to_the_customer(
    container: Container, customers: dict[str, str], tmp_path: Path, by_a_person: bool
) -> None:
    acme = customers["acme"]
    older, named = invoice("INV-O", acme, "500.00", date="2026-01-05"), invoice("INV-N", acme, "300.00")
    import_file(container, write(tmp_path / "inv.jsonl", older, named), PARSERS)
    said: dict[str, Any] = {"payer": "张三"} if by_a_person else {"references": [acme]}
    import_file(
        container, write(tmp_path / "bank.jsonl", line("B-N", "300.00", "2026-03-11", **said)), PARSERS
    )
    if by_a_person:  # it waited in unapplied receipts until finance applied it: its application gave it
        with unit_of_work(container.sessions) as session:
            waiting = session.scalars(select(ReconciliationItem.id)).one()
            chart = Accounts.of(container.settings.ledger.chart)
            reconcile.apply(session, waiting, acme, chart, "finance", date(2026, 3, 12))
    books = write(
        tmp_path / "p.jsonl", payment("P-N", acme, "300.00", "2026-03-10", applied={"INV-N": "300.00"})
    )

    assert import_file(container, books, PARSERS).counts["receipts_linked"] == 1

    assert open_invoices(container, acme, date(2026, 3, 15)) == [("INV-O", 50000)]  # not INV-N's 300
    assert_ledger_verifies(container)


def test_a_payment_naming_its_customer_applies_the_bank_line_waiting_in_unapplied_receipts(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    qinghe = customers["qinghe"]
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-9", qinghe, "120.00")), PARSERS)
    bank = write(tmp_path / "statement.jsonl", line("B-9", "120.00", "2026-03-10", payer="张三"))
    assert import_file(container, bank, PARSERS).counts["receipts_unapplied"] == 1
    books = write(tmp_path / "payments.jsonl", payment("P-9", qinghe, "120.00", "2026-03-09"))
    assert import_file(container, books, PARSERS).counts["receipts_linked"] == 1
    assert owes(container, qinghe) == Money.zero("CNY")
    with unit_of_work(container.sessions) as session:
        item = session.scalars(select(ReconciliationItem)).one()
        assert (item.status, item.resolved_by) == ("applied", "import of test payment P-9")
    assert statuses(container)["B-9"][0] == "posted"
    assert_ledger_verifies(container)


def test_a_payment_that_applied_a_waiting_line_deleted_and_live_again_applies_it_again(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    qinghe = customers["qinghe"]
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-9", qinghe, "120.00")), PARSERS)
    bank = write(tmp_path / "statement.jsonl", line("B-9", "120.00", "2026-03-10", payer="张三"))
    import_file(container, bank, PARSERS)
    paid = payment("P-9", qinghe, "120.00", "2026-03-09")
    import_file(container, write(tmp_path / "march.jsonl", paid), PARSERS)
    deleted = {**paid, "id": "P-9:withdrawn", "reverses": "P-9", "withdrawn": True}
    assert import_file(container, write(tmp_path / "april.jsonl", deleted), PARSERS).counts["reversed"] == 1
    assert owes(container, qinghe) == Money.of("120.00", "CNY")  # the line waits for a person again

    other = payment("P-10", qinghe, "1.00", "2026-03-12")  # so that the file is not march's bytes again
    back = import_file(container, write(tmp_path / "may.jsonl", paid, other), PARSERS)

    assert (back.counts["restored"], back.counts["receipts_linked"]) == (1, 1)
    assert owes(container, qinghe) == Money.of("-1.00", "CNY")
    with unit_of_work(container.sessions) as session:
        item = session.scalars(select(ReconciliationItem)).one()
        assert (item.status, item.resolved_by) == ("applied", "import of test payment P-9")
    assert (statuses(container)["B-9"][0], statuses(container)["P-9"][0]) == ("posted", "linked")
    again = {**deleted, "references": ["deleted again"]}
    assert import_file(container, write(tmp_path / "june.jsonl", again), PARSERS).counts["reversed"] == 1
    assert owes(container, qinghe) == Money.of("119.00", "CNY")
    assert_ledger_verifies(container)


def test_a_waiting_line_a_payment_applied_resent_with_other_text_stays_applied_to_the_invoice_it_names(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    qinghe = customers["qinghe"]
    invoices = [
        invoice("INV-8", qinghe, "100.00", date="2026-02-01"),
        invoice("INV-9", qinghe, "120.00", date="2026-02-20"),
    ]
    import_file(container, write(tmp_path / "inv.jsonl", *invoices), PARSERS)
    first = line("B-9", "120.00", "2026-03-10", payer="张三")
    import_file(container, write(tmp_path / "statement.jsonl", first), PARSERS)
    books = write(
        tmp_path / "payments.jsonl", payment("P-9", qinghe, "120.00", "2026-03-09", references=["INV-9"])
    )
    assert import_file(container, books, PARSERS).counts["receipts_linked"] == 1

    reissued = write(tmp_path / "statement-reissued.jsonl", {**first, "payer": "张三 (wrapped anew)"})
    again = import_file(container, reissued, PARSERS)

    assert (again.counts["reposted"], again.counts["receipts_reapplied"]) == (1, 1)
    assert owes(container, qinghe) == Money.of("100.00", "CNY")
    assert open_invoices(container, qinghe, date(2026, 3, 31)) == [("INV-8", 10000)]  # INV-9 paid by name
    with unit_of_work(container.sessions) as session:
        item = session.scalars(select(ReconciliationItem)).one()
        assert (item.status, item.resolved_by) == ("applied", "import of test payment P-9")
    assert statuses(container)["B-9"][0] == "posted"
    assert_ledger_verifies(container)


def test_a_payment_that_applied_a_waiting_line_corrected_to_another_payer_moves_it_not_doubles_it(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    bank = write(tmp_path / "statement.jsonl", line("B-10", "150.00", "2026-03-10", payer="张三"))
    assert import_file(container, bank, PARSERS).counts["receipts_unapplied"] == 1
    first = write(tmp_path / "p1.jsonl", payment("P-10", qinghe, "150.00", "2026-03-09"))
    assert import_file(container, first, PARSERS).counts["receipts_linked"] == 1
    corrected = write(tmp_path / "p2.jsonl", payment("P-10", acme, "150.00", "2026-03-09"))

    again = import_file(container, corrected, PARSERS)

    assert (again.counts["receipts_linked"], again.counts["reposted"]) == (1, 1)
    assert owes(container, qinghe) == Money.zero("CNY")
    assert owes(container, acme) == Money.of("-150.00", "CNY")  # its credit, once
    with unit_of_work(container.sessions) as session:
        item = session.scalars(select(ReconciliationItem)).one()
        banked = session.get_one(AccountBalance, (container.settings.ledger.chart.bank.code, "CNY"))
    assert (item.status, item.resolved_by) == ("applied", "import of test payment P-10")
    assert banked.balance_minor == 15000  # the money came once
    assert_ledger_verifies(container)


def test_receipts_of_other_customers_other_amounts_or_far_apart_are_not_linked(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    books = write(
        tmp_path / "payments.jsonl",
        payment("P-1", acme, "200.00", "2026-03-01"),
        payment("P-2", acme, "200.00", "2026-03-20"),
    )
    import_file(container, books, PARSERS)
    bank = write(
        tmp_path / "statement.jsonl",
        line("B-1", "200.00", "2026-03-02", references=[qinghe]),  # another customer's
        line("B-2", "200.01", "2026-03-02", references=[acme]),  # another amount
        line("B-3", "200.00", "2026-03-10", references=[acme]),  # nine days from both payments
    )
    result = import_file(container, bank, PARSERS)
    assert (result.counts["receipts_linked"], result.counts["receipts_posted"]) == (0, 3)
    assert_ledger_verifies(container)


def test_two_equal_payments_pair_one_to_one_with_two_equal_lines_and_a_third_line_posts(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    books = write(
        tmp_path / "payments.jsonl",
        payment("P-1", acme, "50.00", "2026-03-02"),
        payment("P-2", acme, "50.00", "2026-03-02"),
    )
    import_file(container, books, PARSERS)
    bank = write(
        tmp_path / "statement.jsonl",
        *(line(f"B-{n}", "50.00", "2026-03-03", references=[acme]) for n in (1, 2, 3)),
    )
    result = import_file(container, bank, PARSERS)
    assert (result.counts["receipts_linked"], result.counts["receipts_posted"]) == (2, 1)
    found = statuses(container)
    assert {found["B-1"][1], found["B-2"][1]} == {found["P-1"][1], found["P-2"][1]}
    assert owes(container, acme) == Money.of("-150.00", "CNY")
    assert_ledger_verifies(container)


def test_with_linking_switched_off_both_records_post(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = customers["acme"]
    settings = container.settings
    matching = settings.imports.matching.model_copy(update={"same_receipt_days": 0})
    imports = settings.imports.model_copy(update={"matching": matching})
    monkeypatch.setattr(container, "settings", settings.model_copy(update={"imports": imports}))
    import_file(container, write(tmp_path / "p.jsonl", payment("P-1", acme, "10.00", "2026-03-02")), PARSERS)
    bank = write(tmp_path / "b.jsonl", line("B-1", "10.00", "2026-03-02", references=[acme]))
    assert import_file(container, bank, PARSERS).counts["receipts_posted"] == 1
    assert owes(container, acme) == Money.of("-20.00", "CNY")


def test_the_bank_returning_or_deleting_a_linked_line_leaves_the_payment_and_goes_to_a_person(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "p.jsonl", payment("P-1", acme, "90.00", "2026-03-02")), PARSERS)
    import_file(
        container,
        write(
            tmp_path / "b.jsonl",
            line("B-1", "90.00", "2026-03-02", references=[acme]),
            line("B-2", "-90.00", "2026-03-05", bank_reversal=True),
        ),
        PARSERS,
    )
    assert owes(container, acme) == Money.of("-90.00", "CNY")  # P-1 stands until the books reverse it
    with unit_of_work(container.sessions) as session:
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
    assert reason.startswith("the bank returned 90.00 CNY of line B-1, the same receipt as test payment P-1")
    deleted = write(tmp_path / "b2.jsonl", line("D-1", "90.00", "2026-03-06", reverses="B-1"))
    assert import_file(container, deleted, PARSERS).counts["quarantined"] == 1  # a person decides this too
    with unit_of_work(container.sessions) as session:
        reasons = sorted(session.scalars(select(QuarantinedRecord.reason)))
    assert reasons[0].startswith("the bank deleted line B-1, the same receipt as test payment P-1")
    assert statuses(container)["B-1"][0] == "linked"
    assert owes(container, acme) == Money.of("-90.00", "CNY")
    assert_ledger_verifies(container)


def test_a_return_of_a_line_whose_payment_was_reposted_names_the_payments_entry_now(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    paid = payment("P-1", acme, "90.00", "2026-03-02")
    import_file(container, write(tmp_path / "p.jsonl", paid), PARSERS)
    bank = write(tmp_path / "b.jsonl", line("B-1", "90.00", "2026-03-02", references=[acme]))
    assert import_file(container, bank, PARSERS).counts["receipts_linked"] == 1
    changed = write(tmp_path / "p2.jsonl", paid | {"references": ["March, corrected"]})
    assert import_file(container, changed, PARSERS).counts["reposted"] == 1
    returned = write(tmp_path / "r.jsonl", line("B-2", "-90.00", "2026-03-05", bank_reversal=True))

    import_file(container, returned, PARSERS)

    with unit_of_work(container.sessions) as session:
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
    assert (
        f"`connector ledger reverse {statuses(container)['P-1'][1]} --on 2026-03-05 --returned --reason …`"
        in reason
    )
    assert_ledger_verifies(container)


@pytest.mark.parametrize("reversed_on", [date(2026, 3, 5), date(2026, 4, 30)])
def test_the_return_of_a_linked_line_reversed_by_hand_as_told_reconciles_and_is_never_called_unimported(
    container: Container, customers: dict[str, str], tmp_path: Path, reversed_on: date
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "p.jsonl", payment("P-1", acme, "90.00", "2026-03-02")), PARSERS)
    bank = write(tmp_path / "b.jsonl", line("B-1", "90.00", "2026-03-02", references=[acme]))
    assert import_file(container, bank, PARSERS).counts["receipts_linked"] == 1
    returned = write(tmp_path / "r.jsonl", line("B-2", "-90.00", "2026-03-05", bank_reversal=True))
    assert import_file(container, returned, PARSERS).counts["quarantined"] == 1
    paid = statuses(container)["P-1"][1]
    assert paid is not None
    with unit_of_work(container.sessions) as session:
        record = session.scalars(select(QuarantinedRecord)).one()
    assert f"`connector ledger reverse {paid} --on 2026-03-05 --returned --reason …`" in record.reason

    with unit_of_work(container.sessions) as session:  # the person does as told (or dates it otherwise)
        accounts = Accounts.of(container.settings.ledger.chart)
        reason = "returned by the bank"
        reverse_entry(
            session,
            paid,
            reversed_on,
            reason,
            "finance",
            container.cipher,
            accounts,
            matching=container.settings.imports.matching,
            returned=True,
        )
        resolve_records(session, [record.id], "receipt reversed", "finance")
    # The money went back: the line stays linked to the reversed payment, and posts nothing.
    assert (statuses(container)["B-1"][0], banked(container, "CNY")) == ("linked", 0)

    with unit_of_work(container.sessions) as session:
        accounts = Accounts.of(container.settings.ledger.chart)
        (report,) = reconcile_file(
            session, returned, PARSERS[0], accounts, 3, lambda: container.cipher
        ).statements
    if reversed_on == date(2026, 3, 5):  # the reversal is the return's money out, in its statement
        (matched,) = report.matched
        assert (matched.entry.counterpart_id, matched.in_period) == (paid, True)
        assert report.missing_lines == ()
    else:
        (missing,) = report.missing_lines
        assert missing.reason.startswith(
            "not posted: quarantined, then resolved (receipt reversed): the bank returned 90.00 CNY of "
            "line B-1"
        )
    assert_ledger_verifies(container)


@pytest.mark.parametrize("another_line", [False, True])
def test_a_return_handled_by_hand_is_not_applied_again_when_its_statement_is_downloaded_again(
    container: Container, customers: dict[str, str], tmp_path: Path, another_line: bool
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "p.jsonl", payment("P-1", acme, "90.00", "2026-03-02")), PARSERS)
    paid, returned = (
        line("B-1", "90.00", "2026-03-03", payer="Acme"),
        line("B-2", "-90.00", "2026-03-05", bank_reversal=True),
    )
    assert import_file(container, write(tmp_path / "s1.jsonl", paid, returned), PARSERS).counts["quarantined"]
    paid_entry = statuses(container)["P-1"][1]
    assert paid_entry is not None
    with unit_of_work(container.sessions) as session:  # the person does as the quarantine tells
        record = session.scalars(select(QuarantinedRecord)).one()
        accounts = Accounts.of(container.settings.ledger.chart)
        reverse_entry(
            session,
            paid_entry,
            date(2026, 3, 5),
            "returned",
            "finance",
            container.cipher,
            accounts,
            matching=container.settings.imports.matching,
            returned=True,
        )
        resolve_records(session, [record.id], "receipt reversed", "finance")
    others = [line("B-5", "90.00", "2026-03-04", payer="Somebody else")] if another_line else []
    if others:
        import_file(container, write(tmp_path / "s2.jsonl", *others), PARSERS)

    # The statement again, other bytes (a whole month's): the return is the one handled, nothing changes.
    month = write(
        tmp_path / "month.jsonl", paid, *others, returned, line("B-3", "5.00", "2026-03-06", payer="Z")
    )
    import_file(container, month, PARSERS)

    found = statuses(container)
    assert found["B-2"][0] == "reversal"
    assert found["B-1"][0] == "linked"
    if another_line:
        assert found["B-5"][0] == "unapplied"  # another payer's 90.00 stands
    assert banked(container, "CNY") == 9000 * another_line + 500
    with unit_of_work(container.sessions) as session:
        assert (
            session.scalars(select(QuarantinedRecord).where(QuarantinedRecord.status == "open")).all() == []
        )
    assert_ledger_verifies(container)
    again = write(tmp_path / "again.jsonl", returned, paid)  # and once more: it stands as recorded
    assert import_file(container, again, PARSERS).counts["unchanged"] == 2


def test_a_payment_whose_bank_line_the_bank_returned_before_it_came_posts_nothing_and_goes_to_a_person(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-40", acme, "90.00")), PARSERS)
    statement = write(
        tmp_path / "b.jsonl",
        line("B-40", "90.00", "2026-03-02", payer="张三"),
        line("B-41", "-90.00", "2026-03-05", bank_reversal=True),
    )
    import_file(container, statement, PARSERS)
    assert statuses(container)["B-40"][0] == "reversed"

    books = import_file(
        container, write(tmp_path / "p.jsonl", payment("P-40", acme, "90.00", "2026-03-02")), PARSERS
    )

    assert (books.counts["quarantined"], books.counts["receipts_posted"]) == (1, 0)
    assert owes(container, acme) == Money.of("90.00", "CNY")  # the money went back: still owed
    with unit_of_work(container.sessions) as session:
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
    assert reason.startswith("the same receipt as test bank line B-40 of 2026-03-02, which the bank returned")
    assert_ledger_verifies(container)


def test_a_payment_changed_after_the_bank_returned_the_line_it_applied_does_not_bring_the_line_back(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(
        container, write(tmp_path / "b1.jsonl", line("B-50", "500.00", "2026-03-02", payer="张三")), PARSERS
    )
    first = write(tmp_path / "p1.jsonl", payment("P-50", acme, "500.00", "2026-03-02"))
    assert import_file(container, first, PARSERS).counts["receipts_linked"] == 1
    returned = write(tmp_path / "b2.jsonl", line("B-51", "-500.00", "2026-03-06", bank_reversal=True))
    import_file(container, returned, PARSERS)
    assert owes(container, acme) == Money.zero("CNY")

    edited = write(
        tmp_path / "p2.jsonl", payment("P-50", acme, "500.00", "2026-03-02", references=["edited"])
    )
    again = import_file(container, edited, PARSERS)

    assert (again.counts["quarantined"], again.counts.get("receipts_linked", 0)) == (1, 0)
    assert statuses(container)["B-50"][0] == "reversed"
    assert owes(container, acme) == Money.zero("CNY")  # no credit for money the bank sent back
    assert_ledger_verifies(container)


def test_long_ids_of_a_line_and_the_payment_that_applies_it_fit_every_column_they_end_up_in(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    line_id, payment_id = "B-" + "8" * 197, "P-" + "9" * 80
    waiting = write(tmp_path / "b.jsonl", line(line_id, "500.00", "2026-03-02", payer="张三"))
    assert import_file(container, waiting, PARSERS).counts["receipts_unapplied"] == 1
    books = write(tmp_path / "p.jsonl", payment(payment_id, acme, "500.00", "2026-03-02"))

    assert import_file(container, books, PARSERS).counts["receipts_linked"] == 1

    assert owes(container, acme) == Money.of("-500.00", "CNY")
    changed = write(
        tmp_path / "p2.jsonl", payment(payment_id, acme, "500.00", "2026-03-02", references=["x"])
    )
    assert import_file(container, changed, PARSERS).counts["receipts_linked"] == 1  # undone, applied again
    assert owes(container, acme) == Money.of("-500.00", "CNY")
    assert_ledger_verifies(container)


def test_a_return_naming_its_payer_reverses_that_customers_receipt_not_the_latest_of_the_amount(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    statement = write(
        tmp_path / "b.jsonl",
        line("R-1", "1000.00", "2026-03-02", references=[acme]),
        line("R-2", "1000.00", "2026-03-03", references=[qinghe]),
    )
    import_file(container, statement, PARSERS)
    returned = write(
        tmp_path / "r.jsonl", line("R-3", "-1000.00", "2026-03-04", references=[acme], bank_reversal=True)
    )

    assert import_file(container, returned, PARSERS).counts["reversed"] == 1

    assert (statuses(container)["R-1"][0], statuses(container)["R-2"][0]) == ("reversed", "posted")
    assert owes(container, acme) == Money.zero("CNY")
    assert owes(container, qinghe) == Money.of("-1000.00", "CNY")
    assert_ledger_verifies(container)


@pytest.mark.parametrize(
    "named_by",
    [
        {"references": ["E2E-ALPHA"]},
        {"bank_account": "DE02120300000000202051"},
        {"payer": "alpha  GMBH"},
    ],
    ids=["end-to-end-id", "account", "name"],
)
def test_a_return_naming_the_payer_of_a_waiting_line_reverses_that_line_not_the_latest_of_the_amount(
    container: Container, tmp_path: Path, named_by: dict[str, Any]
) -> None:
    alpha = line(
        "R-1",
        "100.00",
        "2026-04-01",
        payer="Alpha GmbH",
        bank_account="DE02120300000000202051",
        references=["E2E-ALPHA"],
    )
    beta = line("R-2", "100.00", "2026-04-02", payer="Beta AG", references=["E2E-BETA"])
    assert (
        import_file(container, write(tmp_path / "s1.jsonl", alpha, beta), PARSERS).counts[
            "receipts_unapplied"
        ]
        == 2
    )
    returned = line("R-3", "-100.00", "2026-04-03", bank_reversal=True, **named_by)

    assert import_file(container, write(tmp_path / "s2.jsonl", returned), PARSERS).counts["reversed"] == 1

    assert (statuses(container)["R-1"][0], statuses(container)["R-2"][0]) == ("reversed", "unapplied")
    with unit_of_work(container.sessions) as session:
        waiting = session.scalars(select(ReconciliationItem).where(ReconciliationItem.status == "open")).all()
    assert len(waiting) == 1  # Beta's receipt still waits for a person; Alpha's went back
    assert_ledger_verifies(container)


def test_a_return_naming_the_payer_of_a_line_a_person_applied_reverses_that_line_and_its_application(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    alpha = line(
        "R-1", "1500.00", "2026-03-03", payer="Alpha Handel GmbH", bank_account="DE89370400440532013000"
    )
    beta = line("R-2", "1500.00", "2026-03-04", payer="Beta Werke AG", bank_account="DE75512108001245126199")
    import_file(container, write(tmp_path / "f1.jsonl", alpha, beta), PARSERS)
    with unit_of_work(container.sessions) as session:
        first = session.scalars(select(ReconciliationItem).order_by(ReconciliationItem.id)).first()
        assert first is not None
        reconcile.apply(
            session, first.id, acme, Accounts.of(container.settings.ledger.chart), "finance", date(2026, 3, 5)
        )
    returned = line(
        "R-3", "-1500.00", "2026-03-05", bank_reversal=True, bank_account="DE89370400440532013000"
    )

    assert import_file(container, write(tmp_path / "f2.jsonl", returned), PARSERS).counts["reversed"] == 1

    assert (statuses(container)["R-1"][0], statuses(container)["R-2"][0]) == ("reversed", "unapplied")
    assert owes(container, acme) == Money.zero("CNY")  # the money the bank took back is no credit of Alpha's
    assert_ledger_verifies(container)


@pytest.mark.parametrize("action", ["DELETE", "REPLACE"])
def test_the_bank_deleting_or_replacing_a_line_a_payment_posted_goes_to_a_person_never_keeps_the_money(
    container: Container, customers: dict[str, str], tmp_path: Path, action: str
) -> None:
    acme = customers["acme"]
    import_file(container, write(tmp_path / "p.jsonl", payment("P-2", acme, "500.00", "2026-03-03")), PARSERS)
    bank, correction = tmp_path / "bank.ofx", tmp_path / "bank4.ofx"
    bank.write_text(ofx(("F2", "20260304", "500.00")), encoding="utf-8")
    assert import_file(container, bank, [OfxParser()]).counts["receipts_linked"] == 1
    record = (
        f"<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260310<TRNAMT>{'500.00' if action == 'DELETE' else '450.00'}"
        f"<FITID>F9<CORRECTFITID>F2<CORRECTACTION>{action}<NAME>ACME</STMTTRN>"
    )
    correction.write_text(OFX.format(transactions=record), encoding="utf-8")

    result = import_file(container, correction, [OfxParser()])

    assert (result.counts["quarantined"], result.counts["reversed"]) == (1, 0)
    with unit_of_work(container.sessions) as session:
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
        banked = session.get_one(AccountBalance, (container.settings.ledger.chart.bank.code, "CNY"))
    assert reason.startswith(f"the bank {'deleted' if action == 'DELETE' else 'replaced'} line 4417:F2, ")
    assert "connector ledger reverse " in reason
    assert banked.balance_minor == 50000  # nothing moved by itself: a person reverses the payment
    assert_ledger_verifies(container)


def test_a_return_from_one_payers_account_never_reverses_another_accounts_line_that_shares_a_reference(
    container: Container, tmp_path: Path
) -> None:
    alpha = line(
        "R-1", "1500.00", "2026-03-03", bank_account="DE89370400440532013000", references=["Abschlag"]
    )
    beta = line(
        "R-2", "1500.00", "2026-03-04", bank_account="DE75512108001245126199", references=["Abschlag"]
    )
    import_file(container, write(tmp_path / "s1.jsonl", alpha, beta), PARSERS)
    returned = line(
        "R-3",
        "-1500.00",
        "2026-03-06",
        bank_reversal=True,
        bank_account="DE89370400440532013000",
        references=["Abschlag"],
    )

    assert import_file(container, write(tmp_path / "s2.jsonl", returned), PARSERS).counts["reversed"] == 1

    assert (statuses(container)["R-1"][0], statuses(container)["R-2"][0]) == ("reversed", "unapplied")
    assert_ledger_verifies(container)


def test_a_statement_line_linked_to_a_payment_counts_as_matched_in_the_statement_report(
    container: Container, tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        alpha = container.customers(session).create(NewCustomer("Alpha Logistik AG", "KA", "DE", "EUR"))
    books = write(
        tmp_path / "p.jsonl", payment("P-7001", alpha.account_no, "500.00", "2026-03-03", currency="EUR")
    )
    import_file(container, books, PARSERS)
    assert import_file(container, CAMT, [Camt053Parser()]).counts["receipts_linked"] == 1
    with unit_of_work(container.sessions) as session:
        accounts = Accounts.of(container.settings.ledger.chart)
        (euro, _) = reconcile_file(
            session, CAMT, Camt053Parser(), accounts, 3, lambda: container.cipher
        ).statements
    linked = {m.line.external_id: (m.by_import, m.import_status) for m in euro.matched}
    assert linked["2026030400003#1"] == (True, "linked")
    assert_ledger_verifies(container)


def test_a_line_linked_to_a_payment_reposted_since_matches_the_payments_latest_entry(
    container: Container, tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        alpha = container.customers(session).create(NewCustomer("Alpha Logistik AG", "KA", "DE", "EUR"))
    paid = payment("P-7001", alpha.account_no, "500.00", "2026-03-03", currency="EUR")
    import_file(container, write(tmp_path / "p.jsonl", paid), PARSERS)
    assert import_file(container, CAMT, [Camt053Parser()]).counts["receipts_linked"] == 1
    edited = write(tmp_path / "p2.jsonl", {**paid, "references": ["description edited"]})
    assert import_file(container, edited, PARSERS).counts["reposted"] == 1
    with unit_of_work(container.sessions) as session:
        accounts = Accounts.of(container.settings.ledger.chart)
        (euro, _) = reconcile_file(
            session, CAMT, Camt053Parser(), accounts, 3, lambda: container.cipher
        ).statements
    matched = {m.line.external_id: (m.import_status, m.entry.entry_id) for m in euro.matched}
    assert matched["2026030400003#1"] == ("linked", statuses(container)["P-7001"][1])
    assert [m.entry.external_id for m in euro.missing_entries if m.entry.external_id == "P-7001"] == []


@pytest.mark.parametrize("now", ["500.00", "480.00"])
def test_a_line_stays_linked_to_a_payment_changed_since_only_while_the_payment_posts_the_same_money(
    container: Container, tmp_path: Path, now: str
) -> None:
    with unit_of_work(container.sessions) as session:
        alpha = container.customers(session).create(NewCustomer("Alpha Logistik AG", "KA", "DE", "EUR"))
    paid = payment("P-7001", alpha.account_no, "500.00", "2026-03-03", currency="EUR")
    import_file(container, write(tmp_path / "p.jsonl", paid), PARSERS)
    assert import_file(container, CAMT, [Camt053Parser()]).counts["receipts_linked"] == 1
    changed = write(tmp_path / "p2.jsonl", {**paid, "amount": now, "references": ["corrected"]})
    banked_before = banked(container, "EUR")

    result = import_file(container, changed, PARSERS)

    payment_entry, line_id = statuses(container)["P-7001"][1], "2026030400003#1"
    with unit_of_work(container.sessions) as session:
        accounts = Accounts.of(container.settings.ledger.chart)
        (euro, _) = reconcile_file(
            session, CAMT, Camt053Parser(), accounts, 3, lambda: container.cipher
        ).statements
        waiting = [i for i in reconcile.queue(session, container.cipher) if i.external_id == line_id]
    matched = {m.line.external_id: (m.import_status, m.entry.entry_id) for m in euro.matched}
    if now == "500.00":  # the same money: the line is still its other record, of its new entry
        assert result.counts["receipts_unlinked"] == 0
        assert statuses(container)[line_id] == ("linked", payment_entry)
        assert matched[line_id] == ("linked", payment_entry)
        assert waiting == []
    else:  # 480.00 is not the 500.00 the bank received: the line posts it, for a person to decide
        assert result.counts["receipts_unlinked"] == 1
        status, own = statuses(container)[line_id]
        assert status == "unapplied"
        assert own not in (None, payment_entry)
        assert matched[line_id] == ("unapplied", own)
        (item,) = waiting
        assert item.amount == Money.of("500.00", "EUR")
        assert item.why == (
            "the same receipt as test payment P-7001 until that changed to 480.00 EUR: this bank line's "
            "500.00 EUR waits for a person"
        )
        # The payment as the books say now (20.00 less), and the line's 500.00 as the bank received it.
        assert banked(container, "EUR") - banked_before == -2000 + 50000
    assert_ledger_verifies(container)


@pytest.mark.parametrize("how", ["withdrawn", "by hand"])
def test_a_line_linked_to_a_payment_withdrawn_or_reversed_by_hand_posts_its_own_money_for_a_person(
    container: Container, customers: dict[str, str], tmp_path: Path, how: str
) -> None:
    acme = customers["acme"]
    paid = payment("P-60", acme, "90.00", "2026-03-02")
    import_file(container, write(tmp_path / "p.jsonl", paid), PARSERS)
    bank = write(tmp_path / "b.jsonl", line("B-60", "90.00", "2026-03-03", payer="Acme"))
    assert import_file(container, bank, PARSERS).counts["receipts_linked"] == 1
    paid_entry = statuses(container)["P-60"][1]
    assert paid_entry is not None

    if how == "withdrawn":
        deleted = {**paid, "id": "P-60:withdrawn", "reverses": "P-60", "withdrawn": True}
        result = import_file(container, write(tmp_path / "void.jsonl", deleted), PARSERS)
        assert (result.counts["reversed"], result.counts["receipts_unlinked"]) == (1, 1)
        what = "was withdrawn (void, deleted) in test"
    else:
        with unit_of_work(container.sessions) as session:
            accounts = Accounts.of(container.settings.ledger.chart)
            reason, on = "paid twice in the books", date(2026, 3, 20)
            reversed_by_hand = reverse_entry(
                session,
                paid_entry,
                on,
                reason,
                "finance",
                container.cipher,
                accounts,
                matching=container.settings.imports.matching,
            )
        assert reversed_by_hand.lines_waiting == 1  # what `ledger reverse` says
        what = "was reversed by finance: paid twice in the books"

    # The payment no longer pays; the bank's 90.00 is in the ledger still, in unapplied receipts.
    status, own = statuses(container)["B-60"]
    assert status == "unapplied"
    assert own not in (None, paid_entry)
    assert owes(container, acme) == Money.zero("CNY")
    assert banked(container, "CNY") == 9000
    with unit_of_work(container.sessions) as session:
        (item,) = reconcile.queue(session, container.cipher)
    assert (item.external_id, item.amount) == ("B-60", Money.of("90.00", "CNY"))
    assert item.why == (
        f"the same receipt as test payment P-60 until that {what}: this bank line's 90.00 CNY waits for a "
        "person"
    )
    assert_ledger_verifies(container)
    if how == "by hand":
        return
    other = payment("P-61", acme, "1.00", "2026-03-12")  # so that the file is not p.jsonl's bytes again

    back = import_file(container, write(tmp_path / "live.jsonl", paid, other), PARSERS)

    # Live again, it pairs with its line again, applying it: the 90.00 counts once.
    assert (back.counts["restored"], back.counts["receipts_linked"]) == (1, 1)
    assert statuses(container)["P-60"][0] == "linked"
    assert owes(container, acme) == Money.of("-91.00", "CNY")
    assert banked(container, "CNY") == 9100
    assert waiting(container) == []
    assert_ledger_verifies(container)


@pytest.mark.parametrize("how", ["withdrawn", "changed", "by hand"])
def test_a_line_set_free_from_its_payment_waits_with_the_customer_its_reference_names_never_posting_to_it(
    container: Container, customers: dict[str, str], tmp_path: Path, how: str
) -> None:
    acme = customers["acme"]
    paid = payment("P-70", acme, "90.00", "2026-03-02", references=["INV-70"])
    import_file(container, write(tmp_path / "p.jsonl", invoice("INV-70", acme, "90.00"), paid), PARSERS)
    bank = write(tmp_path / "b.jsonl", line("B-70", "90.00", "2026-03-03", references=["INV-70"]))
    assert import_file(container, bank, PARSERS).counts["receipts_linked"] == 1

    if how == "by hand":
        with unit_of_work(container.sessions) as session:
            reverse_entry(
                session,
                statuses(container)["P-70"][1] or 0,
                date(2026, 3, 20),
                "paid twice in the books",
                "finance",
                container.cipher,
                Accounts.of(container.settings.ledger.chart),
                matching=container.settings.imports.matching,
            )
    else:
        now = {**paid, "id": "P-70:withdrawn", "reverses": "P-70", "withdrawn": True}
        if how == "changed":
            now = {**paid, "amount": "80.00"}
        assert (
            import_file(container, write(tmp_path / "now.jsonl", now), PARSERS).counts["receipts_unlinked"]
            == 1
        )

    # It waits for a person (the payment it was went: what the money was is theirs to say), with the
    # customer its reference names, as a line like it imported now would be matched.
    assert statuses(container)["B-70"][0] == "unapplied"
    with unit_of_work(container.sessions) as session:
        (item,) = reconcile.queue(session, container.cipher)
        named = session.scalars(select(ReconciliationItem.named_json)).one()
    assert item.external_id == "B-70"
    assert item.candidates == [
        {"account_no": acme, "tier": 1, "score": 100, "why": "invoice INV-70 in the document"}
    ]
    assert named == '[["INV-70", 9000]]'
    with unit_of_work(container.sessions) as session:
        accounts = Accounts.of(container.settings.ledger.chart)
        assert reconcile.apply(session, item.id, None, accounts, "finance", date(2026, 3, 21)) == acme
    assert waiting(container) == []
    assert owes(container, acme) == (Money.of("-80.00", "CNY") if how == "changed" else Money.zero("CNY"))
    assert open_invoices(container, acme, date(2026, 3, 31)) == []
    assert_ledger_verifies(container)


@pytest.mark.parametrize("line_first", [False, True])
def test_a_payment_deleted_and_entered_again_in_one_export_takes_its_bank_line_as_in_two_exports(
    container: Container, customers: dict[str, str], tmp_path: Path, line_first: bool
) -> None:
    acme = customers["acme"]
    paid = payment("P-66", acme, "90.00", "2026-03-02")
    bank = line("B-66", "90.00", "2026-03-03", payer="Somebody" if line_first else "Acme")
    for name, first in (("b.jsonl", bank), ("p.jsonl", paid))[:: 1 if line_first else -1]:
        import_file(container, write(tmp_path / name, first), PARSERS)
    assert "linked" in (statuses(container)["B-66"][0], statuses(container)["P-66"][0])
    deleted = {**paid, "id": "P-66:withdrawn", "reverses": "P-66", "withdrawn": True}
    again = payment("P-67", acme, "90.00", "2026-03-02")

    result = import_file(container, write(tmp_path / "x.jsonl", deleted, again), PARSERS)

    # The bank's 90.00 counts once: the line is P-67's other record, applied to its customer.
    assert result.counts["receipts_linked"] == 1
    found = statuses(container)
    assert found["P-67"] == ("linked", found["B-66"][1])
    assert found["B-66"][0] == "posted"
    assert (owes(container, acme), banked(container, "CNY")) == (Money.of("-90.00", "CNY"), 9000)
    assert waiting(container) == []
    assert_ledger_verifies(container)


def test_a_payment_changed_to_other_money_leaves_its_line_to_a_new_payment_of_its_money_in_that_export(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    paid = payment("P-68", acme, "90.00", "2026-03-02")
    import_file(container, write(tmp_path / "p.jsonl", paid), PARSERS)
    bank = write(tmp_path / "b.jsonl", line("B-68", "90.00", "2026-03-03", payer="Acme"))
    assert import_file(container, bank, PARSERS).counts["receipts_linked"] == 1
    changed, new = {**paid, "amount": "80.00"}, payment("P-69", acme, "90.00", "2026-03-02")

    result = import_file(container, write(tmp_path / "x.jsonl", changed, new), PARSERS)

    # As in two exports: the line is the new payment's other record, its 90.00 counted once.
    assert (result.counts["receipts_linked"], result.counts["receipts_unlinked"]) == (1, 0)
    found = statuses(container)
    assert found["B-68"] == ("linked", found["P-69"][1])
    assert (owes(container, acme), banked(container, "CNY")) == (Money.of("-170.00", "CNY"), 17000)
    assert waiting(container) == []
    assert_ledger_verifies(container)


def test_reversing_by_hand_a_payment_linked_to_a_line_that_came_first_stops_the_payment_not_the_line(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    import_file(
        container, write(tmp_path / "b.jsonl", line("B-64", "90.00", "2026-03-03", payer="X")), PARSERS
    )
    import_file(container, write(tmp_path / "p.jsonl", payment("P-64", acme, "90.00", "2026-03-02")), PARSERS)
    status, paid_entry = statuses(container)["P-64"]
    assert status == "linked"
    assert paid_entry is not None
    assert paid_entry == statuses(container)["B-64"][1]
    accounts = Accounts.of(container.settings.ledger.chart)

    with unit_of_work(container.sessions) as session:  # the entry `ledger reverse` is given is the line's
        reversal = reverse_entry(
            session,
            paid_entry,
            date(2026, 3, 20),
            "paid twice",
            "finance",
            container.cipher,
            accounts,
            matching=container.settings.imports.matching,
        )

    # As when the payment came first: it no longer pays; the bank's 90.00 waits in unapplied receipts.
    assert reversal.entry_id != paid_entry
    # What `ledger reverse` says: the line's entry stands, the payment's application is what was undone.
    assert (reversal.reversed_entry != paid_entry, reversal.lines_waiting) == (True, 1)
    found = statuses(container)
    assert (found["P-64"][0], found["B-64"]) == ("reversed", ("unapplied", paid_entry))
    assert (owes(container, acme), banked(container, "CNY")) == (Money.zero("CNY"), 9000)
    assert waiting(container) == ["B-64"]
    assert_ledger_verifies(container)

    # A line that gave its money to its customer itself: which record is wrong is a person's call.
    named = write(tmp_path / "b2.jsonl", line("B-65", "70.00", "2026-03-03", bank_account="6222021000001234"))
    import_file(container, named, PARSERS)
    import_file(
        container, write(tmp_path / "p2.jsonl", payment("P-65", acme, "70.00", "2026-03-02")), PARSERS
    )
    assert statuses(container)["B-65"][0] == "posted"
    line_entry = statuses(container)["B-65"][1]
    assert line_entry is not None
    assert statuses(container)["P-65"] == ("linked", line_entry)
    with unit_of_work(container.sessions) as session, pytest.raises(LedgerError) as refused:
        reverse_entry(
            session,
            line_entry,
            date(2026, 3, 20),
            "paid twice",
            "finance",
            container.cipher,
            accounts,
            matching=container.settings.imports.matching,
        )
    assert "payment P-65 is linked to it" in str(refused.value)
    assert "--returned" in str(refused.value)


def test_a_payment_changed_after_its_line_linked_to_it_stays_with_that_line_not_another_of_its_money(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    paid = payment("P-62", acme, "90.00", "2026-03-02")
    import_file(container, write(tmp_path / "p.jsonl", paid), PARSERS)
    bank = write(tmp_path / "b.jsonl", line("B-62", "90.00", "2026-03-02", payer="Acme"))
    assert import_file(container, bank, PARSERS).counts["receipts_linked"] == 1
    other = write(tmp_path / "b2.jsonl", line("B-63", "90.00", "2026-03-05", payer="Somebody"))
    assert import_file(container, other, PARSERS).counts["receipts_unapplied"] == 1
    changed = write(tmp_path / "p2.jsonl", {**paid, "date": "2026-03-05", "references": ["corrected"]})

    result = import_file(container, changed, PARSERS)

    # Its line is still its other record; the other line of 90.00 still waits for its own payment.
    counts = result.counts
    assert (counts["reposted"], counts["receipts_linked"], counts["receipts_unlinked"]) == (1, 0, 0)
    found = statuses(container)
    assert found["P-62"][0] == "posted"
    assert found["B-62"] == ("linked", found["P-62"][1])
    assert found["B-63"][0] == "unapplied"
    assert waiting(container) == ["B-63"]
    assert (owes(container, acme), banked(container, "CNY")) == (Money.of("-90.00", "CNY"), 18000)
    assert_ledger_verifies(container)


def test_a_person_applying_a_receipt_the_bank_returns_meanwhile_is_told_it_is_closed(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        if session.get_bind().dialect.name == "sqlite":
            pytest.skip("SQLite takes the write lock at BEGIN: the two never overlap")
    acme = customers["acme"]
    import_file(
        container, write(tmp_path / "b.jsonl", line("B-71", "300.00", "2026-03-10", payer="X")), PARSERS
    )
    with unit_of_work(container.sessions) as session:
        receipt_entry = session.scalars(select(ImportedDocument.entry_id)).one()
        assert receipt_entry is not None
        item_id = session.scalars(select(ReconciliationItem.id)).one()
    accounts, on = Accounts.of(container.settings.ledger.chart), date(2026, 3, 20)
    looked, reversed_ = threading.Event(), threading.Event()
    refused: list[Exception] = []

    def apply() -> None:
        with unit_of_work(container.sessions) as session:
            session.get(ReconciliationItem, item_id)  # the queue as the person saw it: open
            looked.set()
            reversed_.wait(10)
            try:
                reconcile.apply(session, item_id, acme, accounts, "finance", on)
            except ReconcileError as exc:
                refused.append(exc)

    person = threading.Thread(target=apply)
    person.start()
    looked.wait(10)
    with unit_of_work(container.sessions) as session:
        reverse_entry(
            session,
            receipt_entry,
            on,
            "returned by the bank",
            "ops",
            container.cipher,
            accounts,
            matching=container.settings.imports.matching,
        )
    reversed_.set()
    person.join()

    assert [str(exc) for exc in refused] == [f"reconciliation item {item_id} is rejected already"]
    assert owes(container, acme) == Money.zero("CNY")  # never credited with money the bank took back
    assert_ledger_verifies(container)


def blocked_by(container: Container, pid: int) -> bool:
    """Whether another PostgreSQL session waits for a lock the session of backend `pid` holds."""
    with unit_of_work(container.sessions) as session:
        query = "SELECT count(*) FROM pg_locks WHERE NOT granted AND :pid = ANY(pg_blocking_pids(pid))"
        return bool(session.scalar(text(query), {"pid": pid}))


@pytest.mark.parametrize("decision", ["apply", "reverse returned"])
def test_an_import_pairing_a_waiting_line_a_person_decides_meanwhile_waits_for_the_person_no_deadlock(
    container: Container, customers: dict[str, str], tmp_path: Path, decision: str
) -> None:
    with unit_of_work(container.sessions) as session:
        if session.get_bind().dialect.name == "sqlite":
            pytest.skip("SQLite takes the write lock at BEGIN: the two never overlap")
    acme = customers["acme"]
    waiting_lines = [
        line("B-81", "100.00", "2026-03-10", payer="X"),
        line("B-82", "200.00", "2026-03-10", payer="Y"),
    ]
    import_file(container, write(tmp_path / "b.jsonl", *waiting_lines), PARSERS)
    with unit_of_work(container.sessions) as session:
        document_id, entry_id = session.execute(
            select(ImportedDocument.id, ImportedDocument.entry_id).where(
                ImportedDocument.external_id == "B-82"
            )
        ).one()
        item_id = session.scalars(
            select(ReconciliationItem.id).where(ReconciliationItem.document_id == document_id)
        ).one()
    assert entry_id is not None
    accounts, on = Accounts.of(container.settings.ledger.chart), date(2026, 3, 20)
    failed: list[Exception] = []
    holding = threading.Event()

    def decide() -> None:
        """A person's command: the line's record and item locked first, then (once the import waits for
        them) its balances."""
        try:
            with unit_of_work(container.sessions) as session:
                session.get_one(ImportedDocument, document_id, with_for_update=True)
                session.get_one(ReconciliationItem, item_id, with_for_update=True)
                pid = session.scalar(text("SELECT pg_backend_pid()"))
                holding.set()
                deadline = time.monotonic() + 10
                while not blocked_by(container, pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if decision == "apply":
                    reconcile.apply(session, item_id, acme, accounts, "finance", on)
                else:
                    reverse_entry(
                        session,
                        entry_id,
                        on,
                        "returned",
                        "ops",
                        container.cipher,
                        accounts,
                        matching=container.settings.imports.matching,
                        returned=True,
                    )
        except Exception as exc:
            failed.append(exc)

    person = threading.Thread(target=decide)
    person.start()
    assert holding.wait(10)  # the person holds the line's record and item before the import begins
    paid = [payment("P-81", acme, "100.00", "2026-03-10"), payment("P-82", acme, "200.00", "2026-03-10")]
    result = import_file(container, write(tmp_path / "p.jsonl", *paid), PARSERS)
    person.join()

    assert failed == []
    assert result.status == "imported", result.reason
    if decision == "apply":  # the import found B-82 applied by the person: linked, nothing applied twice
        assert (result.counts["receipts_linked"], waiting(container)) == (2, [])
        assert owes(container, acme) == Money.of("-300.00", "CNY")
    else:  # the bank returned B-82: its payment is held for a person
        assert (result.counts["receipts_linked"], result.counts["quarantined"]) == (1, 1)
        assert owes(container, acme) == Money.of("-100.00", "CNY")
    assert_ledger_verifies(container)


def test_an_import_applying_a_waiting_line_waits_for_a_persons_reversal_of_another_no_deadlock(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    with unit_of_work(container.sessions) as session:
        if session.get_bind().dialect.name == "sqlite":
            pytest.skip("SQLite takes the write lock at BEGIN: the two never overlap")
    acme = customers["acme"]
    waiting_lines = [
        line("B-91", "100.00", "2026-03-10", payer="X"),
        line("B-93", "300.00", "2026-03-10", payer="Z"),
    ]
    import_file(container, write(tmp_path / "b.jsonl", *waiting_lines), PARSERS)
    with unit_of_work(container.sessions) as session:
        entry_id = session.scalars(
            select(ImportedDocument.entry_id).where(ImportedDocument.external_id == "B-93")
        ).one()
    assert entry_id is not None
    accounts, on = Accounts.of(container.settings.ledger.chart), date(2026, 3, 20)
    failed: list[Exception] = []
    holding = threading.Event()

    def reverse() -> None:
        """A person's reversal of B-93, its posting part way: the first of its balance rows (the bank's,
        its accounts in order) updated, the next (unapplied receipts) to come once the import waits."""
        try:
            with unit_of_work(container.sessions) as session:
                first = min(accounts.bank, accounts.unapplied)
                session.execute(
                    select(AccountBalance.account_code)
                    .where(AccountBalance.account_code == first, AccountBalance.currency == "CNY")
                    .with_for_update()
                )
                pid = session.scalar(text("SELECT pg_backend_pid()"))
                holding.set()
                deadline = time.monotonic() + 10
                while not blocked_by(container, pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                reverse_entry(
                    session,
                    entry_id,
                    on,
                    "returned",
                    "ops",
                    container.cipher,
                    accounts,
                    matching=container.settings.imports.matching,
                )
        except Exception as exc:
            failed.append(exc)

    person = threading.Thread(target=reverse)
    person.start()
    assert holding.wait(10)
    # P-91 pairs with B-91 (its application updates receivable and unapplied receipts), P-92 posts to
    # the bank: on its own, the batch would take the bank's balance after unapplied receipts'.
    paid = [payment("P-91", acme, "100.00", "2026-03-10"), payment("P-92", acme, "50.00", "2026-03-11")]
    result = import_file(container, write(tmp_path / "p.jsonl", *paid), PARSERS)
    person.join()

    assert failed == []
    assert result.status == "imported", result.reason
    counts = result.counts
    assert (counts["receipts_linked"], counts["payments_posted"], waiting(container)) == (1, 1, [])
    assert owes(container, acme) == Money.of("-150.00", "CNY")
    assert_ledger_verifies(container)


def test_a_receipt_applied_to_a_survivor_settles_the_invoice_of_the_customer_merged_into_it(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    import_file(container, write(tmp_path / "inv.jsonl", invoice("INV-72", qinghe, "300.00")), PARSERS)
    with master(container) as customer_master:
        merge(customer_master, acme, qinghe, "duplicate")
    import_file(
        container, write(tmp_path / "b.jsonl", line("B-72", "300.00", "2026-03-10", payer="X")), PARSERS
    )
    with unit_of_work(container.sessions) as session:
        item_id = session.scalars(select(ReconciliationItem.id)).one()
        chart = container.settings.ledger.chart
        reconcile.apply(session, item_id, acme, Accounts.of(chart), "finance", date(2026, 3, 20))

    with unit_of_work(container.sessions) as session:
        survivor = session.scalars(select(Customer.id).where(Customer.account_no == acme)).one()
        figures = customer_figures(session, [survivor], date(2026, 3, 31), chart, container.settings.credit)
    assert (figures[survivor]["receivable"], figures[survivor]["overdue"]) == (0, 0)
    assert figures[survivor]["unapplied_credit"] == 0
    assert_ledger_verifies(container)


def test_a_return_naming_a_merged_customer_reverses_its_receipt(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    paid = line("B-1", "100.00", "2026-03-02", references=[f"acct {qinghe}"])
    import_file(container, write(tmp_path / "s1.jsonl", paid), PARSERS)
    with master(container) as m:
        m.merge(acme, qinghe, "the same company")
    returned = line("B-2", "-100.00", "2026-03-05", bank_reversal=True, references=[f"acct {qinghe}"])
    import_file(container, write(tmp_path / "s2.jsonl", returned), PARSERS)
    assert statuses(container)["B-1"][0] == "reversed"


@pytest.mark.parametrize(
    "named_by",
    [{"bank_account": "DE89370400440532013000"}, {"payer": "ALPHA HANDEL GMBH."}, {"payer": "Alpha Handel"}],
    ids=["account only", "punctuation", "cut short"],
)
def test_a_return_naming_a_queued_receipts_payer_otherwise_still_reverses_it(
    container: Container, tmp_path: Path, named_by: dict[str, str]
) -> None:
    queued = line("R-1", "1500.00", "2026-03-03", payer="Alpha Handel GmbH")
    import_file(container, write(tmp_path / "s1.jsonl", queued), PARSERS)
    returned = line("R-3", "-1500.00", "2026-03-05", bank_reversal=True, **named_by)
    import_file(container, write(tmp_path / "s2.jsonl", returned), PARSERS)
    assert statuses(container)["R-1"][0] == "reversed"


def test_a_return_naming_its_payer_by_name_reverses_that_payers_posted_receipt_not_a_later_one(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    paid = [
        line("A-1", "100.00", "2026-03-02", payer="Alpha Maschinen GmbH", references=[f"acct {acme}"]),
        line("B-1", "100.00", "2026-03-05", payer="Beta Handel AG", references=[f"acct {qinghe}"]),
    ]
    import_file(container, write(tmp_path / "s1.jsonl", *paid), PARSERS)
    returned = line("R-1", "-100.00", "2026-03-10", bank_reversal=True, payer="Alpha Maschinen GmbH")
    import_file(container, write(tmp_path / "s2.jsonl", returned), PARSERS)
    found = statuses(container)
    assert (found["A-1"][0], found["B-1"][0]) == ("reversed", "posted")
    assert (owes(container, acme), owes(container, qinghe)) == (Money.zero("CNY"), Money.of("-100.00", "CNY"))


def test_a_return_naming_a_merged_customer_reverses_its_receipt_not_one_waiting_for_a_person(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    import_file(
        container,
        write(tmp_path / "s1.jsonl", line("B-1", "100.00", "2026-03-02", references=[f"acct {qinghe}"])),
        PARSERS,
    )
    with master(container) as m:
        m.merge(acme, qinghe, "the same company")
    import_file(container, write(tmp_path / "s2.jsonl", line("B-3", "100.00", "2026-03-04")), PARSERS)
    returned = line("B-2", "-100.00", "2026-03-05", bank_reversal=True, references=[f"acct {qinghe}"])
    import_file(container, write(tmp_path / "s3.jsonl", returned), PARSERS)
    found = statuses(container)
    assert (found["B-1"][0], found["B-3"][0]) == ("reversed", "unapplied")


def alpha_paid(container: Container, customers: dict[str, str], tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """acme's receipt A-1 of 100.00, imported; acme's number and what its lines say of their payer."""
    acme = customers["acme"]
    named = {"payer": "Alpha Maschinen GmbH", "references": [f"acct {acme}", "DD-77"]}
    import_file(
        container, write(tmp_path / "s1.jsonl", line("A-1", "100.00", "2026-03-02", **named)), PARSERS
    )
    return acme, named


def test_the_bank_cancelling_its_return_of_a_receipt_makes_the_money_a_receipt_again(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, named = alpha_paid(container, customers, tmp_path)
    returned = line("R-1", "-100.00", "2026-03-10", bank_reversal=True, **named)
    import_file(container, write(tmp_path / "s2.jsonl", returned), PARSERS)
    assert owes(container, acme) == Money.zero("CNY")  # the receipt undone

    storno = line("R-1-ST", "100.00", "2026-03-11", bank_reversal=True, **named)  # the return booked back
    result = import_file(container, write(tmp_path / "s3.jsonl", storno), PARSERS)

    assert result.counts["receipts_posted"] == 1
    assert statuses(container)["R-1-ST"][0] == "posted"
    assert owes(container, acme) == Money.of("-100.00", "CNY")  # paid again: the money is in the bank


def test_money_back_in_that_undoes_and_cancels_nothing_imported_waits_for_a_person_and_posts_nothing(
    container: Container, tmp_path: Path
) -> None:
    back = line("P-1-BACK", "80.00", "2026-03-11", bank_reversal=True, payer="Lieferant GmbH")
    result = import_file(container, write(tmp_path / "s1.jsonl", back), PARSERS)
    assert (result.counts["quarantined"], entries(container)) == (1, 0)
    with unit_of_work(container.sessions) as session:
        reason = session.scalars(select(QuarantinedRecord.reason)).one()
    assert reason.startswith("money back in (a bank's reversal) of 80.00 CNY, undoing no payment out")


def test_a_storno_imported_before_the_return_it_cancels_posts_once_retried_after_it(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, named = alpha_paid(container, customers, tmp_path)
    storno = line("R-1-ST", "100.00", "2026-03-11", bank_reversal=True, **named)  # the later statement first
    assert import_file(container, write(tmp_path / "s3.jsonl", storno), PARSERS).counts["quarantined"] == 1
    returned = line("R-1", "-100.00", "2026-03-10", bank_reversal=True, **named)
    import_file(container, write(tmp_path / "s2.jsonl", returned), PARSERS)
    assert owes(container, acme) == Money.zero("CNY")  # the receipt undone: the storno is not lost
    with unit_of_work(container.sessions) as session:
        held = session.scalars(select(QuarantinedRecord.id)).one()

    [outcome] = retry(container, [held], parsers=lambda: PARSERS, mappings=no_mapping_set)

    assert (outcome.resolved, outcome.counts["receipts_posted"]) == ([held], 1)
    assert owes(container, acme) == Money.of("-100.00", "CNY")  # paid again: the money is in the bank
    assert_ledger_verifies(container)


IBAN = "DE44500105175407324931"


def test_a_return_in_one_format_reverses_the_receipt_a_statement_of_another_format_posted(
    container: Container, tmp_path: Path
) -> None:
    first = line("A-1", "500.00", "2026-03-05", source="mt940", account=IBAN, payer="Kunde A")
    import_file(container, write(tmp_path / "s1.jsonl", first), PARSERS)
    other = line("C-1", "500.00", "2026-03-04", source="camt053", account=IBAN, payer="Kunde C")
    returned = line(
        "R-1", "-500.00", "2026-03-09", source="camt053", account=IBAN, payer="Kunde A", bank_reversal=True
    )
    import_file(container, write(tmp_path / "s2.jsonl", other, returned), PARSERS)
    found = statuses(container)
    assert (found["A-1"][0], found["C-1"][0], found["R-1"][0]) == ("reversed", "unapplied", "reversal")


def test_a_return_naming_its_payer_is_not_taken_for_another_payers_line_sharing_a_text(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, qinghe = customers["acme"], customers["qinghe"]
    paid = [
        line(
            "A-1",
            "100.00",
            "2026-03-02",
            payer="Alpha Maschinen GmbH",
            references=[f"acct {acme}", "Beitrag 2026"],
        ),
        line(
            "B-1",
            "100.00",
            "2026-03-05",
            payer="Beta Handel AG",
            references=[f"acct {qinghe}", "Beitrag 2026"],
        ),
    ]
    import_file(container, write(tmp_path / "s1.jsonl", *paid), PARSERS)
    returned = line(
        "R-1",
        "-100.00",
        "2026-03-10",
        bank_reversal=True,
        payer="Alpha Maschinen GmbH",
        references=["Beitrag 2026"],
    )
    import_file(container, write(tmp_path / "s2.jsonl", returned), PARSERS)
    found = statuses(container)
    assert (found["A-1"][0], found["B-1"][0]) == ("reversed", "posted")


def test_a_return_is_cancelled_once_by_money_back_in_naming_its_payer_and_never_by_anothers(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    named = {"payer": "Alpha Maschinen GmbH", "references": [f"acct {acme}", "DD-77"]}
    rent = line("OUT-1", "-100.00", "2026-03-01", payer="Vermieter GmbH")  # money out of the same amount
    receipt = line("A-1", "100.00", "2026-03-02", **named)
    import_file(container, write(tmp_path / "s1.jsonl", rent, receipt), PARSERS)
    returned = line("R-1", "-100.00", "2026-03-10", bank_reversal=True, **named)
    import_file(container, write(tmp_path / "s2.jsonl", returned), PARSERS)
    back = [
        line("ST-1", "100.00", "2026-03-11", bank_reversal=True, **named),  # the return booked back
        line("ST-2", "100.00", "2026-03-20", bank_reversal=True, **named),  # nothing left to cancel
        line("P-BACK", "100.00", "2026-03-21", bank_reversal=True, payer="Lieferant GmbH"),
    ]
    result = import_file(container, write(tmp_path / "s3.jsonl", *back), PARSERS)
    found = statuses(container)
    assert [found[k][0] for k in ("OUT-1", "ST-1")] == ["ignored", "posted"]  # the rent stays as it was
    assert ("ST-2" in found, "P-BACK" in found, result.counts["quarantined"]) == (False, False, 2)  # a person
    assert owes(container, acme) == Money.of("-100.00", "CNY")  # paid once again, not twice


def test_a_storno_sent_again_with_other_text_still_cancels_its_return_and_the_money_stays_received(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, named = alpha_paid(container, customers, tmp_path)
    returned = line("R-1", "-100.00", "2026-03-10", bank_reversal=True, **named)
    storno = line("ST-1", "100.00", "2026-03-10", bank_reversal=True, **named)
    import_file(container, write(tmp_path / "s2.jsonl", returned, storno), PARSERS)  # one day, one file
    assert owes(container, acme) == Money.of("-100.00", "CNY")
    changed = dict(named, references=[*named["references"], "STORNO RUECKLASTSCHRIFT"])
    again = line("ST-1", "100.00", "2026-03-10", bank_reversal=True, **changed)
    import_file(container, write(tmp_path / "s3.jsonl", again), PARSERS)
    assert owes(container, acme) == Money.of("-100.00", "CNY")
    assert_ledger_verifies(container)


def returned_naming_nobody(container: Container, customers: dict[str, str], tmp_path: Path) -> None:
    """acme's receipt A-1 of 100.00, then the bank's return R-1 of it, naming nobody."""
    paid = line("A-1", "100.00", "2026-03-02", references=[f"acct {customers['acme']}"])
    import_file(container, write(tmp_path / "s1.jsonl", paid), PARSERS)
    returned = line("R-1", "-100.00", "2026-03-10", bank_reversal=True)
    import_file(container, write(tmp_path / "s2.jsonl", returned), PARSERS)


def test_a_storno_and_its_return_naming_nobody_cancel_each_other_when_the_return_is_the_only_one(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    returned_naming_nobody(container, customers, tmp_path)
    import_file(
        container,
        write(tmp_path / "s3.jsonl", line("ST-1", "100.00", "2026-03-11", bank_reversal=True)),
        PARSERS,
    )
    with unit_of_work(container.sessions) as session:
        banked = session.get_one(AccountBalance, (container.settings.ledger.chart.bank.code, "CNY"))
    assert banked.balance_minor == 10000  # the money the bank holds again


def test_money_back_naming_nobody_is_a_payment_out_come_back_not_the_storno_of_a_return_naming_nobody(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    paid = line("A-1", "100.00", "2026-03-02", references=[f"acct {acme}"])
    out = line("OUT-1", "-100.00", "2026-03-05", payer="Lieferant GmbH")
    import_file(container, write(tmp_path / "s1.jsonl", paid, out), PARSERS)
    import_file(
        container,
        write(tmp_path / "s2.jsonl", line("R-1", "-100.00", "2026-03-10", bank_reversal=True)),
        PARSERS,
    )
    import_file(
        container,
        write(tmp_path / "s3.jsonl", line("P-BACK", "100.00", "2026-03-12", bank_reversal=True)),
        PARSERS,
    )
    found = statuses(container)
    assert (found["OUT-1"][0], found["P-BACK"][0]) == ("reversed", "reversal")  # as before stornos were read


def test_a_storno_listed_before_the_return_it_cancels_in_one_file_still_cancels_it(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme, named = alpha_paid(container, customers, tmp_path)
    storno = line("ST-1", "100.00", "2026-03-10", bank_reversal=True, **named)
    returned = line("R-1", "-100.00", "2026-03-10", bank_reversal=True, **named)
    import_file(container, write(tmp_path / "s2.jsonl", storno, returned), PARSERS)
    assert owes(container, acme) == Money.of("-100.00", "CNY")


def test_a_return_sealed_with_the_reversal_marker_as_its_payers_reference_is_still_cancelled_by_its_storno(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    returned_naming_nobody(container, customers, tmp_path)
    with unit_of_work(container.sessions) as session:  # as lines were sealed before the marker was left out
        sealed = Payer(None, None, (REVERSAL_MARKER,)).seal(container.cipher, LINE_PAYER_FIELD)
        session.execute(
            update(ImportedDocument).where(ImportedDocument.external_id == "R-1").values(payer_enc=sealed)
        )
    storno = line("ST-1", "100.00", "2026-03-11", bank_reversal=True, references=[REVERSAL_MARKER])
    import_file(container, write(tmp_path / "s3.jsonl", storno), PARSERS)
    assert statuses(container)["ST-1"][0] == "unapplied"  # the money, back: waiting for a person


@pytest.mark.parametrize("payment_first", [True, False])
def test_a_line_applied_by_a_payments_import_both_changed_in_one_file_is_not_applied_again_by_the_old_payment(
    container: Container, customers: dict[str, str], tmp_path: Path, payment_first: bool
) -> None:
    acme = customers["acme"]
    b, p = line("B-1", "90.00", "2026-03-03", payer="Somebody"), payment("P-1", acme, "90.00", "2026-03-02")
    import_file(container, write(tmp_path / "b.jsonl", b), PARSERS)  # waits
    import_file(container, write(tmp_path / "p.jsonl", p), PARSERS)  # links, applies B-1 to acme
    b2, p2 = {**b, "payer": "Somebody Else"}, {**p, "references": ["X"]}
    both = (p2, b2) if payment_first else (b2, p2)
    import_file(container, write(tmp_path / "x.jsonl", *both), PARSERS)
    with unit_of_work(container.sessions) as session:
        item = session.scalars(select(ReconciliationItem)).one()
        decided = (item.status, item.resolved_by)
    # What P-1's import applied went with its reversal, whatever the file's order: B-1 waits for a person.
    assert decided == ("open", None)
    assert statuses(container)["B-1"][0] == "unapplied"
    assert_ledger_verifies(container)
