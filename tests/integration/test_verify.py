from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import text

from connector.bootstrap import Container
from connector.db import snapshot, unit_of_work
from connector.ledger.posting import Ledger
from connector.ledger.verify import VerifyReport, verify_ledger
from tests.integration.helpers import add_customer, invoice, receipt


def build_ledger(container: Container) -> dict[str, int]:
    customer = add_customer(container)
    other = add_customer(container, "杭州青禾科技", customer_type="SME", region="ZJ")
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        ids = {
            "invoice": ledger.post(invoice("INV-1", customer, "1000.00")).entry_id,
            "receipt": ledger.post(receipt("R-1", customer, "400.00")).entry_id,
            "other": ledger.post(invoice("INV-2", other, "50.00")).entry_id,
            "wrong": ledger.post(invoice("INV-3", other, "7.00")).entry_id,
        }
        ids["reversal"] = ledger.reverse(ids["wrong"], posting_date=date(2026, 3, 9)).entry_id
    return ids


def tamper(container: Container, sql: str, **params: object) -> VerifyReport:
    with unit_of_work(container.sessions) as session:
        session.connection().execute(text(sql), params)
    with unit_of_work(container.sessions) as session:
        return verify_ledger(session)


def checks(report: VerifyReport) -> list[str]:
    return sorted(v.check for v in report.violations)


def test_a_ledger_built_through_the_application_verifies(container: Container) -> None:
    build_ledger(container)
    with unit_of_work(container.sessions) as session:
        report = verify_ledger(session)
    assert report.ok
    assert (report.entries, report.postings, report.customers) == (5, 10, 2)


def test_two_revisions_of_a_document_standing_unreversed_are_reported(container: Container) -> None:
    ids = build_ledger(container)
    report = tamper(  # INV-3's reversal turned into a second revision of it: INV-3 counts twice
        container,
        "UPDATE journal_entries SET is_reversal = FALSE, reverses_id = NULL, revision = 2 WHERE id = :id",
        id=ids["reversal"],
    )
    revisions = [v for v in report.violations if v.check == "revisions"]
    assert [(v.subject, v.detail) for v in revisions] == [
        (
            "zoho_books document 'INV-3'",
            f"2 revisions stand unreversed (from entry {ids['wrong']}): it counts 2 times",
        )
    ]


def test_a_posting_amount_changed_by_raw_sql_is_reported_everywhere_it_shows(container: Container) -> None:
    ids = build_ledger(container)
    report = tamper(
        container,
        "UPDATE postings SET amount_minor = amount_minor + 1 WHERE entry_id = :id AND account_code = '6001'",
        id=ids["invoice"],
    )
    assert checks(report) == ["account balance", "balanced", "content"]
    balanced = next(v for v in report.violations if v.check == "balanced")
    assert balanced.subject == f"entry {ids['invoice']}"
    assert "0.01 CNY" in balanced.detail


def test_a_consistent_forgery_of_both_postings_is_caught_by_the_content_hash(container: Container) -> None:
    ids = build_ledger(container)
    report = tamper(
        container,
        "UPDATE postings SET amount_minor = amount_minor * 2 WHERE entry_id = :id",
        id=ids["invoice"],
    )
    assert "content" in checks(report)
    assert "customer balance" in checks(report)


def test_a_deleted_posting_is_reported(container: Container) -> None:
    ids = build_ledger(container)
    report = tamper(
        container,
        "DELETE FROM postings WHERE entry_id = :id AND account_code = '1002'",
        id=ids["receipt"],
    )
    assert checks(report) == ["account balance", "balanced", "content", "postings"]
    assert any(v.subject == f"entry {ids['receipt']}" and "1 posting" in v.detail for v in report.violations)


def test_an_edited_customer_balance_breaks_the_subledger_to_control_agreement(container: Container) -> None:
    build_ledger(container)
    report = tamper(container, "UPDATE customer_balances SET balance_minor = balance_minor + 100")
    assert checks(report) == ["control", "customer balance", "customer balance"]
    control = next(v for v in report.violations if v.check == "control")
    assert "1122 CNY" in control.subject


def test_an_edited_control_balance_is_reported(container: Container) -> None:
    build_ledger(container)
    report = tamper(container, "UPDATE account_balances SET balance_minor = 0 WHERE account_code = '1122'")
    assert checks(report) == ["account balance", "control"]


def test_a_reversal_pointed_at_another_entry_is_reported(container: Container) -> None:
    ids = build_ledger(container)
    report = tamper(
        container,
        "UPDATE journal_entries SET reverses_id = :other WHERE id = :id",
        other=ids["other"],
        id=ids["reversal"],
    )
    assert "reversal" in checks(report)
    assert "content" in checks(report)


def test_a_memo_edited_to_hold_a_separator_character_is_a_content_violation(container: Container) -> None:
    ids = build_ledger(container)
    report = tamper(
        container, "UPDATE journal_entries SET memo = :memo WHERE id = :id", memo="x\x1fy", id=ids["other"]
    )
    assert checks(report) == ["content"]


def test_a_date_edited_into_no_day_is_a_content_violation_of_its_entry(container: Container) -> None:
    ids = build_ledger(container)
    with unit_of_work(container.sessions) as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("PostgreSQL keeps no date that is no day")
    report = tamper(
        container, "UPDATE journal_entries SET posting_date = '2026-02-30' WHERE id = :id", id=ids["other"]
    )
    assert [(v.check, v.subject) for v in report.violations] == [
        ("content", f"entry {ids['other']} (zoho_books INV-2)")
    ]


def test_postings_whose_entry_was_deleted_are_reported_as_dangling(container: Container) -> None:
    ids = build_ledger(container)
    report = tamper(container, "DELETE FROM journal_entries WHERE id = :id", id=ids["receipt"])
    assert checks(report) == ["reference", "reference"]
    assert all(f"its entry {ids['receipt']} does not exist" == v.detail for v in report.violations)


def test_a_posting_pointed_at_an_unknown_account_and_customer_names_both(container: Container) -> None:
    ids = build_ledger(container)
    report = tamper(
        container,
        "UPDATE postings SET account_code = '1199', customer_id = 999 WHERE entry_id = :id AND customer_id"
        " IS NOT NULL",
        id=ids["receipt"],
    )
    dangling = [v for v in report.violations if v.check == "reference"]
    assert len(dangling) == 1
    assert dangling[0].subject.endswith(f"of entry {ids['receipt']}")
    assert dangling[0].detail == "its account 1199 is not in the chart; its customer 999 does not exist"
    assert {"account balance", "content", "customer balance"} <= set(checks(report))


def test_an_entry_naming_an_imported_file_that_does_not_exist_is_reported(container: Container) -> None:
    ids = build_ledger(container)  # posted by hand: none names an imported file, and none is missing
    report = tamper(
        container, "UPDATE journal_entries SET voucher_file_id = 42 WHERE id = :id", id=ids["other"]
    )
    assert [(v.check, v.subject, v.detail) for v in report.violations] == [
        ("reference", f"entry {ids['other']}", "its voucher's imported file 42 (invoices.csv) does not exist")
    ]


def test_verify_in_a_snapshot_passes_while_another_writer_posts(container: Container) -> None:
    acme = add_customer(container)
    stop = threading.Event()

    def post() -> None:
        batch = 0
        while not stop.is_set():
            with unit_of_work(container.sessions) as session:
                Ledger(session).post_many([invoice(f"INV-{batch}-{n}", acme, "10.00") for n in range(50)])
            batch += 1

    writer = threading.Thread(target=post)
    writer.start()
    try:
        reports = []
        for _ in range(10):
            with snapshot(container.sessions) as session:
                reports.append(verify_ledger(session))
    finally:
        stop.set()
        writer.join()
    assert [report.violations for report in reports if not report.ok] == []
